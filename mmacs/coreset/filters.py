# Copyright (c) mmacs contributors. All rights reserved.
"""Candidate filters: which scored samples a score-based policy may pick.

A teacher filter drops from the candidates of every selection the samples
whose annotation the frozen FP teacher contradicts, likely label errors.
Error-based scores rank exactly those samples highest, so under label noise
the paper's top-k fills the coreset with them; the filter removes them
before any selection rule runs. Two forms:

- ``dict(min_prob=p)`` (classification): the samples whose label the
  teacher gives a probability below ``p``;
- ``dict(drop=q)`` (classification and detection): the ``ceil(q * n)`` of
  the ``n`` scored samples the teacher fits worst — the lowest probability
  of the label, or the highest per-image detection loss of the teacher
  against the image's boxes (the scorer's ``teacher_loss``).

What "fit" is comes from the task (:meth:`mmacs.tasks.Task.teacher_fit`).
"""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmacs.utils.checks import is_number


def check_teacher_filter(cfg) -> Optional[dict]:
    """``None`` (no filter), ``dict(min_prob=p)`` or ``dict(drop=q)`` with
    ``p, q`` in ``(0, 1)``, checked; an error names a bad value."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict) or len(cfg) != 1 or not set(cfg) < {
            'min_prob', 'drop'}:
        raise ValueError('teacher_filter must be None, dict(min_prob=p) or '
                         f'dict(drop=q), got {cfg!r}')
    (key, value), = cfg.items()
    if not is_number(value) or not 0 < value < 1:
        raise ValueError(f'teacher_filter.{key} must be a number in (0, 1), '
                         f'got {value!r}')
    return {key: float(value)}


def teacher_drop_pool(pool: Tensor, fit: Tensor, drop: float,
                      num_select: int) -> Tuple[Tensor, int]:
    """The sorted samples of ``pool`` without the ``ceil(drop * n)`` the
    teacher fits worst (lowest ``fit``, ties to the higher index), fewer
    when fewer than ``num_select`` would remain; also returns how many
    samples are left by ``drop`` alone."""
    n = pool.numel()
    passed = n - int(math.ceil(drop * n))
    num_drop = n - max(passed, num_select)
    order = torch.sort(fit[pool].double(), stable=True,
                       descending=True).indices
    return pool[order[:n - num_drop]].sort().values, passed


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
        fit: Tensor,
        num_samples: int,
        num_select: int,
        noisy: Optional[Sequence[int]] = None) -> Tuple[Tensor, dict]:
    """The teacher filter ``cfg`` applied to ``pool`` (None: all
    ``num_samples``) given the teacher's ``fit`` (higher: better): the
    candidates of the selection, and what the selection log records of them
    (with ``noisy``, the dataset's noisy indices, the noisy share of the
    dropped samples and of the candidates)."""
    pool = torch.arange(num_samples) if pool is None else pool
    if 'min_prob' in cfg:
        kept, passed = teacher_filter_pool(pool, fit, cfg['min_prob'],
                                           num_select)
    else:
        kept, passed = teacher_drop_pool(pool, fit, cfg['drop'], num_select)
    info = dict(
        **cfg,
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
