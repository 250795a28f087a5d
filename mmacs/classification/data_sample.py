# Copyright (c) mmacs contributors. All rights reserved.
"""The data sample of single-label image classification."""
from numbers import Integral
from typing import Sequence, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

LabelType = Union[Tensor, np.ndarray, Sequence[int], int]


def format_label(value: LabelType) -> Tensor:
    """``value`` as a 1-D LongTensor (an int becomes shape ``[1]``)."""
    is_int = isinstance(value, (Integral, np.integer))
    if is_int and not isinstance(value, bool):
        return torch.tensor([int(value)], dtype=torch.long)
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        value = torch.tensor(list(value))
    if not isinstance(value, Tensor) or value.is_floating_point() or \
            value.dtype == torch.bool:
        raise TypeError('a label must be an int or an integer tensor, '
                        f'array or sequence, got {value!r}')
    return value.to(torch.long).flatten()


class ClsDataSample(BaseDataElement):
    """A classification sample: its label, metainfo and prediction.

    The data fields are:

    - ``gt_label`` (LongTensor ``[1]``): the (possibly noisy) label.
    - ``pred_score`` (Tensor ``[C]``): the softmax scores of a prediction.
    - ``pred_label`` (LongTensor ``[1]``): the predicted class.

    The metainfo holds ``sample_idx`` (the dataset index), ``img_shape``
    and whatever else the packing transform's ``meta_keys`` name.

    Examples:
        >>> sample = ClsDataSample(metainfo=dict(sample_idx=3))
        >>> sample.gt_label = 7
        >>> sample.gt_label
        tensor([7])
    """

    @property
    def gt_label(self) -> Tensor:
        return self._gt_label

    @gt_label.setter
    def gt_label(self, value: LabelType) -> None:
        self.set_field(format_label(value), '_gt_label', dtype=Tensor)

    @gt_label.deleter
    def gt_label(self) -> None:
        del self._gt_label

    @property
    def pred_label(self) -> Tensor:
        return self._pred_label

    @pred_label.setter
    def pred_label(self, value: LabelType) -> None:
        self.set_field(format_label(value), '_pred_label', dtype=Tensor)

    @pred_label.deleter
    def pred_label(self) -> None:
        del self._pred_label

    @property
    def pred_score(self) -> Tensor:
        return self._pred_score

    @pred_score.setter
    def pred_score(self, value: Union[Tensor, np.ndarray]) -> None:
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if not isinstance(value, Tensor) or value.dim() != 1:
            raise TypeError('pred_score must be a 1-D tensor of class '
                            f'scores, got {value!r}')
        self.set_field(value, '_pred_score', dtype=Tensor)

    @pred_score.deleter
    def pred_score(self) -> None:
        del self._pred_score
