# Copyright (c) mmacs contributors. All rights reserved.
"""Deployment: ONNX export of the quantized student (needs the ``deploy``
extra: ``pip install -e .[deploy]``; imported only on use)."""
from .onnx_export import (DEFAULT_OPSET, ExportQuantizer, check_exportable,
                          compare_outputs, export_onnx, graph_summary,
                          lower_placeholders, onnx_session, qdq_type,
                          require_onnx, run_onnx)

__all__ = [
    'DEFAULT_OPSET', 'ExportQuantizer', 'check_exportable', 'export_onnx',
    'lower_placeholders', 'qdq_type', 'require_onnx', 'onnx_session',
    'run_onnx', 'compare_outputs', 'graph_summary'
]
