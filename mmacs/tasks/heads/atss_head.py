# Copyright (c) mmacs contributors. All rights reserved.
"""ATSS: an anchor head (one anchor per location) with its own target
assignment (adaptive IoU thresholds over the closest anchors) and a
centerness branch.

Its loss has the terms of FCOS's (see
:func:`~mmacs.tasks.heads.base.centerness_losses`): focal loss and
centerness over ``n = max(positives, floor)``, the centerness-weighted box
loss (on decoded boxes) over ``max(sum of the centerness targets, 1)``.
"""
import torch
from torch import Tensor

from mmacs.registry import DENSE_HEADS
from .base import (DenseHead, centerness_losses, centerness_outputs,
                   centerness_targets)


@DENSE_HEADS.register_module('ATSSHead')
class ATSSDenseHead(DenseHead):
    """Outputs: ``cls`` (logits), ``reg`` (box deltas) and ``ctr``
    (centerness logits, ``[B, A]``) per anchor."""

    fp_layers = ('atss_cls', 'atss_reg', 'atss_centerness')

    def flatten(self, maps: tuple) -> dict:
        return centerness_outputs(maps, self.head.cls_out_channels)

    def targets(self, out: dict, data_samples: list) -> dict:
        """Also ``priors`` ``[B, A, 4]`` (the anchors) and ``centerness``
        ``[B, A]`` (the targets, 0 off the positives); ``num_pos`` counts
        each image's positive anchors (its ``avg_factor`` with ATSS's
        pseudo sampler)."""
        head = self.head
        gts, gts_ignore, metas = self.unpack(data_samples)
        anchor_list, valid_flag_list = head.get_anchors(
            out['featmap_sizes'], metas, device=out['cls'].device)
        targets = head.get_targets(anchor_list, valid_flag_list, gts, metas,
                                   gts_ignore)[:5]
        keys = ('priors', 'labels', 'label_weights', 'bbox_targets',
                'bbox_weights')
        return centerness_targets(
            {k: torch.cat(v, 1) for k, v in zip(keys, targets)},
            self.num_classes, head.centerness_target)

    def image_losses(self, out: dict, targets: dict,
                     norm_floor: float = 1.0) -> Tensor:
        return centerness_losses(self.head, out, targets, norm_floor, 1.0,
                                 decode_targets=False)
