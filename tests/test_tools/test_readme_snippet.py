# Copyright (c) mmacs contributors. All rights reserved.
"""The README's "Add QAT + ACS to your mmdet config" block, verbatim, as a
config of a project outside the repository: it parses through the
``mmacs::`` scope and tools/train.py trains it briefly (on the shared tiny
COCO images, with the data, the float checkpoint and the epochs overridden
as a user overrides them with --cfg-options)."""
import re

from mmengine.config import Config

from mmacs.testing import REPO, load_tool, tiny_coco_cfg

train_tool = load_tool('train')
HEADING = '## Add QAT + ACS to your mmdet config'


def readme_snippet() -> str:
    readme = (REPO / 'README.md').read_text()
    assert HEADING in readme
    section = readme.split(HEADING, 1)[1]
    block = re.search(r'```python\n(.*?)```', section, re.S)
    assert block, 'no python block under ' + HEADING
    return block.group(1)


def test_readme_snippet_builds_and_trains(tmp_path):
    project = tmp_path / 'my_project'
    project.mkdir()
    cfg_file = project / 'my_qat_config.py'
    cfg_file.write_text(readme_snippet())

    cfg = Config.fromfile(str(cfg_file))  # verbatim, outside the repo
    assert cfg.runner_type == 'QATRunner'
    assert cfg.model.type == 'QATModel'
    assert cfg.model.model.type == 'RetinaNet'
    assert cfg.model.weight_quant.bits == cfg.model.act_quant.bits == 4
    assert (cfg.coreset.fraction, cfg.coreset.interval,
            cfg.coreset.policy) == (0.1, 2, 'acs')

    # What a user changes for their data and machine; nothing downloads.
    cfg = tiny_coco_cfg(str(cfg_file), str(tmp_path / 'work'), max_epochs=1)
    cfg.train_cfg.val_interval = 2  # train only
    cfg.qat.calibration_batches = 1
    # A visualizer of its own: mmengine keeps one instance per name per
    # process, logging to the work dir of the run that created it.
    cfg.visualizer.name = f'visualizer_{tmp_path.name}'
    run_file = tmp_path / 'run.py'
    cfg.dump(str(run_file))
    runner = train_tool.main([str(run_file)])
    assert runner.train_loop.epoch == 1
    coreset = runner.train_loop.dataloader.batch_sampler.sampler.indices
    assert len(coreset) == 5  # round(0.1 * 49 training images with boxes)
    assert (tmp_path / 'work' / 'epoch_1.pth').exists()
