# Copyright (c) mmacs contributors. All rights reserved.
"""Image classification: datasets, transforms, CIFAR networks, a
classifier and the accuracy metric, registered in mmdet's registries."""
from .data_preprocessor import (BatchRandomCropPad, BatchRandomFlip,
                                ClsDataPreprocessor)
from .data_sample import ClsDataSample
from .datasets import (BaseClsDataset, CIFARDataset, ImageFolderDataset,
                       apply_label_noise, check_label_noise, split_indices)
from .metrics import Accuracy
from .models import (CifarResNet, ImageClassifier, MobileNetV2Cifar,
                     ResNet18Cifar)
from .transforms import LoadClsImage, PackClsInputs, RandomCropPad

__all__ = [
    'BatchRandomCropPad', 'BatchRandomFlip', 'ClsDataPreprocessor',
    'ClsDataSample', 'BaseClsDataset', 'CIFARDataset', 'ImageFolderDataset',
    'apply_label_noise', 'check_label_noise', 'split_indices', 'Accuracy',
    'CifarResNet', 'ImageClassifier', 'MobileNetV2Cifar', 'ResNet18Cifar',
    'LoadClsImage', 'PackClsInputs', 'RandomCropPad'
]
