# Copyright (c) mmacs contributors. All rights reserved.
"""beta(t): the weight of EVS against DS at epoch t of E."""
import math

SCHEDULES = ('cosine', 'official', 'linear', 'evs_only', 'ds_only')


def beta_schedule(name: str, epoch: int, max_epochs: int) -> float:
    """The EVS weight ``beta(t)`` in ``d = beta EVS + (1 - beta) DS``.

    Args:
        name (str): ``'cosine'`` (the paper: ``cos(pi t / 2E)``, 1 -> 0),
            ``'official'`` (the authors' code: ``0.5 (1 + cos(pi t / E))``),
            ``'linear'`` (``1 - t / E``), ``'evs_only'`` (1) or ``'ds_only'``
            (0).
        epoch (int): The current epoch ``t`` (0-based).
        max_epochs (int): The number of epochs ``E``.

    Returns:
        float: ``beta`` in ``[0, 1]``.
    """
    check_schedule(name)
    if max_epochs < 1:
        raise ValueError(f'max_epochs must be >= 1, got {max_epochs!r}')
    t = min(max(epoch, 0), max_epochs) / max_epochs
    if name == 'cosine':
        beta = math.cos(math.pi * t / 2)
    elif name == 'official':
        beta = 0.5 * (1 + math.cos(math.pi * t))
    elif name == 'linear':
        beta = 1.0 - t
    elif name == 'evs_only':
        beta = 1.0
    else:
        beta = 0.0
    return min(max(beta, 0.0), 1.0)


def check_schedule(name: str) -> None:
    if name not in SCHEDULES:
        raise ValueError(
            f'unknown beta schedule {name!r}; choose from {SCHEDULES}')
