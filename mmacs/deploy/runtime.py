# Copyright (c) mmacs contributors. All rights reserved.
"""What onnxruntime's CPU provider makes of an exported graph: the kernels
it runs after its graph optimisations (QuantizeLinear -> Conv ->
QuantizeLinear chains fused into ``QLinearConv``, and so on)."""
import os.path as osp
import tempfile
from typing import Dict

from .onnx_export import graph_summary, onnx_session, require_onnx

#: Operators that run a convolution on integers.
INTEGER_CONV_OPS = ('QLinearConv', 'ConvInteger')
#: Operators that run a convolution on floats.
FLOAT_CONV_OPS = ('Conv', 'FusedConv', 'NhwcFusedConv')


def optimized_summary(model, threads: int = 1) -> Dict[str, int]:
    """Node counts by operator of the graph onnxruntime (CPU, all graph
    optimisations) runs for ``model`` (a ModelProto or a path), written
    through ``SessionOptions.optimized_model_filepath``."""
    onnx, ort = require_onnx()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory() as tmp:
        options.optimized_model_filepath = osp.join(tmp, 'optimized.onnx')
        onnx_session(model, options)
        return graph_summary(onnx.load(options.optimized_model_filepath))


def conv_kernels(summary: Dict[str, int]) -> Dict[str, int]:
    """``integer`` and ``float`` convolution counts of a node summary."""
    return dict(
        integer=sum(summary.get(op, 0) for op in INTEGER_CONV_OPS),
        float=sum(summary.get(op, 0) for op in FLOAT_CONV_OPS))
