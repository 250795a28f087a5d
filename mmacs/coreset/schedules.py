# Copyright (c) mmacs contributors. All rights reserved.
"""beta(t): the weight of EVS against DS at epoch t of E.

Each schedule is registered in :data:`mmacs.registry.BETA_SCHEDULES` as a
function of the training progress ``t / E`` in ``[0, 1]``.
"""
import math

from mmacs.registry import BETA_SCHEDULES, get_registered


@BETA_SCHEDULES.register_module('cosine')
def cosine(progress: float) -> float:
    """The paper: ``cos(pi t / 2E)``, 1 -> 0."""
    return math.cos(math.pi * progress / 2)


@BETA_SCHEDULES.register_module('official')
def official(progress: float) -> float:
    """The authors' code: ``0.5 (1 + cos(pi t / E))``."""
    return 0.5 * (1 + math.cos(math.pi * progress))


@BETA_SCHEDULES.register_module('linear')
def linear(progress: float) -> float:
    """``1 - t / E``."""
    return 1.0 - progress


@BETA_SCHEDULES.register_module('evs_only')
def evs_only(progress: float) -> float:
    """EVS alone: 1."""
    return 1.0


@BETA_SCHEDULES.register_module('ds_only')
def ds_only(progress: float) -> float:
    """DS alone: 0."""
    return 0.0


def beta_schedule(name: str, epoch: int, max_epochs: int) -> float:
    """The EVS weight ``beta(t)`` in ``d = beta EVS + (1 - beta) DS``.

    Args:
        name (str): ``'cosine'`` (the paper: ``cos(pi t / 2E)``, 1 -> 0),
            ``'official'`` (the authors' code: ``0.5 (1 + cos(pi t / E))``),
            ``'linear'`` (``1 - t / E``), ``'evs_only'`` (1) or ``'ds_only'``
            (0), or another registered schedule.
        epoch (int): The current epoch ``t`` (0-based).
        max_epochs (int): The number of epochs ``E``.

    Returns:
        float: ``beta`` in ``[0, 1]``.
    """
    schedule = check_schedule(name)
    if max_epochs < 1:
        raise ValueError(f'max_epochs must be >= 1, got {max_epochs!r}')
    t = min(max(epoch, 0), max_epochs) / max_epochs
    return min(max(schedule(t), 0.0), 1.0)


def check_schedule(name: str):
    """The schedule registered as ``name``; an error names a bad one."""
    return get_registered(BETA_SCHEDULES, name, 'beta schedule')
