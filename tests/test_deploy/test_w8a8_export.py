# Copyright (c) mmacs contributors. All rights reserved.
"""The W8A8 recipe's export: BatchNorm folded into the quantized convs (no
BatchNormalization left), onnxruntime's CPU provider running integer
convolutions, and the end-to-end graph (decoding and NMS inside) against
the PyTorch pipeline."""
import pytest
import torch

onnx = pytest.importorskip(
    'onnx', reason='the ONNX export tests need onnx and onnxruntime: '
    '`pip install -e .[deploy]`')
ort = pytest.importorskip(
    'onnxruntime', reason='the ONNX export tests need onnx and onnxruntime:'
    ' `pip install -e .[deploy]`')

from mmdet.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmacs.deploy import (END2END_OUTPUTS, conv_kernels,  # noqa: E402
                          export_end2end, export_qat_model, graph_summary,
                          onnx_session, optimized_summary, run_onnx,
                          verify_onnx)
from mmacs.quantization import QConvBn2d  # noqa: E402
from mmacs.testing import det_batch, repo_path  # noqa: E402

DEMO_W8A8 = repo_path('configs', 'demo',
                      'lsq-w8a8_full_retinanet_r18-tiny_fpn_shapes-128.py')


def demo_w8a8(fold=True, score_thr=None):
    """The demo's W8A8 QAT model (random weights), calibrated."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(DEMO_W8A8).model
    cfg.float_checkpoint = None
    if not fold:
        cfg.fold_bn = None
    if score_thr is not None:
        cfg.model.test_cfg.score_thr = score_thr
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    model.calibrate([det_batch(seed=1), det_batch(seed=2)])
    return model.eval()


def assert_same_detections(boxes, scores, labels, pred):
    """The same detections as mmdet's ``pred`` in any order (two whose
    scores differ by float noise may swap places)."""
    same = (labels[:, None] == pred.labels[None]) & \
        ((scores[:, None] - pred.scores[None]).abs() < 1e-5) & \
        ((boxes[:, None] - pred.bboxes[None]).abs().amax(-1) < 1e-3)
    assert same.any(1).all() and same.any(0).all(), same.sum()


@pytest.fixture(scope='module')
def folded():
    model = demo_w8a8()
    example = model.data_preprocessor(det_batch(), False)['inputs']
    return model, export_qat_model(model, example)[0]


def test_folded_layers_export_as_one_conv_with_bias(folded):
    model, graph = folded
    # ResNet-18 without its float stem: 8 blocks x 2 convs + 3 downsample.
    assert len(model.folded_layers) == 19
    assert sum(isinstance(m, QConvBn2d)
               for m in model.student.modules()) == 19
    assert graph_summary(graph).get('BatchNormalization', 0) == 0
    producers = {o: n for n in graph.graph.node for o in n.output}
    inits = {t.name for t in graph.graph.initializer}
    folded_convs = [
        n for n in graph.graph.node if n.op_type == 'Conv'
        and n.input[1] in producers
        and producers[n.input[1]].op_type == 'DequantizeLinear'
        and producers[n.input[1]].name.startswith('backbone.')
    ]
    assert len(folded_convs) == 19

    def constant(name):  # the exporter shares equal constants by Identity
        node = producers.get(name)
        return name in inits or (node is not None and node.op_type ==
                                 'Identity' and node.input[0] in inits)

    for conv in folded_convs:
        assert len(conv.input) == 3 and constant(conv.input[2])
        # The quantizer sees a constant: the folded weight.
        quant = producers[producers[conv.input[1]].input[0]]
        assert quant.op_type == 'QuantizeLinear' and constant(quant.input[0])
    # Unfolded, the same recipe keeps a BatchNormalization behind each.
    plain = demo_w8a8(fold=False)
    example = plain.data_preprocessor(det_batch(), False)['inputs']
    nodes = graph_summary(export_qat_model(plain, example)[0])
    assert nodes['BatchNormalization'] == 19


def test_folded_export_matches_pytorch(folded):
    model, graph = folded
    result = verify_onnx(graph, model, [det_batch(seed=3)])
    assert result['passed'] and result['max_quantizer_diff'] == 0.0, result


def test_onnxruntime_runs_integer_convolutions(folded):
    model, graph = folded
    kernels = conv_kernels(optimized_summary(graph))
    # Fused: every conv whose output goes (through a ReLU) straight into
    # the next QuantizeLinear: the first conv of each of the 8 backbone
    # blocks. Float: the stem, the convs before a residual add (8 + 3),
    # the FPN's (3 lateral, 3 output: their outputs feed two quantizers
    # each), the GN head's (2 x 2 stacked, x 3 levels: GroupNorm before
    # the ReLU) and its classifier and regressor (x 3 levels: float
    # outputs).
    assert kernels == dict(integer=8, float=1 + 11 + 6 + 12 + 6), kernels
    # The integer kernels compute the same model: requantizing the
    # accumulator moves an output by at most about one step.
    options = ort.SessionOptions()
    options.graph_optimization_level = \
        ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    inputs = model.data_preprocessor(det_batch(seed=4), False)['inputs']
    reference = run_onnx(onnx_session(graph, options), inputs)
    fused = run_onnx(onnx_session(graph), inputs)
    for a, b in zip(fused, reference):
        assert (a - b).abs().max() <= 0.05 * b.abs().max(), (a - b).abs()


@pytest.mark.parametrize('score_thr,found', [(0.005, 100), (0.05, 0)])
def test_end2end_graph_matches_the_pytorch_pipeline(score_thr, found):
    # Untrained, the classifier's prior bias puts every score near 0.01.
    model = demo_w8a8(score_thr=score_thr)
    batch = det_batch(boxes_per_image=((1, ), ), seed=5)
    data = model.data_preprocessor(batch, False)
    graph, _ = export_end2end(model, data['inputs'])
    assert [o.name for o in graph.graph.output] == list(END2END_OUTPUTS)
    assert graph_summary(graph)['NonMaxSuppression'] == 1
    boxes, scores, labels = run_onnx(onnx_session(graph), data['inputs'])
    with torch.no_grad():
        pred = model.student.predict(
            data['inputs'], data['data_samples'],
            rescale=True)[0].pred_instances
    assert len(pred) == found  # max_per_img, or none above the threshold
    assert boxes.shape == (len(pred), 4) and labels.dtype == torch.int64
    assert torch.allclose(scores, pred.scores, atol=1e-5)
    assert_same_detections(boxes, scores, labels, pred)


def test_end2end_refuses_batches_and_classifiers(folded):
    model, _ = folded
    with pytest.raises(ValueError, match=r'one image.*\(2, 3, 64, 64\)'):
        export_end2end(model, torch.zeros(2, 3, 64, 64))


def docs_snippet(marker='<!-- tested: tests/test_deploy/test_w8a8_export.py'
                 ' -->'):
    """The Python example after ``marker`` in docs/deploy.md."""
    with open(repo_path('docs', 'deploy.md')) as f:
        text = f.read()
    assert marker in text
    return text.split(marker, 1)[1].split('```python\n', 1)[1].split(
        '```', 1)[0]


def test_docs_end2end_example_equals_the_mmdet_pipeline(tmp_path):
    cv2 = pytest.importorskip('cv2')
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate
    model = demo_w8a8(score_thr=0.005)
    onnx_file = str(tmp_path / 'e2e.onnx')
    export_end2end(model, torch.zeros(1, 3, 128, 128), onnx_file)
    # A 64 px image: resized x2 to fill the 128 px input.
    image_file = str(tmp_path / 'image.png')
    g = torch.Generator().manual_seed(6)
    cv2.imwrite(image_file, torch.randint(
        0, 255, (64, 64, 3), dtype=torch.uint8, generator=g).numpy())
    scope = dict(onnx_file=onnx_file, image_file=image_file)
    exec(compile(docs_snippet(), 'docs/deploy.md', 'exec'), scope)
    boxes, scores, labels = (torch.from_numpy(scope[k])
                             for k in ('boxes', 'scores', 'labels'))
    pipeline = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='PackDetInputs',
             meta_keys=('img_path', 'ori_shape', 'img_shape',
                        'scale_factor'))
    ])
    data = model.data_preprocessor(
        pseudo_collate([pipeline(dict(img_path=image_file))]), False)
    assert data['inputs'].shape[-2:] == (128, 128)
    with torch.no_grad():
        pred = model.student.predict(
            data['inputs'], data['data_samples'],
            rescale=True)[0].pred_instances
    assert len(pred) == len(scores) == 100
    assert boxes.max() <= 64.0 + 1e-3  # in the original image's pixels
    assert_same_detections(boxes, scores, labels, pred)
