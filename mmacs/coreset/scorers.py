# Copyright (c) mmacs contributors. All rights reserved.
"""Scorers: per-sample (EVS, DS) from student/teacher outputs, registered
in :data:`mmacs.registry.SCORERS`.

A scorer is called with the student model (for its head's targets and
losses), the student's and the teacher's outputs from the task adapter and
the batch's data samples, and returns ``dict(evs=[B], ds=[B])``. When DS
has no weight (beta = 1) the teacher is skipped: the scorer gets
``t_out=None`` and returns ``ds=None``, unless its ``evs_needs_teacher``.

Detection scores, per image ``i`` (``C`` classes, anchors or points ``a``
with the head's targets ``y_a``, label weights ``w_a``, box targets ``t_a``;
``n_i`` the image's positives, the head's own per-image normaliser; the
head family in :mod:`mmacs.tasks.heads` gives targets and losses)::

  loss (default):
    EVS_i = the head's own loss of image i alone, normalisers at least
            floor (RetinaNet:
            (sum_a w_a FL(s_a, y_a) + sum_a L1(b_a, t_a)) / max(n_i, floor))
    DS_i  = (sum_{a: w_a > 0} sum_c SFD(s_ac, q_ac)
             [+ lambda sum_{a positive} |b_a - b'_a|_1]) / max(n_i, floor)
    with FL / L1 the head's own losses, q = sigmoid(teacher logits) and
    SFD(s, q) = BCE(sigmoid(s), q) |sigmoid(s) - q|^gamma.
  anchor_l2 (the paper's formulas, per anchor):
    EVS_i = mean_{a in S_i} || sigmoid(s_a) - onehot(y_a) ||_2
    DS_i  = mean_{a in S_i} || sigmoid(s_a) - sigmoid(s'_a) ||_2
    S_i = positives + the k hardest negatives (highest student score,
    k = max(neg_pos_ratio n_i, min_negatives)) + the teacher's
    ``teacher_topk`` most confident anchors; all among anchors with w_a > 0.

An image without boxes has n_i = 0: its ``loss`` scores are normalised by
the floor (its EVS is then the focal loss of its false alarms), and its
``anchor_l2`` set holds only hard negatives and teacher anchors. Neither is
ever NaN.
"""
import torch

from mmacs.registry import SCORERS, get_registered
from mmacs.tasks import dense_head, get_task, teacher_distance
from mmacs.utils.checks import check_number
from .scores import (anchor_l2_scores, disagreement_score, error_vector_score,
                     relative_entropy_score, teacher_label_prob)


def build_scorer(cfg, task: str, teacher_fit: bool = False):
    """Build a scorer from ``dict(type=name, **kwargs)`` or a name; ``None``
    gives the task's default scorer. ``teacher_fit``: also return what a
    teacher filter reads (detection's ``teacher_loss``)."""
    if cfg is None:
        cfg = get_task(task).default_scorer
    cfg = dict(type=cfg) if isinstance(cfg, str) else dict(cfg)
    name = cfg.pop('type', None)
    scorer = get_registered(SCORERS, name, 'scorer')(**cfg)
    if scorer.task != task:
        raise ValueError(f'scorer {name!r} is for {scorer.task}, but the '
                         f'model is a {task} model')
    if teacher_fit and hasattr(scorer, 'with_teacher_loss'):
        scorer.with_teacher_loss = True
    return scorer


@SCORERS.register_module('softmax')
class SoftmaxScorer:
    """The paper's classification EVS and DS."""

    task = 'classification'
    evs_needs_teacher = False

    def __call__(self, model, s_out, t_out, data_samples) -> dict:
        logits = s_out['logits']
        labels = torch.cat([s.gt_label.flatten()[:1]
                            for s in data_samples]).to(logits.device)
        scores = dict(evs=error_vector_score(logits, labels), ds=None)
        if t_out is not None:
            scores['ds'] = self.disagreement(logits, t_out['logits'])
            # What a teacher filter reads (CoresetSelector).
            scores['label_prob'] = teacher_label_prob(t_out['logits'], labels)
        return scores

    def disagreement(self, student_logits, teacher_logits):
        """DS per sample: the paper's L2 distance of the softmaxes."""
        return disagreement_score(student_logits, teacher_logits)


@SCORERS.register_module('relative_entropy')
class RelativeEntropyScorer(SoftmaxScorer):
    """The paper's EVS, with DS replaced by the relative entropy
    ``KL(softmax(z_t / T) || softmax(z_s / T))`` of the student's
    prediction to the FP teacher's (QuaRC's "relative entropy score").
    With ``schedule='ds_only'`` the selection uses the relative entropy
    alone, as QuaRC does; with the cosine schedule it takes DS's place in
    ``d(t)``.

    Args:
        temperature (float): The softmax temperature ``T`` > 0. Defaults
            to 1.0.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = float(
            check_number(temperature, 'temperature', strict=True))

    def disagreement(self, student_logits, teacher_logits):
        return relative_entropy_score(student_logits, teacher_logits,
                                      self.temperature)


class _DetScorer:
    task = 'detection'
    evs_needs_teacher = False
    #: Also return ``teacher_loss`` (:meth:`teacher_loss`) when the teacher
    #: runs; a teacher filter turns it on.
    with_teacher_loss = False

    def _targets(self, head, s_out, t_out, data_samples) -> dict:
        if t_out is not None and list(s_out['featmap_sizes']) != list(
                t_out['featmap_sizes']):
            raise ValueError('student and teacher feature maps differ: '
                             f"{s_out['featmap_sizes']} vs "
                             f"{t_out['featmap_sizes']}")
        return head.targets(s_out, data_samples)

    def add_teacher_loss(self, scores: dict, head, t_out, tg,
                         norm_floor: float) -> dict:
        """``scores`` with, if :attr:`with_teacher_loss`, ``teacher_loss``:
        per image, the teacher's head loss against the image's boxes
        (normalisers at least ``norm_floor``), what a teacher filter reads
        (a high loss: boxes the teacher contradicts)."""
        if self.with_teacher_loss:
            scores['teacher_loss'] = head.image_losses(t_out, tg, norm_floor)
        return scores


@SCORERS.register_module('loss')
class DetLossScorer(_DetScorer):
    """Per-image detection losses as EVS / DS (see the module docstring).

    Args:
        norm_floor (float): The least per-image normaliser. Defaults to 1.0.
        gamma (float): The focusing exponent of the distance. Defaults to
            2.0.
        reg_weight (float): Weight ``lambda`` of the box-regression term of
            DS; 0 leaves it out. Defaults to 0.0.
    """

    def __init__(self,
                 norm_floor: float = 1.0,
                 gamma: float = 2.0,
                 reg_weight: float = 0.0) -> None:
        if norm_floor <= 0:
            raise ValueError(f'norm_floor must be > 0, got {norm_floor!r}')
        if reg_weight < 0:
            raise ValueError(f'reg_weight must be >= 0, got {reg_weight!r}')
        self.norm_floor = norm_floor
        self.gamma = gamma
        self.reg_weight = reg_weight

    def __call__(self, model, s_out, t_out, data_samples) -> dict:
        head = dense_head(model)
        tg = self._targets(head, s_out, t_out, data_samples)
        norm = tg['num_pos'].clamp(min=self.norm_floor)
        evs = head.image_losses(s_out, tg, self.norm_floor)
        if t_out is None:
            return dict(evs=evs, ds=None)
        ds = teacher_distance(s_out['cls'], t_out['cls'],
                              tg['label_weights'], self.gamma)
        if self.reg_weight > 0:
            pos = (tg['bbox_weights'] > 0).to(s_out['reg'])
            ds = ds + self.reg_weight * (
                (s_out['reg'] - t_out['reg']).abs() * pos).sum((1, 2))
        return self.add_teacher_loss(dict(evs=evs, ds=ds / norm), head,
                                     t_out, tg, self.norm_floor)


@SCORERS.register_module('anchor_l2')
class DetAnchorL2Scorer(_DetScorer):
    """The paper's L2 formulas over a chosen set of anchors per image.

    Args:
        neg_pos_ratio (int): Hard negatives per positive anchor. Defaults
            to 3.
        min_negatives (int): The least number of hard negatives. Defaults
            to 100.
        teacher_topk (int): The teacher's most confident anchors added.
            Defaults to 100.
    """

    evs_needs_teacher = True  # the teacher picks scored anchors

    def __init__(self,
                 neg_pos_ratio: int = 3,
                 min_negatives: int = 100,
                 teacher_topk: int = 100) -> None:
        for key, value in dict(
                neg_pos_ratio=neg_pos_ratio,
                min_negatives=min_negatives,
                teacher_topk=teacher_topk).items():
            if value < 0:
                raise ValueError(f'{key} must be >= 0, got {value!r}')
        self.neg_pos_ratio = neg_pos_ratio
        self.min_negatives = min_negatives
        self.teacher_topk = teacher_topk

    def scored_anchors(self, p_s, p_t, labels, label_weights,
                       num_classes) -> torch.Tensor:
        """Boolean mask ``[A]`` of the anchors scored in one image."""
        valid = label_weights > 0
        pos = valid & (labels < num_classes)
        neg = valid & (labels == num_classes)
        mask = pos.clone()
        k = min(
            max(self.neg_pos_ratio * int(pos.sum()), self.min_negatives),
            int(neg.sum()))
        if k > 0:
            hard = p_s.max(-1).values.masked_fill(~neg, -1.0)
            mask[hard.topk(k).indices] = True
        k = min(self.teacher_topk, int(valid.sum()))
        if k > 0:
            conf = p_t.max(-1).values.masked_fill(~valid, -1.0)
            mask[conf.topk(k).indices] = True
        return mask

    def __call__(self, model, s_out, t_out, data_samples) -> dict:
        head = dense_head(model)
        tg = self._targets(head, s_out, t_out, data_samples)
        num_classes = head.num_classes
        p_s, p_t = s_out['cls'].float().sigmoid(), t_out['cls'].float(
        ).sigmoid()
        evs, ds = [], []
        for i in range(p_s.size(0)):
            mask = self.scored_anchors(p_s[i], p_t[i], tg['labels'][i],
                                       tg['label_weights'][i], num_classes)
            e, d = anchor_l2_scores(p_s[i][mask], p_t[i][mask],
                                    tg['labels'][i][mask], num_classes)
            evs.append(e)
            ds.append(d)
        return self.add_teacher_loss(
            dict(evs=torch.stack(evs), ds=torch.stack(ds)), head, t_out, tg,
            1.0)
