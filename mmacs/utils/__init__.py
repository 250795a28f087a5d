# Copyright (c) mmacs contributors. All rights reserved.
"""Helpers the package and the tools share: argument checks, config edits,
the shared-data location and the benchmark device."""
from .checks import check_fraction, check_int, check_number, is_int, is_number
from .config import quiet_epochs, shared_root
from .device import device_name, select_device

__all__ = [
    'check_fraction', 'check_int', 'check_number', 'is_int', 'is_number',
    'quiet_epochs', 'shared_root', 'device_name', 'select_device']
