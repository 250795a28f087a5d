# Copyright (c) mmacs contributors. All rights reserved.
"""Selection rules: how a score-based policy turns scores into a coreset.

Pure functions: ``(scores [n], k, generator, **params) -> k distinct
indices into scores``, higher scores meaning "more worth training on". A
score-based policy (``acs``, ``el2n``) applies its rule to the whole set or,
with class balance, within each class with the class's quota. Rules:

- ``topk`` (the paper): the ``k`` largest scores; ties to the lower index.
- ``stratified`` (coverage-centric, after CCS): optionally drop the top
  ``trim`` fraction, cut the score range into ``bins`` equal-width strata
  and spread the budget evenly over them (small strata taken whole, the
  rest shared among the others), sampling uniformly inside each stratum.
- ``mixed``: ``round(share * k)`` by top score, the rest uniformly at
  random among the others.
- ``sampled``: ``k`` draws without replacement with probability
  proportional to ``score ** power`` (high scores favoured, never
  exclusive).
- ``trimmed``: top-k after dropping the top ``trim`` fraction (likely label
  errors and outliers).

Every rule is seeded (a ``torch.Generator``), returns exactly ``k``
indices, rejects NaN and inf scores naming their positions and is
registered in :data:`mmacs.registry.SELECTION_RULES`.
"""
import math
from typing import Callable, Optional, Union

import torch
from torch import Tensor

from mmacs.registry import SELECTION_RULES, get_registered
from mmacs.utils.checks import is_number
from .scores import check_finite

SelectionCfg = Union[None, str, dict]


def register_rule(name: str, **params) -> Callable:
    """Register a selection rule as ``name``, with its parameters as
    ``{name: (default, check, description)}`` (``check`` a predicate on a
    number, ``description`` what it accepts)."""

    def wrap(fn: Callable) -> Callable:
        fn.params = params
        SELECTION_RULES.register_module(name, module=fn)
        return fn

    return wrap


@register_rule('topk')
def topk(scores: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """Indices of the ``k`` largest scores; ties go to the lower index."""
    order = torch.sort(-scores.double(), stable=True).indices
    return order[:k]


def _uniform(n: int, k: int, generator: torch.Generator) -> Tensor:
    return torch.randperm(n, generator=generator)[:k]


@register_rule(
    'trimmed', trim=(0.05, lambda v: 0 <= v < 1, 'a number in [0, 1)'))
def trimmed(scores: Tensor, k: int, generator: torch.Generator,
            trim: float = 0.05) -> Tensor:
    """Top-k after dropping the ``ceil(trim * n)`` highest scores (fewer
    when fewer than ``k`` would remain)."""
    n = scores.numel()
    order = torch.sort(-scores.double(), stable=True).indices
    start = min(int(math.ceil(trim * n)), n - k)
    return order[start:start + k]


@register_rule(
    'mixed', share=(0.5, lambda v: 0 <= v <= 1, 'a number in [0, 1]'))
def mixed(scores: Tensor, k: int, generator: torch.Generator,
          share: float = 0.5) -> Tensor:
    """``round(share * k)`` top scores, the rest uniform among the
    others."""
    n_top = int(round(share * k))
    order = torch.sort(-scores.double(), stable=True).indices
    rest = order[n_top:]
    pick = rest[_uniform(rest.numel(), k - n_top, generator)]
    return torch.cat([order[:n_top], pick])


@register_rule('sampled', power=(1.0, lambda v: v >= 0, 'a number >= 0'))
def sampled(scores: Tensor, k: int, generator: torch.Generator,
            power: float = 1.0) -> Tensor:
    """``k`` draws without replacement, probability ``~ score ** power``.

    Negative scores count as 0; every weight gets a tiny floor so that
    ``k`` distinct samples can always be drawn (all-equal scores draw
    uniformly)."""
    w = scores.double().clamp(min=0)**power
    top = float(w.max())
    w = w + (top * 1e-9 if top > 0 else 1.0)
    return torch.multinomial(w, k, replacement=False, generator=generator)


@register_rule(
    'stratified',
    bins=(50, lambda v: isinstance(v, int) and v >= 1, 'an int >= 1'),
    trim=(0.0, lambda v: 0 <= v < 1, 'a number in [0, 1)'))
def stratified(scores: Tensor, k: int, generator: torch.Generator,
               bins: int = 50, trim: float = 0.0) -> Tensor:
    """Coverage-centric selection: equal-width score strata, budget spread
    evenly over them (strata smaller than their share taken whole),
    uniform sampling inside each; the top ``trim`` fraction is dropped
    first (as long as ``k`` samples remain)."""
    n = scores.numel()
    drop = min(int(math.ceil(trim * n)), n - k)
    keep = torch.sort(-scores.double(), stable=True).indices[drop:] \
        if drop > 0 else torch.arange(n)
    s = scores[keep].double()
    lo, hi = float(s.min()), float(s.max())
    if hi > lo:
        stratum = ((s - lo) / (hi - lo) * bins).long().clamp(max=bins - 1)
    else:
        stratum = torch.zeros_like(s, dtype=torch.long)
    members = [(stratum == b).nonzero().flatten() for b in range(bins)]
    members = [m for m in members if m.numel()]
    # Smallest strata first: each gets an even share of what is left.
    members.sort(key=lambda m: (m.numel(), int(m[0])))
    chosen, budget = [], k
    for i, m in enumerate(members):
        share = min(m.numel(), budget // (len(members) - i))
        chosen.append(m[_uniform(m.numel(), share, generator)])
        budget -= share
    if budget:
        # Integer shares leave a remainder: uniform among the rest.
        taken = torch.zeros(keep.numel(), dtype=torch.bool)
        taken[torch.cat(chosen)] = True
        rest = (~taken).nonzero().flatten()
        chosen.append(rest[_uniform(rest.numel(), budget, generator)])
    return keep[torch.cat(chosen)]


def check_selection(cfg: SelectionCfg) -> dict:
    """``cfg`` ('topk', ``dict(type='mixed', share=0.3)``, None = topk) as
    a full dict with every parameter; a clear error names a bad value."""
    if cfg is None:
        cfg = 'topk'
    if isinstance(cfg, str):
        cfg = dict(type=cfg)
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError("selection must be a rule name or a dict with a "
                        f"'type', got {cfg!r}")
    cfg = dict(cfg)
    name = cfg.pop('type')
    params = get_registered(SELECTION_RULES, name, 'selection rule').params
    unknown = sorted(set(cfg) - set(params))
    if unknown:
        raise ValueError(f'selection {name!r} takes {sorted(params)}, got '
                         f'unknown {unknown}')
    out = dict(type=name)
    for key, (default, ok, what) in params.items():
        value = cfg.get(key, default)
        if not is_number(value) or not ok(value):
            raise ValueError(f'selection {name!r}: {key} must be {what}, '
                             f'got {value!r}')
        out[key] = value
    return out


def select_by_rule(cfg: SelectionCfg,
                   scores: Tensor,
                   k: int,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """``k`` distinct indices into ``scores`` chosen by the rule ``cfg``
    (unsorted), every input checked (:func:`apply_rule` checks none)."""
    cfg = check_selection(cfg)
    n = scores.numel()
    if not 0 <= k <= n:
        raise ValueError(f'cannot select {k} of {n} scores')
    # Every rule ranks or bins the scores; NaN would sort as the largest
    # (top-k) or break the draws (sampled), so it is an input error.
    check_finite(scores)
    return apply_rule(cfg, scores, k, generator)


def apply_rule(cfg: dict,
               scores: Tensor,
               k: int,
               generator: Optional[torch.Generator] = None) -> Tensor:
    """:func:`select_by_rule` of a checked ``cfg`` (:func:`check_selection`)
    on finite ``scores``, ``0 <= k <= n``: what a selector, which checks
    once, calls."""
    if k == 0:
        return torch.zeros(0, dtype=torch.long)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    params = {key: v for key, v in cfg.items() if key != 'type'}
    rule = SELECTION_RULES.get(cfg['type'])
    return rule(scores, k, generator, **params).long()
