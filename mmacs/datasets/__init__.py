# Copyright (c) mmacs contributors. All rights reserved.
from .coreset_sampler import (CoresetSampler, IndexSampler, clear_partial_pass,
                              coreset_size, find_coreset_sampler, set_coreset)

__all__ = [
    'CoresetSampler', 'IndexSampler', 'clear_partial_pass', 'coreset_size',
    'find_coreset_sampler', 'set_coreset'
]
from .det_label_noise import NoisyDetDataset  # noqa: E402,F401
from .synthetic_shapes import SHAPE_CLASSES, make_synthetic_shapes  # noqa
