# Copyright (c) mmacs contributors. All rights reserved.
"""Per-image targets, losses and teacher distances of an anchor-based dense
head.

mmdet's heads reduce their losses over the batch. Scoring needs one value
per image, so these helpers run the head's *own* ``get_anchors`` /
``get_targets`` (its assigner, sampler and box coder) and its own
``loss_cls`` / ``loss_bbox`` with ``reduction_override='none'``, and sum
per image. Nothing of the assignment is re-implemented here. The DS score
of the coreset scorers and the detection distillation loss of
:mod:`mmacs.models.adapters` share :func:`teacher_distance`.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def flatten_dense_outputs(cls_scores: Sequence[Tensor],
                          bbox_preds: Sequence[Tensor],
                          num_classes: int) -> dict:
    """Concatenate a dense head's per-level maps into per-anchor rows.

    Args:
        cls_scores (Sequence[Tensor]): Per level ``[B, A_l * C, H, W]``.
        bbox_preds (Sequence[Tensor]): Per level ``[B, A_l * R, H, W]``.
        num_classes (int): The head's ``cls_out_channels``.

    Returns:
        dict: ``cls`` ``[B, A, C]``, ``reg`` ``[B, A, R]`` and
        ``featmap_sizes`` (list of ``(H, W)``), rows in the order of
        ``AnchorHead.get_targets``.
    """
    b = cls_scores[0].size(0)
    cls = torch.cat([
        c.permute(0, 2, 3, 1).reshape(b, -1, num_classes) for c in cls_scores
    ], 1)
    # A_l anchors per location: the class channels over C.
    reg = torch.cat([
        r.permute(0, 2, 3, 1).reshape(b, -1, r.size(1) //
                                      (c.size(1) // num_classes))
        for r, c in zip(bbox_preds, cls_scores)
    ], 1)
    return dict(
        cls=cls,
        reg=reg,
        featmap_sizes=[tuple(c.shape[-2:]) for c in cls_scores])


def _head_targets(head: nn.Module, featmap_sizes: List[tuple],
                  data_samples: list, device) -> tuple:
    """The head's anchors and targets as its ``loss_by_feat`` computes them,
    with the per-image sampling results."""
    from mmdet.models.utils import unpack_gt_instances
    gts, gts_ignore, metas = unpack_gt_instances(data_samples)
    anchor_list, valid_flag_list = head.get_anchors(
        featmap_sizes, metas, device=device)
    targets = head.get_targets(
        anchor_list,
        valid_flag_list,
        gts,
        metas,
        gts_ignore,
        return_sampling_results=True)[:6]
    return anchor_list, targets


def _stack_targets(anchor_list: list, targets: tuple, device) -> dict:
    from mmdet.structures.bbox import cat_boxes, get_box_tensor
    (labels, label_weights, bbox_targets, bbox_weights, _,
     sampling_results) = targets
    anchors = torch.stack(
        [get_box_tensor(cat_boxes(a)) for a in anchor_list])
    return dict(
        labels=torch.cat(labels, 1),
        label_weights=torch.cat(label_weights, 1),
        bbox_targets=torch.cat(bbox_targets, 1),
        bbox_weights=torch.cat(bbox_weights, 1),
        anchors=anchors,
        num_pos=torch.tensor([float(r.avg_factor) for r in sampling_results],
                             device=device))


def dense_head_targets(head: nn.Module, featmap_sizes: List[tuple],
                       data_samples: list, device) -> dict:
    """The head's own training targets, stacked per image.

    Returns:
        dict: ``labels`` ``[B, A]`` (``num_classes`` = background),
        ``label_weights`` ``[B, A]``, ``bbox_targets`` / ``bbox_weights``
        ``[B, A, R]``, ``anchors`` ``[B, A, 4]`` and ``num_pos`` ``[B]``: each
        image's own ``avg_factor`` (its positive anchors for RetinaNet), the
        per-image counterpart of the head's batch normaliser.
    """
    anchor_list, targets = _head_targets(head, featmap_sizes, data_samples,
                                         device)
    return _stack_targets(anchor_list, targets, device)


def head_loss_and_targets(head: nn.Module, cls_scores: Sequence[Tensor],
                          bbox_preds: Sequence[Tensor],
                          data_samples: list) -> Tuple[dict, dict]:
    """The head's training loss and :func:`dense_head_targets` from one
    target assignment.

    For a head that keeps ``AnchorHead.loss_by_feat`` (RetinaNet) the loss
    is computed as that method does, from the same targets; any other head
    computes its own loss (and its targets a second time).

    Returns:
        tuple[dict, dict]: ``head.loss_by_feat``'s losses and the stacked
        per-image targets.
    """
    from mmdet.models.dense_heads import AnchorHead
    from mmdet.models.utils import (images_to_levels, multi_apply,
                                    unpack_gt_instances)
    from mmdet.structures.bbox import cat_boxes
    device = cls_scores[0].device
    featmap_sizes = [c.size()[-2:] for c in cls_scores]
    if type(head).loss_by_feat is not AnchorHead.loss_by_feat:
        gts, gts_ignore, metas = unpack_gt_instances(data_samples)
        losses = head.loss_by_feat(cls_scores, bbox_preds, gts, metas,
                                   gts_ignore)
        return losses, dense_head_targets(head, featmap_sizes, data_samples,
                                          device)
    anchor_list, targets = _head_targets(head, featmap_sizes, data_samples,
                                         device)
    labels, label_weights, bbox_targets, bbox_weights, avg_factor = \
        targets[:5]
    num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
    all_anchor_list = images_to_levels(
        [cat_boxes(anchors) for anchors in anchor_list], num_level_anchors)
    losses_cls, losses_bbox = multi_apply(
        head.loss_by_feat_single,
        cls_scores,
        bbox_preds,
        all_anchor_list,
        labels,
        label_weights,
        bbox_targets,
        bbox_weights,
        avg_factor=avg_factor)
    return dict(loss_cls=losses_cls, loss_bbox=losses_bbox), \
        _stack_targets(anchor_list, targets, device)


def per_image_head_losses(head: nn.Module, cls: Tensor, reg: Tensor,
                          targets: dict) -> tuple:
    """The head's classification and box losses, summed per image.

    Args:
        head (nn.Module): The dense head (``loss_cls``, ``loss_bbox``).
        cls (Tensor): ``[B, A, C]`` logits.
        reg (Tensor): ``[B, A, R]`` box deltas.
        targets (dict): From :func:`dense_head_targets`.

    Returns:
        tuple[Tensor, Tensor]: ``[B]`` unnormalised classification and box
        losses (the numerators of the head's loss for each image).
    """
    from mmdet.structures.bbox import get_box_tensor
    b, a, c = cls.shape
    loss_cls = head.loss_cls(
        cls.reshape(-1, c),
        targets['labels'].reshape(-1),
        targets['label_weights'].reshape(-1),
        reduction_override='none').reshape(b, -1).sum(1)
    pred = reg.reshape(b * a, -1)
    if getattr(head, 'reg_decoded_bbox', False):
        pred = get_box_tensor(
            head.bbox_coder.decode(targets['anchors'].reshape(b * a, -1),
                                   pred))
    dim = targets['bbox_targets'].size(-1)
    loss_bbox = head.loss_bbox(
        pred,
        targets['bbox_targets'].reshape(-1, dim),
        targets['bbox_weights'].reshape(-1, dim),
        reduction_override='none').reshape(b, -1).sum(1)
    return loss_cls, loss_bbox


def soft_focal_distance(student_logits: Tensor,
                        teacher_logits: Tensor,
                        gamma: float = 2.0) -> Tensor:
    """Element-wise focal distance between two sets of sigmoid logits.

    ``BCE(sigmoid(s), q) * |sigmoid(s) - q|^gamma`` with ``q =
    sigmoid(t)``: the focal loss with the teacher's probabilities as soft
    targets. It is 0 exactly where the two agree, and like the focal loss it
    down-weights the many anchors both call background.

    Args:
        student_logits (Tensor): Any shape.
        teacher_logits (Tensor): Same shape.
        gamma (float): Focusing exponent. Defaults to 2.0.

    Returns:
        Tensor: Same shape as the inputs.
    """
    s = student_logits.float()
    q = teacher_logits.float().sigmoid()
    bce = F.binary_cross_entropy_with_logits(s, q, reduction='none')
    return bce * (s.sigmoid() - q).abs().pow(gamma)


def teacher_distance(student_cls: Tensor, teacher_cls: Tensor,
                     label_weights: Tensor, gamma: float = 2.0) -> Tensor:
    """Per image, the :func:`soft_focal_distance` of the student's class
    logits to the teacher's, summed over the anchors the head trains on
    (``label_weights > 0``) and the classes; not normalised.

    Args:
        student_cls (Tensor): ``[B, A, C]`` logits.
        teacher_cls (Tensor): ``[B, A, C]`` logits.
        label_weights (Tensor): ``[B, A]`` from :func:`dense_head_targets`.
        gamma (float): Focusing exponent. Defaults to 2.0.

    Returns:
        Tensor: ``[B]``.
    """
    valid = (label_weights > 0).unsqueeze(-1)
    return (soft_focal_distance(student_cls, teacher_cls, gamma) *
            valid).sum((1, 2))
