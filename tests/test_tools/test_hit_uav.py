# Copyright (c) mmacs contributors. All rights reserved.
"""The HIT-UAV configs on real infrared images: a few QAT iterations with
ACS on a handful of training images, then COCO mAP with per-class AP on a
handful of val images (the configs' own pipelines and anchors)."""
import json

from mmengine.config import Config

from mmacs.testing import load_tool
from mmacs.testing._paths import REPO, SHARED, need_shared

train_tool = load_tool('train')
test_tool = load_tool('test')

HIT_UAV = SHARED / 'data' / 'hit_uav'
CONFIG = REPO / 'configs' / 'hit_uav' / \
    'lsq-w4a4_acs-f0.1_retinanet_r18-slim_fpn_crop256_hit-uav.py'


def small_hit_uav_cfg(work_dir, train_images=8, val_images=4):
    cfg = Config.fromfile(str(CONFIG))
    root = str(HIT_UAV) + '/'
    for key, num in (('train_dataloader', train_images),
                     ('val_dataloader', val_images),
                     ('test_dataloader', val_images)):
        loader = cfg[key]
        loader.batch_size = 4
        loader.dataset.data_root = root
        loader.dataset.indices = num
    cfg.val_evaluator.ann_file = root + 'annotations/instances_val.json'
    cfg.test_evaluator = cfg.val_evaluator
    cfg.model.float_checkpoint = None  # no FP teacher trained in a test
    cfg.model.model.test_cfg.score_thr = 0.0  # untrained: keep boxes
    cfg.qat.calibration_batches = 1
    cfg.coreset.fraction = 0.125
    cfg.coreset.interval = 1
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    # mmengine keeps one visualizer per name per process, logging to the
    # work dir of the run that made it: this run's is its own.
    cfg.visualizer.name = f'visualizer_{work_dir.parent.name}'
    return cfg


def test_hit_uav_qat_with_acs_and_per_class_ap(tmp_path):
    need_shared(HIT_UAV)
    cfg = small_hit_uav_cfg(tmp_path / 'work', train_images=16)
    cfg_file = tmp_path / 'hit_uav_small.py'
    cfg.dump(str(cfg_file))
    runner = train_tool.main([str(cfg_file)])
    sampler = runner.train_loop.dataloader.batch_sampler.sampler
    # 2 of the 16 training images, chosen by ACS's class quotas among its
    # scoring pool (the config's 20%: 3 images) scored at 320x256.
    assert len(sampler.indices) == 2
    assert set(sampler.indices.tolist()) <= set(range(16))
    (record, ) = [json.loads(line) for line in open(
        tmp_path / 'work' / 'coreset_log.jsonl')]
    assert record['selection']['type'] == 'class_aware'
    assert record['num_scored'] == 3

    out = tmp_path / 'metrics.json'
    test_tool.main([str(cfg_file), str(tmp_path / 'work' / 'epoch_1.pth'),
                    '--work-dir', str(tmp_path / 'test'), '--out-json',
                    str(out)])
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    # classwise=True: one AP per HIT-UAV class, the rare one included.
    for name in ('Person', 'Car', 'Bicycle', 'OtherVehicle'):
        assert f'coco/{name}_precision' in metrics, sorted(metrics)
