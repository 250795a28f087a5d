# Copyright (c) mmacs contributors. All rights reserved.
import io
from types import SimpleNamespace

import pytest
import torch

from mmacs.models import find_qat_model
from mmacs.quantization import QConv2d, quantizer_summary
from mmacs.testing import build_qat, det_batch


@pytest.fixture(scope='module')
def qat():
    model = build_qat(distill=dict(loss_weight=1.0))
    assert model.calibrate([det_batch()]) > 0
    return model


def test_loss_mode_trains_student_only(qat):
    qat.train()
    assert not qat.teacher.training  # the teacher stays in eval mode
    data = qat.data_preprocessor(det_batch(), True)
    losses = qat(data['inputs'], data['data_samples'], mode='loss')
    assert {'loss_cls', 'loss_bbox', 'loss_kd'} <= set(losses)
    total = sum(sum(v) if isinstance(v, list) else v for v in losses.values())
    qat.zero_grad()
    total.backward()
    assert all(p.grad is None for p in qat.teacher.parameters())
    assert all(not p.requires_grad for p in qat.teacher.parameters())
    steps = [p for n, p in qat.student.named_parameters()
             if n.endswith('.step') and p.requires_grad]
    assert steps and any(p.grad is not None and p.grad.abs().sum() > 0
                         for p in steps)


def test_predict_returns_detections(qat):
    qat.eval()
    data = qat.data_preprocessor(det_batch(), False)
    out = qat(data['inputs'], data['data_samples'], mode='predict')
    assert len(out) == 2
    pred = out[0].pred_instances
    assert pred.bboxes.shape[1] == 4 and len(pred.bboxes) > 0
    assert len(pred.scores) == len(pred.labels) == len(pred.bboxes)
    feats = qat(data['inputs'], mode='tensor')
    assert len(feats) == 2 and len(feats[0]) == 5  # cls, reg x 5 levels


def test_state_dict_round_trip_with_weights_only(qat):
    qat.eval()
    buf = io.BytesIO()
    torch.save(qat.state_dict(), buf)
    buf.seek(0)
    other = build_qat(seed=1)
    other.load_state_dict(torch.load(buf, weights_only=True))
    other.eval()
    summary = quantizer_summary(other.student)
    assert summary['initialized'] == summary['quantizers'] > 0
    data = qat.data_preprocessor(det_batch(), False)
    a = qat(data['inputs'], mode='tensor')
    b = other(data['inputs'], mode='tensor')
    assert all(torch.equal(x, y) for x, y in zip(a[0], b[0]))


def test_float_checkpoint_loads_into_student_and_teacher(tmp_path):
    source = build_qat(seed=3)
    path = tmp_path / 'float.pth'
    # A float detector checkpoint, as mmengine saves one.
    torch.save({'state_dict': source.teacher.state_dict()}, path)
    model = build_qat(float_checkpoint=str(path), seed=4)
    name = 'backbone.layer2.0.conv1.weight'
    ref = source.teacher.state_dict()[name]
    assert torch.equal(model.teacher.state_dict()[name], ref)
    assert torch.equal(model.student.state_dict()[name], ref)
    assert isinstance(model.student.backbone.layer2[0].conv1, QConv2d)


def test_mismatched_float_checkpoint_is_refused(tmp_path):
    path = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'foo.weight': torch.zeros(1)}}, path)
    with pytest.raises(KeyError, match='does not match'):
        build_qat(float_checkpoint=str(path))


def test_bad_distill_is_named():
    with pytest.raises(ValueError, match='-1'):
        build_qat(distill=dict(loss_weight=-1))


def test_steps_of_frozen_stages_are_frozen_at_construction():
    # DDP records the parameters that need gradients when it wraps the
    # model, before the runner calls train(): ResNet's frozen_stages=1
    # must already hold for the LSQ steps of layer1.
    model = build_qat()
    steps = {n: p for n, p in model.student.named_parameters()
             if n.endswith('.step')}
    frozen = [n for n in steps if n.startswith('backbone.layer1.')]
    assert frozen and all(not steps[n].requires_grad for n in frozen)
    assert all(p.requires_grad for n, p in steps.items()
               if n.startswith('backbone.layer2.'))


def test_hooks_find_the_qat_model_behind_a_wrapper(qat):
    wrapped = SimpleNamespace(model=torch.nn.DataParallel(qat))
    assert find_qat_model(wrapped, 'SomeHook') is qat
    assert find_qat_model(SimpleNamespace(model=qat), 'SomeHook') is qat
    with pytest.raises(TypeError, match='SomeHook needs a QATModel.*Linear'):
        find_qat_model(SimpleNamespace(model=torch.nn.Linear(1, 1)),
                       'SomeHook')
