# Copyright (c) mmacs contributors. All rights reserved.
import json
import os
import socket
import subprocess
import sys
import weakref
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
import torch.distributed as torch_dist

from mmacs.engine import release_process_group

REPO = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_two_ranks(tmp_path, *args):
    """What each rank of dist_worker.py saw."""
    worker = Path(__file__).with_name('dist_worker.py')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--master_addr=127.0.0.1', f'--master_port={free_port()}',
        str(worker), str(tmp_path), *args
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads((tmp_path / f'rank{r}.json').read_text())
            for r in range(2)]


def test_two_rank_gloo_run_selects_identical_coresets(tmp_path):
    ranks = run_two_ranks(tmp_path)
    assert all(r['wrapper'] == 'MMDistributedDataParallel' for r in ranks)
    sel0, sel1 = ranks[0]['selections'], ranks[1]['selections']
    assert [s['epoch'] for s in sel0] == [0, 1]
    for a, b in zip(sel0, sel1):
        # Scores were all-gathered: both ranks hold all 96, identical.
        assert len(a['scores']) == 96 and a['scores'] == b['scores']
        assert a['indices'] == b['indices'] and len(a['indices']) == 24
        # Each rank trains on its own half of the coreset.
        assert len(a['shard']) == len(b['shard']) == 12
        assert not set(a['shard']) & set(b['shard'])
        assert set(a['shard']) | set(b['shard']) == set(a['indices'])


def test_two_rank_score_reuse_gathers_the_training_step_scores(tmp_path):
    ranks = run_two_ranks(tmp_path, 'reuse')
    sel0, sel1 = ranks[0]['selections'], ranks[1]['selections']
    assert [s['epoch'] for s in sel0] == [0, 1, 2]
    for a, b in zip(sel0, sel1):
        assert a['scores'] == b['scores'] and len(a['scores']) == 96
        assert a['indices'] == b['indices'] and len(a['indices']) == 24
    with open(tmp_path / 'coreset_log.jsonl') as f:
        log = [json.loads(line) for line in f]
    # Both ranks' halves of the coreset came back from the training step.
    assert [r['reused'] for r in log] == [0, 24, 24]


def test_release_process_group_ends_the_default_group(tmp_path):
    release_process_group()  # no group: nothing to do, no error
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
        world_size=1)
    try:
        assert torch_dist.is_initialized()
        release_process_group()
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def test_release_process_group_lets_gloo_threads_settle_first(tmp_path):
    """Between the barrier and the group's end the GIL is let go (a sleep):
    gloo's worker threads free finished collectives' tensors, which needs
    the GIL, before the group's destructor joins them with the GIL held."""
    from mmacs.engine import runner as runner_module
    calls = []
    real_destroy = torch_dist.destroy_process_group

    def destroy():
        calls.append('destroy')
        real_destroy()

    torch_dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
        world_size=1)
    try:
        with mock.patch.object(torch_dist, 'barrier',
                               lambda: calls.append('barrier')), \
                mock.patch.object(runner_module.time, 'sleep',
                                  lambda s: calls.append(('sleep', s))), \
                mock.patch.object(torch_dist, 'destroy_process_group',
                                  destroy):
            release_process_group()
        assert runner_module.GLOO_SETTLE_SECONDS > 0
        assert calls == [
            'barrier', ('sleep', runner_module.GLOO_SETTLE_SECONDS),
            'destroy'
        ]
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            real_destroy()


def test_release_process_group_frees_the_runners_ddp_wrapper(tmp_path):
    """The DDP wrapper holds the group after destroy_process_group: the
    runner, which lives on (mmengine's sits in reference cycles), lets it
    go."""
    from torch.nn.parallel import DistributedDataParallel
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
        world_size=1)
    try:
        inner = torch.nn.Linear(2, 2)
        runner = SimpleNamespace(model=DistributedDataParallel(inner))
        wrapper = weakref.ref(runner.model)
        release_process_group(runner)
        assert not torch_dist.is_initialized()
        assert runner.model is inner
        assert wrapper() is None
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def test_dist_train_script_runs_two_cpu_processes(tmp_path):
    """tools/dist_train.sh, as a user runs it, on a machine without CUDA:
    the config names mmdet's default 'nccl' backend, no torchrun on PATH."""
    from mmacs.testing.toy import toy_cfg
    cfg = toy_cfg(tmp_path / 'work', max_epochs=2, fraction=0.25)
    cfg.env_cfg = dict(dist_cfg=dict(backend='nccl'))
    cfg.custom_imports = dict(imports=['mmacs.testing.toy'],
                              allow_failed_imports=False)
    cfg.log_level = 'INFO'
    cfg_file = tmp_path / 'toy_dist.py'
    cfg.dump(str(cfg_file))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(free_port()), PATH='/usr/bin:/bin',
               CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(
        ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(cfg_file), '2',
         '--work-dir', str(tmp_path / 'work')],
        env=env, capture_output=True, text=True, timeout=600,
        cwd=str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "needs CUDA, which this machine lacks: using 'gloo'" in out
    assert 'GPU number: 2' in out  # mmengine's name for the world size
    assert (tmp_path / 'work' / 'epoch_2.pth').exists()
    with open(tmp_path / 'work' / 'coreset_log.jsonl') as f:
        assert [json.loads(line)['epoch'] for line in f] == [0, 1]


def test_backend_follows_the_device():
    from unittest import mock

    from mmacs.engine.runner import dist_backend
    with mock.patch('torch.cuda.is_available', return_value=False):
        assert dist_backend(None) == 'gloo'
        assert dist_backend('auto') == 'gloo'
        assert dist_backend('nccl') == 'gloo'
        assert dist_backend('gloo') == 'gloo'
    with mock.patch('torch.cuda.is_available', return_value=True):
        assert dist_backend(None) == 'nccl'
        assert dist_backend('nccl') == 'nccl'
        assert dist_backend('gloo') == 'gloo'  # forced by the user
    with pytest.raises(TypeError, match='backend'):
        dist_backend(3)
