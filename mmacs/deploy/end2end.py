# Copyright (c) mmacs contributors. All rights reserved.
"""An end-to-end detector graph: the dense export plus box decoding, score
threshold and NMS as ONNX operators (``NonMaxSuppression``), with
``boxes``, ``scores`` and ``labels`` out, as mmdeploy's end2end models.

The post-processing follows the head's own ``predict_by_feat`` (mmdet's
RetinaNet-style anchor heads with sigmoid scores and
``DeltaXYWHBBoxCoder``) step by step:

1. per level, the ``nms_pre`` best (anchor, class) pairs by score (mmdet's
   ``filter_scores_and_topk``; pairs at or below ``score_thr`` are dropped
   by NMS's own score threshold);
2. their boxes decoded from the anchors (``delta2bbox``: means and stds,
   the log-ratio clamp, clipped to the input);
3. boxes of zero width or height dropped (``min_bbox_size``);
4. NMS per class (``batched_nms``: IoU above ``iou_threshold`` suppressed),
   then the ``max_per_img`` best detections, by score.

The graph has a static input size (the anchors are constants) and takes
one image: ``inputs [1, 3, H, W]``, preprocessed as the model's data
preprocessor does. ``boxes [K, 4]`` (x1, y1, x2, y2) are in the input's
pixels: divide by the resize factor for the original image.
"""
from typing import List

import numpy as np
import torch
import torch.nn as nn

#: Output names of an end-to-end graph.
END2END_OUTPUTS = ('boxes', 'scores', 'labels')


def postprocess_params(student: nn.Module, featmap_sizes: List[tuple]):
    """What the graph needs from the detector's head: anchors per level,
    the box coder's constants and ``test_cfg``.

    Raises:
        TypeError: The head is not a sigmoid anchor head with
            ``DeltaXYWHBBoxCoder``.
    """
    head = getattr(student, 'bbox_head', None)
    coder = getattr(head, 'bbox_coder', None)
    if head is None or not hasattr(head, 'prior_generator') or \
            type(coder).__name__ != 'DeltaXYWHBBoxCoder' or \
            not getattr(head, 'use_sigmoid_cls', False):
        raise TypeError(
            'the end2end graph decodes anchor heads with sigmoid scores and '
            f'DeltaXYWHBBoxCoder (RetinaNet); got {type(head).__name__} '
            f'with {type(coder).__name__}')
    if getattr(coder, 'add_ctr_clamp', False):
        raise TypeError('DeltaXYWHBBoxCoder(add_ctr_clamp=True) is not '
                        'supported by the end2end graph')
    cfg = head.test_cfg
    nms = cfg.get('nms', {})
    if nms.get('type', 'nms') != 'nms':
        raise TypeError(f"the end2end graph runs plain NMS, not {nms!r}")
    anchors = head.prior_generator.grid_priors(
        featmap_sizes, device=torch.device('cpu'))
    return dict(
        anchors=[a.numpy().astype(np.float32) for a in anchors],
        num_classes=head.cls_out_channels,
        means=[float(v) for v in coder.means],
        stds=[float(v) for v in coder.stds],
        # decode()'s default, which the head's predict_by_feat uses.
        max_ratio=float(np.abs(np.log(16 / 1000))),
        clip_border=bool(coder.clip_border),
        nms_pre=int(cfg.get('nms_pre', -1)),
        score_thr=float(cfg.get('score_thr', 0.0)),
        iou_threshold=float(nms.get('iou_threshold', 0.5)),
        max_per_img=int(cfg.get('max_per_img', 100)),
        min_bbox_size=float(cfg.get('min_bbox_size', -1)))


class _Graph:
    """Appends nodes and constants to an ONNX graph under a name prefix."""

    def __init__(self, graph, prefix: str) -> None:
        from onnx import helper, numpy_helper
        self.graph, self.prefix = graph, prefix
        self.helper, self.numpy_helper = helper, numpy_helper
        self.count = 0

    def const(self, value, dtype=np.float32) -> str:
        name = f'{self.prefix}/const_{self.count}'
        self.count += 1
        self.graph.initializer.append(
            self.numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1,
           **attrs) -> object:
        names = [f'{self.prefix}/{op_type}_{self.count}_{i}'
                 for i in range(outputs)]
        self.graph.node.append(
            self.helper.make_node(
                op_type, list(inputs), names,
                name=f'{self.prefix}/{op_type}_{self.count}', **attrs))
        self.count += 1
        return names[0] if outputs == 1 else names


def _decode(g: _Graph, deltas: str, anchors: str, params: dict,
            input_size) -> str:
    """``delta2bbox`` of the tensors ``deltas [k, 4]`` on ``anchors [k,
    4]``; returns the name of the boxes ``[k, 4]``."""
    means, stds = np.array(params['means']), np.array(params['stds'])
    deltas = g.op('Add', g.op('Mul', deltas, g.const(stds)), g.const(means))
    dxy = g.op('Slice', deltas, g.const([0], np.int64),
               g.const([2], np.int64), g.const([1], np.int64))
    dwh = g.op('Slice', deltas, g.const([2], np.int64),
               g.const([4], np.int64), g.const([1], np.int64))
    ratio = params['max_ratio']
    dwh = g.op('Clip', dwh, g.const(-ratio), g.const(ratio))
    pxy = g.op('Mul', g.op('Add', g.op('Slice', anchors, g.const(
        [0], np.int64), g.const([2], np.int64), g.const([1], np.int64)),
        g.op('Slice', anchors, g.const([2], np.int64), g.const(
            [4], np.int64), g.const([1], np.int64))), g.const(0.5))
    pwh = g.op('Sub', g.op('Slice', anchors, g.const([2], np.int64),
                           g.const([4], np.int64), g.const([1], np.int64)),
               g.op('Slice', anchors, g.const([0], np.int64),
                    g.const([2], np.int64), g.const([1], np.int64)))
    gxy = g.op('Add', pxy, g.op('Mul', pwh, dxy))
    half = g.op('Mul', g.op('Mul', pwh, g.op('Exp', dwh)), g.const(0.5))
    boxes = g.op('Concat', g.op('Sub', gxy, half), g.op('Add', gxy, half),
                 axis=1)
    if params['clip_border']:
        height, width = input_size
        boxes = g.op('Min', g.op('Max', boxes, g.const(0.0)),
                     g.const([width, height, width, height]))
    return boxes


def add_postprocess(model, params: dict, input_size) -> None:
    """Append decoding, score threshold and NMS to a dense detector export
    (outputs ``cls_score_<i>``, ``bbox_pred_<i>``, batch 1, static size),
    in place; its outputs become ``boxes``, ``scores`` and ``labels``.

    Args:
        model (onnx.ModelProto): The dense export.
        params (dict): :func:`postprocess_params`.
        input_size (tuple): The input's (height, width).
    """
    from onnx import TensorProto, helper
    graph = model.graph
    names = [o.name for o in graph.output]
    levels = len(params['anchors'])
    if names != [f'cls_score_{i}' for i in range(levels)] + \
            [f'bbox_pred_{i}' for i in range(levels)]:
        raise ValueError(f'not a dense detector export with {levels} '
                         f'levels: outputs {names}')
    g = _Graph(graph, 'postprocess')
    num_classes = params['num_classes']
    boxes, scores, labels = [], [], []
    for i, anchors in enumerate(params['anchors']):
        num = anchors.shape[0]
        cls = g.op('Reshape', g.op('Transpose', f'cls_score_{i}',
                                   perm=[0, 2, 3, 1]),
                   g.const([num * num_classes], np.int64))
        reg = g.op('Reshape', g.op('Transpose', f'bbox_pred_{i}',
                                   perm=[0, 2, 3, 1]),
                   g.const([num, 4], np.int64))
        k = num * num_classes
        if 0 < params['nms_pre'] < k:
            k = params['nms_pre']
        # TopK on the logits: the sigmoid keeps their order.
        top, index = g.op('TopK', cls, g.const([k], np.int64), outputs=2)
        anchor = g.op('Div', index, g.const(num_classes, np.int64))
        labels.append(g.op('Mod', index, g.const(num_classes, np.int64)))
        scores.append(g.op('Sigmoid', top))
        boxes.append(
            _decode(g, g.op('Gather', reg, anchor, axis=0),
                    g.op('Gather', g.const(anchors), anchor, axis=0),
                    params, input_size))
    boxes = g.op('Concat', *boxes, axis=0)
    scores = g.op('Concat', *scores, axis=0)
    labels = g.op('Concat', *labels, axis=0)
    if params['min_bbox_size'] >= 0:
        wh = g.op('Sub', g.op('Slice', boxes, g.const([2], np.int64),
                              g.const([4], np.int64), g.const([1], np.int64)),
                  g.op('Slice', boxes, g.const([0], np.int64),
                       g.const([2], np.int64), g.const([1], np.int64)))
        valid = g.op('Cast', g.op('Greater', wh,
                                  g.const(params['min_bbox_size'])),
                     to=TensorProto.FLOAT)
        valid = g.op('Mul', g.op('Gather', valid, g.const(0, np.int64),
                                 axis=1),
                     g.op('Gather', valid, g.const(1, np.int64), axis=1))
        scores = g.op('Mul', scores, valid)
    # NMS per class: each candidate scores in its own class's row only.
    onehot = g.op('Cast', g.op(
        'Equal', g.op('Unsqueeze', labels, g.const([0], np.int64)),
        g.const(np.arange(num_classes).reshape(-1, 1), np.int64)),
        to=TensorProto.FLOAT)
    class_scores = g.op('Unsqueeze', g.op(
        'Mul', onehot, g.op('Unsqueeze', scores, g.const([0], np.int64))),
        g.const([0], np.int64))
    selected = g.op(
        'NonMaxSuppression',
        g.op('Unsqueeze', boxes, g.const([0], np.int64)), class_scores,
        g.const([params['max_per_img']], np.int64),
        g.const([params['iou_threshold']]), g.const([params['score_thr']]))
    keep = g.op('Squeeze', g.op('Slice', selected, g.const([2], np.int64),
                                g.const([3], np.int64),
                                g.const([1], np.int64)),
                g.const([1], np.int64))
    kept_scores = g.op('Gather', scores, keep, axis=0)
    num_kept = g.op('Min', g.op('Shape', kept_scores),
                    g.const([params['max_per_img']], np.int64))
    top, order = g.op('TopK', kept_scores, num_kept, outputs=2)
    keep = g.op('Gather', keep, order, axis=0)
    outputs = dict(
        boxes=g.op('Gather', boxes, keep, axis=0),
        scores=top,
        labels=g.op('Gather', labels, keep, axis=0))
    for name, tensor in outputs.items():
        graph.node.append(helper.make_node('Identity', [tensor], [name]))
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info('boxes', TensorProto.FLOAT, ['num', 4]),
        helper.make_tensor_value_info('scores', TensorProto.FLOAT, ['num']),
        helper.make_tensor_value_info('labels', TensorProto.INT64, ['num'])
    ])


def export_end2end(qat_model: nn.Module,
                   inputs: torch.Tensor,
                   out_file=None,
                   opset: int = 21):
    """The quantized student of a :class:`QATModel` detector as an
    end-to-end graph (see the module docstring).

    Args:
        qat_model (QATModel): A calibrated (trained) detection QAT model.
        inputs (Tensor): An example preprocessed image ``[1, 3, H, W]``;
            the graph takes this size only.
        out_file (str, optional): Where to save it. Defaults to None.
        opset (int): The ONNX opset (>= 13). Defaults to 21.

    Returns:
        tuple: (``onnx.ModelProto``, the dict of
        :func:`~mmacs.deploy.onnx_export.lower_placeholders`).
    """
    from .onnx_export import (export_qat_model, onnx_session, require_onnx,
                              run_onnx)
    onnx, _ = require_onnx()
    if getattr(qat_model, 'task', None) != 'detection':
        raise TypeError('the end2end graph is for detectors, got a '
                        f'{getattr(qat_model, "task", type(qat_model))} '
                        'model')
    if inputs.dim() != 4 or inputs.shape[0] != 1:
        raise ValueError('the end2end graph takes one image: inputs must be '
                         f'[1, 3, H, W], got {tuple(inputs.shape)}')
    model, lowered = export_qat_model(qat_model, inputs, opset=opset,
                                      dynamic=False)
    levels = len(model.graph.output) // 2
    cls_scores = run_onnx(onnx_session(model), inputs)[:levels]
    params = postprocess_params(qat_model.student,
                                [tuple(t.shape[-2:]) for t in cls_scores])
    add_postprocess(model, params, tuple(inputs.shape[-2:]))
    onnx.checker.check_model(model)
    if out_file is not None:
        onnx.save(model, out_file)
    return model, lowered
