# Copyright (c) mmacs contributors. All rights reserved.
"""COCO mAP of an exported detector (onnxruntime + the head's own
post-processing + CocoMetric) equals the PyTorch student's, on a briefly
trained demo RetinaNet with W4A4 LSQ steps calibrated on its data."""
import os.path as osp

import pytest
import torch

pytest.importorskip(
    'onnx', reason='the ONNX export tests need onnx and onnxruntime: '
    '`pip install -e .[deploy]`')
pytest.importorskip(
    'onnxruntime', reason='the ONNX export tests need onnx and onnxruntime:'
    ' `pip install -e .[deploy]`')

from mmdet.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmacs.datasets import make_synthetic_shapes  # noqa: E402
from mmacs.testing import load_tool, repo_path  # noqa: E402

#: The issue's bound on |mAP(onnx) - mAP(pytorch)|.
MAP_TOLERANCE = 0.002


def load_deploy_tool(name):
    return load_tool(f'deploy/{name}')


def shapes_cfg(name, root, work_dir):
    cfg = Config.fromfile(repo_path('configs', 'demo', name))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root + '/'
    cfg.val_evaluator.ann_file = root + '/annotations/instances_val.json'
    cfg.test_evaluator.ann_file = cfg.val_evaluator.ann_file
    cfg.work_dir = work_dir
    return cfg


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A demo RetinaNet trained for a few epochs on 48 shapes images, then
    its W4A4 QAT model calibrated and saved as a QAT checkpoint."""
    tmp = tmp_path_factory.mktemp('onnx_map')
    root = str(tmp / 'data')
    make_synthetic_shapes(root, num_train=48, num_val=16, seed=0)
    fp = shapes_cfg('retinanet_r18-tiny_fpn_shapes-128.py', root,
                    str(tmp / 'fp'))
    fp.train_cfg.max_epochs = 8
    fp.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=10)
    ]
    fp.default_hooks.checkpoint.interval = 8
    fp.val_dataloader = fp.val_evaluator = fp.val_cfg = None
    fp.visualizer.name = 'onnx_map_fp'
    Runner.from_cfg(fp).train()

    return qat_checkpoint(
        'lsq-w4a4_full_retinanet_r18-tiny_fpn_shapes-128.py', 'qat', tmp)


def qat_checkpoint(config_name, tag, tmp):
    """The QAT model of ``config_name`` from the FP checkpoint in ``tmp``,
    calibrated on 3 training batches, saved as a QAT checkpoint with its
    config."""
    cfg = shapes_cfg(config_name, str(tmp / 'data'), str(tmp / tag))
    cfg.model.float_checkpoint = str(tmp / 'fp' / 'epoch_8.pth')
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.init_weights()  # the FP checkpoint into student and teacher
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    assert model.calibrate([b for _, b in zip(range(3), loader)]) > 0
    ckpt = str(tmp / f'{tag}.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    config = str(tmp / f'{tag}_config.py')
    cfg.dump(config)
    return config, ckpt, tmp


@pytest.fixture(scope='module')
def trained_w8a8(trained):
    """The W8A8 recipe (BN folded) from the same FP checkpoint."""
    return qat_checkpoint(
        'lsq-w8a8_full_retinanet_r18-tiny_fpn_shapes-128.py', 'w8a8',
        trained[2])


def export_and_test(config, ckpt, onnx_file, *export_args):
    report = load_deploy_tool('export_onnx').main(
        [config, ckpt, '--out', onnx_file, *export_args])
    assert osp.isfile(onnx_file)
    results = load_deploy_tool('test_onnx').main(
        [config, ckpt, onnx_file, '--pytorch'])
    return report, results


def assert_same_map(results):
    onnx_map = results['onnx']['coco/bbox_mAP']
    torch_map = results['pytorch']['coco/bbox_mAP']
    assert torch_map > 0.01, results  # a model that finds shapes
    assert abs(onnx_map - torch_map) <= MAP_TOLERANCE, results
    assert abs(results['onnx']['coco/bbox_mAP_50'] -
               results['pytorch']['coco/bbox_mAP_50']) <= MAP_TOLERANCE


def test_exported_detector_map_equals_pytorch(trained):
    config, ckpt, tmp = trained
    report, results = export_and_test(config, ckpt,
                                      str(tmp / 'retinanet_w4a4.onnx'),
                                      '--verify')
    assert report['verify']['passed']
    assert report['nodes']['QuantizeLinear'] == sum(
        q['calls'] for q in report['quantizers'].values())
    # A model that finds some shapes (an untrained one scores ~0), so
    # equal mAPs mean equal boxes; seen here: mAP 0.018, mAP_50 0.050.
    assert results['pytorch']['coco/bbox_mAP_50'] > 0.03, results
    assert_same_map(results)


def test_w8a8_folded_export_map_equals_pytorch(trained_w8a8):
    config, ckpt, tmp = trained_w8a8
    report, results = export_and_test(config, ckpt,
                                      str(tmp / 'retinanet_w8a8.onnx'),
                                      '--verify')
    assert report['verify']['passed']
    assert 'BatchNormalization' not in report['nodes']
    assert len(report['quantizers']) > 40
    assert_same_map(results)


def test_end2end_graph_map_equals_pytorch(trained):
    config, ckpt, tmp = trained
    report, results = export_and_test(config, ckpt,
                                      str(tmp / 'retinanet_e2e.onnx'),
                                      '--end2end', '--input-shape', '128',
                                      '128')
    assert report['nodes']['NonMaxSuppression'] == 1
    assert_same_map(results)
