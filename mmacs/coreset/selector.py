# Copyright (c) mmacs contributors. All rights reserved.
"""The coreset selector: one selection, from a round to its coreset.

A :class:`CoresetSelector` is built and checked once from the ``coreset``
config (policy, beta schedule, selection rule, class balance, score pool,
teacher filter) and set up once per run with the training set, the
sampler's budget and the task. Each round, :meth:`~CoresetSelector.plan`
says whether to score, with which EVS weight and which samples, and
:meth:`~CoresetSelector.select` turns the scores into a :class:`Selection`.
The draws are seeded by the run's seed and the round alone, so every rank
selects the same coreset.
"""
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from mmacs.utils.checks import check_fraction
from .filters import apply_teacher_filter, check_teacher_filter
from .policies import POOL_STREAM, draw_generator, get_policy
from .schedules import beta_schedule, check_schedule
from .scoring import find_dataset_attr
from .selection import check_selection
from .stats import dataset_labels, selection_record


@dataclass(frozen=True)
class Plan:
    """What a round does: score (``score``) the samples ``pool`` (sorted;
    None when nothing is scored) with EVS weight ``beta``, running the
    teacher also at ``beta = 1`` when ``with_teacher``; select a new
    coreset (``select``) or keep the one it has."""
    epoch: int
    round_idx: int
    beta: float
    score: bool
    select: bool
    pool: Optional[Tensor]
    with_teacher: bool


@dataclass(frozen=True)
class Selection:
    """A round's outcome: the sorted coreset ``indices``, the scored
    ``pool``, what the teacher filter did (``filtered``, None without one),
    the EVS weight ``beta`` and ``stats``, the selection's log record
    (:func:`~mmacs.coreset.stats.selection_record`)."""
    indices: Tensor
    pool: Optional[Tensor]
    filtered: Optional[dict]
    beta: float
    stats: dict


class CoresetSelector:
    """Choose each round's coreset.

    Args:
        policy (str): 'acs', 'full', 'random_static', 'random_dynamic',
            'el2n' or another registered policy. Defaults to 'acs'.
        schedule (str): The beta schedule: 'cosine', 'official', 'linear',
            'evs_only' or 'ds_only'. Defaults to 'cosine'.
        selection (str | dict, optional): The selection rule of
            score-based policies, e.g. 'topk' (the paper) or
            ``dict(type='mixed', share=0.5)``. Defaults to None ('topk').
        class_balance (bool, optional): Select per class (single-label
            tasks); None: where the task's samples carry a single label.
            Defaults to None.
        score_pool (float): Fraction of the set scored at each selection,
            in ``[fraction, 1]``: 1 is the paper's; less is a faster,
            approximate mode that scores a seeded random pool per round and
            selects in it. Defaults to 1.0.
        teacher_filter (dict, optional): ``dict(min_prob=p)`` (single-label
            tasks) or ``dict(drop=q)``: candidates the FP teacher
            contradicts are never selected (see
            :mod:`mmacs.coreset.filters`). Ignored by policies that need no
            scores. Defaults to None (the paper).
    """

    def __init__(self,
                 policy: str = 'acs',
                 schedule: str = 'cosine',
                 selection=None,
                 class_balance: Optional[bool] = None,
                 score_pool: float = 1.0,
                 teacher_filter: Optional[dict] = None) -> None:
        self.policy = get_policy(policy)
        check_schedule(schedule)
        self.schedule = self.policy.schedule or schedule
        self.selection = check_selection(selection)
        check_fraction(score_pool, 'score_pool', low_open=True)
        self.score_pool = float(score_pool)
        self.class_balance = class_balance
        # A policy that scores nothing selects among all samples: the
        # filter (a config default) does not apply to it.
        self.teacher_filter = check_teacher_filter(teacher_filter) \
            if self.needs_scores else None

    @property
    def needs_scores(self) -> bool:
        return self.policy.needs_scores

    def setup(self, dataset, sampler, task) -> None:
        """Read what the run fixes: the labels of ``dataset``, the coreset
        size and seed of ``sampler`` (a
        :class:`~mmacs.datasets.CoresetSampler`, which owns them) and what
        ``task`` (a :class:`~mmacs.tasks.Task`) says of labels and of the
        teacher's fit; an error names a setting the task cannot run."""
        if self.teacher_filter and 'min_prob' in self.teacher_filter and \
                not task.single_label:
            raise ValueError(
                "teacher_filter=dict(min_prob=p) reads the teacher's "
                'probability of a single label: classification only, the '
                f'model is a {task.task} model; use dict(drop=q)')
        self.task = task
        self.num_samples = len(dataset)
        self.num_select, self.seed = sampler.num_select, sampler.seed
        balance = task.single_label if self.class_balance is None \
            else self.class_balance
        self.cat_ids, self.classes, self.labels = dataset_labels(
            dataset, balance)
        self.noisy = find_dataset_attr(dataset, 'noisy_indices')
        self.pool_size = max(1, int(round(self.score_pool * self.num_samples)))
        if self.needs_scores and self.pool_size < self.num_select:
            raise ValueError(
                f'score_pool={self.score_pool} scores {self.pool_size} '
                f'samples, fewer than the coreset ({self.num_select}); use '
                'score_pool >= fraction')

    def plan(self, epoch: int, max_epochs: int, round_idx: int,
             scored_coreset: bool = False) -> Plan:
        """The plan of round ``round_idx`` at ``epoch`` of ``max_epochs``;
        ``scored_coreset``: the run holds a coreset and its scores (a static
        policy then keeps them)."""
        beta = beta_schedule(self.schedule, epoch, max_epochs)
        select = not (self.policy.static and scored_coreset)
        score = select and self.needs_scores
        pool = None
        if score:
            pool = torch.arange(self.num_samples)
            if self.pool_size < self.num_samples:
                g = draw_generator(self.seed, round_idx, POOL_STREAM)
                pool = torch.randperm(self.num_samples, generator=g)
                pool = pool[:self.pool_size].sort().values
        return Plan(epoch, round_idx, beta, score, select, pool,
                    bool(self.teacher_filter))

    def select(self,
               plan: Plan,
               scores: Optional[dict] = None,
               previous: Optional[Tensor] = None) -> Selection:
        """The coreset of ``plan``: from ``scores`` (the scoring pass's
        ``[N]`` values, NaN outside the pool, checked finite there) when the
        plan scored, else ``previous`` (kept by a static policy) or a draw.
        """
        n, filtered = self.num_samples, None
        if not plan.select:
            indices = previous
        else:
            candidates = torch.arange(n) if plan.pool is None else plan.pool
            if self.teacher_filter and scores is not None:
                candidates, filtered = apply_teacher_filter(
                    self.teacher_filter, candidates,
                    self.task.teacher_fit(scores), n, self.num_select,
                    self.noisy)
            values = scores['combined'][candidates] \
                if self.needs_scores else None
            labels = None if self.labels is None else self.labels[candidates]
            chosen = self.policy.select(values, labels, candidates.numel(),
                                        self.num_select, self.seed,
                                        plan.round_idx, self.selection)
            indices = candidates[chosen].sort().values
        stats = selection_record(plan.epoch, plan.round_idx,
                                 self.policy.name, plan.beta, n, indices,
                                 previous, scores if plan.score else None,
                                 self.cat_ids, self.classes, self.noisy)
        if self.needs_scores:
            stats['selection'] = self.selection
        if filtered is not None:
            stats['teacher_filter'] = filtered
        return Selection(indices, plan.pool, filtered, plan.beta, stats)
