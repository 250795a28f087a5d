# Copyright (c) mmacs contributors. All rights reserved.
"""Object detection: single-stage detectors with a dense head.

What depends on the head (its outputs, targets and per-image losses, its
last layers) is the head family's, in :mod:`mmacs.tasks.heads`; this module
holds what all dense detectors share: the distillation loss, the teacher
fit (the teacher's own per-image head loss) and the export's outputs.
"""
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from torch import Tensor

from mmacs.registry import DENSE_HEADS, TASKS
from .base import Task
from .heads import DenseHead, find_dense_head, teacher_distance


def dense_head(model: nn.Module) -> DenseHead:
    """The per-image view of ``model``'s ``bbox_head``; an error names a
    head no registered family covers."""
    head = getattr(model, 'bbox_head', None)
    family = find_dense_head(head)
    if family is None:
        raise TypeError(
            'detection scoring and distillation need a single-stage '
            'detector whose bbox_head is one of the registered families '
            f'{sorted(DENSE_HEADS.module_dict)} (mmacs.tasks.heads), got '
            f'{type(model).__name__} with '
            f'{type(head).__name__ if head is not None else "no bbox_head"}')
    return family(head)


@TASKS.register_module('detection')
class DetectionTask(Task):
    """Outputs are those of the head family (``cls`` ``[B, A, C]``, ``reg``
    ``[B, A, R]``, ...); the teacher fits an image as well as its own head
    loss against the image's boxes is low (``teacher_loss``)."""

    task = 'detection'
    default_scorer = 'loss'
    teacher_fit_key = 'teacher_loss'
    single_label = False
    #: The stem, kept in full precision whatever the head.
    stem_fp_layers = ('backbone.conv1', 'backbone.stem.*')

    def __init__(self, model: Optional[nn.Module] = None) -> None:
        super().__init__(model)
        family = find_dense_head(getattr(model, 'bbox_head', None))
        self.fp_layers = self.stem_fp_layers + tuple(
            f'bbox_head.{name}' for name in getattr(family, 'fp_layers', ()))

    def outputs(self, model: nn.Module, inputs: Tensor) -> dict:
        return dense_head(model).outputs(model.extract_feat(inputs))

    def loss(self, student: nn.Module, inputs: Tensor, data_samples: list,
             teacher_fn, distill: Optional[dict]) -> Dict[str, Tensor]:
        if not distill:
            return student.loss(inputs, data_samples)
        head = dense_head(student)
        # One target assignment for the head's loss and the distillation.
        losses, targets, out = head.loss_and_targets(
            head.head(student.extract_feat(inputs)), data_samples)
        dist = teacher_distance(out['cls'], teacher_fn()['cls'],
                                targets['label_weights'],
                                distill.get('gamma', 2.0))
        norm = targets['num_pos'].clamp(min=distill.get('norm_floor', 1.0))
        losses['loss_kd'] = distill.get('loss_weight', 1.0) * (dist /
                                                               norm).mean()
        return losses

    def teacher_fit(self, scores: dict) -> Tensor:
        return -self._fit_value(scores)

    @staticmethod
    def export_outputs(model: nn.Module, inputs: Tensor) -> Tuple[Tensor]:
        outs = model(inputs, None, mode='tensor')
        # (cls_scores [level ...], bbox_preds [level ...], ...)
        return tuple(t for per_level in outs[:2] for t in per_level)

    @classmethod
    def output_names(cls, num_outputs: int) -> List[str]:
        levels = num_outputs // 2
        return [f'cls_score_{i}' for i in range(levels)] + \
            [f'bbox_pred_{i}' for i in range(levels)]

    @classmethod
    def output_axes(cls, name: str) -> dict:
        return {0: 'batch', 2: f'{name}_height', 3: f'{name}_width'}
