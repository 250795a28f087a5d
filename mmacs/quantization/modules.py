# Copyright (c) mmacs contributors. All rights reserved.
"""Quantized drop-in replacements for ``nn.Conv2d`` and ``nn.Linear``.

``from_float`` builds the quantized module around the float module's own
``Parameter`` objects and ``to_float`` hands them back, so optimizer state,
checkpoints and parameter names line up before and after the swap (the
quantizers only add ``weight_quant.*`` and ``act_quant.*`` entries).
"""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .lsq import LSQQuantizer


def build_quantizer(cfg: Optional[dict], is_weight: bool,
                    num_channels: int) -> Optional[LSQQuantizer]:
    """Build an :class:`LSQQuantizer` from a config dict.

    Args:
        cfg (dict, optional): Keyword arguments of :class:`LSQQuantizer`
            (``bits``, ``signed``, ``per_channel``); ``None`` or
            ``bits >= 32`` leaves the tensor in full precision.
        is_weight (bool): Whether the quantizer sees a weight.
        num_channels (int): Output channels, for per-channel weights.

    Returns:
        LSQQuantizer | None: The quantizer, or None for full precision.
    """
    if cfg is None:
        return None
    cfg = dict(cfg)
    cfg.pop('type', None)
    if cfg.get('bits', 4) >= 32:
        return None
    if is_weight:
        cfg.setdefault('signed', True)
        if cfg.get('per_channel', False):
            cfg['num_channels'] = num_channels
            cfg['ch_axis'] = 0
    else:
        cfg.setdefault('signed', 'auto')
        if cfg.get('per_channel', False):
            raise ValueError('per-channel activation quantization is not '
                             f'supported, got act_quant={cfg!r}')
    return LSQQuantizer(is_weight=is_weight, **cfg)


class _QuantMixin:
    """Shared ``from_float`` / ``to_float`` for the quantized layers."""

    _FLOAT_TYPE: type

    @classmethod
    def from_float(cls, mod: nn.Module, weight_quant: Optional[dict],
                   act_quant: Optional[dict]) -> nn.Module:
        """Wrap ``mod``'s parameters in a quantized module.

        Args:
            mod (nn.Module): The float module (exactly ``_FLOAT_TYPE``).
            weight_quant (dict, optional): Weight quantizer config.
            act_quant (dict, optional): Input quantizer config.

        Returns:
            nn.Module: The quantized module, sharing ``mod``'s Parameters.
        """
        if type(mod) is not cls._FLOAT_TYPE:
            raise TypeError(f'{cls.__name__}.from_float expects exactly '
                            f'{cls._FLOAT_TYPE.__name__}, got '
                            f'{type(mod).__name__}')
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        # Copy the float module's hyper-parameters, then its own Parameter
        # objects (no new tensors are allocated).
        for key, value in mod.__dict__.items():
            if key not in ('_parameters', '_buffers', '_modules'):
                new.__dict__[key] = value
        new._parameters = dict(mod._parameters)
        new._buffers = dict(mod._buffers)
        new._modules = dict(mod._modules)
        new.weight_quant = build_quantizer(weight_quant, True,
                                           mod.weight.shape[0])
        new.act_quant = build_quantizer(act_quant, False,
                                        mod.weight.shape[0])
        return new

    def to_float(self) -> nn.Module:
        """The float module, holding this module's Parameters."""
        mod = self._FLOAT_TYPE.__new__(self._FLOAT_TYPE)
        nn.Module.__init__(mod)
        for key, value in self.__dict__.items():
            if key not in ('_parameters', '_buffers', '_modules',
                           'weight_quant', 'act_quant'):
                mod.__dict__[key] = value
        mod._parameters = dict(self._parameters)
        mod._buffers = dict(self._buffers)
        mod._modules = {
            k: v
            for k, v in self._modules.items()
            if k not in ('weight_quant', 'act_quant')
        }
        return mod

    def _weight_to_quantize(self) -> Tensor:
        """The weight the quantizer sees (a folded one in QConvBn2d)."""
        return self.weight

    def _quant_weight(self) -> Tensor:
        frozen = getattr(self, 'frozen_weight', None)
        if frozen is not None:
            return frozen  # see frozen_quantized_weights
        w = self._weight_to_quantize()
        return w if self.weight_quant is None else self.weight_quant(w)

    def _quant_input(self, x: Tensor) -> Tensor:
        return x if self.act_quant is None else self.act_quant(x)


class QConv2d(_QuantMixin, nn.Conv2d):
    """``nn.Conv2d`` with LSQ-quantized weight and input."""

    _FLOAT_TYPE = nn.Conv2d

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(
            self._quant_input(x), self._quant_weight(), self.bias)


class QLinear(_QuantMixin, nn.Linear):
    """``nn.Linear`` with LSQ-quantized weight and input."""

    _FLOAT_TYPE = nn.Linear

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self._quant_input(x), self._quant_weight(), self.bias)
