# Copyright (c) mmacs contributors. All rights reserved.
"""Seeded synthetic label noise (symmetric or asymmetric).

Symmetric noise gives a ``rate`` fraction of all samples a label drawn
uniformly from the other classes. Asymmetric noise moves a ``rate``
fraction of the samples of each source class to one fixed target class:
for 10 classes the CIFAR-10 mapping truck -> automobile, bird -> airplane,
deer -> horse, cat <-> dog (by label index, in CIFAR-10's class order);
for any other number of classes ``c -> (c + 1) % C``. The counts are exact
(``round(rate * n)``), so only the classes that have a target are noisy.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from mmacs.utils.checks import check_fraction, check_int

NOISE_MODES = ('symmetric', 'asymmetric')

#: The CIFAR-10 asymmetric mapping, by label index: truck -> automobile,
#: bird -> airplane, deer -> horse, cat -> dog, dog -> cat.
CIFAR10_ASYMMETRIC = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


def check_label_noise(label_noise: Optional[dict]) -> Optional[dict]:
    """``label_noise`` with defaults filled in (``seed=0``), or None.

    Raises:
        TypeError | ValueError: naming the bad argument.
    """
    if label_noise is None:
        return None
    if not isinstance(label_noise, dict):
        raise TypeError('label_noise must be a dict(mode=..., rate=..., '
                        f'seed=...) or None, got {label_noise!r}')
    unknown = set(label_noise) - {'mode', 'rate', 'seed'}
    if unknown:
        raise ValueError(f'unknown label_noise keys {sorted(unknown)}; '
                         "expected 'mode', 'rate' and 'seed'")
    mode = label_noise.get('mode')
    if mode not in NOISE_MODES:
        raise ValueError(f'label_noise mode must be one of {NOISE_MODES}, '
                         f'got {mode!r}')
    rate = label_noise.get('rate')
    check_fraction(rate, 'label_noise rate')
    seed = label_noise.get('seed', 0)
    check_int(seed, 'label_noise seed')
    return dict(mode=mode, rate=float(rate), seed=seed)


def asymmetric_mapping(num_classes: int) -> Dict[int, int]:
    """The source -> target classes of asymmetric noise."""
    if num_classes == 10:
        return dict(CIFAR10_ASYMMETRIC)
    return {c: (c + 1) % num_classes for c in range(num_classes)}


def apply_label_noise(labels: Sequence[int],
                      num_classes: int,
                      mode: str,
                      rate: float,
                      seed: int = 0) -> Tuple[List[int], List[int]]:
    """Corrupt ``labels`` (see the module docstring).

    Args:
        labels (Sequence[int]): Clean labels in ``[0, num_classes)``.
        num_classes (int): The number of classes ``C``.
        mode (str): 'symmetric' or 'asymmetric'.
        rate (float): The noisy fraction in ``[0, 1]``.
        seed (int): Seed of a ``torch.Generator``. Defaults to 0.

    Returns:
        tuple[list[int], list[int]]: The noisy labels and the sorted
        positions whose label changed.
    """
    check_label_noise(dict(mode=mode, rate=rate, seed=seed))
    if num_classes < 2:
        raise ValueError('label noise needs at least 2 classes, got '
                         f'num_classes={num_classes!r}')
    clean = torch.as_tensor(list(labels), dtype=torch.long)
    if clean.numel() and (clean.min() < 0 or clean.max() >= num_classes):
        raise ValueError(f'labels must lie in [0, {num_classes}), got '
                         f'[{int(clean.min())}, {int(clean.max())}]')
    g = torch.Generator().manual_seed(seed)
    noisy = clean.clone()
    if mode == 'symmetric':
        num_noisy = int(round(rate * clean.numel()))
        chosen = torch.randperm(clean.numel(), generator=g)[:num_noisy]
        # An offset in [1, C) lands uniformly on the other classes.
        offset = torch.randint(1, num_classes, (num_noisy, ), generator=g)
        noisy[chosen] = (clean[chosen] + offset) % num_classes
    else:
        for src, dst in sorted(asymmetric_mapping(num_classes).items()):
            members = (clean == src).nonzero().flatten()
            num_noisy = int(round(rate * members.numel()))
            perm = torch.randperm(members.numel(), generator=g)
            noisy[members[perm[:num_noisy]]] = dst
    changed = (noisy != clean).nonzero().flatten().tolist()
    return noisy.tolist(), changed
