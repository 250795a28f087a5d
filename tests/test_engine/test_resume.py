# Copyright (c) mmacs contributors. All rights reserved.
"""What ``--resume`` restores beyond mmengine's own state: the random
generators, a clean selection log, clear errors on unusable files."""
import json

import pytest
import torch

from mmacs.engine import QATRunner
from mmacs.testing.toy import toy_cfg


def run(cfg):
    runner = QATRunner.from_cfg(cfg)
    runner.train()
    return runner


def jitter_cfg(work_dir, max_epochs):
    """The toy task with random input jitter (a stand-in for augmentation
    drawn from the global generators)."""
    cfg = toy_cfg(work_dir, max_epochs=max_epochs, interval=2)
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='PackToyInputs', jitter=0.3)
    ]
    return cfg


def weights(path):
    return torch.load(path)['state_dict']


def test_resumed_training_is_bit_identical(tmp_path):
    run(jitter_cfg(tmp_path / 'straight', max_epochs=4))
    run(jitter_cfg(tmp_path / 'split', max_epochs=2))
    cfg = jitter_cfg(tmp_path / 'split', max_epochs=4)
    cfg.resume = True
    run(cfg)
    straight = weights(tmp_path / 'straight' / 'epoch_4.pth')
    resumed = weights(tmp_path / 'split' / 'epoch_4.pth')
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    # Every rank's state is in the checkpoint.
    saved = torch.load(tmp_path / 'split' / 'epoch_2.pth')['rng_state']
    assert saved['world_size'] == 1 and len(saved['states']) == 1


def test_resume_from_older_checkpoint_rewrites_later_log_lines(tmp_path):
    # A run that selected at epochs 0, 1, 2 and "crashed" is resumed from
    # the end of epoch 1: selections 1 and 2 are made again and logged
    # once each.
    run(toy_cfg(tmp_path, max_epochs=3))
    cfg = toy_cfg(tmp_path, max_epochs=3)
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'epoch_1.pth')
    run(cfg)
    with open(tmp_path / 'coreset_log.jsonl') as f:
        epochs = [json.loads(line)['epoch'] for line in f]
    assert epochs == [0, 1, 2]


def test_empty_checkpoint_is_named(tmp_path):
    empty = tmp_path / 'epoch_1.pth'
    empty.write_bytes(b'')
    cfg = toy_cfg(tmp_path / 'work', max_epochs=1)
    cfg.resume = True
    cfg.load_from = str(empty)
    with pytest.raises(RuntimeError, match=r'epoch_1\.pth.*empty \(0 bytes'):
        run(cfg)
    truncated = tmp_path / 'truncated.pth'
    run(toy_cfg(tmp_path / 'ok', max_epochs=1))
    data = (tmp_path / 'ok' / 'epoch_1.pth').read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    cfg.load_from = str(truncated)
    with pytest.raises(RuntimeError, match='truncated.pth.*truncated'):
        run(cfg)
