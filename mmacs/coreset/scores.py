# Copyright (c) mmacs contributors. All rights reserved.
"""Per-sample coreset scores. Pure functions: tensors in, tensors out.

Classification (the paper's definitions)::

    EVS = || softmax(z_s) - onehot(y) ||_2
    DS  = || softmax(z_s) - softmax(z_t) ||_2

Detection, per image, from the targets of the head's own assigner; see
:mod:`mmacs.coreset.scorers` for how they are gathered and the README for
the formulas.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def error_vector_score(logits: Tensor, labels: Tensor) -> Tensor:
    """EVS = || softmax(logits) - onehot(labels) ||_2, per row.

    Args:
        logits (Tensor): ``[N, C]`` student logits.
        labels (Tensor): ``[N]`` integer labels.

    Returns:
        Tensor: ``[N]`` scores in ``[0, sqrt(2)]``.
    """
    probs = logits.float().softmax(dim=-1)
    onehot = F.one_hot(labels.long(), probs.size(-1)).to(probs)
    return torch.linalg.vector_norm(probs - onehot, dim=-1)


def disagreement_score(student_logits: Tensor,
                       teacher_logits: Tensor) -> Tensor:
    """DS = || softmax(student) - softmax(teacher) ||_2, per row."""
    return torch.linalg.vector_norm(
        student_logits.float().softmax(-1) -
        teacher_logits.float().softmax(-1),
        dim=-1)


def teacher_label_prob(teacher_logits: Tensor, labels: Tensor) -> Tensor:
    """``softmax(z_t)[y]`` per row: the FP teacher's probability of the
    given label (low where the teacher contradicts it: a likely label
    error), ``[N]`` in ``[0, 1]``."""
    probs = teacher_logits.float().softmax(dim=-1)
    return probs.gather(1, labels.long().view(-1, 1)).flatten()


def relative_entropy_score(student_logits: Tensor,
                           teacher_logits: Tensor,
                           temperature: float = 1.0) -> Tensor:
    """``KL(softmax(t / T) || softmax(s / T))`` per sample, ``[B]``: the
    relative entropy of the quantized student's prediction to the FP
    teacher's (QuaRC's selection score; 0 where they agree)."""
    t = F.log_softmax(teacher_logits.float() / temperature, -1)
    s = F.log_softmax(student_logits.float() / temperature, -1)
    return (t.exp() * (t - s)).sum(-1).clamp(min=0)


def anchor_l2_scores(student_probs: Tensor, teacher_probs: Tensor,
                     labels: Tensor, num_classes: int) -> tuple:
    """The paper's formulas over a set of anchors of one image.

    Args:
        student_probs (Tensor): ``[K, C]`` student sigmoid scores.
        teacher_probs (Tensor): ``[K, C]`` teacher sigmoid scores.
        labels (Tensor): ``[K]`` target labels, ``num_classes`` for
            background (its one-hot is the zero vector).
        num_classes (int): The number of classes ``C``.

    Returns:
        tuple[Tensor, Tensor]: ``EVS = mean_k ||p_k - onehot(y_k)||_2`` and
        ``DS = mean_k ||p_k - q_k||_2``; both 0 when ``K == 0``.
    """
    if student_probs.numel() == 0:
        zero = student_probs.new_zeros(())
        return zero, zero
    onehot = F.one_hot(labels.long(), num_classes + 1)[:, :num_classes]
    evs = torch.linalg.vector_norm(
        student_probs.float() - onehot.to(student_probs.dtype), dim=-1)
    ds = torch.linalg.vector_norm(
        student_probs.float() - teacher_probs.float(), dim=-1)
    return evs.mean(), ds.mean()


#: How :func:`pool_objects` pools an image's per-object scores.
OBJECT_POOLS = ('mean', 'max', 'sum')


def object_means(values: Tensor, gt_inds: Tensor) -> tuple:
    """Per object, the mean of ``values`` over the points assigned to it.

    Args:
        values (Tensor): ``[B, A]`` per-point values.
        gt_inds (Tensor): ``[B, A]`` long, the object (box index within its
            image) of each point, -1 for none.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``(image [M], mean [M], count [M])``
        over the ``M`` objects with at least one point, in image then box
        order: the object's image, the mean of its points' values and their
        number.
    """
    b, a = values.shape
    assigned = gt_inds >= 0
    image = torch.arange(b, device=values.device).unsqueeze(1).expand(b, a)
    # One id per (image, box): boxes of an image are < the largest index.
    width = int(gt_inds.max()) + 1 if assigned.any() else 1
    key = (image * width + gt_inds)[assigned]
    ids, slot, count = torch.unique(key, return_inverse=True,
                                    return_counts=True)
    total = values.new_zeros(ids.numel()).index_add_(
        0, slot, values[assigned].to(values.dtype))
    return ids // width, total / count.to(values.dtype), count


def pool_objects(values: Tensor, gt_inds: Tensor, pool: str) -> Tensor:
    """``[B]``: per image, the ``pool`` ('mean', 'max' or 'sum') of the
    per-object means of ``values`` (:func:`object_means`); 0 for an image
    with no assigned object."""
    if pool not in OBJECT_POOLS:
        raise ValueError(f'pool must be one of {OBJECT_POOLS}, got {pool!r}')
    b = values.size(0)
    image, mean, _ = object_means(values, gt_inds)
    out = values.new_zeros(b)
    if pool == 'max':
        # The per-object means are >= 0 (losses, distances).
        return out.scatter_reduce_(0, image, mean, 'amax', include_self=False)
    out.index_add_(0, image, mean)
    if pool == 'mean':
        num = torch.bincount(image, minlength=b).clamp(min=1)
        out = out / num.to(out.dtype)
    return out


def combine_scores(evs: Tensor, ds: Tensor, beta: float) -> Tensor:
    """d = beta * EVS + (1 - beta) * DS."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f'beta must be in [0, 1], got {beta!r}')
    return beta * evs + (1.0 - beta) * ds


def check_finite(scores: Tensor, indices: Optional[Tensor] = None,
                 what: str = 'scores') -> None:
    """Raise naming the sample indices whose score is NaN or inf."""
    bad = ~torch.isfinite(scores)
    if bad.any():
        where = bad.nonzero().flatten()
        if indices is not None:
            where = indices[where]
        shown = where[:20].tolist()
        raise ValueError(
            f'{int(bad.sum())} non-finite {what} (NaN or inf) at sample '
            f'indices {shown}{" ..." if bad.sum() > 20 else ""}')
