# Copyright (c) mmacs contributors. All rights reserved.
"""Helpers of mmacs's tests (as ``mmdet.testing``): repository and shared
data paths, small CPU configs, a toy task for real Runner runs, small
RetinaNet, FCOS and ATSS QAT models and fake datasets. Not imported by
``mmacs``."""
from mmacs.utils import repo_path
from ._data import CLASSES10, make_cifar, make_images
from ._det import (atss_cfg, build_qat, det_batch, fcos_cfg, mmdet_model_cfg,
                   retinanet_cfg)
from ._paths import (CIFAR_JPEG, REPO, SHARED, TINY_COCO, WEIGHTS, load_tool,
                     need_shared)
from ._tiny_coco import small_det_pipelines, tiny_coco_cfg
from .toy import toy_cfg

__all__ = [
    'CLASSES10', 'make_cifar', 'make_images', 'build_qat', 'det_batch',
    'atss_cfg', 'fcos_cfg', 'mmdet_model_cfg', 'retinanet_cfg',
    'CIFAR_JPEG', 'REPO', 'SHARED', 'TINY_COCO', 'WEIGHTS', 'load_tool',
    'need_shared', 'repo_path', 'small_det_pipelines', 'tiny_coco_cfg',
    'toy_cfg'
]
