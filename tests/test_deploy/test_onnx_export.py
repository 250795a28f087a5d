# Copyright (c) mmacs contributors. All rights reserved.
"""ONNX export of quantized students: graph contents, integer ranges,
onnxruntime against PyTorch, bad input."""
import pytest
import torch
import torch.nn as nn

onnx = pytest.importorskip(
    'onnx', reason='the ONNX export tests need onnx and onnxruntime: '
    '`pip install -e .[deploy]`')
ort = pytest.importorskip(
    'onnxruntime', reason='the ONNX export tests need onnx and onnxruntime:'
    ' `pip install -e .[deploy]`')

from mmdet.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import mmacs.classification  # noqa: E402,F401  (ImageClassifier, CifarResNet)
from mmacs.deploy import (VERIFY_TOLERANCE, check_exportable,  # noqa: E402
                          export_qat_model, load_qat_config, load_qat_model,
                          onnx_session, qdq_type, run_onnx, verify_onnx)
from mmacs.quantization import (LSQQuantizer, QConv2d,  # noqa: E402
                                named_quantizers)
from mmacs.testing import det_batch  # noqa: E402
from mmacs.testing import repo_path  # noqa: E402

DEMO_FP = repo_path('configs', 'demo', 'retinanet_r18-tiny_fpn_shapes-128.py')
DEMO_QAT = repo_path('configs', 'demo',
                     'lsq-w4a4_full_retinanet_r18-tiny_fpn_shapes-128.py')


def tiny_retinanet_qat(weight_quant=dict(bits=4, per_channel=True),
                       act_quant=dict(bits=4, signed='auto'), seed=0):
    """The demo's slim RetinaNet R18-FPN (64-channel GN head) as a
    calibrated QAT model."""
    init_default_scope('mmdet')
    model_cfg = Config.fromfile(DEMO_FP).model
    model_cfg.test_cfg.score_thr = 0.0
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            type='QATModel',
            model=model_cfg,
            weight_quant=weight_quant,
            act_quant=act_quant,
            fp_layers=('backbone.conv1', 'bbox_head.retina_cls',
                       'bbox_head.retina_reg')))
    model.init_weights()
    model.calibrate([det_batch(seed=1), det_batch(seed=2)])
    return model.eval()


def cifar_resnet20_qat(bits=2, seed=0):
    init_default_scope('mmdet')
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            type='QATModel',
            model=dict(
                type='ImageClassifier',
                backbone=dict(type='CifarResNet', depth=20, num_classes=10),
                data_preprocessor=dict(
                    type='ImgDataPreprocessor',
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375])),
            weight_quant=dict(bits=bits),
            act_quant=dict(bits=bits, signed='auto'),
            fp_layers=('backbone.conv1', 'backbone.linear')))
    model.init_weights()
    model.calibrate([cls_batch(seed=1), cls_batch(seed=2)])
    return model.eval()


def cls_batch(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=[
        torch.randint(0, 255, (3, size, size), dtype=torch.uint8, generator=g)
        for _ in range(n)
    ])


def initializers(model):
    return {t.name: t for t in model.graph.initializer}


def qdq_nodes(model, op_type):
    return {n.name.rsplit('/', 1)[0]: n for n in model.graph.node
            if n.op_type == op_type}


@pytest.fixture(scope='module')
def retinanet():
    return tiny_retinanet_qat()


@pytest.fixture(scope='module')
def retinanet_onnx(retinanet):
    example = retinanet.data_preprocessor(det_batch(), False)['inputs']
    return export_qat_model(retinanet, example, opset=21)


def test_qdq_type_keeps_the_integer_range():
    assert qdq_type(4, True, 21) == ('INT4', False)
    assert qdq_type(4, False, 21) == ('UINT4', False)
    assert qdq_type(4, True, 20) == ('INT8', True)  # no INT4 before 21
    assert qdq_type(2, True, 25) == ('INT8', True)
    assert qdq_type(3, False, 21) == ('UINT8', True)
    assert qdq_type(8, False, 13) == ('UINT8', False)
    with pytest.raises(ValueError, match='bits'):
        qdq_type(9, True, 21)
    with pytest.raises(ValueError, match='opset'):
        qdq_type(4, True, 11)


def test_retinanet_graph_holds_one_qdq_pair_per_quantizer(
        retinanet, retinanet_onnx):
    model, lowered = retinanet_onnx
    quantizers = dict(named_quantizers(retinanet.student))
    assert set(lowered) == set(quantizers) and len(quantizers) > 20
    assert not [n for n in model.graph.node if n.domain == 'mmacs']
    assert {o.domain: o.version for o in model.opset_import} == {'': 21}
    assert [o.name for o in model.graph.output] == [
        'cls_score_0', 'cls_score_1', 'cls_score_2', 'bbox_pred_0',
        'bbox_pred_1', 'bbox_pred_2'
    ]
    inits = initializers(model)
    quant, dequant = qdq_nodes(model, 'QuantizeLinear'), qdq_nodes(
        model, 'DequantizeLinear')
    assert set(quant) == set(dequant) == set(quantizers)
    assert not [n for n in model.graph.node if n.op_type == 'Clip']
    # The head's layers run once per pyramid level: one Q/DQ pair per call.
    for name, info in lowered.items():
        assert info['calls'] == (3 if name.startswith('bbox_head.') else 1)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count('QuantizeLinear') == ops.count('DequantizeLinear') == \
        sum(info['calls'] for info in lowered.values())
    for name, q in quantizers.items():
        qnode, dqnode = quant[name], dequant[name]
        # Q feeds DQ, with the same scale and zero point.
        assert dqnode.input[0] == qnode.output[0]
        assert list(dqnode.input[1:]) == list(qnode.input[1:])
        scale = numpy_helper.to_array(inits[qnode.input[1]])
        zero = inits[qnode.input[2]]
        # The learned step, bit for bit; one per channel when per-channel.
        assert torch.equal(
            torch.from_numpy(scale.copy()).reshape(q.step.shape),
            q.step.detach())
        signed = bool(q.signed.item())
        assert zero.data_type == (TensorProto.INT4
                                  if signed else TensorProto.UINT4)
        assert not numpy_helper.to_array(zero).any()  # zero point 0
        axis = [a.i for a in qnode.attribute if a.name == 'axis']
        if q.per_channel:
            assert q.is_weight and axis == [0]
            assert list(zero.dims) == [q.step.numel()]
        else:
            assert axis == [] and list(zero.dims) == []
    # Both grids occur: signed weights, unsigned (post-ReLU) activations.
    signs = {bool(q.signed.item()) for q in quantizers.values()}
    assert signs == {True, False}


def test_fp_layers_stay_float(retinanet, retinanet_onnx):
    model, lowered = retinanet_onnx
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = initializers(model)
    convs = [n for n in model.graph.node if n.op_type == 'Conv']
    quantized_weight = [
        n for n in convs if n.input[1] in producers
        and producers[n.input[1]].op_type == 'DequantizeLinear'
    ]
    float_weight = [n for n in convs if n.input[1] in inits]
    assert len(quantized_weight) + len(float_weight) == len(convs)
    qconvs = [
        name for name, m in retinanet.student.named_modules()
        if isinstance(m, QConv2d)
    ]
    assert len(quantized_weight) == sum(
        lowered[f'{name}.weight_quant']['calls'] for name in qconvs)
    # backbone.conv1 once, retina_cls and retina_reg once per level: float
    # weights, float inputs.
    assert len(float_weight) == 1 + 3 + 3
    weights = sorted({n.input[1] for n in float_weight})
    # (backbone.conv1's weight has its BatchNorm folded in: a new name.)
    assert weights[1:] == [
        'student.bbox_head.retina_cls.weight',
        'student.bbox_head.retina_reg.weight'
    ] and len(weights) == 3
    for n in float_weight:
        assert inits[n.input[1]].data_type == TensorProto.FLOAT
        source = producers.get(n.input[0])
        assert source is None or source.op_type != 'DequantizeLinear'


def _with_clip_outputs(model, unsigned):
    """``model`` with the integers after each ``Clip`` as extra outputs;
    ``unsigned``: quantizer name -> whether its grid is unsigned."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for n in model.graph.node:
        name = n.name.rsplit('/', 1)[0]
        if n.op_type == 'Clip' and name in unsigned:
            dtype = TensorProto.UINT8 if unsigned[name] else TensorProto.INT8
            model.graph.output.append(
                helper.make_tensor_value_info(n.output[0], dtype, None))
    return model


def test_onnxruntime_matches_pytorch_detector(retinanet, retinanet_onnx):
    model, _ = retinanet_onnx
    # Real preprocessing, two batches, one at another size (dynamic axes).
    batches = [det_batch(seed=3), det_batch(size=96, seed=4)]
    result = verify_onnx(model, retinanet, batches)
    assert result['num_batches'] == 2
    assert result['passed'] and result['rel_diff'] <= VERIFY_TOLERANCE
    assert result['max_abs_ref'] > 0.1  # the outputs are not all ~0
    # Each Q/DQ pair equals its quantizer on the same input.
    assert result['max_quantizer_diff'] == 0.0
    # The comparison is sharp: a changed step shows, and is named.
    step = retinanet.student.bbox_head.cls_convs[0].conv.act_quant.step
    with torch.no_grad():
        step.mul_(1.5)
    try:
        worse = verify_onnx(model, retinanet, batches[:1])
    finally:
        with torch.no_grad():
            step.div_(1.5)
    assert not worse['passed'] and worse['max_quantizer_diff'] > 0.1
    assert worse['worst_quantizer'] == 'bbox_head.cls_convs.0.conv.act_quant'


def test_cifar_resnet20_w2a2_exact_int8_clip():
    qat = cifar_resnet20_qat(bits=2)
    batch = cls_batch(seed=5)
    example = qat.data_preprocessor(batch, False)['inputs']
    model, lowered = export_qat_model(qat, example, opset=21)
    quantizers = dict(named_quantizers(qat.student))
    # 18 quantized convs (the stem and the linear layer stay float).
    assert set(lowered) == set(quantizers) and len(quantizers) == 36
    inits = initializers(model)
    clips = qdq_nodes(model, 'Clip')
    assert set(clips) == set(quantizers)
    for name, q in quantizers.items():
        lo, hi = (int(numpy_helper.to_array(inits[i]))
                  for i in clips[name].input[1:])
        # The 2-bit grid, not INT8's: [-2, 1] signed, [0, 3] unsigned.
        assert (lo, hi) == (q.qn, q.qp) and hi - lo == 3
        assert lowered[name]['type'] == ('INT8' if q.qn < 0 else 'UINT8')
    result = verify_onnx(model, qat, [batch, cls_batch(n=2, seed=6)])
    assert result['passed'] and result['max_quantizer_diff'] == 0.0, result
    assert list(result['per_output']) == ['logits']
    # The integers after each Clip stay inside the 2-bit grid and use it.
    unsigned = {n: q.qn >= 0 for n, q in quantizers.items()}
    probe = onnx_session(_with_clip_outputs(model, unsigned))
    outs = probe.run(None, {'inputs': example.numpy()})
    ints = outs[1:]
    assert len(ints) == len(quantizers)
    seen = set()
    for values in ints:
        seen.update(int(v) for v in values.flatten().tolist())
    assert seen <= {-2, -1, 0, 1, 2, 3} and {-2, 1, 3} <= seen


def test_four_bit_grid_below_opset_21_is_clipped(retinanet):
    example = retinanet.data_preprocessor(det_batch(), False)['inputs']
    model, lowered = export_qat_model(retinanet, example, opset=17)
    assert all(v['clip'] and v['type'] in ('INT8', 'UINT8')
               for v in lowered.values())
    assert {o.domain: o.version for o in model.opset_import} == {'': 17}
    result = verify_onnx(model, retinanet, [det_batch(seed=7)])
    assert result['passed'], result


def test_uncalibrated_quantizer_is_refused():
    init_default_scope('mmdet')
    model_cfg = Config.fromfile(DEMO_FP).model
    qat = MODELS.build(dict(type='QATModel', model=model_cfg))
    qat.init_weights()
    with pytest.raises(RuntimeError, match=r"'backbone\.layer1\.0\.conv1\."):
        export_qat_model(qat, torch.zeros(1, 3, 64, 64))


def test_unsupported_layers_are_refused(retinanet):

    class Scaled(nn.Module):

        def __init__(self):
            super().__init__()
            self.quant = LSQQuantizer(bits=4)

    student = nn.Sequential(nn.Conv2d(3, 3, 1))
    student.add_module('odd', Scaled())
    with pytest.raises(TypeError, match=r"'odd' \(Scaled\)"):
        check_exportable(student)
    from mmcv.ops import DeformConv2d
    student = nn.Sequential(DeformConv2d(3, 3, 3))
    with pytest.raises(TypeError, match=r"'0' \(DeformConv2d"):
        check_exportable(student)
    with pytest.raises(ValueError, match='no LSQ quantizer'):
        check_exportable(nn.Sequential(nn.Conv2d(3, 3, 1)))
    with pytest.raises(TypeError, match='expects a QATModel'):
        export_qat_model(retinanet.student, torch.zeros(1, 3, 64, 64))


def test_not_a_qat_checkpoint_is_refused(retinanet, tmp_path):
    with pytest.raises(TypeError, match="'RetinaNet' model, not a QATModel"):
        load_qat_config(DEMO_FP)
    float_ckpt = tmp_path / 'float.pth'
    torch.save({'state_dict': retinanet.teacher.state_dict()}, float_ckpt)
    with pytest.raises(ValueError, match='float.pth.*not a QATModel'):
        load_qat_model(DEMO_QAT, str(float_ckpt))
    qat_ckpt = tmp_path / 'qat.pth'
    torch.save({'state_dict': retinanet.state_dict()}, qat_ckpt)
    model = load_qat_model(
        DEMO_QAT, str(qat_ckpt),
        {'model.weight_quant.per_channel': True})
    assert not model.training
    data = model.data_preprocessor(det_batch(), False)
    a = model(data['inputs'], mode='tensor')[0][0]
    b = retinanet(data['inputs'], mode='tensor')[0][0]
    assert torch.equal(a, b)


def test_run_onnx_outputs_are_tensors(retinanet_onnx):
    model, _ = retinanet_onnx
    outs = run_onnx(onnx_session(model), torch.zeros(2, 3, 64, 64))
    assert len(outs) == 6 and all(isinstance(o, torch.Tensor) for o in outs)
    assert outs[0].shape[:2] == (2, 9 * 5)  # anchors x classes
