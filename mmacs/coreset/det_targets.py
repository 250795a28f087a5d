# Copyright (c) mmacs contributors. All rights reserved.
"""Per-image targets and losses of an anchor-based dense head.

mmdet's heads reduce their losses over the batch. Scoring needs one value
per image, so these helpers run the head's *own* ``get_anchors`` /
``get_targets`` (its assigner, sampler and box coder) and its own
``loss_cls`` / ``loss_bbox`` with ``reduction_override='none'``, and sum
per image. Nothing of the assignment is re-implemented here.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
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
    from mmdet.models.utils import unpack_gt_instances
    from mmdet.structures.bbox import cat_boxes, get_box_tensor
    gts, gts_ignore, metas = unpack_gt_instances(data_samples)
    anchor_list, valid_flag_list = head.get_anchors(
        featmap_sizes, metas, device=device)
    (labels, label_weights, bbox_targets, bbox_weights, _,
     sampling_results) = head.get_targets(
         anchor_list,
         valid_flag_list,
         gts,
         metas,
         gts_ignore,
         return_sampling_results=True)[:6]
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
