# Copyright (c) mmacs contributors. All rights reserved.
from .base import BaseClsDataset
from .cifar import CIFARDataset
from .image_folder import ImageFolderDataset
from .label_noise import apply_label_noise, check_label_noise
from .splits import split_indices

__all__ = [
    'BaseClsDataset', 'CIFARDataset', 'ImageFolderDataset',
    'apply_label_noise', 'check_label_noise', 'split_indices'
]
