# Copyright (c) mmacs contributors. All rights reserved.
"""A single-label image classifier for the mmengine runner."""
import copy
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModel
from torch import Tensor

from ..data_sample import ClsDataSample


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """A network that maps images to logits, trained with cross-entropy.

    The network is built from ``backbone`` and kept at ``self.backbone``,
    so its parameters are named ``backbone.*`` (checkpoints saved without
    the prefix load with ``revise_keys=[(r'^module\\.', 'backbone.')]``).

    Args:
        backbone (dict): The network config, e.g. ``dict(type='CifarResNet',
            depth=20, num_classes=10)``; it must return ``[B, C]`` logits.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='ImgDataPreprocessor')`` (float conversion only).
        label_smoothing (float): Label smoothing of the cross-entropy, in
            ``[0, 1)``. Defaults to 0.0.
        init_cfg (dict, optional): Defaults to None.

    Examples:
        >>> model = ImageClassifier(
        ...     backbone=dict(type='CifarResNet', depth=20),
        ...     data_preprocessor=dict(
        ...         type='ImgDataPreprocessor',
        ...         mean=[125.3, 123.0, 113.9], std=[63.0, 62.1, 66.7]))
    """

    def __init__(self,
                 backbone: dict,
                 data_preprocessor: Optional[dict] = None,
                 label_smoothing: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ImgDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if type(label_smoothing) not in (int, float) or not \
                0 <= label_smoothing < 1:
            raise ValueError('label_smoothing must be a number in [0, 1), '
                             f'got {label_smoothing!r}')
        if not isinstance(backbone, dict):
            raise TypeError(f'backbone must be a config dict, got '
                            f'{backbone!r}')
        self.backbone = MODELS.build(copy.deepcopy(backbone))
        self.label_smoothing = float(label_smoothing)

    def extract_logits(self, inputs: Tensor) -> Tensor:
        """``[B, C]`` logits of the preprocessed ``inputs``."""
        return self.backbone(inputs)

    def forward(
        self,
        inputs: Tensor,
        data_samples: Optional[List[ClsDataSample]] = None,
        mode: str = 'tensor'
    ) -> Union[Tensor, Dict[str, Tensor], List[ClsDataSample]]:
        """'tensor' gives logits, 'loss' ``dict(loss_cls)``, 'predict' the
        data samples with ``pred_score`` and ``pred_label`` set."""
        if mode == 'tensor':
            return self.extract_logits(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def loss(self, inputs: Tensor,
             data_samples: List[ClsDataSample]) -> Dict[str, Tensor]:
        """The cross-entropy to each sample's ``gt_label``."""
        if not data_samples:
            raise ValueError("mode='loss' needs the data samples with their "
                             'gt_label')
        logits = self.extract_logits(inputs)
        labels = torch.cat([s.gt_label
                            for s in data_samples]).to(logits.device)
        return dict(
            loss_cls=F.cross_entropy(
                logits, labels, label_smoothing=self.label_smoothing))

    def predict(
        self,
        inputs: Tensor,
        data_samples: Optional[List[ClsDataSample]] = None
    ) -> List[ClsDataSample]:
        """Softmax scores ``pred_score [C]`` and ``pred_label [1]`` on each
        data sample (new ones when ``data_samples`` is None)."""
        logits = self.extract_logits(inputs)
        if data_samples is None:
            data_samples = [ClsDataSample() for _ in range(len(logits))]
        scores = F.softmax(logits.detach().float(), dim=1)
        labels = scores.argmax(dim=1, keepdim=True)
        for sample, score, label in zip(data_samples, scores, labels):
            sample.pred_score = score
            sample.pred_label = label
        return data_samples
