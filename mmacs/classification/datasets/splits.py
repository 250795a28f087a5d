# Copyright (c) mmacs contributors. All rights reserved.
"""A seeded train / val hold-out over one list of samples."""
from numbers import Integral
from typing import List, Union

import torch

from mmacs.utils.checks import is_number

SPLITS = ('all', 'train', 'val')


def num_val_samples(num_samples: int, val_size: Union[int, float]) -> int:
    """The number of held-out samples: ``val_size`` itself if it is an int,
    ``round(val_size * num_samples)`` if it is a float in ``[0, 1)``."""
    if not is_number(val_size):
        raise TypeError('val_size must be an int count or a float fraction, '
                        f'got {val_size!r}')
    if isinstance(val_size, Integral):
        if not 0 <= val_size <= num_samples:
            raise ValueError(f'val_size must be in [0, {num_samples}] (the '
                             f'number of samples), got {val_size!r}')
        return int(val_size)
    if not 0 <= val_size < 1:
        raise ValueError('a float val_size is a fraction in [0, 1), got '
                         f'{val_size!r}')
    return int(round(val_size * num_samples))


def split_indices(num_samples: int,
                  split: str = 'all',
                  val_size: Union[int, float] = 0,
                  seed: int = 0) -> List[int]:
    """The sorted indices of ``split`` among ``num_samples`` samples.

    A permutation of all samples drawn with
    ``torch.Generator().manual_seed(seed)`` puts its first ``val_size``
    samples in 'val' and the rest in 'train', so the two never overlap and
    together make 'all'.

    Args:
        num_samples (int): The number of samples.
        split (str): 'all', 'train' or 'val'. Defaults to 'all'.
        val_size (int | float): The held-out count, or a fraction in
            ``[0, 1)`` of ``num_samples``. Defaults to 0.
        seed (int): The seed of the permutation. Defaults to 0.

    Returns:
        list[int]: Indices in increasing order.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    num_val = num_val_samples(num_samples, val_size)
    if split == 'all':
        return list(range(num_samples))
    if split == 'val' and num_val == 0:
        raise ValueError("split='val' needs val_size > 0, got "
                         f'{val_size!r}')
    perm = torch.randperm(
        num_samples, generator=torch.Generator().manual_seed(seed))
    chosen = perm[:num_val] if split == 'val' else perm[num_val:]
    return chosen.sort().values.tolist()
