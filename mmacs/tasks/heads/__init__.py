# Copyright (c) mmacs contributors. All rights reserved.
"""Dense detection heads, seen per image: one file per family of heads."""
from .anchor_head import AnchorDenseHead
from .atss_head import ATSSDenseHead
from .base import (DenseHead, find_dense_head, soft_focal_distance,
                   teacher_distance)
from .fcos_head import FCOSDenseHead

__all__ = [
    'DenseHead', 'AnchorDenseHead', 'ATSSDenseHead', 'FCOSDenseHead',
    'find_dense_head',
    'soft_focal_distance', 'teacher_distance'
]
