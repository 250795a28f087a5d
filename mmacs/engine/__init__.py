# Copyright (c) mmacs contributors. All rights reserved.
from .bn_freeze_hook import BNFreezeHook
from .calibration_hook import QATCalibrationHook
from .checkpoint_safety import allow_checkpoint_globals
from .coreset_hook import CoresetSelectionHook
from .optim_constructor import QATOptimWrapperConstructor
from .random_state_hook import RandomStateHook
from .runner import QATRunner, expand_mmacs_cfg, release_process_group

__all__ = [
    'QATCalibrationHook', 'CoresetSelectionHook', 'allow_checkpoint_globals',
    'QATRunner', 'expand_mmacs_cfg', 'QATOptimWrapperConstructor',
    'release_process_group', 'RandomStateHook', 'BNFreezeHook'
]
