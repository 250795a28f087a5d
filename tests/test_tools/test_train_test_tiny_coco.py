# Copyright (c) mmacs contributors. All rights reserved.
"""The user's path on real COCO images: tools/train.py with the W4A4 ACS
RetinaNet-R18 config, an interrupted run resumed with --resume, and
tools/test.py reporting COCO bbox mAP through mmdet's CocoMetric."""
import json
import math
from collections import Counter

import torch

from mmacs.testing import load_tool, tiny_coco_cfg

test_tool = load_tool('test')
train_tool = load_tool('train')

CONFIG = 'configs/retinanet/lsq-w4a4_acs-f0.1_retinanet_r18_fpn_1x_coco.py'


def iterations_per_epoch(work):
    """Epoch -> number of training iterations in the runs' json logs."""
    counts = Counter()
    for path in work.glob('*/vis_data/scalars.json'):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if 'loss' in record:
                counts[record['epoch']] += 1
    return dict(counts)


def test_train_resume_and_coco_eval(tmp_path):
    cfg = tiny_coco_cfg(CONFIG, str(tmp_path / 'work'), max_epochs=1)
    cfg.coreset.fraction = 0.5
    cfg.coreset.interval = 1
    cfg.train_cfg.val_interval = 10  # evaluate once, with tools/test.py
    cfg_file = tmp_path / 'acs_tiny_coco.py'
    cfg.dump(str(cfg_file))
    work = tmp_path / 'work'

    runner = train_tool.main([str(cfg_file), '--work-dir', str(work)])
    first_indices = runner.train_loop.dataloader.batch_sampler.sampler \
        .indices.clone()
    ckpt1 = torch.load(work / 'epoch_1.pth')  # weights_only by default
    assert ckpt1['meta']['epoch'] == 1
    assert torch.equal(ckpt1['coreset']['indices'], first_indices)
    assert len(first_indices) == 24  # round(0.5 * 49 images with boxes)
    # Epoch 1 trained on the coreset only, after calibration had read
    # batches: ceil(24 / 4) iterations behind mmdet's
    # AspectRatioBatchSampler, as the loop announced.
    assert iterations_per_epoch(work) == {1: math.ceil(24 / 4)}
    assert runner.train_loop.max_iters == 6
    # The student's steps are saved as initialised.
    flags = [v for k, v in ckpt1['state_dict'].items()
             if k.endswith('initialized')]
    assert flags and all(int(v) == 1 for v in flags)

    # "Crash" after epoch 1, then resume and train epoch 2.
    runner = train_tool.main([
        str(cfg_file), '--work-dir', str(work), '--resume',
        '--cfg-options', 'train_cfg.max_epochs=2'
    ])
    assert runner.train_loop.epoch == 2
    assert iterations_per_epoch(work) == {1: 6, 2: 6}
    ckpt2 = torch.load(work / 'epoch_2.pth')
    assert ckpt2['meta']['epoch'] == 2
    # The steps were restored, not re-initialised, and then trained on.
    name = 'student.neck.lateral_convs.0.conv.act_quant.step'
    assert not torch.equal(ckpt1['state_dict'][name],
                           ckpt2['state_dict'][name])
    log = [json.loads(line)
           for line in open(work / 'coreset_log.jsonl')]
    assert [r['epoch'] for r in log] == [0, 1]
    assert log[1]['jaccard_prev'] is not None

    out = tmp_path / 'metrics.json'
    test_tool.main([
        str(cfg_file), str(work / 'epoch_2.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out-json', str(out)
    ])
    metrics = json.loads(out.read_text())
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'):
        assert 0.0 <= metrics[key] <= 1.0
    assert 'note' not in metrics

    # A model that predicts nothing: zeros, and the JSON says why.
    out = tmp_path / 'nothing.json'
    test_tool.main([
        str(cfg_file), str(work / 'epoch_2.pth'), '--work-dir',
        str(tmp_path / 'test0'), '--out-json', str(out), '--cfg-options',
        'model.model.test_cfg.score_thr=1.01'
    ])
    metrics = json.loads(out.read_text())
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75',
                'coco/bbox_mAP_s', 'coco/bbox_mAP_m', 'coco/bbox_mAP_l'):
        assert metrics[key] == 0.0
    assert 'predicted no box' in metrics['note']
