# Copyright (c) mmacs contributors. All rights reserved.
"""A distributed sampler over the current coreset."""
import math
from typing import Iterator, Optional, Sequence, Sized

import torch
from mmdet.registry import DATA_SAMPLERS
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmacs.utils.checks import check_fraction


def coreset_size(num_samples: int, fraction: float) -> int:
    """round(f * N), at least 1."""
    return max(1, int(round(fraction * num_samples)))


#: Where mmdet's grouping batch samplers keep the indices of a pass that has
#: not finished (``AspectRatioBatchSampler`` and its subclasses;
#: ``MultiDataAspectRatioBatchSampler``).
_BUCKET_ATTRS = ('_aspect_ratio_buckets', '_buckets')


def clear_partial_pass(batch_sampler) -> int:
    """Empty the buckets a grouping batch sampler kept from a pass that was
    not iterated to its end.

    mmdet's ``AspectRatioBatchSampler`` fills two buckets while it reads its
    sampler and empties them only at the end of a pass: a pass stopped
    early (a few batches read by a hook) leaves indices there, which the
    next pass serves on top of its own sampler's, so that epoch runs more
    batches than its length and trains on samples of an old selection.

    Args:
        batch_sampler: The dataloader's batch sampler (None or any other
            batch sampler: nothing to do).

    Returns:
        int: The number of indices dropped.
    """
    dropped = 0
    for attr in _BUCKET_ATTRS:
        buckets = getattr(batch_sampler, attr, None)
        if isinstance(buckets, list) and all(
                isinstance(b, list) for b in buckets):
            dropped += sum(len(b) for b in buckets)
            setattr(batch_sampler, attr, [[] for _ in buckets])
    return dropped


def set_coreset(sampler: 'CoresetSampler', batch_sampler, indices,
                logger) -> None:
    """Hand the coreset ``indices`` to ``sampler`` and drop what
    ``batch_sampler`` kept from an unfinished pass (a warning to
    ``logger``): the next epoch yields the coreset, each sample once."""
    sampler.set_indices(indices)
    dropped = clear_partial_pass(batch_sampler)
    if dropped:
        logger.warning(
            f'the train batch sampler held {dropped} indices of an '
            'unfinished pass (batches read outside the training loop); '
            'they were dropped, so this epoch trains on the coreset only')


def find_coreset_sampler(loader) -> 'CoresetSampler':
    """The :class:`CoresetSampler` of ``loader``, its sampler or the
    sampler behind its batch sampler (e.g. ``AspectRatioBatchSampler``)."""
    sampler = loader.sampler if isinstance(
        loader.sampler, CoresetSampler) else getattr(
            loader.batch_sampler, 'sampler', loader.sampler)
    if not isinstance(sampler, CoresetSampler):
        raise TypeError(
            'CoresetSelectionHook needs train_dataloader.sampler to be '
            f'a CoresetSampler, got {type(sampler).__name__}')
    return sampler


@DATA_SAMPLERS.register_module()
class CoresetSampler(Sampler):
    """Iterates the current coreset: ``round(fraction * N)`` samples.

    The length is the same every epoch, so ``EpochBasedTrainLoop``'s
    ``max_iters`` and iteration-based schedulers stay right. The coreset is
    set by :class:`~mmacs.engine.CoresetSelectionHook` through
    :meth:`set_indices`; until then it is a seeded random subset. Each epoch
    the coreset is shuffled with ``seed + epoch``, padded to a multiple of
    the world size and split ``indices[rank::world_size]``, as
    ``DefaultSampler`` does.

    Args:
        dataset (Sized): The training dataset.
        fraction (float): The coreset fraction ``f`` in ``(0, 1]``.
            Defaults to 0.1.
        shuffle (bool): Shuffle the coreset each epoch. Defaults to True.
        seed (int, optional): Random seed; synchronised across ranks when
            None. Defaults to None.
        round_up (bool): Pad so that every rank draws the same number of
            samples. Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 fraction: float = 0.1,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        check_fraction(fraction, 'fraction', low_open=True)
        rank, world_size = get_dist_info()
        self.rank = rank
        self.world_size = world_size
        self.dataset = dataset
        self.fraction = float(fraction)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.round_up = round_up
        self.epoch = 0
        self.num_samples_total = len(dataset)
        if self.num_samples_total == 0:
            raise ValueError('CoresetSampler got an empty dataset')
        self.num_select = coreset_size(self.num_samples_total, self.fraction)
        if round_up:
            self.num_samples = math.ceil(self.num_select / world_size)
            self.total_size = self.num_samples * world_size
        else:
            self.num_samples = math.ceil(
                (self.num_select - rank) / world_size)
            self.total_size = self.num_select
        g = torch.Generator().manual_seed(self.seed)
        first = torch.randperm(self.num_samples_total, generator=g)
        self.indices = first[:self.num_select].sort().values

    def set_indices(self, indices: Sequence[int]) -> None:
        """Replace the coreset (``num_select`` distinct dataset indices)."""
        indices = torch.as_tensor(indices, dtype=torch.long).flatten()
        if indices.numel() != self.num_select:
            raise ValueError(f'the coreset must hold {self.num_select} '
                             f'indices, got {indices.numel()}')
        if indices.numel() and (indices.min() < 0 or
                                indices.max() >= self.num_samples_total):
            raise ValueError('coreset indices must lie in [0, '
                             f'{self.num_samples_total}), got '
                             f'[{int(indices.min())}, {int(indices.max())}]')
        if torch.unique(indices).numel() != indices.numel():
            raise ValueError('coreset indices must be distinct')
        self.indices = indices.sort().values

    def __iter__(self) -> Iterator[int]:
        indices = self.indices
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            indices = indices[torch.randperm(len(indices), generator=g)]
        indices = indices.tolist()
        if self.round_up:
            reps = int(math.ceil(self.total_size / len(indices)))
            indices = (indices * reps)[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


@DATA_SAMPLERS.register_module()
class IndexSampler(Sampler):
    """Iterates given dataset indices once, in order, split over ranks
    without padding (``indices[rank::world_size]``): every index is seen by
    exactly one rank. The scoring pass of
    :class:`~mmacs.engine.CoresetSelectionHook` uses it to score the whole
    set or a pool of it.

    Args:
        dataset (Sized): The dataset.
        indices (Sequence[int], optional): The indices; None means all.
            Defaults to None.
        seed (int, optional): Accepted for ``Runner.build_dataloader``;
            the order is not random. Defaults to None.
    """

    def __init__(self,
                 dataset: Sized,
                 indices: Optional[Sequence[int]] = None,
                 seed: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.set_indices(range(len(dataset)) if indices is None else indices)

    def set_indices(self, indices: Sequence[int]) -> None:
        """Iterate ``indices`` (distinct, in ``[0, len(dataset))``) from now
        on."""
        indices = torch.as_tensor(list(indices), dtype=torch.long)
        n = len(self.dataset)
        if indices.numel() and (indices.min() < 0 or indices.max() >= n):
            raise ValueError(f'indices must lie in [0, {n}), got '
                             f'[{int(indices.min())}, {int(indices.max())}]')
        if torch.unique(indices).numel() != indices.numel():
            raise ValueError('indices must be distinct')
        self.indices = indices.tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices[self.rank::self.world_size])

    def __len__(self) -> int:
        return len(self.indices[self.rank::self.world_size])

    def set_epoch(self, epoch: int) -> None:
        """Order does not depend on the epoch."""
