# Copyright (c) mmacs contributors. All rights reserved.
"""Data transforms of classification: load, pad-and-crop, pack.

For horizontal flips use the registered ``RandomFlip`` (``dict(
type='RandomFlip', prob=0.5)``), which flips ``results['img']``.
"""
from numbers import Number
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmcv.transforms.utils import cache_randomness
from mmdet.registry import TRANSFORMS

from .data_sample import ClsDataSample


@TRANSFORMS.register_module()
class LoadClsImage(LoadImageFromFile):
    """Load ``results['img_path']`` as an RGB ``HWC`` uint8 image, unless
    ``results['img']`` is already there (in-memory datasets such as CIFAR),
    which is passed through. A file that cannot be read or decoded raises
    an ``OSError`` naming it.

    Sets ``img``, ``img_shape`` and ``ori_shape``. The arguments are those
    of :class:`mmcv.transforms.LoadImageFromFile` (``color_type``,
    ``imdecode_backend``, ``backend_args``, ...).
    """

    def transform(self, results: dict) -> Optional[dict]:
        if results.get('img') is None:
            path = results.get('img_path')
            try:
                results = super().transform(results)
            except Exception as e:
                raise OSError(f'cannot read image {path!r}: {e}') from e
            if results is None:
                return None
            if results['img'].ndim == 3:
                results['img'] = mmcv.bgr2rgb(results['img'])
        results.setdefault('img_shape', results['img'].shape[:2])
        results.setdefault('ori_shape', results['img'].shape[:2])
        return results


@TRANSFORMS.register_module()
class RandomCropPad(BaseTransform):
    """Pad ``padding`` pixels on every side, then crop a random window of
    the original size (the standard CIFAR augmentation).

    Args:
        padding (int): Pixels added on each side. Defaults to 4.
        pad_val (Number | Sequence[Number]): The fill value of 'constant'
            padding. Defaults to 0.
        padding_mode (str): 'constant', 'edge', 'reflect' or 'symmetric'.
            Defaults to 'constant'.
    """

    def __init__(self,
                 padding: int = 4,
                 pad_val: Union[Number, Sequence[Number]] = 0,
                 padding_mode: str = 'constant') -> None:
        if type(padding) is not int or padding < 0:
            raise ValueError(f'padding must be an int >= 0, got {padding!r}')
        modes = ('constant', 'edge', 'reflect', 'symmetric')
        if padding_mode not in modes:
            raise ValueError(f'padding_mode must be one of {modes}, got '
                             f'{padding_mode!r}')
        self.padding = padding
        self.pad_val = pad_val
        self.padding_mode = padding_mode

    @cache_randomness
    def _offset(self) -> Tuple[int, int]:
        return tuple(np.random.randint(0, 2 * self.padding + 1, size=2))

    def transform(self, results: dict) -> dict:
        if self.padding == 0:
            return results
        img = results['img']
        h, w = img.shape[:2]
        padded = mmcv.impad(
            img,
            padding=self.padding,
            pad_val=self.pad_val,
            padding_mode=self.padding_mode)
        top, left = self._offset()
        results['img'] = padded[top:top + h, left:left + w]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(padding={self.padding}, '
                f'pad_val={self.pad_val}, '
                f"padding_mode='{self.padding_mode}')")


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """Pack an image and its label for a classifier.

    Returns ``dict(inputs, data_samples)``: ``inputs`` is the image as a
    ``CHW`` uint8 tensor (channel order unchanged), ``data_samples`` a
    :class:`ClsDataSample` with ``gt_label`` (when ``results`` has one) and
    the metainfo named in ``meta_keys`` that ``results`` holds.
    ``sample_idx`` (the dataset index) is always carried when present.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults
            to ``('sample_idx', 'img_path', 'ori_shape', 'img_shape',
            'flip', 'flip_direction')``.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'ori_shape',
                                    'img_shape', 'flip', 'flip_direction')
    ) -> None:
        if isinstance(meta_keys, str):
            raise TypeError('meta_keys must be a sequence of keys, got '
                            f'{meta_keys!r}')
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = ClsDataSample()
        if results.get('gt_label') is not None:
            sample.gt_label = results['gt_label']
        keys = self.meta_keys if 'sample_idx' in self.meta_keys else (
            'sample_idx', ) + self.meta_keys
        meta = {k: results[k] for k in keys if k in results}
        if 'img_shape' in keys:
            meta['img_shape'] = tuple(img.shape[:2])
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
