# Copyright (c) mmacs contributors. All rights reserved.
"""Turn a float model into an LSQ-quantized one by module-name patterns."""
from contextlib import contextmanager
from fnmatch import fnmatchcase
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .fold_bn import unfold_bn
from .lsq import LSQQuantizer
from .modules import QConv2d, QLinear

#: Float type -> quantized type. Exact types only: subclasses of
#: ``nn.Conv2d`` (deformable convs, ...) keep their own forward.
QUANT_MODULE_MAPPING = {nn.Conv2d: QConv2d, nn.Linear: QLinear}


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def quantize_model(model: nn.Module,
                   weight_quant: Optional[dict],
                   act_quant: Optional[dict],
                   include: Sequence[str] = ('*', ),
                   skip: Sequence[str] = ()) -> List[str]:
    """Swap the float layers of ``model`` for quantized ones, in place.

    Args:
        model (nn.Module): The float model.
        weight_quant (dict, optional): Weight quantizer config, e.g.
            ``dict(bits=4, per_channel=False)``. None keeps float weights.
        act_quant (dict, optional): Input quantizer config, e.g.
            ``dict(bits=4, signed='auto')``. None keeps float inputs.
        include (Sequence[str]): ``fnmatch`` patterns of module names to
            quantize. Defaults to ``('*', )``.
        skip (Sequence[str]): Patterns of module names kept in full
            precision; they win over ``include``. Defaults to ``()``.

    Returns:
        list[str]: The names of the swapped modules.
    """
    for pattern in list(include) + list(skip):
        if not isinstance(pattern, str):
            raise TypeError(f'module-name patterns must be str, got '
                            f'{pattern!r}')
    targets = [(name, mod) for name, mod in model.named_modules()
               if type(mod) in QUANT_MODULE_MAPPING and name
               and _matches(name, include) and not _matches(name, skip)]
    for name, mod in targets:
        qmod = QUANT_MODULE_MAPPING[type(mod)].from_float(
            mod, weight_quant, act_quant)
        _set_submodule(model, name, qmod)
    for name, quantizer in named_quantizers(model):
        quantizer.name = name
    return [name for name, _ in targets]


def dequantize_model(model: nn.Module) -> List[str]:
    """Swap every quantized layer back to its float type, in place.

    Returns:
        list[str]: The names of the swapped modules.
    """
    unfold_bn(model)  # a folded BatchNorm becomes a BatchNorm again
    targets = [(name, mod) for name, mod in model.named_modules()
               if isinstance(mod, (QConv2d, QLinear))]
    for name, mod in targets:
        _set_submodule(model, name, mod.to_float())
    return [name for name, _ in targets]


def named_quantizers(model: nn.Module) -> Iterator[Tuple[str,
                                                         LSQQuantizer]]:
    """All LSQ quantizers of ``model`` with their full names."""
    for name, mod in model.named_modules():
        if isinstance(mod, LSQQuantizer):
            yield name, mod


def quantizer_summary(model: nn.Module) -> Dict[str, int]:
    """Counts of quantized layers and (un)initialised quantizers."""
    quantizers = [q for _, q in named_quantizers(model)]
    return dict(
        layers=sum(
            isinstance(m, (QConv2d, QLinear)) for m in model.modules()),
        quantizers=len(quantizers),
        initialized=sum(q.is_initialized for q in quantizers))


@contextmanager
def frozen_quantized_weights(model: nn.Module):
    """Quantize each layer's weight once and reuse it inside the block.

    For inference passes (the coreset scoring pass, evaluation) in which
    the weights and steps do not change: the outputs are identical, the
    per-batch weight fake-quantization is saved.
    """
    layers = [
        m for m in model.modules()
        if isinstance(m, (QConv2d, QLinear)) and m.weight_quant is not None
    ]
    try:
        with torch.no_grad():
            for m in layers:
                m.frozen_weight = m.weight_quant(m._weight_to_quantize())
        yield model
    finally:
        for m in layers:
            m.frozen_weight = None


def _set_submodule(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
