# Copyright (c) mmacs contributors. All rights reserved.
"""Helpers the tools share: config edits, the shared-data location and the
benchmark device."""
from .config import quiet_epochs, shared_root
from .device import device_name, select_device

__all__ = ['quiet_epochs', 'shared_root', 'device_name', 'select_device']
