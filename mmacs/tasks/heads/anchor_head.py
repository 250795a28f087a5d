# Copyright (c) mmacs contributors. All rights reserved.
"""Anchor-based dense heads that keep ``AnchorHead.get_targets``
(RetinaNet, and heads such as SSD's that only change the loss).

Targets come from the head's own ``get_anchors`` / ``get_targets`` (its
assigner, sampler and box coder); each image's normaliser is its own
``avg_factor`` (its positive anchors for RetinaNet). A head's loss is
``sum_a w_a L_cls + sum_a L_box`` over that normaliser.
"""
from typing import List, Tuple

import torch
from torch import Tensor

from mmacs.registry import DENSE_HEADS
from .base import DenseHead, flatten_levels


@DENSE_HEADS.register_module('AnchorHead')
class AnchorDenseHead(DenseHead):
    """Outputs: ``cls`` (logits) and ``reg`` (box deltas) per anchor."""

    fp_layers = ('retina_cls', 'retina_reg')

    @classmethod
    def supports(cls, head) -> bool:
        from mmdet.models.dense_heads import AnchorHead
        return type(head).get_targets is AnchorHead.get_targets

    def flatten(self, maps: tuple) -> dict:
        cls_scores, bbox_preds = maps[:2]
        c = self.head.cls_out_channels
        # A_l anchors per location: the class channels over C.
        return dict(
            cls=flatten_levels(cls_scores, c),
            reg=torch.cat([
                flatten_levels([r], r.size(1) // (s.size(1) // c))
                for r, s in zip(bbox_preds, cls_scores)
            ], 1),
            featmap_sizes=[tuple(s.shape[-2:]) for s in cls_scores])

    def _assign(self, featmap_sizes: List[tuple], data_samples: list,
                device) -> tuple:
        """The anchors and targets as ``loss_by_feat`` computes them, with
        the per-image sampling results."""
        gts, gts_ignore, metas = self.unpack(data_samples)
        anchor_list, valid_flag_list = self.head.get_anchors(
            featmap_sizes, metas, device=device)
        targets = self.head.get_targets(
            anchor_list,
            valid_flag_list,
            gts,
            metas,
            gts_ignore,
            return_sampling_results=True)[:6]
        return anchor_list, targets

    @staticmethod
    def _stack(anchor_list: list, targets: tuple, device) -> dict:
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
            num_pos=torch.tensor(
                [float(r.avg_factor) for r in sampling_results],
                device=device))

    def targets(self, out: dict, data_samples: list) -> dict:
        """Also ``anchors`` ``[B, A, 4]``; ``num_pos`` is each image's own
        ``avg_factor``, the per-image counterpart of the batch's."""
        device = out['cls'].device
        anchor_list, targets = self._assign(out['featmap_sizes'],
                                            data_samples, device)
        return self._stack(anchor_list, targets, device)

    def image_losses(self, out: dict, targets: dict,
                     norm_floor: float = 1.0) -> Tensor:
        loss_cls, loss_bbox = self.loss_sums(out['cls'], out['reg'], targets)
        return (loss_cls + loss_bbox) / targets['num_pos'].clamp(
            min=norm_floor)

    def loss_sums(self, cls: Tensor, reg: Tensor,
                  targets: dict) -> Tuple[Tensor, Tensor]:
        """``[B]`` unnormalised classification and box losses (the
        numerators of the head's loss for each image)."""
        from mmdet.structures.bbox import get_box_tensor
        head = self.head
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

    def loss_and_targets(self, maps: tuple,
                         data_samples: list) -> Tuple[dict, dict, dict]:
        """One target assignment for the loss and the targets where the head
        keeps ``AnchorHead.loss_by_feat`` (RetinaNet); any other head
        computes its own loss (and its targets a second time)."""
        from mmdet.models.dense_heads import AnchorHead
        from mmdet.models.utils import images_to_levels, multi_apply
        from mmdet.structures.bbox import cat_boxes
        head, (cls_scores, bbox_preds) = self.head, maps[:2]
        out = self.flatten(maps)
        if type(head).loss_by_feat is not AnchorHead.loss_by_feat:
            return super().loss_and_targets(maps, data_samples)
        device = cls_scores[0].device
        anchor_list, targets = self._assign(out['featmap_sizes'],
                                            data_samples, device)
        labels, label_weights, bbox_targets, bbox_weights, avg_factor = \
            targets[:5]
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        all_anchor_list = images_to_levels(
            [cat_boxes(anchors) for anchors in anchor_list],
            num_level_anchors)
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
            self._stack(anchor_list, targets, device), out
