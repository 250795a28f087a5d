# Copyright (c) mmacs contributors. All rights reserved.
"""Batch-level training augmentation of small images, in the data
preprocessor (mmdet's ``batch_augments`` idea).

Per-sample augmentation in worker processes costs more than the network
on 32-pixel images; done on the whole batch as tensor ops, on the device
the batch lives on, it costs next to nothing. The random draws come from
torch's generator of that device (seeded by the runner's ``randomness``).
"""
from numbers import Number
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import ImgDataPreprocessor
from torch import Tensor

from mmacs.utils.checks import check_fraction, is_number


@MODELS.register_module()
class BatchRandomCropPad(nn.Module):
    """Pad ``padding`` pixels on every side of each image, then crop a
    random window of the original size (its own offset per image): the
    batch form of :class:`~mmacs.classification.RandomCropPad`
    ('constant' padding).

    Args:
        padding (int): Pixels added on each side. Defaults to 4.
        pad_val (Number): The fill value, in the input's units (raw pixels
            before normalisation). Defaults to 0.
    """

    def __init__(self, padding: int = 4, pad_val: Number = 0) -> None:
        super().__init__()
        if type(padding) is not int or padding < 0:
            raise ValueError(f'padding must be an int >= 0, got {padding!r}')
        if not is_number(pad_val):
            raise TypeError(f'pad_val must be a number, got {pad_val!r}')
        self.padding = padding
        self.pad_val = pad_val

    def forward(self, inputs: Tensor,
                data_samples: Optional[list] = None) -> Tuple[Tensor, list]:
        p = self.padding
        if p == 0:
            return inputs, data_samples
        b, _, h, w = inputs.shape
        padded = F.pad(inputs, (p, p, p, p), value=self.pad_val)
        dev = inputs.device
        top = torch.randint(0, 2 * p + 1, (b, 1), device=dev)
        left = torch.randint(0, 2 * p + 1, (b, 1), device=dev)
        rows = (top + torch.arange(h, device=dev))[:, :, None]  # [B, H, 1]
        cols = (left + torch.arange(w, device=dev))[:, None, :]  # [B, 1, W]
        batch = torch.arange(b, device=dev)[:, None, None]
        # Advanced indices around a slice: the result is [B, H, W, C].
        out = padded[batch, :, rows, cols].permute(0, 3, 1, 2)
        return out.contiguous(), data_samples

    def extra_repr(self) -> str:
        return f'padding={self.padding}, pad_val={self.pad_val}'


@MODELS.register_module()
class BatchRandomFlip(nn.Module):
    """Flip each image horizontally with probability ``prob`` (drawn per
    image): the batch form of ``RandomFlip(prob, 'horizontal')``.

    Args:
        prob (float): The flip probability in ``[0, 1]``. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        super().__init__()
        self.prob = float(check_fraction(prob, 'prob'))

    def forward(self, inputs: Tensor,
                data_samples: Optional[list] = None) -> Tuple[Tensor, list]:
        flip = torch.rand(inputs.shape[0], device=inputs.device) < self.prob
        out = torch.where(flip[:, None, None, None], inputs.flip(-1), inputs)
        return out, data_samples

    def extra_repr(self) -> str:
        return f'prob={self.prob}'


@MODELS.register_module()
class ClsDataPreprocessor(ImgDataPreprocessor):
    """mmengine's ``ImgDataPreprocessor`` with batch augmentation.

    In training (``training=True``) the batch is stacked and passed through
    ``batch_augments`` (each ``(inputs, data_samples) -> (inputs,
    data_samples)``) *before* the float conversion and normalisation, so
    they see raw pixels as the per-sample transforms do; evaluation and the
    clean scoring pass are untouched.

    Args:
        batch_augments (list[dict], optional): Configs of the batch
            augmentations, e.g. ``[dict(type='BatchRandomCropPad',
            padding=4), dict(type='BatchRandomFlip', prob=0.5)]``. Defaults
            to None.
        **kwargs: The arguments of ``ImgDataPreprocessor`` (``mean``,
            ``std``, ``bgr_to_rgb``, ...).
    """

    def __init__(self,
                 batch_augments: Optional[List[dict]] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if batch_augments is not None and not isinstance(
                batch_augments, (list, tuple)):
            raise TypeError('batch_augments must be a list of configs, got '
                            f'{batch_augments!r}')
        self.batch_augments = nn.ModuleList(
            [MODELS.build(cfg) for cfg in batch_augments or []])

    def forward(self, data: dict, training: bool = False) -> dict:
        if training and len(self.batch_augments):
            data = self.cast_data(data)
            inputs = data['inputs']
            if not isinstance(inputs, Tensor):
                shapes = {tuple(x.shape) for x in inputs}
                if len(shapes) != 1:
                    raise ValueError(
                        'batch_augments need images of one size in a '
                        f'batch, got shapes {sorted(shapes)}')
                inputs = torch.stack(list(inputs))
            samples = data.get('data_samples')
            for aug in self.batch_augments:
                inputs, samples = aug(inputs, samples)
            data = dict(data, inputs=inputs, data_samples=samples)
        return super().forward(data, training)
