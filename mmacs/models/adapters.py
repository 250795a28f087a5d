# Copyright (c) mmacs contributors. All rights reserved.
"""Task adapters: what the QAT wrapper and the coreset engine need to know
about a task. One engine, two adapters: dense detection and classification.

An adapter turns a model and a preprocessed batch into *outputs* (a
structure whose first dimension is the batch, so it can be split per
sample and cached), computes the training loss with optional knowledge
distillation and names the task's default scorer. Adapters are registered
in :data:`mmacs.registry.TASK_ADAPTERS` under their task.
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmacs.registry import TASK_ADAPTERS
from .dense_heads import (flatten_dense_outputs, head_loss_and_targets,
                          teacher_distance)


def sample_indices(data_samples: list) -> Tensor:
    """The dataset index of each sample (``sample_idx`` in its metainfo)."""
    try:
        return torch.tensor([int(s.metainfo['sample_idx'])
                             for s in data_samples])
    except KeyError:
        raise KeyError(
            "data samples carry no 'sample_idx': add 'sample_idx' to the "
            "meta_keys of the scoring pipeline's packing transform") from None


@TASK_ADAPTERS.register_module('detection')
class DetectionAdapter:
    """Single-stage detectors with an anchor-based dense head.

    Outputs are ``dict(cls=[B, A, C], reg=[B, A, R], featmap_sizes=...)``:
    the head's raw logits and box deltas over all anchors of all levels, in
    the order the head's ``get_targets`` uses. The scorers reach the head
    through :meth:`head`.
    """

    task = 'detection'
    default_scorer = 'loss'

    @staticmethod
    def head(model: nn.Module) -> nn.Module:
        head = getattr(model, 'bbox_head', None)
        if head is None or not hasattr(head, 'get_targets'):
            raise TypeError(
                'detection scoring and distillation need a single-stage '
                'detector with an anchor-based dense head (bbox_head with '
                f'get_targets), got {type(model).__name__}')
        return head

    def outputs(self, model: nn.Module, inputs: Tensor) -> dict:
        head = self.head(model)
        cls_scores, bbox_preds = head(model.extract_feat(inputs))[:2]
        return flatten_dense_outputs(cls_scores, bbox_preds,
                                     head.cls_out_channels)

    def loss(self, student: nn.Module, inputs: Tensor, data_samples: list,
             teacher_fn, distill: Optional[dict]) -> Dict[str, Tensor]:
        if not distill:
            return student.loss(inputs, data_samples)
        head = self.head(student)
        cls_scores, bbox_preds = head(student.extract_feat(inputs))[:2]
        # One target assignment for the head's loss and the distillation.
        losses, targets = head_loss_and_targets(head, cls_scores, bbox_preds,
                                                data_samples)
        s_cls = flatten_dense_outputs(cls_scores, bbox_preds,
                                      head.cls_out_channels)['cls']
        dist = teacher_distance(s_cls, teacher_fn()['cls'],
                                targets['label_weights'],
                                distill.get('gamma', 2.0))
        norm = targets['num_pos'].clamp(min=distill.get('norm_floor', 1.0))
        losses['loss_kd'] = distill.get('loss_weight', 1.0) * (dist /
                                                               norm).mean()
        return losses


@TASK_ADAPTERS.register_module('classification')
class ClassificationAdapter:
    """Classifiers whose ``tensor`` mode returns ``[B, C]`` logits."""

    task = 'classification'
    default_scorer = 'softmax'

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


def build_adapter(task: str, model: nn.Module):
    """The adapter of ``task``: a registered task ('detection',
    'classification') or 'auto' (detection for a model with a
    ``bbox_head`` or ``rpn_head``, else classification)."""
    if task == 'auto':
        task = 'detection' if hasattr(model, 'bbox_head') or hasattr(
            model, 'rpn_head') else 'classification'
    adapter = TASK_ADAPTERS.get(task) if isinstance(task, str) else None
    if adapter is None:
        raise ValueError("task must be 'auto' or one of "
                         f'{sorted(TASK_ADAPTERS.module_dict)}, got {task!r}')
    return adapter()
