# Copyright (c) mmacs contributors. All rights reserved.
from unittest import mock

import pytest
import torch

from mmacs.datasets import CoresetSampler, IndexSampler

DIST = 'mmacs.datasets.coreset_sampler.get_dist_info'


def test_length_is_round_f_n_and_constant():
    sampler = CoresetSampler(list(range(103)), fraction=0.1, seed=0)
    assert sampler.num_select == 10 and len(sampler) == 10
    sampler.set_indices(range(50, 60))
    for epoch in range(3):
        sampler.set_epoch(epoch)
        assert sorted(sampler) == list(range(50, 60))
    assert len(sampler) == 10


def test_shuffle_is_deterministic_per_epoch():
    a = CoresetSampler(list(range(40)), fraction=0.5, seed=1)
    b = CoresetSampler(list(range(40)), fraction=0.5, seed=1)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert list(a) != list(b)


def test_rank_shards_are_disjoint_and_cover_the_coreset():
    shards = []
    for rank in range(3):
        with mock.patch(DIST, return_value=(rank, 3)):
            sampler = CoresetSampler(list(range(100)), fraction=0.3, seed=0)
        sampler.set_indices(range(0, 60, 2))
        sampler.set_epoch(1)
        shards.append(list(sampler))
    assert all(len(s) == 10 for s in shards)
    flat = [i for s in shards for i in s]
    assert len(set(flat)) == 30 and set(flat) == set(range(0, 60, 2))


def test_padding_when_not_divisible():
    shards = []
    for rank in range(2):
        with mock.patch(DIST, return_value=(rank, 2)):
            sampler = CoresetSampler(list(range(50)), fraction=0.1, seed=0)
        shards.append(list(sampler))
    assert len(shards[0]) == len(shards[1]) == 3  # 5 padded to 6


@pytest.mark.parametrize('fraction', [0, -0.1, 1.5, 'a', None, True])
def test_bad_fraction_is_named(fraction):
    with pytest.raises(ValueError, match=repr(fraction).replace('.', r'\.')):
        CoresetSampler(list(range(10)), fraction=fraction)


def test_set_indices_validation():
    sampler = CoresetSampler(list(range(10)), fraction=0.3, seed=0)
    with pytest.raises(ValueError, match='hold 3'):
        sampler.set_indices([1, 2])
    with pytest.raises(ValueError, match='lie in'):
        sampler.set_indices([1, 2, 10])
    with pytest.raises(ValueError, match='distinct'):
        sampler.set_indices([1, 1, 2])
    sampler.set_indices(torch.tensor([9, 0, 4]))
    assert sampler.indices.tolist() == [0, 4, 9]


def test_index_sampler_splits_given_indices_over_ranks():
    dataset = list(range(10))
    for rank in (0, 1):
        with mock.patch(DIST, return_value=(rank, 2)):
            sampler = IndexSampler(dataset)
            assert list(sampler) == list(range(rank, 10, 2))
            sampler.set_indices([7, 2, 5])
            assert list(sampler) == [[7, 5], [2]][rank]
            assert len(sampler) == [2, 1][rank]
    with pytest.raises(ValueError, match=r'\[0, 10\)'):
        sampler.set_indices([3, 10])
    with pytest.raises(ValueError, match='distinct'):
        sampler.set_indices([3, 3])


class _AspectDataset:
    """48 samples of alternating portrait / landscape shape."""

    def __len__(self):
        return 48

    def __getitem__(self, idx):
        return idx

    def get_data_info(self, idx):
        return dict(width=64 if idx % 3 else 128, height=96)


def _partial_pass(batches=2):
    """The issue's set-up: a CoresetSampler (48 samples, f = 0.5) behind
    mmdet's AspectRatioBatchSampler (batch 4), two batches read and the
    pass left unfinished."""
    from mmdet.datasets.samplers import AspectRatioBatchSampler
    sampler = CoresetSampler(_AspectDataset(), fraction=0.5, seed=0)
    batch_sampler = AspectRatioBatchSampler(sampler, batch_size=4)
    it = iter(batch_sampler)
    for _ in range(batches):
        next(it)
    return sampler, batch_sampler


def test_partial_pass_leaves_stale_indices_in_mmdet_buckets():
    # The failure the hook guards against: mmdet's batch sampler serves
    # the unfinished pass's indices in the next one.
    sampler, batch_sampler = _partial_pass()
    sampler.set_indices(range(24, 48))
    epoch = [i for b in batch_sampler for i in b]
    assert len(epoch) > 24 and not set(epoch) <= set(range(24, 48))


def test_new_coreset_after_partial_pass_is_served_exactly_once():
    from mmacs.engine import CoresetSelectionHook
    sampler, batch_sampler = _partial_pass()
    hook = CoresetSelectionHook(interval=2)
    hook.sampler, hook.batch_sampler = sampler, batch_sampler
    hook.indices, hook.last_epoch = torch.arange(24), 0
    runner = mock.MagicMock(epoch=1)
    hook.before_train_epoch(runner)  # not a selection epoch: re-applies
    assert 'unfinished pass' in runner.logger.warning.call_args[0][0]
    batches = list(batch_sampler)
    epoch = [i for b in batches for i in b]
    assert len(batches) == len(batch_sampler) == 6  # ceil(24 / 4)
    assert sorted(epoch) == list(range(24))  # the coreset, each once
    # A clean pass leaves nothing behind: the next epoch needs no clean-up.
    runner.reset_mock()
    hook.before_train_epoch(runner)
    runner.logger.warning.assert_not_called()


def test_calibration_loader_does_not_touch_the_train_loader():
    from mmdet.datasets.samplers import AspectRatioBatchSampler
    from torch.utils.data import DataLoader

    from mmacs.engine.calibration_hook import calibration_loader
    dataset = _AspectDataset()
    sampler = CoresetSampler(dataset, fraction=0.5, seed=0)
    batch_sampler = AspectRatioBatchSampler(sampler, batch_size=4)
    train = DataLoader(dataset, batch_sampler=batch_sampler,
                       collate_fn=lambda batch: batch)
    calib = list(calibration_loader(train, num_batches=2, seed=0))
    assert [len(b) for b in calib] == [4, 4]
    assert len(set(sum(calib, []))) == 8
    assert batch_sampler._aspect_ratio_buckets == [[], []]
    epoch = sum(list(train), [])
    assert sorted(epoch) == sorted(sampler.indices.tolist())
