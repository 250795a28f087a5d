# Copyright (c) mmacs contributors. All rights reserved.
"""mmacs: quantization-aware training with Adaptive Coreset Selection for
MMDetection / MMEngine.

Importing mmacs registers its models, samplers, hooks, datasets and metrics
in mmdet's registries and lets ``torch.load(weights_only=True)`` read
mmengine checkpoints (see :mod:`mmacs.engine.checkpoint_safety`).
"""
from . import classification  # noqa: F401
from . import coreset, datasets, engine, models, quantization  # noqa: F401
from .engine.checkpoint_safety import allow_checkpoint_globals
from .version import __version__

allow_checkpoint_globals()

__all__ = ['__version__']
