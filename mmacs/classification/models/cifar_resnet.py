# Copyright (c) mmacs contributors. All rights reserved.
"""ResNets for 32 x 32 inputs: a 3 x 3 stem and no max-pool."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor


class ZeroPadShortcut(nn.Module):
    """The parameter-free "option A" shortcut: subsample by ``stride`` and
    zero-pad the channels up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad_front = (out_channels - in_channels) // 2
        self.pad_back = out_channels - in_channels - self.pad_front

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))


class BasicBlock(nn.Module):
    """Two 3 x 3 convolutions and a shortcut.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first convolution. Defaults to 1.
        shortcut (str): 'A' (:class:`ZeroPadShortcut`) or 'B' (1 x 1
            convolution and BN) where the shape changes. Defaults to 'B'.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 shortcut: str = 'B') -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            if shortcut == 'A':
                self.shortcut = ZeroPadShortcut(in_channels, out_channels,
                                                stride)
            elif shortcut == 'B':
                self.shortcut = nn.Sequential(
                    nn.Conv2d(
                        in_channels, out_channels, 1, stride, bias=False),
                    nn.BatchNorm2d(out_channels))
            else:
                raise ValueError(
                    f"shortcut must be 'A' or 'B', got {shortcut!r}")

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _CifarResNetBase(BaseModule):
    """Stem, stages of :class:`BasicBlock`, global pooling and ``linear``.
    """

    def __init__(self, widths, num_blocks, num_classes: int, shortcut: str,
                 init_cfg: Optional[dict]) -> None:
        super().__init__(init_cfg=init_cfg)
        if type(num_classes) is not int or num_classes < 1:
            raise ValueError(
                f'num_classes must be an int >= 1, got {num_classes!r}')
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_channels = widths[0]
        for i, (width, blocks) in enumerate(zip(widths, num_blocks)):
            layers = []
            for j in range(blocks):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(BasicBlock(in_channels, width, stride, shortcut))
                in_channels = width
            self.add_module(f'layer{i + 1}', nn.Sequential(*layers))
        self.num_stages = len(widths)
        self.linear = nn.Linear(in_channels, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):
            x = getattr(self, f'layer{i + 1}')(x)
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))


@MODELS.register_module()
class CifarResNet(_CifarResNetBase):
    """The original CIFAR ResNet (He et al., 2016, Sec. 4.2).

    Three stages of 16, 32 and 64 channels with ``(depth - 2) / 6`` basic
    blocks each, a 3 x 3 stem, no max-pool and parameter-free "option A"
    shortcuts. Parameter names (``conv1``, ``bn1``, ``layer1.0.conv1``,
    ..., ``linear``) match the widely used CIFAR-10 checkpoints of this
    architecture once their ``module.`` prefix is removed. Returns logits.

    Args:
        depth (int): 20, 32, 44, 56 or 110. Defaults to 20.
        num_classes (int): Defaults to 10.
        init_cfg (dict, optional): Defaults to None (Kaiming-normal
            convolutions and linear layer).
    """

    DEPTHS = (20, 32, 44, 56, 110)

    def __init__(self,
                 depth: int = 20,
                 num_classes: int = 10,
                 init_cfg: Optional[dict] = None) -> None:
        if depth not in self.DEPTHS:
            raise ValueError(f'depth must be one of {self.DEPTHS}, got '
                             f'{depth!r}')
        self.depth = depth
        n = (depth - 2) // 6
        super().__init__((16, 32, 64), (n, n, n), num_classes, 'A', init_cfg)


@MODELS.register_module()
class ResNet18Cifar(_CifarResNetBase):
    """ResNet-18 for 32 x 32 inputs.

    Four stages of two basic blocks (64, 128, 256, 512 channels), a 3 x 3
    stride-1 stem, no max-pool, and 1 x 1 convolution + BN shortcuts where
    the shape changes. Returns logits.

    Args:
        num_classes (int): Defaults to 10.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 num_classes: int = 10,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__((64, 128, 256, 512), (2, 2, 2, 2), num_classes, 'B',
                         init_cfg)
