# Copyright (c) mmacs contributors. All rights reserved.
"""BatchNorm folded into the quantized convolution during QAT.

An integer runtime folds a BatchNorm into the convolution before it
quantizes the weights: ``w * gamma / sqrt(var + eps)``. If QAT quantized
``w`` instead, the deployed weights would leave the grid training learned.
:class:`QConvBn2d` therefore quantizes the folded weight, as torch.ao's
fused Conv-BN QAT modules and Jacob et al. (CVPR 2018) do:

* training with batch statistics: ``y = conv(x, q(w * s)) / s`` with
  ``s = gamma / sqrt(running_var + eps)``, then BatchNorm with the batch's
  statistics (which updates the running ones);
* eval, frozen statistics or ``norm_eval``: ``conv(x, q(w * s), beta + (b -
  running_mean) * s)``, the folded convolution itself, which the ONNX export
  writes as one quantized Conv with a bias.

The BatchNorm stays where it is, as a :class:`FoldedBatchNorm2d` whose
forward is the identity and which keeps the same Parameter and buffer
objects: parameter names, optimizer groups (norm decay), ``norm_eval`` and
checkpoints are those of the unfolded model.
"""
from typing import List, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .modules import QConv2d


class FoldedBatchNorm2d(nn.BatchNorm2d):
    """A BatchNorm2d whose statistics and affine parameters a
    :class:`QConvBn2d` applies: its own forward passes the input on."""

    def forward(self, x: Tensor) -> Tensor:
        return x


def _share_state(new: nn.Module, old: nn.Module, skip=()) -> nn.Module:
    """Give ``new`` (a bare instance) ``old``'s attributes, Parameters,
    buffers and children (the same objects)."""
    nn.Module.__init__(new)
    for key, value in old.__dict__.items():
        if key not in ('_parameters', '_buffers', '_modules') + tuple(skip):
            new.__dict__[key] = value
    new._parameters = dict(old._parameters)
    new._buffers = dict(old._buffers)
    new._modules = dict(old._modules)
    return new


class QConvBn2d(QConv2d):
    """A :class:`QConv2d` followed by a BatchNorm, its weight quantized
    after folding (see the module docstring).

    Built by :func:`fold_bn`; ``bn`` is the :class:`FoldedBatchNorm2d` in
    the parent module, referenced here without being registered (its
    parameters keep their names).
    """

    @classmethod
    def from_qconv(cls, conv: QConv2d, bn: nn.BatchNorm2d) -> 'QConvBn2d':
        new = _share_state(cls.__new__(cls), conv)
        object.__setattr__(new, 'bn', bn)
        new.stats_frozen = False
        return new

    def freeze_bn_stats(self, frozen: bool = True) -> None:
        """Use the running statistics in training too and stop updating
        them (Jacob et al., 2018: late in QAT)."""
        self.stats_frozen = frozen

    def _fold_scale(self) -> Tensor:
        bn = self.bn
        return bn.weight / torch.sqrt(bn.running_var + bn.eps)

    def _weight_to_quantize(self) -> Tensor:
        return self.weight * self._fold_scale().reshape(-1, 1, 1, 1)

    def folded_bias(self) -> Tensor:
        """``beta + (b - running_mean) * s``: the bias of the folded
        convolution."""
        bn = self.bn
        bias = -bn.running_mean if self.bias is None else \
            self.bias - bn.running_mean
        return bn.bias + bias * self._fold_scale()

    def forward(self, x: Tensor) -> Tensor:
        x = self._quant_input(x)
        weight = self._quant_weight()
        bn = self.bn
        if not (self.training and bn.training and not self.stats_frozen):
            return self._conv_forward(x, weight, self.folded_bias())
        scale = self._fold_scale().reshape(1, -1, 1, 1)
        y = self._conv_forward(x, weight, None) / scale
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, 1, 1)
        # BatchNorm2d's own training forward: batch statistics, momentum
        # (or cumulative average) update of the running ones.
        return nn.BatchNorm2d.forward(bn, y)

    def to_qconv(self) -> Tuple[QConv2d, nn.BatchNorm2d]:
        """The unfolded pair, holding the same Parameters."""
        conv = _share_state(QConv2d.__new__(QConv2d), self,
                            skip=('bn', 'stats_frozen'))
        bn = _share_state(nn.BatchNorm2d.__new__(nn.BatchNorm2d), self.bn)
        return conv, bn

    def extra_repr(self) -> str:
        return super().extra_repr() + ', bn_folded=True' + (
            ', bn_stats_frozen=True' if self.stats_frozen else '')


def _bn_partner(parent: nn.Module, conv_name: str, names: List[str]):
    """The name of the BatchNorm that directly follows child ``conv_name``
    of ``parent``, or None.

    Two layouts are recognised: sibling names ``conv<k>`` -> ``bn<k>`` /
    ``norm<k>`` (mmdet's ResNet blocks and stems, mmcv's ``ConvModule``
    with its default ``conv, norm, act`` order), and consecutive children
    of an ``nn.Sequential`` (ResNet's ``downsample``).
    """
    if isinstance(parent, nn.Sequential):
        i = names.index(conv_name)
        return names[i + 1] if i + 1 < len(names) else None
    if not conv_name.startswith('conv'):
        return None
    order = getattr(parent, 'order', ('conv', 'norm'))
    if 'norm' in order and order.index('norm') < order.index('conv'):
        return None  # pre-norm ConvModule: the norm comes first
    suffix = conv_name[len('conv'):]
    for prefix in ('bn', 'norm'):
        if prefix + suffix in names:
            return prefix + suffix
    return None


def fold_bn(model: nn.Module) -> List[str]:
    """Fold the BatchNorm after each :class:`QConv2d` of ``model`` into it,
    in place (see the module docstring; :func:`_bn_partner` says which
    pairs are found).

    Only an exact ``nn.BatchNorm2d`` with affine parameters and running
    statistics, whose channels match the convolution's, is folded; other
    norms (GN, SyncBN) are left as they are.

    Returns:
        list[str]: The names of the folded convolutions.
    """
    folded = []
    for parent_name, parent in list(model.named_modules()):
        names = list(parent._modules)
        for conv_name in names:
            conv = parent._modules[conv_name]
            if type(conv) is not QConv2d:
                continue
            bn_name = _bn_partner(parent, conv_name, names)
            bn = parent._modules.get(bn_name) if bn_name else None
            if type(bn) is not nn.BatchNorm2d or not bn.affine or \
                    not bn.track_running_stats or \
                    bn.num_features != conv.out_channels:
                continue
            new_bn = _share_state(
                FoldedBatchNorm2d.__new__(FoldedBatchNorm2d), bn)
            setattr(parent, bn_name, new_bn)
            setattr(parent, conv_name, QConvBn2d.from_qconv(conv, new_bn))
            folded.append(f'{parent_name}.{conv_name}'.lstrip('.'))
    return folded


def unfold_bn(model: nn.Module) -> List[str]:
    """Undo :func:`fold_bn` in place: each :class:`QConvBn2d` becomes a
    :class:`QConv2d` beside its ``nn.BatchNorm2d`` again.

    Returns:
        list[str]: The names of the unfolded convolutions.
    """
    unfolded = []
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent._modules.items()):
            if not isinstance(child, QConvBn2d):
                continue
            conv, bn = child.to_qconv()
            for bn_name, mod in parent._modules.items():
                if mod is child.bn:
                    setattr(parent, bn_name, bn)
            setattr(parent, child_name, conv)
            unfolded.append(f'{parent_name}.{child_name}'.lstrip('.'))
    return unfolded


def folded_convs(model: nn.Module) -> List[QConvBn2d]:
    """The :class:`QConvBn2d` layers of ``model``."""
    return [m for m in model.modules() if isinstance(m, QConvBn2d)]


def freeze_bn_stats(model: nn.Module, frozen: bool = True) -> int:
    """Freeze (or unfreeze) the statistics of every folded BatchNorm of
    ``model``; returns how many."""
    convs = folded_convs(model)
    for m in convs:
        m.freeze_bn_stats(frozen)
    return len(convs)
