# Copyright (c) mmacs contributors. All rights reserved.
"""mmacs: quantization-aware training with Adaptive Coreset Selection for
MMDetection / MMEngine.

Importing mmacs registers what detection needs (the QAT model, runner,
hooks, sampler, datasets) in mmdet's registries, the ``mmacs::`` config
scope (:mod:`mmacs.config_scope`), and lets
``torch.load(weights_only=True)`` read mmengine checkpoints (an explicit
allow-list, :mod:`mmacs.engine.checkpoint_safety`). Classification is
opt-in: ``custom_imports = dict(imports=['mmacs.classification'])``.
"""
from . import coreset, datasets, engine, models, quantization  # noqa: F401
from .config_scope import register_config_scope
from .engine.checkpoint_safety import allow_checkpoint_globals
from .version import __version__

allow_checkpoint_globals()
register_config_scope()

__all__ = ['__version__']
