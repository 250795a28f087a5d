# Copyright (c) mmacs contributors. All rights reserved.
import json

import pytest
from mmengine.config import Config

from mmacs.testing import REPO, load_tool

demo = load_tool('demo')


@pytest.fixture
def data_root(shapes_root):
    return shapes_root


@pytest.mark.parametrize('name', [demo.FP_CONFIG] +
                         list(demo.QAT_CONFIGS.values()))
def test_demo_configs_point_at_the_data(name, data_root, tmp_path):
    args = demo.parse_args(['--data-root', data_root])
    cfg = demo.load_cfg(name, args, str(tmp_path))
    model = cfg.model.model if cfg.model.type == 'QATModel' else cfg.model
    assert model.backbone.init_cfg is None  # nothing downloads
    assert cfg.custom_imports.imports == ['mmacs']
    dataset = cfg.train_dataloader.dataset
    if name == demo.QAT_CONFIGS['acs_noisy']:
        assert dataset.type == 'NoisyDetDataset'
        assert dataset.noise_rate == 0.2
        dataset = dataset.dataset
    assert dataset.data_root == data_root + '/'
    assert cfg.test_evaluator.ann_file.startswith(data_root)
    if name != demo.FP_CONFIG:
        assert cfg.runner_type == 'QATRunner'
        assert cfg.coreset.fraction == 0.3


def test_set_epochs(tmp_path):
    cfg = Config.fromfile(str(REPO / 'configs' / 'demo' /
                              demo.QAT_CONFIGS['acs']))
    demo.set_epochs(cfg, 2)
    assert cfg.train_cfg.max_epochs == 2
    assert cfg.default_hooks.checkpoint.interval == 2
    assert cfg.param_scheduler[-1].T_max == 2


def test_noisy_acs_run_logs_noisy_fraction(data_root, tmp_path):
    """One tiny epoch of the noisy ACS config with the real QATRunner."""
    args = demo.parse_args(['--data-root', data_root])
    cfg = demo.load_cfg(demo.QAT_CONFIGS['acs_noisy'], args, str(tmp_path))
    cfg.model.float_checkpoint = None
    cfg.qat.calibration_batches = 1
    cfg.coreset.fraction = 0.5
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.dataset.noise_rate = 0.25
    cfg.default_hooks.logger.interval = 1
    demo.set_epochs(cfg, 1)
    demo.build_runner(cfg).train()
    with open(tmp_path / 'coreset_log.jsonl') as f:
        record = json.loads(f.readline())
    assert record['num_selected'] == 8
    assert record['noisy_fraction_all'] == 0.25
    assert record['noisy_fraction'] is not None


def test_detection_teacher_filter_drops_the_worst_fitted_images(
        data_root, tmp_path):
    """The noisy ACS config with ``teacher_filter=dict(drop=q)`` (the
    detection form) in the real QATRunner."""
    args = demo.parse_args(['--data-root', data_root])
    cfg = demo.load_cfg(demo.QAT_CONFIGS['acs_noisy'], args, str(tmp_path))
    cfg.model.float_checkpoint = None
    cfg.qat.calibration_batches = 1
    cfg.coreset.update(fraction=0.5, teacher_filter=dict(drop=0.25),
                       selection='stratified')
    cfg.train_dataloader.batch_size = 4
    demo.set_epochs(cfg, 1)
    demo.build_runner(cfg).train()
    with open(tmp_path / 'coreset_log.jsonl') as f:
        record = json.loads(f.readline())
    info = record['teacher_filter']
    assert info['drop'] == 0.25 and info['scored'] == 16
    assert info['passed'] == info['candidates'] == 12
    assert 0 <= info['candidates_noisy_fraction'] <= 1
    assert record['num_selected'] == 8
    # The probability threshold needs a single label per sample.
    cfg.coreset.teacher_filter = dict(min_prob=0.1)
    cfg.work_dir = str(tmp_path / 'min_prob')
    with pytest.raises(ValueError, match='use dict\\(drop=q\\)'):
        demo.build_runner(cfg).train()


def test_format_table():
    entry = dict(bbox_mAP=0.25, bbox_mAP_50=0.5, bbox_mAP_75=0.125,
                 train_seconds=12.0)
    table = demo.format_table(dict(fraction=0.3, fp=entry, acs=entry))
    assert table.splitlines()[2].split() == ['fp', '0.250', '0.500',
                                             '0.125', '12.0']
    assert 'random_dynamic' not in table
