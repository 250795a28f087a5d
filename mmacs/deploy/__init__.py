# Copyright (c) mmacs contributors. All rights reserved.
"""Deployment: ONNX export of the quantized student (needs the ``deploy``
extra: ``pip install -e .[deploy]``; imported only on use)."""
from .end2end import (END2END_OUTPUTS, add_postprocess, export_end2end,
                      postprocess_params)
from .onnx_export import (DEFAULT_OPSET, VERIFY_TOLERANCE, ExportQuantizer,
                          check_exportable, compare_outputs, export_float_onnx,
                          export_onnx, export_qat_model, graph_summary,
                          lower_placeholders, onnx_session, output_names,
                          qdq_type, require_onnx, run_onnx, verify_onnx)
from .qat_checkpoint import load_qat_config, load_qat_model
from .runtime import conv_kernels, optimized_summary

__all__ = [
    'DEFAULT_OPSET', 'ExportQuantizer', 'check_exportable', 'export_onnx',
    'lower_placeholders', 'qdq_type', 'require_onnx', 'onnx_session',
    'run_onnx', 'compare_outputs', 'graph_summary', 'export_qat_model',
    'verify_onnx', 'output_names', 'export_float_onnx', 'VERIFY_TOLERANCE',
    'load_qat_config', 'load_qat_model', 'END2END_OUTPUTS',
    'add_postprocess', 'export_end2end', 'postprocess_params',
    'optimized_summary', 'conv_kernels'
]
