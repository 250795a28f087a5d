# Copyright (c) mmacs contributors. All rights reserved.
"""Export the LSQ-quantized student of a :class:`QATModel` to ONNX.

Every LSQ quantizer becomes a ``QuantizeLinear`` -> ``DequantizeLinear``
pair whose scale is the learned step (one per output channel for
per-channel weights, on axis 0) and whose zero point is 0, typed so that
the integer range of the quantizer's grid is kept exactly:

=========  ===========================  ====================================
bits       opset                        representation
=========  ===========================  ====================================
8          any (>= 13)                  INT8 / UINT8 Q -> DQ
4          >= 21                        INT4 / UINT4 Q -> DQ
4          13 - 20                      INT8 / UINT8 Q -> Clip(Qn, Qp) -> DQ
2, 3, 5-7  any (>= 13)                  INT8 / UINT8 Q -> Clip(Qn, Qp) -> DQ
=========  ===========================  ====================================

ONNX has INT2 / UINT2 since opset 25, but onnxruntime 1.32 cannot
constant-fold a ``QuantizeLinear`` of a weight to INT2 (session creation
fails with "Element type mismatch"), so 2-bit grids use the INT8 form.

Signed grids ``[-2^(b-1), 2^(b-1) - 1]`` use the signed types, unsigned
grids ``[0, 2^b - 1]`` the unsigned ones. The INT8 form with an integer
``Clip`` is exact: ``QuantizeLinear`` computes ``sat(round(x / s))`` (round
half to even, as ``torch.round``) and clipping an integer to ``[Qn, Qp]``
equals rounding the clamped value, because rounding is monotonic and
leaves the integer bounds in place.

The graph holds the student's ``tensor``-mode forward and nothing more:
for a detector the per-level classification and box maps of its dense head
(no decoding, no NMS: :meth:`predict_by_feat` runs outside), for a
classifier the logits. Its input is the preprocessed batch (what the
model's data preprocessor produces: normalised, padded, RGB). Layers kept
in full precision stay float.

The export runs torch's TorchScript-based exporter (``dynamo=False``): it
lets an ``autograd.Function`` emit a placeholder node with the quantizer's
attributes, which this module then lowers to Q/DQ nodes after converting
the graph to the requested opset (the TorchScript exporter stops at opset
20; ``onnx.version_converter`` takes it further).
"""
import copy
import io
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmacs.quantization import LSQQuantizer, QConv2d, QLinear
from mmacs.quantization.convert import named_quantizers
from mmacs.tasks import get_task

#: The opset the TorchScript exporter writes before conversion.
TORCHSCRIPT_MAX_OPSET = 20
#: The lowest opset with per-channel QuantizeLinear (``axis``).
MIN_OPSET = 13
DEFAULT_OPSET = 21
#: The largest max abs output difference between onnxruntime and the
#: PyTorch fake-quant student that :func:`verify_onnx` accepts, relative to
#: the largest output (README, "Deploy": why).
VERIFY_TOLERANCE = 0.05
#: The largest difference (in steps) :func:`verify_onnx` accepts between a
#: Q/DQ pair and its LSQ quantizer on the same input.
QUANTIZER_TOLERANCE = 1e-3
#: The placeholder node the export emits for one LSQ quantizer.
PLACEHOLDER_DOMAIN = 'mmacs'
PLACEHOLDER_OP = 'LSQFakeQuant'


def require_onnx():
    """Import ``onnx`` and ``onnxruntime``, or say how to install them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise ImportError(
            f'ONNX export needs onnx and onnxruntime ({e}): install them '
            "with `pip install -e .[deploy]`") from e
    return onnx, onnxruntime


def qdq_type(bits: int, signed: bool, opset: int) -> Tuple[str, bool]:
    """The ONNX integer type of a ``bits``-bit grid, and whether an
    integer ``Clip`` to the grid is needed after ``QuantizeLinear``.

    Args:
        bits (int): The quantizer's bit width, 2 to 8.
        signed (bool): Whether the grid is signed.
        opset (int): The target opset.

    Returns:
        tuple: (``'INT4'``, ``'UINT8'``, ..., needs_clip).
    """
    if not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f'bits must be an int in [2, 8], got {bits!r}')
    if opset < MIN_OPSET:
        raise ValueError(f'opset must be >= {MIN_OPSET} (per-channel '
                         f'QuantizeLinear), got {opset!r}')
    prefix = 'INT' if signed else 'UINT'
    if bits == 8:
        return prefix + '8', False
    if bits == 4 and opset >= 21:
        return prefix + '4', False
    return prefix + '8', True


class _LSQExportFunction(torch.autograd.Function):
    """Fake quantization from a quantizer's attributes; exported as one
    placeholder node that :func:`lower_placeholders` turns into Q/DQ.

    The step travels as a list of floats (its exact float32 values), so
    the placeholder carries it as an attribute whatever the exporter does
    with parameters.
    """

    @staticmethod
    def forward(ctx, x, scale, bits, qn, qp, axis, name):
        step = torch.tensor(scale, dtype=x.dtype, device=x.device)
        if axis >= 0:
            shape = [1] * x.dim()
            shape[axis] = -1
            step = step.reshape(shape)
        return torch.clamp(torch.round(x / step), qn, qp) * step

    @staticmethod
    def symbolic(g, x, scale, bits, qn, qp, axis, name):
        out = g.op(
            f'{PLACEHOLDER_DOMAIN}::{PLACEHOLDER_OP}',
            x,
            scale_f=scale,
            bits_i=bits,
            qn_i=qn,
            qp_i=qp,
            axis_i=axis,
            name_s=name)
        out.setType(x.type())
        return out


class ExportQuantizer(nn.Module):
    """Stands in for an :class:`LSQQuantizer` during export.

    Built from the quantizer's public attributes (``step``, ``bits``,
    ``qn``, ``qp``, ``per_channel``, ``ch_axis``), never from its forward.
    """

    def __init__(self, quantizer: LSQQuantizer, name: str) -> None:
        super().__init__()
        self.scale = [float(v) for v in
                      quantizer.step.detach().float().cpu().flatten()]
        self.bits = quantizer.bits
        self.qn, self.qp = quantizer.qn, quantizer.qp
        self.per_channel = quantizer.per_channel
        self.ch_axis = quantizer.ch_axis
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        axis = self.ch_axis % x.dim() if self.per_channel else -1
        return _LSQExportFunction.apply(x, self.scale, self.bits, self.qn,
                                        self.qp, axis, self.name)


class _TensorForward(nn.Module):
    """The student's ``tensor``-mode forward with a flat tuple of outputs.
    """

    def __init__(self, student: nn.Module, task: str) -> None:
        super().__init__()
        self.student = student
        self.task = task

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        return get_task(self.task).export_outputs(self.student, inputs)


def output_names(task: str, num_outputs: int) -> List[str]:
    """``logits``, or ``cls_score_<level>`` and ``bbox_pred_<level>``."""
    return get_task(task).output_names(num_outputs)


def check_exportable(student: nn.Module) -> List[str]:
    """Check every quantizer and layer of ``student`` before export.

    Raises:
        RuntimeError: A quantizer is uncalibrated or still calibrating.
        ValueError: A quantizer's step is not finite and positive.
        TypeError: A quantizer sits in a layer other than ``QConv2d`` /
            ``QLinear``, or a layer has no standard ONNX operator (mmcv's
            compiled ops).

    Returns:
        list[str]: The names of the quantizers.
    """
    names = []
    for name, module in student.named_modules():
        kind = type(module)
        if kind.__module__.startswith('mmcv.ops'):
            raise TypeError(
                f'layer {name!r} ({kind.__name__}, from mmcv.ops) has no '
                'standard ONNX operator: it cannot be exported')
        children = [c for c in module.children()
                    if isinstance(c, LSQQuantizer)]
        if children and not isinstance(module, (QConv2d, QLinear)):
            raise TypeError(
                f'layer {name!r} ({kind.__name__}) holds an LSQ quantizer '
                'but only QConv2d and QLinear layers can be exported')
    for name, q in named_quantizers(student):
        if q.calibrating or not q.is_initialized:
            raise RuntimeError(
                f'LSQ quantizer {name!r} is not calibrated: export a '
                'checkpoint of a calibrated (trained) QAT model')
        step = q.step.detach()
        if not bool(torch.isfinite(step).all()) or bool((step <= 0).any()):
            raise ValueError(
                f'LSQ quantizer {name!r} has a step that is not finite and '
                f'positive (min {float(step.min())}): it cannot be a '
                'QuantizeLinear scale')
        names.append(name)
    if not names:
        raise ValueError('the model holds no LSQ quantizer: export the '
                         'student of a QATModel')
    return names


def export_student(student: nn.Module, task: str) -> nn.Module:
    """A copy of ``student`` (eval mode) whose quantizers are
    :class:`ExportQuantizer` modules, wrapped for a flat output tuple."""
    check_exportable(student)
    student = copy.deepcopy(student).eval()
    for name, q in list(named_quantizers(student)):
        parent_name, _, child = name.rpartition('.')
        parent = student.get_submodule(parent_name)
        setattr(parent, child, ExportQuantizer(q, name))
    for m in student.modules():
        if isinstance(m, (QConv2d, QLinear)):
            m.frozen_weight = None
    return _TensorForward(student, task)


def lower_placeholders(model, opset: int):
    """Replace every placeholder node by ``QuantizeLinear`` ->
    (``Clip`` ->) ``DequantizeLinear`` (see the module docstring).

    Args:
        model (onnx.ModelProto): The converted graph, modified in place.
        opset (int): Its opset.

    Returns:
        dict: quantizer name -> ``dict(type, clip, bits, qn, qp,
        per_channel, calls)``: ``type`` the zero point's ONNX type name,
        ``calls`` the Q/DQ pairs of the quantizer (a layer shared by the
        pyramid levels is called once per level).
    """
    require_onnx()
    from onnx import TensorProto, helper
    graph = model.graph
    nodes, lowered = [], {}
    for node in graph.node:
        if node.domain != PLACEHOLDER_DOMAIN:
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a)
                 for a in node.attribute}
        bits, qn, qp = attrs['bits'], attrs['qn'], attrs['qp']
        axis, name = attrs['axis'], attrs['name'].decode()
        scale = [float(v) for v in attrs['scale']]
        type_name, clip = qdq_type(bits, qn < 0, opset)
        dtype = getattr(TensorProto, type_name)
        # A layer shared between calls (a dense head over pyramid levels)
        # gives one node per call; its scale and zero point are shared.
        seen = lowered.get(name)
        suffix = f'_{seen["calls"]}' if seen else ''
        if seen is None:
            # Per-tensor: scalar scale and zero point; per-channel: 1-D.
            dims = [len(scale)] if axis >= 0 else []
            graph.initializer.extend([
                helper.make_tensor(f'{name}.scale', TensorProto.FLOAT, dims,
                                   scale),
                helper.make_tensor(f'{name}.zero_point', dtype, dims,
                                   [0] * len(scale))
            ])
            if clip:
                graph.initializer.extend([
                    helper.make_tensor(f'{name}.qmin', dtype, [], [qn]),
                    helper.make_tensor(f'{name}.qmax', dtype, [], [qp])
                ])
            seen = lowered[name] = dict(
                type=type_name,
                clip=clip,
                bits=bits,
                qn=qn,
                qp=qp,
                per_channel=axis >= 0,
                calls=0)
        seen['calls'] += 1
        kwargs = dict(axis=axis) if axis >= 0 else {}
        qdq_inputs = [f'{name}.scale', f'{name}.zero_point']
        q_out = f'{name}.quantized{suffix}'
        nodes.append(
            helper.make_node(
                'QuantizeLinear', [node.input[0]] + qdq_inputs, [q_out],
                name=f'{name}/QuantizeLinear{suffix}',
                **kwargs))
        if clip:
            nodes.append(
                helper.make_node(
                    'Clip', [q_out, f'{name}.qmin', f'{name}.qmax'],
                    [f'{name}.clipped{suffix}'],
                    name=f'{name}/Clip{suffix}'))
            q_out = f'{name}.clipped{suffix}'
        nodes.append(
            helper.make_node(
                'DequantizeLinear', [q_out] + qdq_inputs, [node.output[0]],
                name=f'{name}/DequantizeLinear{suffix}',
                **kwargs))
    del graph.node[:]
    graph.node.extend(nodes)
    imports = [o for o in model.opset_import
               if o.domain != PLACEHOLDER_DOMAIN]
    del model.opset_import[:]
    model.opset_import.extend(imports)
    return lowered


def _torchscript_export(wrapper: nn.Module, inputs: Tensor,
                        names: List[str], dynamic_axes: Optional[dict],
                        opset: int):
    """torch's TorchScript-based exporter (``dynamo=False``) to a
    ModelProto."""
    onnx, _ = require_onnx()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')
        try:
            torch.onnx.export(
                wrapper, (inputs, ),
                buf,
                dynamo=False,
                opset_version=opset,
                input_names=['inputs'],
                output_names=names,
                dynamic_axes=dynamic_axes)
        except torch.onnx.errors.OnnxExporterError as e:
            raise RuntimeError(
                f'ONNX export failed on an operator of the model: {e}') from e
    return onnx.load_from_string(buf.getvalue())


def _dynamic_axes(task: str, names: List[str]) -> dict:
    axes = {'inputs': {0: 'batch', 2: 'height', 3: 'width'}}
    for n in names:
        axes[n] = get_task(task).output_axes(n)
    return axes


def export_float_onnx(model: nn.Module,
                      task: str,
                      inputs: Tensor,
                      out_file: Optional[str] = None,
                      opset: int = TORCHSCRIPT_MAX_OPSET):
    """Export a full-precision model (e.g. ``QATModel.teacher``) the same
    way, without quantizers: the float reference of a quantized export.

    Returns:
        onnx.ModelProto: The exported model.
    """
    onnx, _ = require_onnx()
    wrapper = _TensorForward(copy.deepcopy(model).eval(), task)
    inputs = inputs.to(next(wrapper.parameters()).device)
    with torch.no_grad():
        names = output_names(task, len(wrapper(inputs)))
    model = _torchscript_export(wrapper, inputs, names,
                                _dynamic_axes(task, names),
                                min(opset, TORCHSCRIPT_MAX_OPSET))
    if out_file is not None:
        onnx.save(model, out_file)
    return model


def export_onnx(student: nn.Module,
                task: str,
                inputs: Tensor,
                out_file: Optional[str] = None,
                opset: int = DEFAULT_OPSET,
                dynamic: bool = True):
    """Export a quantized student to ONNX with Q/DQ nodes.

    Args:
        student (nn.Module): ``QATModel.student`` (its quantizers
            calibrated).
        task (str): 'detection' or 'classification' (``QATModel.task``).
        inputs (Tensor): An example preprocessed batch ``[N, 3, H, W]``.
        out_file (str, optional): Where to save the model. Defaults to None.
        opset (int): The ONNX opset, >= 13; from 21 on, 4-bit grids use the
            INT4 / UINT4 types. Defaults to :data:`DEFAULT_OPSET`.
        dynamic (bool): Batch size, height and width as dynamic axes.
            Defaults to True.

    Returns:
        tuple: (``onnx.ModelProto``, the dict of
        :func:`lower_placeholders`).
    """
    onnx, _ = require_onnx()
    from onnx import version_converter
    if task not in ('detection', 'classification'):
        raise ValueError("task must be 'detection' or 'classification', "
                         f'got {task!r}')
    if not isinstance(opset, int) or opset < MIN_OPSET:
        raise ValueError(f'opset must be an int >= {MIN_OPSET}, got '
                         f'{opset!r}')
    if opset > onnx.defs.onnx_opset_version():
        raise ValueError(f'opset {opset} is newer than this onnx '
                         f'{onnx.__version__} knows '
                         f'({onnx.defs.onnx_opset_version()})')
    wrapper = export_student(student, task)
    inputs = inputs.to(next(wrapper.parameters()).device)
    with torch.no_grad():
        num_outputs = len(wrapper(inputs))
    names = output_names(task, num_outputs)
    dynamic_axes = _dynamic_axes(task, names) if dynamic else None
    model = _torchscript_export(wrapper, inputs, names, dynamic_axes,
                                min(opset, TORCHSCRIPT_MAX_OPSET))
    if opset > TORCHSCRIPT_MAX_OPSET:
        model = version_converter.convert_version(model, opset)
    lowered = lower_placeholders(model, opset)
    onnx.checker.check_model(model)
    if out_file is not None:
        onnx.save(model, out_file)
    return model, lowered


def onnx_session(model, options=None):
    """A CPU onnxruntime session of ``model`` (a ModelProto or a path).

    Warnings are off unless ``options`` say otherwise: with dynamic
    height and width, onnxruntime warns each time a new input size
    changes its memory plan.
    """
    onnx, ort = require_onnx()
    data = model.SerializeToString() if isinstance(
        model, onnx.ModelProto) else model
    if options is None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
    return ort.InferenceSession(
        data, options, providers=['CPUExecutionProvider'])


def run_onnx(session, inputs: Tensor) -> List[Tensor]:
    """Run a session on a preprocessed batch; the outputs as tensors."""
    outs = session.run(None, {'inputs': inputs.detach().cpu().numpy()})
    return [torch.from_numpy(o) for o in outs]


def compare_outputs(onnx_outs: Sequence[Tensor],
                    torch_outs: Sequence[Tensor],
                    names: Sequence[str]) -> Dict[str, float]:
    """Max abs difference per output (and ``max`` over all)."""
    diffs = {}
    for name, a, b in zip(names, onnx_outs, torch_outs):
        b = b.detach().cpu().float()
        if a.shape != b.shape:
            raise ValueError(f'output {name!r}: onnxruntime gave shape '
                             f'{tuple(a.shape)}, PyTorch {tuple(b.shape)}')
        diffs[name] = float((a - b).abs().max()) if a.numel() else 0.0
    diffs['max'] = max(diffs.values())
    return diffs


def graph_summary(model) -> Dict[str, int]:
    """Node counts by operator type."""
    counts: Dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def export_qat_model(qat_model: nn.Module,
                     inputs: Tensor,
                     out_file: Optional[str] = None,
                     opset: int = DEFAULT_OPSET,
                     dynamic: bool = True):
    """:func:`export_onnx` of a :class:`QATModel`'s student."""
    if not hasattr(qat_model, 'student') or not hasattr(qat_model, 'task'):
        raise TypeError('export_qat_model expects a QATModel, got '
                        f'{type(qat_model).__name__}')
    return export_onnx(qat_model.student, qat_model.task, inputs, out_file,
                       opset, dynamic)


def _quantizer_probe(model):
    """``model`` with each Q node's float input (unless a weight
    initializer) and each DQ node's output as extra graph outputs.

    Returns:
        tuple: (the probe ModelProto, list of ``(quantizer name, Q input,
        DQ output)``).
    """
    onnx, _ = require_onnx()
    from onnx import TensorProto, helper
    probe = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {t.name for t in probe.graph.initializer}
    dq_of = {}
    for node in probe.graph.node:
        if node.op_type == 'DequantizeLinear':
            dq_of[node.name.replace('/DequantizeLinear', '/')] = node
    pairs = []
    for node in probe.graph.node:
        if node.op_type != 'QuantizeLinear':
            continue
        name = node.name.split('/QuantizeLinear')[0]
        dq = dq_of[node.name.replace('/QuantizeLinear', '/')]
        pairs.append((name, node.input[0], dq.output[0]))
        for tensor in (node.input[0], dq.output[0]):
            if tensor not in inits:
                probe.graph.output.append(
                    helper.make_tensor_value_info(tensor, TensorProto.FLOAT,
                                                  None))
    return probe, pairs


@torch.no_grad()
def verify_onnx(model,
                qat_model: nn.Module,
                batches,
                tolerance: float = VERIFY_TOLERANCE) -> Dict[str, object]:
    """Run the ONNX model with onnxruntime (CPU) and the PyTorch
    fake-quant student on the same preprocessed batches.

    Two checks:

    * every Q/DQ pair against its LSQ quantizer: onnxruntime's dequantized
      tensor against the quantizer's own forward on onnxruntime's input to
      that pair (the same input on both sides, so the result must agree to
      float precision: ``max_quantizer_diff``, in steps);
    * the outputs end to end: ``max_abs_diff`` over all outputs and
      batches, which must stay within ``tolerance * max_abs_ref``. The two
      runtimes sum convolutions in different orders, so a quantizer input
      that lies within float noise of a rounding boundary can round to the
      neighbouring level on one side; such an element differs by one step
      and the difference travels to the outputs (README, "Deploy").

    Args:
        model (onnx.ModelProto | str): The exported model.
        qat_model (QATModel): The model it was exported from.
        batches (Iterable): Raw data batches (as a dataloader yields them),
            preprocessed with the model's data preprocessor.
        tolerance (float): The largest accepted ``max_abs_diff`` relative
            to the largest PyTorch output. Defaults to
            :data:`VERIFY_TOLERANCE`.

    Returns:
        dict: ``max_abs_diff``, ``max_abs_ref``, ``rel_diff`` (their
        ratio), ``per_output`` (max abs difference per output name),
        ``max_quantizer_diff`` (steps), ``worst_quantizer``,
        ``num_batches``, ``tolerance`` and ``passed``.
    """
    onnx, _ = require_onnx()
    from onnx import numpy_helper
    if isinstance(model, str):
        model = onnx.load(model)
    probe, pairs = _quantizer_probe(model)
    session = onnx_session(probe)
    names = [o.name for o in model.graph.output]
    inits = {t.name: t for t in model.graph.initializer}
    quantizers = dict(named_quantizers(qat_model.student))
    qat_model.eval()
    reference = _TensorForward(qat_model.student, qat_model.task)
    per_output = {n: 0.0 for n in names}
    max_ref, count, q_diff, q_worst = 0.0, 0, 0.0, None
    for batch in batches:
        inputs = qat_model.data_preprocessor(batch, False)['inputs']
        ref = reference(inputs)
        outs = session.run(None, {'inputs': inputs.detach().cpu().numpy()})
        tensors = dict(zip([o.name for o in probe.graph.output], outs))
        diffs = compare_outputs([torch.from_numpy(tensors[n]) for n in names],
                                ref, names)
        for n in names:
            per_output[n] = max(per_output[n], diffs[n])
        max_ref = max([max_ref] + [float(r.abs().max()) for r in ref])
        for name, q_in, dq_out in pairs:
            x = tensors[q_in] if q_in in tensors else \
                numpy_helper.to_array(inits[q_in])
            quantizer = quantizers[name]
            expected = quantizer(torch.from_numpy(x.copy()).to(
                quantizer.step.device)).cpu()
            step = quantizer.step.detach().abs().min().cpu()
            err = float(((torch.from_numpy(tensors[dq_out]) - expected).abs()
                         / step).max()) if expected.numel() else 0.0
            if err >= q_diff:
                q_diff, q_worst = err, name
        count += 1
    if count == 0:
        raise ValueError('verify_onnx got no batch to compare on')
    worst = max(per_output.values())
    rel = worst / max(max_ref, 1e-12)
    return dict(
        max_abs_diff=worst,
        max_abs_ref=max_ref,
        rel_diff=rel,
        per_output=per_output,
        max_quantizer_diff=q_diff,
        worst_quantizer=q_worst,
        num_batches=count,
        tolerance=tolerance,
        passed=rel <= tolerance and q_diff <= QUANTIZER_TOLERANCE)
