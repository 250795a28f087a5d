# Copyright (c) mmacs contributors. All rights reserved.
"""Candidate filters: which scored samples a score-based policy may pick.

A teacher filter (``coreset.teacher_filter=dict(min_prob=p)``) drops from
the candidates of every selection the samples whose label the frozen FP
teacher gives a probability below ``p``: the samples the teacher
contradicts, likely label errors. Error-based scores rank exactly those
samples highest, so under label noise the paper's top-k fills the coreset
with them; the filter removes them before any selection rule runs.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmacs.utils.checks import is_number


def check_teacher_filter(cfg) -> Optional[dict]:
    """``None`` (no filter) or ``dict(min_prob=p)`` with ``0 < p < 1``,
    checked; an error names a bad value."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict) or set(cfg) != {'min_prob'}:
        raise ValueError("teacher_filter must be None or dict(min_prob=p), "
                         f'got {cfg!r}')
    p = cfg['min_prob']
    if not is_number(p) or not 0 < p < 1:
        raise ValueError('teacher_filter.min_prob must be a number in '
                         f'(0, 1), got {p!r}')
    return dict(min_prob=float(p))


def teacher_filter_pool(pool: Tensor, label_prob: Tensor, min_prob: float,
                        num_select: int) -> Tuple[Tensor, int]:
    """The sorted samples of ``pool`` whose teacher probability of the
    label (``label_prob``, ``[N]``) is at least ``min_prob``; when fewer
    than ``num_select`` are, the ``num_select`` of ``pool`` with the highest
    probability (ties to the lower index), so a coreset can always be
    chosen. Also returns how many samples passed the threshold."""
    prob = label_prob[pool]
    keep = prob >= min_prob
    passed = int(keep.sum())
    if passed >= num_select:
        return pool[keep], passed
    order = torch.sort(-prob.double(), stable=True).indices[:num_select]
    return pool[order].sort().values, passed


def apply_teacher_filter(
        cfg: dict,
        pool: Optional[Tensor],
        label_prob: Tensor,
        num_samples: int,
        num_select: int,
        noisy: Optional[Sequence[int]] = None) -> Tuple[Tensor, dict]:
    """The teacher filter ``cfg`` applied to ``pool`` (None: all
    ``num_samples``): the candidates of the selection, and what the
    selection log records of them (with ``noisy``, the dataset's noisy
    indices, the noisy share of the dropped samples and of the
    candidates)."""
    pool = torch.arange(num_samples) if pool is None else pool
    kept, passed = teacher_filter_pool(pool, label_prob, cfg['min_prob'],
                                       num_select)
    info = dict(
        min_prob=cfg['min_prob'],
        scored=int(pool.numel()),
        passed=passed,
        candidates=int(kept.numel()))
    if noisy is not None:
        is_noisy = torch.zeros(num_samples, dtype=torch.bool)
        is_noisy[torch.as_tensor(list(noisy), dtype=torch.long)] = True
        dropped = torch.ones(num_samples, dtype=torch.bool)
        dropped[kept] = False
        dropped = dropped[pool]
        info['dropped_noisy_fraction'] = float(
            is_noisy[pool][dropped].float().mean()) if dropped.any() else 0.
        info['candidates_noisy_fraction'] = float(
            is_noisy[kept].float().mean())
    return kept, info
