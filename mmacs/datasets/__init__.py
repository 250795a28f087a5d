# Copyright (c) mmacs contributors. All rights reserved.
from .coreset_sampler import CoresetSampler, coreset_size

__all__ = ['CoresetSampler', 'coreset_size']
