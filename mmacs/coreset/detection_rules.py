# Copyright (c) mmacs contributors. All rights reserved.
"""Detection-aware selection: class quotas over the object classes an image
holds, and diversity against near-duplicate images.

A detection image holds objects of several classes, and consecutive frames
of one flight are near copies of each other. A global top-k of per-image
scores ignores both: the rare class can fall out of the coreset, and a run
of similar frames can fill it. These rules take, beside the scores, what
an image holds (``image_classes``: ``[N, C]`` bool) or an embedding of it
(``features``: ``[N, D]``), and return exactly ``k`` distinct indices.

- :func:`class_budgets`: the number of images each class should appear in,
  by a tempered power of its box share (``power`` 1: proportional, 0:
  equal), with a floor so that a rare class is always covered.
- :func:`class_aware_select`: fills those budgets rarest class first, by
  score among the images holding the class (an image counts for every
  class it holds), then the rest of ``k`` by score.
- :func:`kcenter_select`: greedy k-center in feature space, each step
  taking the image farthest from the chosen ones, the distance weighted by
  the image's score rank; a duplicate of a chosen image is at distance 0
  and is taken only when nothing else is left.
"""
from typing import Optional

import torch
from torch import Tensor

from .scores import check_finite


def _check_k(k: int, n: int) -> None:
    if not isinstance(k, int) or not 0 <= k <= n:
        raise ValueError(f'cannot select k={k!r} of {n} images')


def _check_rows(name: str, value: Tensor, n: int, dim: int) -> None:
    if value.dim() != dim or value.shape[0] != n:
        raise ValueError(f'{name} must have {dim} dims and {n} rows (one per '
                         f'score), got shape {tuple(value.shape)}')


def class_budgets(box_counts: Tensor,
                  images_per_class: Tensor,
                  k: int,
                  power: float = 0.5,
                  floor: int = 10) -> Tensor:
    """How many of the ``k`` images should hold each class.

    Class ``c`` gets ``k * w_c / sum(w)`` with ``w_c = box_counts[c] **
    power``, at least ``min(floor, images_per_class[c])`` and never more
    than the images that hold it.

    Args:
        box_counts (Tensor): ``[C]`` boxes of each class in the training
            set.
        images_per_class (Tensor): ``[C]`` images holding each class.
        k (int): The coreset size.
        power (float): The temper: 1 proportional to the box share, 0 the
            same for every class. Defaults to 0.5.
        floor (int): The fewest images of a class (when it has them).
            Defaults to 10.

    Returns:
        Tensor: ``[C]`` long, the per-class image budgets.
    """
    if not 0 <= power <= 1:
        raise ValueError(f'power must be in [0, 1], got {power!r}')
    if not isinstance(floor, int) or floor < 0:
        raise ValueError(f'floor must be an int >= 0, got {floor!r}')
    counts = box_counts.double().clamp(min=0)
    weights = torch.where(counts > 0, counts**power, torch.zeros_like(counts))
    total = float(weights.sum())
    share = weights * k / total if total > 0 else torch.zeros_like(weights)
    available = images_per_class.long()
    budget = share.round().long().clamp(min=0)
    budget = torch.maximum(budget, available.clamp(max=floor))
    return torch.minimum(budget, available)


def class_aware_select(scores: Tensor,
                       image_classes: Tensor,
                       k: int,
                       box_counts: Optional[Tensor] = None,
                       power: float = 0.5,
                       floor: int = 10) -> Tensor:
    """``k`` images: each class's :func:`class_budgets` met first (rarest
    class first, highest scores among the images holding it), the rest of
    ``k`` by score.

    Args:
        scores (Tensor): ``[N]`` per-image scores, higher = more worth
            training on.
        image_classes (Tensor): ``[N, C]`` bool, whether image ``i`` holds
            a box of class ``c``.
        k (int): How many images to select.
        box_counts (Tensor, optional): ``[C]`` boxes per class; None counts
            one per image holding the class.
        power (float): See :func:`class_budgets`. Defaults to 0.5.
        floor (int): See :func:`class_budgets`. Defaults to 10.

    Returns:
        Tensor: ``k`` distinct indices (long), the class-filling ones
        first.
    """
    n = scores.numel()
    _check_k(k, n)
    _check_rows('image_classes', image_classes, n, 2)
    check_finite(scores)
    holds = image_classes.bool()
    per_class = holds.sum(0)
    counts = per_class if box_counts is None else box_counts
    if counts.numel() != holds.shape[1]:
        raise ValueError(f'box_counts has {counts.numel()} classes, '
                         f'image_classes {holds.shape[1]}')
    budget = class_budgets(counts, per_class, k, power, floor)
    order = torch.sort(-scores.double(), stable=True).indices
    chosen = torch.zeros(n, dtype=torch.bool)
    picked = []
    # Rarest class first: its few images are taken before a common class's
    # quota, which they also count towards, is filled.
    for c in torch.sort(per_class, stable=True).indices.tolist():
        need = int(budget[c]) - int((chosen & holds[:, c]).sum())
        need = min(need, k - len(picked))
        if need <= 0:
            continue
        candidates = order[holds[order, c] & ~chosen[order]][:need]
        chosen[candidates] = True
        picked.append(candidates)
    rest = order[~chosen[order]][:k - int(chosen.sum())]
    picked.append(rest)
    return torch.cat(picked).long()


def kcenter_select(features: Tensor,
                   scores: Tensor,
                   k: int,
                   score_weight: float = 1.0) -> Tensor:
    """``k`` images by greedy k-center in feature space, weighted by score.

    Starts from the highest score; each next image maximises ``d(x) *
    r(x) ** score_weight``, with ``d`` the Euclidean distance to the
    nearest chosen image and ``r`` the score's rank in ``(0, 1]`` (1 for
    the highest). ``score_weight`` 0 is plain k-center (coverage only).
    Deterministic (ties to the lower index).

    Args:
        features (Tensor): ``[N, D]`` image embeddings (e.g. the teacher's
            pooled neck features).
        scores (Tensor): ``[N]`` per-image scores.
        k (int): How many images to select.
        score_weight (float): How much the score steers the choice.
            Defaults to 1.

    Returns:
        Tensor: ``k`` distinct indices (long) in the order chosen.
    """
    n = scores.numel()
    _check_k(k, n)
    _check_rows('features', features, n, 2)
    check_finite(scores)
    if score_weight < 0:
        raise ValueError(f'score_weight must be >= 0, got {score_weight!r}')
    if k == 0:
        return torch.zeros(0, dtype=torch.long)
    feats = features.double()
    order = torch.sort(-scores.double(), stable=True).indices
    rank = torch.empty(n, dtype=torch.float64)
    rank[order] = torch.arange(n, 0, -1, dtype=torch.float64) / n
    weight = rank**score_weight
    first = int(order[0])
    picked = [first]
    nearest = torch.cdist(feats, feats[first:first + 1]).flatten()
    nearest[first] = -1.0
    for _ in range(k - 1):
        gain = torch.where(nearest >= 0, nearest * weight,
                           torch.full_like(nearest, -1.0))
        # A duplicate of a chosen image (distance 0) goes last: only rank
        # decides among the zero-distance ones.
        if float(gain.max()) <= 0:
            gain = torch.where(nearest >= 0, weight * 1e-12,
                               torch.full_like(nearest, -1.0))
        nxt = int(torch.argmax(gain))
        picked.append(nxt)
        dist = torch.cdist(feats, feats[nxt:nxt + 1]).flatten()
        nearest = torch.where(nearest >= 0, torch.minimum(nearest, dist),
                              nearest)
        nearest[nxt] = -1.0
    return torch.tensor(picked, dtype=torch.long)
