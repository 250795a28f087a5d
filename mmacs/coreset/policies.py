# Copyright (c) mmacs contributors. All rights reserved.
"""Coreset selection policies. Pure: scores in, indices out.

Every policy returns exactly ``num_select`` distinct indices, so all of
them train on the same number of samples and compare fairly. A policy
declares what it needs: scores (``needs_scores``), and whether it selects
once and keeps that coreset (``static``). All draws of a run (the score
pool, the selection rules', the random policies') are seeded by one
function, :func:`draw_seed`.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import torch
from torch import Tensor

from mmacs.registry import POLICIES, get_registered
from .scores import check_finite
from .selection import SelectionCfg, apply_rule, check_selection

#: How the random policies' draws depend on the run's seed, recorded with
#: the runs of the benchmarks: 'independent' (``draw_seed``). Runs stored
#: before, whose round ``r`` of seed ``s`` drew with ``s + 1 + r`` (the
#: seeds of a study sharing most of their coresets, one round apart), are
#: marked 'shared'.
RANDOM_DRAWS = 'independent'

#: The streams of draws of a round: the score pool, the selection rule's
#: draws and the random policies' (static, dynamic).
POOL_STREAM, RULE_STREAM, STATIC_STREAM, DYNAMIC_STREAM = 1, 17, 41, 29


def draw_seed(seed: int, round_idx: int, stream: int) -> int:
    """The seed of one stream of draws in round ``round_idx`` of a run
    seeded ``seed``: the one seed derivation of the selection's draws.

    Seed and round are mixed, not added: with ``seed + round_idx`` the run
    seeded 1 would draw in round 0 what the run seeded 0 draws in round 1,
    so the "independent" seeds of a study would share their coresets.
    """
    return seed * 1000003 + round_idx * 7919 + stream


def draw_generator(seed: int, round_idx: int,
                   stream: int) -> torch.Generator:
    """A generator seeded with :func:`draw_seed`."""
    return torch.Generator().manual_seed(draw_seed(seed, round_idx, stream))


def class_quotas(labels: Tensor, num_select: int) -> Dict[int, int]:
    """Split ``num_select`` over classes in proportion to their sizes.

    Each class gets ``floor(f n_c)`` and the remaining slots go to the
    largest remainders (ties to the lower class id), so the quotas sum to
    exactly ``num_select`` (largest-remainder apportionment).
    """
    classes, counts = torch.unique(labels, return_counts=True)
    exact = counts.double() * num_select / labels.numel()
    quota = exact.floor().long()
    rest = num_select - int(quota.sum())
    if rest > 0:
        order = torch.sort(-(exact - quota), stable=True).indices
        quota[order[:rest]] += 1
    return {int(c): int(q) for c, q in zip(classes, quota)}


def select_per_class(selection: SelectionCfg, scores: Tensor,
                     labels: Tensor, num_select: int,
                     generator: Optional[torch.Generator]) -> Tensor:
    """``selection`` applied within each class, ``class_quotas`` many per
    class (classes in increasing id, one generator in turn)."""
    chosen = []
    for cls, quota in class_quotas(labels, num_select).items():
        members = (labels == cls).nonzero().flatten()
        chosen.append(members[apply_rule(selection, scores[members], quota,
                                         generator)])
    return torch.cat(chosen).sort().values


def random_indices(num_samples: int, num_select: int,
                   generator: torch.Generator) -> Tensor:
    """A uniform draw without replacement, sorted."""
    return torch.randperm(num_samples,
                          generator=generator)[:num_select].sort().values


@dataclass(frozen=True)
class Policy:
    """A policy, registered in :data:`mmacs.registry.POLICIES` (calling it
    calls ``select``).

    Attributes:
        name (str): The config name.
        select (Callable): ``(scores, labels, num_samples, num_select, seed,
            round_idx, selection) -> indices`` with ``scores`` ``[n]`` (None
            for a policy that needs none), ``labels`` ``[n]`` or None (no
            class balance), ``selection`` a checked rule config.
        needs_scores (bool): It selects by scores.
        static (bool): It selects once and keeps that coreset after.
        schedule (str, optional): The beta schedule the policy always
            selects with (el2n: 'evs_only'); None follows the configured
            one.
    """
    name: str
    select: Callable
    needs_scores: bool
    static: bool = False
    schedule: Optional[str] = None

    def __call__(self, *args) -> Tensor:
        return self.select(*args)


def register_policy(name: str,
                    needs_scores: bool,
                    static: bool = False,
                    schedule: Optional[str] = None) -> Callable:
    """Register a selection function as the :class:`Policy` ``name``."""

    def wrap(fn: Callable) -> Callable:
        POLICIES.register_module(
            name, module=Policy(name, fn, needs_scores, static, schedule))
        return fn

    return wrap


def _by_score(scores, labels, num_samples, num_select, seed, round_idx,
              selection):
    generator = draw_generator(seed, round_idx, RULE_STREAM)
    if labels is not None:
        return select_per_class(selection, scores, labels, num_select,
                                generator)
    return apply_rule(selection, scores, num_select,
                      generator).sort().values


register_policy('acs', needs_scores=True)(_by_score)
# EL2N-style: the error score of one early selection, kept fixed after.
register_policy(
    'el2n', needs_scores=True, static=True, schedule='evs_only')(_by_score)


@register_policy('full', needs_scores=False)
def _full(scores, labels, num_samples, num_select, seed, round_idx,
          selection):
    if num_select != num_samples:
        raise ValueError(
            "policy 'full' trains on every sample: set the sampler's "
            f'fraction to 1.0 (it selects {num_select} of {num_samples})')
    return torch.arange(num_samples)


@register_policy('random_static', needs_scores=False)
def _random_static(scores, labels, num_samples, num_select, seed, round_idx,
                   selection):
    return random_indices(num_samples, num_select,
                          draw_generator(seed, 0, STATIC_STREAM))


@register_policy('random_dynamic', needs_scores=False)
def _random_dynamic(scores, labels, num_samples, num_select, seed,
                    round_idx, selection):
    return random_indices(num_samples, num_select,
                          draw_generator(seed, round_idx, DYNAMIC_STREAM))


def get_policy(name: str) -> Policy:
    """The policy registered as ``name``; an error names a bad one."""
    return get_registered(POLICIES, name, 'coreset policy')


def select_coreset(policy: str,
                   num_samples: int,
                   num_select: int,
                   scores: Optional[Tensor] = None,
                   labels: Optional[Sequence[int]] = None,
                   seed: int = 0,
                   round_idx: int = 0,
                   selection: SelectionCfg = None) -> Tensor:
    """Choose ``num_select`` of ``num_samples`` indices with ``policy``,
    every input checked (a run selects with
    :class:`~mmacs.coreset.CoresetSelector`, which checks once).

    Args:
        policy (str): A registered policy name.
        num_samples (int): The dataset size ``N``.
        num_select (int): The coreset size, ``1 <= k <= N``.
        scores (Tensor, optional): ``[N]`` scores (higher = keep), needed by
            score-based policies. Defaults to None.
        labels (Sequence[int], optional): ``[N]`` single labels; when given,
            score-based policies select per class (class balance).
            Defaults to None.
        seed (int): Seed of the random policies. Defaults to 0.
        round_idx (int): The selection round (0, 1, ...), which
            ``random_dynamic`` and the seeded selection rules mix into
            their seed. Defaults to 0.
        selection (str | dict, optional): The selection rule of
            score-based policies (see :mod:`mmacs.coreset.selection`);
            None is 'topk', the paper's. Ignored by the random policies.
            Defaults to None.

    Returns:
        Tensor: ``[num_select]`` sorted int64 indices.
    """
    spec = get_policy(policy)
    if not 1 <= num_select <= num_samples:
        raise ValueError(f'num_select must be in [1, {num_samples}], got '
                         f'{num_select!r}')
    if spec.needs_scores:
        if scores is None or scores.numel() != num_samples:
            raise ValueError(f'policy {policy!r} needs {num_samples} scores, '
                             f'got {None if scores is None else scores.shape}')
        check_finite(scores)
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.long)
    return spec.select(scores, labels, num_samples, num_select, seed,
                       round_idx, check_selection(selection)).long()
