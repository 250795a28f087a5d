# Copyright (c) mmacs contributors. All rights reserved.
"""Intermediate-layer alignment of the student to the teacher
(``QATModel(layer_align=...)``), for a classifier and a detector."""
import pytest
import torch
from mmengine.registry import DefaultScope

from mmacs.models import QATModel
from mmacs.models.layer_align import capture_outputs, layer_align_loss
from mmacs.testing import build_qat, det_batch

LAYERS = ['backbone.layer1', 'backbone.layer2', 'backbone.layer3']


def cls_qat(layer_align=None, distill=None):
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = QATModel(
            model=dict(type='ImageClassifier',
                       backbone=dict(type='CifarResNet', depth=20,
                                     num_classes=4),
                       data_preprocessor=dict(type='ImgDataPreprocessor',
                                              mean=[128] * 3,
                                              std=[64] * 3)),
            weight_quant=dict(bits=2), act_quant=dict(bits=2,
                                                      signed='auto'),
            layer_align=layer_align, distill=distill)
    model.init_weights()
    return model


def cls_batch(n=6):
    from mmacs.classification import ClsDataSample
    g = torch.Generator().manual_seed(0)
    samples = []
    for i in range(n):
        s = ClsDataSample(metainfo=dict(sample_idx=i))
        s.gt_label = i % 4
        samples.append(s)
    return dict(inputs=torch.randint(0, 256, (n, 3, 16, 16), generator=g,
                                     dtype=torch.uint8),
                data_samples=samples)


def test_alignment_loss_is_the_stage_mse_and_trains_the_student():
    model = cls_qat(dict(layers=LAYERS, loss_weight=2.0),
                    distill=dict(loss_weight=1.0))
    model.calibrate([cls_batch()])
    model.train()
    data = model.data_preprocessor(cls_batch(), True)
    calls = []
    model.teacher.register_forward_hook(lambda *a: calls.append(1))
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert {'loss_cls', 'loss_kd', 'loss_align'} <= set(losses)
    assert len(calls) == 1  # one teacher pass, shared with distillation
    # The loss equals the summed MSE of the stage outputs, times 2.
    with torch.no_grad(), capture_outputs(model.student, LAYERS) as s, \
            capture_outputs(model.teacher, LAYERS) as t:
        model.student(data['inputs'], mode='tensor')
        model.teacher(data['inputs'], mode='tensor')
        ref = sum(torch.mean((s[n] - t[n])**2) for n in LAYERS)
    assert losses['loss_align'].item() == pytest.approx(2 * ref.item(),
                                                        rel=1e-4)
    assert losses['loss_align'] > 0
    losses['loss_align'].backward()
    grads = [p.grad for n, p in model.student.named_parameters()
             if n.startswith('backbone.layer1') and p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in model.teacher.parameters())
    # Hooks are gone after the step: nothing captured outside it.
    assert not model.student.backbone.layer1._forward_hooks


def test_alignment_off_by_default_and_bad_configs_named():
    model = cls_qat()
    model.calibrate([cls_batch()])
    data = model.data_preprocessor(cls_batch(), True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert 'loss_align' not in losses and 'loss_kd' not in losses
    with pytest.raises(ValueError, match='backbone.nope'):
        cls_qat(dict(layers=['backbone.nope']))
    with pytest.raises(ValueError, match='-1'):
        cls_qat(dict(layers=LAYERS, loss_weight=-1))
    with pytest.raises(ValueError, match='unknown'):
        cls_qat(dict(layers=LAYERS, weight=1))
    with pytest.raises(TypeError, match='layer_align'):
        cls_qat(['backbone.layer1'])


def test_detector_aligns_its_neck_outputs():
    model = build_qat(layer_align=dict(layers=['neck'], loss_weight=1.0))
    model.calibrate([det_batch()])
    model.train()
    data = model.data_preprocessor(det_batch(), True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert {'loss_cls', 'loss_bbox', 'loss_align'} <= set(losses)
    assert torch.isfinite(losses['loss_align']) and losses['loss_align'] > 0


def test_layer_align_loss_checks_both_ran():
    with pytest.raises(RuntimeError, match="'x'"):
        layer_align_loss({'x': torch.ones(1)}, {}, ['x'])
