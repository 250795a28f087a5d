# Copyright (c) mmacs contributors. All rights reserved.
"""Tasks: what each knows, found from the model; defaults that follow it."""
import pytest
import torch.nn as nn

from mmacs.quantization import QConv2d
from mmacs.tasks import (DEFAULT_FP_LAYERS, ClassificationTask, DetectionTask,
                         build_task, get_task)
from mmacs.testing import build_qat, det_batch, fcos_cfg


def test_auto_finds_the_task_and_bad_names_are_named():
    det = nn.Module()
    det.bbox_head = nn.Module()
    assert isinstance(build_task('auto', det), DetectionTask)
    assert isinstance(build_task('auto', nn.Module()), ClassificationTask)
    with pytest.raises(ValueError, match="'segmentation'"):
        build_task('segmentation', det)
    with pytest.raises(ValueError, match="'segmentation'"):
        get_task('segmentation')


@pytest.mark.parametrize('cfg, head_fp', [
    (None, ('retina_cls', 'retina_reg')),
    (fcos_cfg, ('conv_cls', 'conv_reg', 'conv_centerness')),
])
def test_the_heads_last_layers_stay_in_full_precision(cfg, head_fp):
    qat = build_qat(model=None if cfg is None else cfg())
    assert qat.task == 'detection'
    assert qat.adapter.fp_layers == ('backbone.conv1', 'backbone.stem.*') + \
        tuple(f'bbox_head.{name}' for name in head_fp)
    head = qat.student.bbox_head
    for name in head_fp:
        layer = getattr(head, name)
        assert isinstance(layer, nn.Conv2d) and \
            not isinstance(layer, QConv2d), name
    assert isinstance(qat.student.backbone.layer1[0].conv1, QConv2d)
    # Every task's defaults, for a model quantized outside QATModel.
    assert set(qat.adapter.fp_layers) <= set(DEFAULT_FP_LAYERS)
    assert set(ClassificationTask.fp_layers) <= set(DEFAULT_FP_LAYERS)


def test_what_each_task_declares():
    cls, det = get_task('classification'), get_task('detection')
    assert (cls.default_scorer, det.default_scorer) == ('softmax', 'loss')
    assert cls.single_label and not det.single_label
    assert (cls.teacher_fit_key, det.teacher_fit_key) == ('label_prob',
                                                          'teacher_loss')
    assert cls.output_names(1) == ['logits']
    assert det.output_names(4) == ['cls_score_0', 'cls_score_1',
                                   'bbox_pred_0', 'bbox_pred_1']
    assert det.output_axes('cls_score_0') == {
        0: 'batch', 2: 'cls_score_0_height', 3: 'cls_score_0_width'}
    assert cls.output_axes('logits') == {0: 'batch'}


def test_distillation_runs_through_the_head_family():
    # One file per head: FCOS distils like RetinaNet, from its own outputs.
    qat = build_qat(distill=dict(loss_weight=1.0), model=fcos_cfg())
    qat.calibrate([det_batch()])
    data = qat.data_preprocessor(det_batch(), True)
    losses = qat(data['inputs'], data['data_samples'], mode='loss')
    assert {'loss_cls', 'loss_bbox', 'loss_centerness', 'loss_kd'} <= set(
        losses)
    assert losses['loss_kd'] > 0  # the quantized student differs
    losses['loss_kd'].backward()
    assert qat.student.bbox_head.conv_cls.weight.grad.abs().sum() > 0
