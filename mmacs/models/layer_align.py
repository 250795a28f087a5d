# Copyright (c) mmacs contributors. All rights reserved.
"""Intermediate-layer alignment of the quantized student to its FP teacher.

The quantization error of a low-bit network builds up layer after layer;
aligning chosen intermediate outputs of the student with the teacher's
(the idea QuaRC calls "cascaded layer correction") gives every stage its
own training signal instead of only the final loss. mmacs's form: for each
named module (e.g. the three stages of a CIFAR ResNet, or a detector's
``neck``), the mean squared error between the student's output and the
teacher's on the same batch, summed over the modules and weighted.
"""
import contextlib
from typing import Dict, Iterator, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmacs.utils.checks import check_number


def check_layer_align(cfg, student: nn.Module) -> dict:
    """``cfg`` as ``dict(layers=[...], loss_weight=w)``; a clear error names
    a bad value or a layer the model does not have."""
    if not isinstance(cfg, dict):
        raise TypeError(f'layer_align must be a dict or None, got {cfg!r}')
    unknown = sorted(set(cfg) - {'layers', 'loss_weight'})
    if unknown:
        raise ValueError(f'layer_align takes layers and loss_weight, got '
                         f'unknown {unknown}')
    layers = cfg.get('layers')
    if isinstance(layers, str) or not layers or not all(
            isinstance(name, str) for name in layers):
        raise ValueError('layer_align.layers must be a non-empty list of '
                         f'module names, got {layers!r}')
    names = dict(student.named_modules())
    missing = [name for name in layers if name not in names]
    if missing:
        raise ValueError(f'layer_align.layers {missing} are not modules of '
                         'the model')
    weight = cfg.get('loss_weight', 1.0)
    check_number(weight, 'layer_align.loss_weight')
    return dict(layers=list(layers), loss_weight=float(weight))


@contextlib.contextmanager
def capture_outputs(model: nn.Module,
                    names: Sequence[str]) -> Iterator[Dict[str, object]]:
    """Record the output of each module in ``names`` (the last call's)
    while the context is open."""
    found = dict(model.named_modules())
    outputs: Dict[str, object] = {}
    handles = []
    for name in names:

        def hook(module, args, output, name=name):
            outputs[name] = output

        handles.append(found[name].register_forward_hook(hook))
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def _tensors(output) -> List[Tensor]:
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (list, tuple)):
        return [t for o in output for t in _tensors(o)]
    raise TypeError('layer_align needs modules that return tensors (or '
                    f'lists / tuples of them), got {type(output).__name__}')


def layer_align_loss(student_outputs: Dict[str, object],
                     teacher_outputs: Dict[str, object],
                     names: Sequence[str]) -> Tensor:
    """Sum over ``names`` of the mean squared error between the student's
    and the (detached) teacher's outputs."""
    total = None
    for name in names:
        if name not in student_outputs or name not in teacher_outputs:
            raise RuntimeError(f'layer {name!r} did not run in the forward '
                               'pass of both student and teacher')
        for s, t in zip(_tensors(student_outputs[name]),
                        _tensors(teacher_outputs[name])):
            loss = F.mse_loss(s.float(), t.detach().float())
            total = loss if total is None else total + loss
    return total if total is not None else torch.zeros(())
