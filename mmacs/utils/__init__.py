# Copyright (c) mmacs contributors. All rights reserved.
"""Helpers the tools share: config edits and the shared-data location."""
from .config import quiet_epochs, shared_root

__all__ = ['quiet_epochs', 'shared_root']
