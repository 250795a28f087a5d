# Copyright (c) mmacs contributors. All rights reserved.
"""Image classification: classifiers whose ``tensor`` mode returns ``[B, C]``
logits (mmacs's ``ImageClassifier`` and any other such model; nothing here
imports :mod:`mmacs.classification`)."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmacs.registry import TASKS
from .base import Task


@TASKS.register_module('classification')
class ClassificationTask(Task):
    """Outputs are ``dict(logits=[B, C])``; the teacher fits a sample as
    well as it believes its label (``label_prob``, the softmax of the
    label)."""

    task = 'classification'
    default_scorer = 'softmax'
    teacher_fit_key = 'label_prob'
    single_label = True
    fp_layers = ('backbone.conv1', 'backbone.stem.*', 'backbone.linear',
                 'backbone.fc', 'backbone.classifier*')

    def outputs(self, model: nn.Module, inputs: Tensor) -> dict:
        return dict(logits=model(inputs, mode='tensor'))

    def loss(self, student: nn.Module, inputs: Tensor, data_samples: list,
             teacher_fn, distill: Optional[dict]) -> Dict[str, Tensor]:
        if not distill:
            return student(inputs, data_samples, mode='loss')
        logits = student(inputs, mode='tensor')
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            logits.device)
        losses = dict(
            loss_cls=F.cross_entropy(
                logits,
                labels,
                label_smoothing=getattr(student, 'label_smoothing', 0.0)))
        temp = distill.get('temperature', 1.0)
        t_logits = teacher_fn()['logits']
        # Soft cross-entropy to the teacher, scaled by T^2.
        soft = -(F.softmax(t_logits / temp, -1) *
                 F.log_softmax(logits / temp, -1)).sum(-1).mean()
        losses['loss_kd'] = distill.get('loss_weight', 1.0) * soft * temp**2
        return losses

    def teacher_fit(self, scores: dict) -> Tensor:
        return self._fit_value(scores)

    @staticmethod
    def export_outputs(model: nn.Module, inputs: Tensor) -> Tuple[Tensor]:
        return (model(inputs, mode='tensor'), )

    @classmethod
    def output_names(cls, num_outputs: int) -> List[str]:
        return ['logits']

    @classmethod
    def output_axes(cls, name: str) -> dict:
        return {0: 'batch'}
