# Copyright (c) mmacs contributors. All rights reserved.
"""A seeded train / val / final hold-out over one list of samples."""
from numbers import Integral
from typing import List, Union

import torch

from mmacs.utils.checks import is_number

SPLITS = ('all', 'train', 'val', 'final')


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
                  seed: int = 0,
                  final_size: Union[int, float] = 0) -> List[int]:
    """The sorted indices of ``split`` among ``num_samples`` samples.

    A permutation of all samples drawn with
    ``torch.Generator().manual_seed(seed)`` puts its first ``val_size``
    samples in 'val', the next ``final_size`` in 'final' and the rest in
    'train', so no two overlap and together they make 'all'. 'val' does not
    depend on ``final_size``: the final split is carved out of what was
    'train' (a hold-out to tune on, and one left untouched until the end).

    Args:
        num_samples (int): The number of samples.
        split (str): 'all', 'train', 'val' or 'final'. Defaults to 'all'.
        val_size (int | float): The held-out count, or a fraction in
            ``[0, 1)`` of ``num_samples``. Defaults to 0.
        seed (int): The seed of the permutation. Defaults to 0.
        final_size (int | float): The count (or fraction of
            ``num_samples``) of the second hold-out. Defaults to 0.

    Returns:
        list[int]: Indices in increasing order.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    num_val = num_val_samples(num_samples, val_size)
    num_final = num_val_samples(num_samples, final_size)
    if num_val + num_final > num_samples:
        raise ValueError(f'val_size {val_size!r} and final_size '
                         f'{final_size!r} hold out more than the '
                         f'{num_samples} samples')
    if split == 'all':
        return list(range(num_samples))
    for name, num, size in (('val', num_val, val_size),
                            ('final', num_final, final_size)):
        if split == name and num == 0:
            raise ValueError(f"split={name!r} needs {name}_size > 0, got "
                             f'{size!r}')
    perm = torch.randperm(
        num_samples, generator=torch.Generator().manual_seed(seed))
    bounds = dict(val=(0, num_val), final=(num_val, num_val + num_final),
                  train=(num_val + num_final, num_samples))
    begin, end = bounds[split]
    return perm[begin:end].sort().values.tolist()
