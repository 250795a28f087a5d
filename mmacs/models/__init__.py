# Copyright (c) mmacs contributors. All rights reserved.
from .adapters import ClassificationAdapter, DetectionAdapter
from .dense_heads import soft_focal_distance, teacher_distance
from .qat_model import DEFAULT_FP_LAYERS, QATModel

__all__ = [
    'QATModel', 'DEFAULT_FP_LAYERS', 'DetectionAdapter',
    'ClassificationAdapter', 'soft_focal_distance', 'teacher_distance'
]
