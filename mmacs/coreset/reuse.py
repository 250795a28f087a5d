# Copyright (c) mmacs contributors. All rights reserved.
"""Score reuse: the scores of the training step, kept between rounds.

With ``score_reuse=True`` a selection does not score the whole training set.
During the last epoch of a round the training step already runs the student
on every coreset sample; a :class:`ScoreRecorder` set on the
:class:`~mmacs.models.QATModel` scores those outputs (the scorer of the
scoring pass, on the same logits), and the teacher's outputs of the same
batch (shared with distillation and layer alignment when they run, else one
extra teacher forward). The scoring pass then scores only a rotating block
of the other samples (:meth:`~mmacs.coreset.CoresetSelector.plan`), and
every other sample keeps its last score in the run's :class:`ScoreStore`
(:func:`merge_scores`, which also records each score's round, so its age
is known).

What a reused score is not: the scoring pass's ``score_view='clean'`` sees
the test pipeline with the networks in eval mode and one set of weights;
the training step sees the augmented view, the student in train mode (its
BatchNorms normalise with batch statistics) and weights that change during
the epoch, and the teacher sees that same augmented view (not the cached
clean outputs: a disagreement between two different inputs measures the
augmentation, not the student). On the same weights, inputs and modes the
two are identical (tests/test_coreset/test_reuse.py).
"""
from typing import Optional, Tuple

import torch
from mmengine.dist import all_gather_object
from torch import Tensor

from mmacs.tasks import sample_indices
from .scores import check_finite, combine_scores


class ScoreRecorder:
    """Score the training step's outputs, per sample.

    Args:
        scorer (callable): The scoring pass's scorer.
        with_teacher (bool): Also score DS (and what a teacher filter
            reads) from the teacher's outputs of the same batch.
    """

    def __init__(self, scorer, with_teacher: bool) -> None:
        self.scorer = scorer
        self.with_teacher = with_teacher
        self.indices, self.parts = [], {}

    @torch.no_grad()
    def __call__(self, student, s_out: dict, teacher_fn,
                 data_samples: list) -> None:
        """Record one training batch: ``s_out`` the student's outputs,
        ``teacher_fn()`` the teacher's of the same inputs."""
        s_out = {k: v.detach() for k, v in s_out.items()}
        t_out = teacher_fn() if self.with_teacher else None
        scores = self.scorer(student, s_out, t_out, data_samples)
        self.indices.append(sample_indices(data_samples))
        # Kept on the device until the round ends: no wait per step.
        for key, value in scores.items():
            if value is not None:
                self.parts.setdefault(key, []).append(value.float())

    def gather(self) -> Tuple[Tensor, dict]:
        """The scores recorded on all ranks: ``(indices [M], {key: [M]})``,
        each sample once (its last record: a sampler that pads the ranks'
        shares repeats a few samples)."""
        local = (torch.cat(self.indices) if self.indices else
                 torch.zeros(0, dtype=torch.long),
                 {k: torch.cat(v).cpu() for k, v in self.parts.items()})
        gathered = all_gather_object(local)
        keys = sorted(set().union(*(g[1] for g in gathered)))
        idx = torch.cat([g[0] for g in gathered])
        values = {k: torch.cat([g[1][k] for g in gathered if k in g[1]])
                  for k in keys}
        if any(v.numel() != idx.numel() for v in values.values()):
            raise RuntimeError('a rank recorded scores without every key '
                               f'of {keys}')
        # The last position of each index: unique() sorts, so scatter the
        # positions and keep the largest.
        last = torch.full((int(idx.max()) + 1 if idx.numel() else 0, ), -1)
        last.scatter_reduce_(0, idx, torch.arange(idx.numel()), 'amax')
        keep = last[last >= 0]
        return idx[keep], {k: v[keep] for k, v in values.items()}

    def clear(self) -> None:
        self.indices, self.parts = [], {}


def merge_scores(stored: Optional[dict],
                 rounds: Optional[Tensor],
                 updates,
                 round_idx: int,
                 num_samples: int) -> Tuple[dict, Tensor]:
    """Write fresh scores over the stored ones.

    Args:
        stored (dict, optional): The last scores, ``{key: [N]}`` (NaN where
            none), or None.
        rounds (Tensor, optional): ``[N]`` the round each stored score was
            computed in (-1: never), or None.
        updates (list[tuple]): ``(indices [M], {key: [M] or [N]})`` pairs,
            applied in order (a later one wins); ``[N]`` values are read at
            ``indices`` (the scoring pass's, NaN outside its pool).
        round_idx (int): This round.
        num_samples (int): ``N``.

    Returns:
        tuple: ``({key: [N]}, rounds [N])``, without ``combined``; every
        sample that was ever scored has finite values.
    """
    # 'combined' depends on the round's beta: the caller weighs it anew.
    out = {k: v.clone() for k, v in (stored or {}).items()
           if v is not None and k != 'combined'}
    rounds = torch.full((num_samples, ), -1, dtype=torch.long) \
        if rounds is None else rounds.clone()
    for indices, values in updates:
        for key, value in values.items():
            if value is None or key == 'combined':
                continue
            if value.numel() == num_samples and \
                    indices.numel() != num_samples:
                value = value[indices]
            target = out.setdefault(
                key, torch.full((num_samples, ), float('nan')))
            target[indices] = value.float()
        rounds[indices] = round_idx
    seen = (rounds >= 0).nonzero().flatten()
    for key, value in out.items():
        check_finite(value[seen], seen,
                     what=f'{key.upper()} scores' if key in ('evs', 'ds')
                     else f'{key} values')
    return out, rounds


class ScoreStore:
    """The scores a run keeps between rounds, and what a checkpoint saves
    of them.

    Without ``reuse`` it holds the last scoring pass's scores (a static
    policy keeps its coreset on them). With ``reuse`` it holds every
    sample's last score and the round it was computed in (``rounds``, -1:
    never): the scoring pass refreshes the plan's pool and the training
    step of each round's last epoch scores the coreset (a
    :class:`ScoreRecorder` on the model, :meth:`listen` / :meth:`collect`).

    Args:
        reuse (bool): ``score_reuse`` (of the
            :class:`~mmacs.coreset.CoresetSelector`).
    """

    def __init__(self, reuse: bool = False) -> None:
        self.reuse = reuse
        self.scores = self.rounds = self.recorder = self.model = None
        self.num_samples = 0

    def setup(self, model, scoring, num_samples: int) -> None:
        """Record the training steps of ``model`` (a
        :class:`~mmacs.models.QATModel`) with ``scoring``'s scorer (a
        :class:`~mmacs.coreset.ScoringPass`, None when nothing is scored)
        over a training set of ``num_samples``."""
        self.model, self.num_samples = model, num_samples
        # Always with the teacher: a stored score is used in later rounds,
        # whose beta may weigh DS.
        self.recorder = ScoreRecorder(scoring.scorer, True) \
            if self.reuse else None

    def complete(self) -> bool:
        """Every sample has a score (with ``reuse``: a stored one)."""
        if self.scores is None or not self.reuse:
            return self.scores is not None
        return self.rounds is not None and bool((self.rounds >= 0).all())

    def fresh(self, round_idx: int) -> Optional[Tensor]:
        """The samples scored for round ``round_idx`` (the training step's
        since the last round), or None without stored rounds."""
        if self.rounds is None:
            return None
        return (self.rounds == round_idx).nonzero().flatten()

    def score(self, plan, scoring) -> dict:
        """Score ``plan``'s pool with ``scoring``: the scores replace the
        stored ones, or with ``reuse`` are merged into them and weighed
        with the plan's ``beta``. Returns what the log records of it."""
        if not plan.reuse:
            self.scores, info = scoring.score_round(
                plan.pool, plan.beta, need_teacher=plan.with_teacher,
                teacher_as_student=plan.teacher_scores)
            return info
        scores, info, num = {}, {}, int(plan.pool.numel())
        if num:
            scores, info = scoring.score_round(
                plan.pool, plan.beta, need_teacher=True,
                teacher_as_student=plan.teacher_scores)
        self.record(plan.pool, scores, plan.round_idx)
        evs, ds = self.scores['evs'], self.scores.setdefault('ds', None)
        self.scores['combined'] = evs if ds is None or plan.beta == 1 \
            else combine_scores(evs, ds, plan.beta)
        fresh = int((self.rounds == plan.round_idx).sum())
        seen = self.rounds >= 0
        age = plan.round_idx - self.rounds[seen].float()
        return dict(info, scored=num, reused=fresh - num,
                    mean_score_age=float(age.mean()),
                    unscored=int((~seen).sum()))

    def record(self, indices: Tensor, values: dict, round_idx: int) -> None:
        """Merge ``values`` of ``indices`` as round ``round_idx``'s scores
        (:func:`merge_scores`)."""
        self.scores, self.rounds = merge_scores(self.scores, self.rounds,
                                                [(indices, values)],
                                                round_idx, self.num_samples)

    def listen(self) -> None:
        """Score the model's training steps until :meth:`collect` (with
        ``reuse``)."""
        if self.recorder is not None:
            self.model.score_recorder = self.recorder

    def collect(self, round_idx: int) -> None:
        """Stop listening, if listening, and merge what the training steps
        recorded, on all ranks, as round ``round_idx``'s scores."""
        if self.recorder is None or self.model.score_recorder is None:
            return
        self.model.score_recorder = None
        indices, values = self.recorder.gather()
        self.recorder.clear()
        self.record(indices, values, round_idx)

    def state_dict(self) -> dict:
        return dict(scores=self.scores, score_rounds=self.rounds)

    def load_state_dict(self, state: dict) -> None:
        self.scores = state['scores']
        # Absent from checkpoints saved before score_reuse.
        self.rounds = state.get('score_rounds')
