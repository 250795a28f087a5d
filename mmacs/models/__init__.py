# Copyright (c) mmacs contributors. All rights reserved.
from .qat_model import DEFAULT_FP_LAYERS, QATModel

__all__ = ['QATModel', 'DEFAULT_FP_LAYERS']
