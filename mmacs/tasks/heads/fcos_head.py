# Copyright (c) mmacs contributors. All rights reserved.
"""FCOS: the anchor-free head, one point per location.

Targets come from the head's own ``get_targets`` (points inside a box and
its regression range, the smallest box wins). Its loss has three terms with
two normalisers, so an image's loss is::

    sum_p FL(s_p, y_p) / n + sum_{p pos} c_p IoU(b_p, t_p) / sum_{p pos} c_p
        + sum_{p pos} BCE(o_p, c_p) / n

with ``n = max(positives, floor)`` (mmdet: 1), ``c_p`` the centerness
targets and ``o_p`` the predicted centerness.
"""
import torch
from torch import Tensor

from mmacs.registry import DENSE_HEADS
from .base import (DenseHead, centerness_losses, centerness_outputs,
                   centerness_targets)


@DENSE_HEADS.register_module('FCOSHead')
class FCOSDenseHead(DenseHead):
    """Outputs: ``cls`` (logits), ``reg`` (distances to the box sides, in
    the units of the training targets) and ``ctr`` (centerness logits,
    ``[B, A]``) per point."""

    fp_layers = ('conv_cls', 'conv_reg', 'conv_centerness')

    def flatten(self, maps: tuple) -> dict:
        head = self.head
        if head.norm_on_bbox and not head.training:
            # The head scales its distances to pixels in eval mode only.
            maps = (maps[0], [r / s for r, s in zip(maps[1], head.strides)],
                    maps[2])
        return centerness_outputs(maps, head.cls_out_channels)

    def targets(self, out: dict, data_samples: list) -> dict:
        """Also ``priors`` ``[B, A, 2]`` (the points) and ``centerness``
        ``[B, A]`` (the centerness targets, 0 off the positives);
        ``num_pos`` counts each image's positive points. Every point is
        trained on (weight 1)."""
        head, cls = self.head, out['cls']
        b = cls.size(0)
        points = head.prior_generator.grid_priors(
            out['featmap_sizes'], dtype=out['reg'].dtype, device=cls.device)
        labels, bbox_targets = head.get_targets(
            points, self.unpack(data_samples)[0])
        # Per level, the images one after the other: back to [B, A].
        labels = torch.cat([lv.view(b, -1) for lv in labels], 1)
        bbox_targets = torch.cat([lv.view(b, -1, 4) for lv in bbox_targets],
                                 1)
        pos = (labels < self.num_classes).unsqueeze(-1)
        return centerness_targets(
            dict(
                priors=torch.cat(points).expand(b, -1, -1),
                labels=labels,
                label_weights=torch.ones_like(labels, dtype=cls.dtype),
                bbox_targets=bbox_targets,
                bbox_weights=pos.expand_as(bbox_targets).to(
                    bbox_targets.dtype)), self.num_classes,
            lambda points, distances: head.centerness_target(distances))

    def image_losses(self, out: dict, targets: dict,
                     norm_floor: float = 1.0) -> Tensor:
        return centerness_losses(self.head, out, targets, norm_floor, 1e-6,
                                 decode_targets=True)
