# Copyright (c) mmacs contributors. All rights reserved.
from .qat_model import DEFAULT_FP_LAYERS, QATModel, find_qat_model

__all__ = ['QATModel', 'DEFAULT_FP_LAYERS', 'find_qat_model']
