# Copyright (c) mmacs contributors. All rights reserved.
"""Coreset selection policies. Pure: scores in, sorted indices out.

Every policy returns exactly ``num_select`` distinct dataset indices, so
all of them train on the same number of samples and compare fairly.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import torch
from torch import Tensor

from mmacs.registry import POLICIES, get_registered
from .scores import check_finite
from .selection import SelectionCfg, check_selection, select_by_rule


def topk_indices(scores: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` largest scores; ties go to the lower index."""
    order = torch.sort(-scores.double(), stable=True).indices
    return order[:k].sort().values


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


def class_balanced_topk(scores: Tensor, labels: Tensor,
                        num_select: int) -> Tensor:
    """Top scores within each class, ``class_quotas`` many per class."""
    return select_per_class('topk', scores, labels, num_select, None)


#: How the random policies' draws depend on the run's seed, recorded with
#: the runs of the benchmarks: 'independent' (``draw_seed``). Runs stored
#: before, whose round ``r`` of seed ``s`` drew with ``s + 1 + r`` (the
#: seeds of a study sharing most of their coresets, one round apart), are
#: marked 'shared'.
RANDOM_DRAWS = 'independent'


def draw_seed(seed: int, round_idx: int, stream: int) -> int:
    """The seed of one stream of draws in round ``round_idx`` of a run
    seeded ``seed``.

    Seed and round are mixed, not added: with ``seed + round_idx`` the run
    seeded 1 would draw in round 0 what the run seeded 0 draws in round 1,
    so the "independent" seeds of a study would share their coresets.
    """
    return seed * 1000003 + round_idx * 7919 + stream


def selection_generator(seed: int, round_idx: int) -> torch.Generator:
    """The generator of a selection rule's draws in round ``round_idx``."""
    return torch.Generator().manual_seed(draw_seed(seed, round_idx, 17))


def select_per_class(selection: SelectionCfg, scores: Tensor,
                     labels: Tensor, num_select: int,
                     generator: Optional[torch.Generator]) -> Tensor:
    """``selection`` applied within each class, ``class_quotas`` many per
    class (classes in increasing id, one generator in turn)."""
    chosen = []
    for cls, quota in class_quotas(labels, num_select).items():
        members = (labels == cls).nonzero().flatten()
        chosen.append(members[select_by_rule(selection, scores[members],
                                             quota, generator)])
    return torch.cat(chosen).sort().values


def random_indices(num_samples: int, num_select: int, seed: int) -> Tensor:
    """A seeded uniform draw without replacement, sorted."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(num_samples, generator=g)[:num_select].sort().values


@dataclass(frozen=True)
class Policy:
    """A policy, registered in :data:`mmacs.registry.POLICIES` (calling it
    calls ``select``).

    Attributes:
        name (str): The config name.
        scores (str): When the policy needs scores: ``'every'`` selection,
            ``'once'`` (the first, then static) or ``'never'``.
        select (Callable): ``(scores, labels, num_samples, num_select, seed,
            round_idx, selection) -> indices``.
        schedule (str, optional): The beta schedule the policy always
            selects with (el2n: 'evs_only'); None follows the configured
            one.
    """
    name: str
    scores: str
    select: Callable
    schedule: Optional[str] = None

    def __call__(self, *args) -> Tensor:
        return self.select(*args)


def register_policy(name: str,
                    scores: str,
                    schedule: Optional[str] = None) -> Callable:
    """Register a selection function as the :class:`Policy` ``name``."""

    def wrap(fn: Callable) -> Callable:
        POLICIES.register_module(
            name, module=Policy(name, scores, fn, schedule))
        return fn

    return wrap


def _by_score(scores, labels, num_samples, num_select, seed, round_idx,
              selection):
    generator = selection_generator(seed, round_idx)
    if labels is not None:
        return select_per_class(selection, scores, labels, num_select,
                                generator)
    return select_by_rule(selection, scores, num_select,
                          generator).sort().values


register_policy('acs', 'every')(_by_score)
# EL2N-style: the error score of one early selection, kept fixed after.
register_policy('el2n', 'once', schedule='evs_only')(_by_score)


@register_policy('full', 'never')
def _full(scores, labels, num_samples, num_select, seed, round_idx,
          selection):
    if num_select != num_samples:
        raise ValueError(
            "policy 'full' trains on every sample: set the sampler's "
            f'fraction to 1.0 (it selects {num_select} of {num_samples})')
    return torch.arange(num_samples)


@register_policy('random_static', 'never')
def _random_static(scores, labels, num_samples, num_select, seed, round_idx,
                   selection):
    return random_indices(num_samples, num_select, draw_seed(seed, 0, 41))


@register_policy('random_dynamic', 'never')
def _random_dynamic(scores, labels, num_samples, num_select, seed,
                    round_idx, selection):
    return random_indices(num_samples, num_select,
                          draw_seed(seed, round_idx, 29))


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
    """Choose ``num_select`` of ``num_samples`` indices with ``policy``.

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
    if spec.scores != 'never':
        if scores is None or scores.numel() != num_samples:
            raise ValueError(f'policy {policy!r} needs {num_samples} scores, '
                             f'got {None if scores is None else scores.shape}')
        check_finite(scores)
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.long)
    selection = check_selection(selection)
    indices = spec.select(scores, labels, num_samples, num_select, seed,
                          round_idx, selection)
    assert indices.numel() == num_select, (policy, indices.numel())
    return indices.long()


def select_in_pool(policy: str,
                   pool: Optional[Tensor],
                   num_samples: int,
                   num_select: int,
                   scores: Optional[Tensor] = None,
                   labels: Optional[Tensor] = None,
                   **kwargs) -> Tensor:
    """:func:`select_coreset` over the whole set (``pool`` None or all
    ``num_samples``) or within ``pool``, the sorted indices scored
    (``scores`` / ``labels`` are ``[num_samples]``); ``kwargs`` are
    ``seed``, ``round_idx`` and ``selection``."""
    if pool is None or pool.numel() == num_samples:
        return select_coreset(policy, num_samples, num_select, scores,
                              labels, **kwargs)
    if scores is not None:
        # Outside the pool the scores are NaN by design; inside they are
        # checked here so that an error names dataset indices.
        check_finite(scores[pool], pool)
    chosen = select_coreset(policy, pool.numel(), num_select, scores[pool],
                            None if labels is None else labels[pool],
                            **kwargs)
    return pool[chosen].sort().values
