# Copyright (c) mmacs contributors. All rights reserved.
"""MobileNetV2 for 32 x 32 inputs."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a multiple of ``divisor``, losing at most 10%.
    """
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


class InvertedResidual(nn.Module):
    """Expand (1 x 1), depthwise 3 x 3, project (1 x 1, linear); identity
    shortcut when the shape is kept.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the depthwise convolution.
        expand_ratio (int): Hidden channels / input channels.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: int) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.use_shortcut = stride == 1 and in_channels == out_channels
        layers = []
        if expand_ratio != 1:
            layers += [
                nn.Conv2d(in_channels, hidden, 1, bias=False),
                nn.BatchNorm2d(hidden),
                nn.ReLU6(inplace=True)
            ]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels)
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_shortcut else out


@MODELS.register_module()
class MobileNetV2Cifar(BaseModule):
    """MobileNetV2 (Sandler et al., 2018) adapted to CIFAR.

    The stem is a stride-1 3 x 3 convolution and the second bottleneck
    stage keeps stride 1, so a 32 x 32 input reaches the last stage at
    4 x 4. Modules: ``conv1``/``bn1`` (stem), ``layers``, ``conv2``/``bn2``
    (the 1 x 1 to 1280 channels) and ``linear``. Returns logits.

    Args:
        num_classes (int): Defaults to 10.
        widen_factor (float): The width multiplier. Defaults to 1.0.
        init_cfg (dict, optional): Defaults to None.
    """

    #: (expand_ratio, channels, blocks, stride) of each stage.
    ARCH = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
            (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self,
                 num_classes: int = 10,
                 widen_factor: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if type(num_classes) is not int or num_classes < 1:
            raise ValueError(
                f'num_classes must be an int >= 1, got {num_classes!r}')
        if type(widen_factor) not in (int, float) or widen_factor <= 0:
            raise ValueError(f'widen_factor must be > 0, got {widen_factor!r}')
        self.num_classes = num_classes
        self.widen_factor = widen_factor
        in_channels = make_divisible(32 * widen_factor)
        self.conv1 = nn.Conv2d(3, in_channels, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        layers = []
        for expand_ratio, channels, blocks, stride in self.ARCH:
            out_channels = make_divisible(channels * widen_factor)
            for i in range(blocks):
                layers.append(
                    InvertedResidual(in_channels, out_channels,
                                     stride if i == 0 else 1, expand_ratio))
                in_channels = out_channels
        self.layers = nn.Sequential(*layers)
        last = make_divisible(1280 * max(1.0, widen_factor))
        self.conv2 = nn.Conv2d(in_channels, last, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(last)
        self.linear = nn.Linear(last, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out')
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu6(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.relu6(self.bn2(self.conv2(x)))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))
