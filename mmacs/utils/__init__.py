# Copyright (c) mmacs contributors. All rights reserved.
"""Helpers the package and its tools share: argument checks, config edits,
the repository and shared-data locations, and the device."""
from .checks import check_fraction, check_int, check_number, is_int, is_number
from .config import (REPO_ROOT, innermost_dataset, repo_path,
                     set_coco_data_root, set_epochs, shared_root)
from .device import device_name, select_device

__all__ = [
    'check_fraction', 'check_int', 'check_number', 'is_int', 'is_number',
    'REPO_ROOT', 'innermost_dataset', 'repo_path', 'set_coco_data_root',
    'set_epochs',
    'shared_root', 'device_name', 'select_device'
]
