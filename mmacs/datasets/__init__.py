# Copyright (c) mmacs contributors. All rights reserved.
from .coreset_sampler import CoresetSampler, IndexSampler, coreset_size

__all__ = ['CoresetSampler', 'IndexSampler', 'coreset_size']
from .det_label_noise import NoisyDetDataset  # noqa: E402,F401
from .synthetic_shapes import SHAPE_CLASSES, make_synthetic_shapes  # noqa
