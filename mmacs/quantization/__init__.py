# Copyright (c) mmacs contributors. All rights reserved.
from .calibration import (calibrate, compare_step_inits,
                          uninitialized_quantizers)
from .convert import (dequantize_model, frozen_quantized_weights,
                      named_quantizers, quantize_model, quantizer_summary)
from .fold_bn import (FoldedBatchNorm2d, QConvBn2d, fold_bn, folded_convs,
                      freeze_bn_stats, unfold_bn)
from .lsq import (LSQ_IMPLS, LSQQuantizer, compiled_lsq, grad_scale,
                  lsq_quantize, lsq_quantize_reference, round_pass)
from .modules import QConv2d, QLinear, build_quantizer

__all__ = [
    'LSQQuantizer', 'LSQ_IMPLS', 'round_pass', 'grad_scale', 'lsq_quantize',
    'lsq_quantize_reference', 'compiled_lsq', 'QConv2d', 'QLinear',
    'build_quantizer', 'quantize_model', 'dequantize_model',
    'named_quantizers', 'quantizer_summary', 'frozen_quantized_weights',
    'calibrate', 'compare_step_inits', 'uninitialized_quantizers',
    'QConvBn2d', 'FoldedBatchNorm2d', 'fold_bn', 'unfold_bn', 'folded_convs',
    'freeze_bn_stats'
]
