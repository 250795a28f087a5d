# Copyright (c) mmacs contributors. All rights reserved.
"""mmdet's command line in mmacs's tools: train.py --auto-scale-lr and
--amp, test.py --out and --show-dir, dist_test.sh with CPU processes."""
import json
import os
import pickle
import socket
import subprocess
import sys
from argparse import Namespace
from unittest import mock

import pytest
import torch
from mmengine.config import Config

from mmacs.datasets import make_synthetic_shapes
from mmacs.testing import REPO, load_tool

demo = load_tool('demo')
train_tool = load_tool('train')
test_tool = load_tool('test')

NUM_VAL = 4


@pytest.fixture(scope='module')
def qat_run(tmp_path_factory):
    """One epoch of the demo's W4A4 ACS RetinaNet on 8 small shapes images,
    trained through tools/train.py --auto-scale-lr: the config file, the
    checkpoint and the runner."""
    root = tmp_path_factory.mktemp('cli')
    make_synthetic_shapes(str(root / 'data'), num_train=8, num_val=NUM_VAL,
                          size=64)
    args = demo.parse_args(['--data-root', str(root / 'data')])
    cfg = demo.load_cfg(demo.QAT_CONFIGS['acs'], args, str(root / 'work'))
    cfg.model.float_checkpoint = None
    cfg.qat.calibration_batches = 1
    cfg.coreset.fraction = 0.5
    cfg.train_dataloader.batch_size = 4
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=8)
    demo.set_epochs(cfg, 1)
    cfg.visualizer.name = 'visualizer_test_cli'  # one per name per process
    cfg.train_cfg.val_interval = 2  # no validation: tools/test.py tests
    # One epoch scores low: keep its boxes so that COCO evaluation has some.
    cfg.model.model.test_cfg.update(score_thr=0.0, max_per_img=20)
    cfg_file = root / 'qat_shapes.py'
    cfg.dump(str(cfg_file))
    runner = train_tool.main(
        [str(cfg_file), '--work-dir', str(root / 'work'), '--auto-scale-lr'])
    return Namespace(cfg_file=cfg_file, root=root, runner=runner,
                     ckpt=root / 'work' / 'epoch_1.pth',
                     base_lr=cfg.optim_wrapper.optimizer.lr)


def test_auto_scale_lr_scales_by_the_real_batch(qat_run):
    # 1 process x batch 4 against base_batch_size 8: half the config's LR.
    groups = qat_run.runner.optim_wrapper.param_groups
    assert groups and all(g['initial_lr'] == pytest.approx(
        qat_run.base_lr * 0.5) for g in groups if g['params'])
    assert qat_run.ckpt.exists()


def test_auto_scale_lr_without_a_base_batch_size_is_refused():
    args = train_tool.parse_args(['cfg.py', '--auto-scale-lr'])
    with pytest.raises(ValueError, match='base_batch_size'):
        train_tool.apply_train_args(Config(dict(optim_wrapper=dict())), args)


def test_amp_without_cuda_is_refused_before_building_anything():
    args = train_tool.parse_args(['cfg.py', '--amp'])
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD'))))
    with mock.patch('torch.cuda.is_available', return_value=False):
        with pytest.raises(ValueError, match='--amp needs CUDA'):
            train_tool.apply_train_args(cfg, args)
    with mock.patch('torch.cuda.is_available', return_value=True):
        cfg = train_tool.apply_train_args(cfg, args)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'


@pytest.mark.skipif(not torch.cuda.is_available(), reason='--amp needs CUDA')
def test_amp_trains_the_lsq_student_on_cuda(qat_run, tmp_path):
    work = tmp_path / 'amp'
    train_tool.main([str(qat_run.cfg_file), '--work-dir', str(work),
                     '--amp', '--cfg-options', 'visualizer.name=vis_amp'])
    ckpt = torch.load(work / 'epoch_1.pth')
    assert 'loss_scaler' in ckpt['optimizer']
    steps = {k: v for k, v in ckpt['state_dict'].items()
             if k.startswith('student.') and k.endswith('.step')}
    assert steps and all(v.dtype == torch.float32 and
                         torch.isfinite(v).all() and (v > 0).all()
                         for v in steps.values())


def test_out_and_show_dir(qat_run, tmp_path):
    out = tmp_path / 'preds.pkl'
    test_tool.main([
        str(qat_run.cfg_file), str(qat_run.ckpt), '--work-dir',
        str(tmp_path / 'test'), '--out', str(out), '--show-dir', 'vis',
        '--cfg-options', 'visualizer.name=vis_show'
    ])
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == NUM_VAL
    assert all({'img_path', 'pred_instances'} <= set(p) for p in preds)
    drawn = list((tmp_path / 'test').glob('*/vis/*'))
    assert len(drawn) == NUM_VAL
    with pytest.raises(SystemExit):  # mmdet's rule: a pickle file
        test_tool.parse_args(['cfg.py', 'ckpt.pth', '--out', 'preds.json'])


def test_ptq_calibrates_the_float_model_before_testing(qat_run, tmp_path):
    """--ptq: no checkpoint, the float model loaded and its LSQ steps
    calibrated from training batches before the test loop; from a QAT
    checkpoint nothing is reloaded or recalibrated."""
    # A float checkpoint: the trained run's teacher, under plain names.
    state = torch.load(qat_run.ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    fp = {k[len('teacher.'):]: v for k, v in state.items()
          if k.startswith('teacher.')}
    torch.save(dict(state_dict=fp), tmp_path / 'fp.pth')

    def run(*args, name):
        work = tmp_path / name
        test_tool.main([str(qat_run.cfg_file), *args, '--work-dir',
                        str(work), '--out-json', str(work / 'm.json'),
                        '--cfg-options', f'visualizer.name=vis_{name}',
                        f"model.float_checkpoint={tmp_path / 'fp.pth'}"])
        (log, ) = work.glob('*/*.log')
        return log.read_text(), json.loads((work / 'm.json').read_text())

    log, metrics = run('--ptq', name='ptq')
    # The runner initialises weights only to train: the float model is
    # loaded before calibration, not left at its random initialisation.
    assert log.index('loaded float checkpoint') < log.index(
        'QAT calibration: initialised')
    assert 'coco/bbox_mAP' in metrics
    log, _ = run(str(qat_run.ckpt), name='ckpt')
    assert 'QAT calibration: initialised' not in log
    assert 'loaded float checkpoint' not in log
    for bad in ([], ['ckpt.pth', '--ptq']):
        with pytest.raises(SystemExit):
            test_tool.parse_args(['cfg.py', *bad])
    fp = Config(dict(model=dict(type='RetinaNet')))
    fp.dump(str(tmp_path / 'fp.py'))
    with pytest.raises(ValueError, match='QATModel'):
        test_tool.main([str(tmp_path / 'fp.py'), '--ptq'])


def test_show_dir_needs_a_visualization_hook():
    cfg = Config(dict(default_hooks=dict(logger=dict(type='LoggerHook'))))
    with pytest.raises(ValueError, match='default_hooks.visualization'):
        test_tool.show_predictions(cfg, 'vis')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_test_script_runs_two_cpu_processes(qat_run, tmp_path):
    """tools/dist_test.sh as a user runs it, without CUDA: two gloo ranks
    share the test set, and --out holds every image once."""
    out = tmp_path / 'preds.pkl'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(free_port()), CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(
        ['bash', str(REPO / 'tools' / 'dist_test.sh'), str(qat_run.cfg_file),
         str(qat_run.ckpt), '2', '--work-dir', str(tmp_path / 'work'),
         '--out', str(out)],
        env=env, capture_output=True, text=True, timeout=600,
        cwd=str(tmp_path))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert 'coco/bbox_mAP' in log
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == NUM_VAL
    assert len({p['img_path'] for p in preds}) == NUM_VAL
