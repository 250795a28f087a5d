# Copyright (c) mmacs contributors. All rights reserved.
"""Initialise LSQ steps from real data before training or scoring."""
from typing import Callable, Iterable, List

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size

from .convert import named_quantizers
from .lsq import STEP_INITS, LSQQuantizer


def uninitialized_quantizers(model: nn.Module) -> List[LSQQuantizer]:
    """The quantizers of ``model`` that still need calibration."""
    return [q for _, q in named_quantizers(model) if not q.is_initialized]


def check_calibrated(model: nn.Module, before: str) -> None:
    """Raise when ``model`` has quantizers not yet calibrated ``before``
    (a step that needs them)."""
    if uninitialized_quantizers(model):
        raise RuntimeError(
            f'the student has uninitialised LSQ steps before {before}: '
            "add dict(type='QATCalibrationHook') to custom_hooks")


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable,
              step_fn: Callable[[object], None]) -> int:
    """Initialise every uninitialised quantizer of ``model`` from data.

    Each quantizer records ``mean(|x|)`` of what it sees in each batch
    (weights pass through their quantizer in every forward, so they are
    covered too); the step becomes ``2 * avg(mean|x|) / sqrt(Qp)``. Under
    ``torch.distributed`` the statistics are averaged over all ranks, so
    every rank ends with the same steps. Initialised quantizers are left
    as they are (a resumed model is never re-initialised).

    Args:
        model (nn.Module): The quantized model.
        batches (Iterable): Calibration batches.
        step_fn (Callable): Runs the forward pass for one batch.

    Returns:
        int: The number of quantizers initialised.
    """
    todo = uninitialized_quantizers(model)
    if not todo:
        return 0
    for q in todo:
        q.reset_calibration()
        q.calibrating = True
    try:
        for batch in batches:
            step_fn(batch)
    finally:
        states = [q.calibration_state() for q in todo]
        for q in todo:
            q.calibrating = False
    # One flat vector per quantizer: [sum of mean|x| ..., count, negative].
    param = next(model.parameters())
    flat = []
    for q, state in zip(todo, states):
        n = q.step.numel()
        if state is None:
            flat.append(param.new_zeros(n + 2, dtype=torch.float64))
            continue
        total, count, negative = state
        flat.append(
            torch.cat([
                total.reshape(-1).double().to(param.device),
                param.new_tensor([float(count), float(negative)],
                                 dtype=torch.float64)
            ]))
    stats = torch.cat(flat)
    if get_world_size() > 1:
        all_reduce(stats, op='sum')
    offset = 0
    unused = []
    for q in todo:
        n = q.step.numel()
        total = stats[offset:offset + n]
        count, negative = stats[offset + n].item(), stats[offset + n + 1]
        offset += n + 2
        if count == 0:
            unused.append(q.name or '<unnamed>')
            continue
        q.finish_calibration((total / count).float(), bool(negative > 0))
    if unused:
        raise RuntimeError(
            'These quantizers saw no data during calibration (is the layer '
            f'used in the forward pass?): {unused}')
    return len(todo)


@torch.no_grad()
def compare_step_inits(model: nn.Module, batches: List, step_fn: Callable,
                       inits=('lsq', 'mse')) -> dict:
    """Calibrate every quantizer of ``model`` once per initialisation in
    ``inits`` on the same ``batches`` and measure, for each, the step and
    the relative squared quantization error ``||q(x) - x||^2 / ||x||^2``
    of what the quantizer sees in a forward of ``batches[0]`` (through the
    model as quantized with that initialisation).

    The model is left calibrated with the last of ``inits``.

    Returns:
        dict: ``{init: {quantizer name: dict(step=mean step,
        rel_error=...)}}``.
    """
    for init in inits:
        if init not in STEP_INITS:
            raise ValueError(f'init must be one of {STEP_INITS}, got '
                             f'{init!r}')
    quantizers = dict(named_quantizers(model))
    out = {}
    for init in inits:
        for q in quantizers.values():
            q.uncalibrate(init)
        calibrate(model, batches, step_fn)
        errors = {}

        def record(name):

            def hook(module, inputs, output):
                x = inputs[0].float()
                errors[name] = float((output.float() - x).pow(2).sum() /
                                     x.pow(2).sum().clamp(min=1e-12))

            return hook

        handles = [q.register_forward_hook(record(name))
                   for name, q in quantizers.items()]
        try:
            step_fn(batches[0])
        finally:
            for handle in handles:
                handle.remove()
        out[init] = {
            name: dict(step=float(q.step.mean()), rel_error=errors.get(name))
            for name, q in quantizers.items()
        }
    return out
