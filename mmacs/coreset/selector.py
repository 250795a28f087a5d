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
import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from mmacs.utils.checks import check_fraction
from .filters import apply_teacher_filter, check_teacher_filter
from .policies import POOL_STREAM, draw_generator, get_policy
from .schedules import beta_schedule, check_schedule
from .scoring import find_dataset_attr
from .selection import check_selection, rule_inputs
from .stats import dataset_labels, object_classes, selection_record


@dataclass(frozen=True)
class Plan:
    """What a round does: score (``score``) the samples ``pool`` (sorted;
    None when nothing is scored) with EVS weight ``beta``, running the
    teacher also at ``beta = 1`` when ``with_teacher`` (a teacher filter,
    or a rule that reads the teacher's embedding); select a new coreset
    (``select``) or keep the one it has. With ``reuse`` the pool is only
    what the scoring pass refreshes: the selection is among all samples
    that hold a score, on their last scores (:mod:`mmacs.coreset.reuse`).
    ``teacher_scores``: the teacher's outputs stand for the student's
    (``first_scores='teacher'``, the first round)."""
    epoch: int
    round_idx: int
    beta: float
    score: bool
    select: bool
    pool: Optional[Tensor]
    with_teacher: bool
    reuse: bool = False
    teacher_scores: bool = False


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
            score-based policies, e.g. 'topk' (the paper),
            ``dict(type='mixed', share=0.5)``, the detection rules
            ``dict(type='class_aware', power=0.5, floor=10)`` (quotas over
            the object classes each image holds, read from the training
            set) or ``dict(type='kcenter', score_weight=1.0)`` (diversity
            in the teacher's pooled neck features, computed by the scoring
            pass). Defaults to None ('topk').
        class_balance (bool, optional): Select per class (single-label
            tasks); None: where the task's samples carry a single label
            and the rule does not read the classes itself. Defaults to
            None.
        score_pool (float): Fraction of the set scored at each selection,
            in ``[fraction, 1]``: 1 is the paper's; less is a faster,
            approximate mode that scores a seeded random pool per round and
            selects in it. With ``score_reuse``, in ``(0, 1]``: the
            rotating share the scoring pass refreshes each round (block
            ``round % ceil(1 / score_pool)`` of a seeded permutation, so
            every sample is scored once every ``ceil(1 / score_pool)``
            rounds). Defaults to 1.0.
        score_reuse (bool): Keep scores between rounds, score the coreset
            from the training step's outputs of the round's last epoch and
            refresh the rest in a rotating pool; the selection is among all
            samples that hold a score (see :mod:`mmacs.coreset.reuse`).
            Defaults to False.
        reuse_start (str): With ``score_reuse``, what the first round
            scores: 'all' (every sample, so the first selection is the
            exact one) or 'block' (only the first rotating block: each
            selection is among the samples scored so far, which grow by a
            block and the trained coreset every round; cheaper, approximate
            until every block has been scored). Defaults to 'all'.
        first_scores (str): Whose outputs the first round scores:
            'student' (the paper) or 'teacher', which stand for those of a
            student that starts as the quantized teacher and has not
            trained yet: the student's pass over the set is skipped, the
            teacher's is run anyway (DS, a teacher filter, its cache), and
            the first round's beta is 1 under the cosine schedule, so it
            reads EVS alone. An approximation: the two differ by the
            quantization error. Defaults to 'student'.
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
                 teacher_filter: Optional[dict] = None,
                 score_reuse: bool = False,
                 reuse_start: str = 'all',
                 first_scores: str = 'student') -> None:
        self.policy = get_policy(policy)
        check_schedule(schedule)
        self.schedule = self.policy.schedule or schedule
        self.selection = check_selection(selection)
        self.rule_inputs = rule_inputs(self.selection) \
            if self.policy.needs_scores else ()
        check_fraction(score_pool, 'score_pool', low_open=True)
        self.score_pool = float(score_pool)
        if not isinstance(score_reuse, bool):
            raise TypeError(f'score_reuse must be a bool, got '
                            f'{score_reuse!r}')
        self.score_reuse = score_reuse and self.needs_scores
        if self.score_reuse and self.needs_embedding:
            raise ValueError(
                f"selection {self.selection['type']!r} reads the teacher's "
                'embedding of every candidate, which score_reuse does not '
                'keep; use score_reuse=False')
        if reuse_start not in ('all', 'block'):
            raise ValueError("reuse_start must be 'all' or 'block', got "
                             f'{reuse_start!r}')
        if reuse_start == 'block' and not score_reuse:
            raise ValueError("reuse_start='block' needs score_reuse=True")
        if self.score_reuse and reuse_start == 'block' and \
                self.policy.static:
            raise ValueError(
                f"reuse_start='block' selects among a growing share of the "
                f'set each round; policy {policy!r} selects once: use '
                "reuse_start='all'")
        self.reuse_start = reuse_start
        if first_scores not in ('student', 'teacher'):
            raise ValueError("first_scores must be 'student' or 'teacher', "
                             f'got {first_scores!r}')
        self.first_scores = first_scores
        self.class_balance = class_balance
        # A policy that scores nothing selects among all samples: the
        # filter (a config default) does not apply to it.
        self.teacher_filter = check_teacher_filter(teacher_filter) \
            if self.needs_scores else None

    @property
    def needs_scores(self) -> bool:
        return self.policy.needs_scores

    @property
    def needs_embedding(self) -> bool:
        """The rule reads the teacher's embedding of each image: the
        scoring pass computes it (and runs the teacher at every
        selection)."""
        return 'features' in self.rule_inputs

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
        if self.needs_embedding and not task.embedding:
            raise ValueError(
                f"selection {self.selection['type']!r} reads the teacher's "
                f'embedding of each image, which the {task.task} task does '
                'not compute')
        if self.rule_inputs and self.class_balance:
            raise ValueError(
                f"selection {self.selection['type']!r} chooses over all "
                'classes itself: set class_balance=None or False')
        if self.score_reuse and not task.records_train_outputs:
            raise ValueError(
                'score_reuse scores the training step\'s per-sample '
                f'outputs: a {task.task} task does not record them; use '
                'score_reuse=False')
        self.task = task
        self.num_samples = len(dataset)
        self.num_select, self.seed = sampler.num_select, sampler.seed
        balance = task.single_label and not self.rule_inputs \
            if self.class_balance is None else self.class_balance
        self.cat_ids, self.classes, self.labels = dataset_labels(
            dataset, balance)
        self.image_classes = self.box_counts = None
        if 'image_classes' in self.rule_inputs:
            num_classes = len(self.classes) or 1 + max(
                (c for ids in self.cat_ids for c in ids), default=0)
            self.image_classes, self.box_counts = object_classes(
                dataset, num_classes)
        self.noisy = find_dataset_attr(dataset, 'noisy_indices')
        self.pool_size = max(1, int(round(self.score_pool * self.num_samples)))
        if self.needs_scores and not self.score_reuse and \
                self.pool_size < self.num_select:
            raise ValueError(
                f'score_pool={self.score_pool} scores {self.pool_size} '
                f'samples, fewer than the coreset ({self.num_select}); use '
                'score_pool >= fraction')
        if self.score_reuse and self.reuse_start == 'block':
            first = self.rotating_block(0).numel()
            if first < self.num_select:
                raise ValueError(
                    f"reuse_start='block' first selects among one rotating "
                    f'block of score_pool={self.score_pool} ({first} '
                    f'samples: 1 / ceil(1 / score_pool) of the set), fewer '
                    f'than the coreset ({self.num_select}); raise '
                    "score_pool or use reuse_start='all'")

    def plan(self, epoch: int, max_epochs: int, round_idx: int,
             scored_coreset: bool = False,
             fresh: Optional[Tensor] = None) -> Plan:
        """The plan of round ``round_idx`` at ``epoch`` of ``max_epochs``;
        ``scored_coreset``: the run holds a coreset and its scores (a static
        policy then keeps them). With ``score_reuse``, ``fresh`` are the
        samples scored by the training step since the last round (the pass
        skips them); the first round, or one without stored scores
        (``scored_coreset`` False), scores all samples, or with
        ``reuse_start='block'`` its rotating block."""
        beta = beta_schedule(self.schedule, epoch, max_epochs)
        select = not (self.policy.static and scored_coreset)
        score = select and self.needs_scores
        pool = None
        if score and self.score_reuse:
            start = not scored_coreset and self.reuse_start == 'all'
            pool = torch.arange(self.num_samples) if start \
                else self.rotating_block(round_idx)
            if fresh is not None and not start:
                pool = pool[~torch.isin(pool, fresh)]
        elif score:
            pool = torch.arange(self.num_samples)
            if self.pool_size < self.num_samples:
                g = draw_generator(self.seed, round_idx, POOL_STREAM)
                pool = torch.randperm(self.num_samples, generator=g)
                pool = pool[:self.pool_size].sort().values
        return Plan(epoch, round_idx, beta, score, select, pool,
                    bool(self.teacher_filter) or self.needs_embedding,
                    self.score_reuse, score and round_idx == 0
                    and self.first_scores == 'teacher')

    def inputs(self, candidates: Tensor, scores: Optional[dict]) -> dict:
        """What the rule reads beside the scores, for ``candidates``."""
        inputs = {}
        if 'image_classes' in self.rule_inputs:
            inputs.update(image_classes=self.image_classes[candidates],
                          box_counts=self.box_counts)
        if 'features' in self.rule_inputs:
            if scores is None or scores.get('embedding') is None:
                raise ValueError(
                    f"selection {self.selection['type']!r} reads the "
                    "scores' 'embedding', which the scoring pass did not "
                    'give')
            inputs['features'] = scores['embedding'][candidates]
        return inputs

    @property
    def num_blocks(self) -> int:
        """``ceil(1 / score_pool)``: the rounds a ``score_reuse`` run
        takes to refresh every score."""
        return math.ceil(1 / self.score_pool - 1e-9)

    def rotating_block(self, round_idx: int) -> Tensor:
        """The samples the scoring pass refreshes in round ``round_idx``
        with ``score_reuse`` (sorted): block ``round_idx % k`` of ``k =
        ceil(1 / score_pool)`` near-equal blocks of one seeded permutation,
        so ``k`` consecutive rounds score every sample once."""
        k = self.num_blocks
        g = draw_generator(self.seed, 0, POOL_STREAM)
        perm = torch.randperm(self.num_samples, generator=g)
        return perm.tensor_split(k)[round_idx % k].sort().values

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
            if plan.reuse and scores is not None:
                candidates = scored_samples(scores['combined'],
                                            self.num_select)
            else:
                candidates = torch.arange(n) if plan.pool is None \
                    else plan.pool
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
                                        plan.round_idx, self.selection,
                                        self.inputs(candidates, scores))
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


def scored_samples(values: Tensor, num_select: int) -> Tensor:
    """The samples holding a score (finite ``values``), which must be at
    least the coreset's ``num_select``."""
    scored = torch.isfinite(values).nonzero().flatten()
    if scored.numel() < num_select:
        raise RuntimeError(f'{scored.numel()} samples hold a score, fewer '
                           f'than the coreset ({num_select})')
    return scored
