# Copyright (c) mmacs contributors. All rights reserved.
from unittest import mock

import pytest
import torch
from mmdet.models.utils import unpack_gt_instances

from mmacs.tasks import dense_head, soft_focal_distance, teacher_distance
from mmacs.testing import build_qat, det_batch, fcos_cfg


def test_soft_focal_distance_is_zero_only_on_agreement():
    s = torch.tensor([-3.0, 0.0, 2.0])
    assert soft_focal_distance(s, s).abs().max() < 1e-12
    d = soft_focal_distance(s, s + 1.0)
    assert (d > 0).all()


def test_teacher_distance_sums_over_trained_anchors():
    s = torch.tensor([[[0.0, 1.0], [2.0, -1.0], [1.0, 1.0]]])
    t = torch.zeros_like(s)
    weights = torch.tensor([[1.0, 0.0, 1.0]])
    expected = soft_focal_distance(s, t)[0][[0, 2]].sum()
    assert teacher_distance(s, t, weights).tolist() == pytest.approx(
        [float(expected)])


def test_one_assignment_gives_the_head_loss_and_the_targets():
    qat = build_qat()
    qat.calibrate([det_batch()])
    view = dense_head(qat.student)
    head = view.head
    data = qat.data_preprocessor(det_batch(((1, ), (0, 2), ())), True)
    samples = data['data_samples']
    with torch.no_grad():
        maps = head(qat.student.extract_feat(data['inputs']))
    gts, gts_ignore, metas = unpack_gt_instances(samples)
    expected = head.loss_by_feat(*maps, gts, metas, gts_ignore)
    expected_targets = view.targets(view.flatten(maps), samples)
    with mock.patch.object(head, 'get_targets',
                           wraps=head.get_targets) as get_targets:
        losses, targets, out = view.loss_and_targets(maps, samples)
    assert get_targets.call_count == 1
    for key in ('loss_cls', 'loss_bbox'):
        assert all(torch.equal(a, b)
                   for a, b in zip(losses[key], expected[key]))
    assert set(targets) == set(expected_targets)
    for key, value in expected_targets.items():
        assert torch.equal(targets[key], value), key
    assert torch.equal(out['cls'], view.flatten(maps)['cls'])


def fcos_normbbox_cfg():
    """FCOS with the tricks of mmdet's 'center-normbbox-centeronreg-giou'
    config: distances over the stride, centerness on the box branch,
    center sampling and a GIoU loss."""
    cfg = fcos_cfg()
    cfg.bbox_head.update(
        norm_on_bbox=True, centerness_on_reg=True, center_sampling=True,
        conv_bias=True, loss_bbox=dict(type='GIoULoss', loss_weight=1.0))
    return cfg


def test_fcos_loss_and_targets():
    qat = build_qat(model=fcos_cfg())
    qat.calibrate([det_batch()])
    view = dense_head(qat.student)
    data = qat.data_preprocessor(det_batch(((1, ), (0, 2), ())), True)
    samples = data['data_samples']
    with torch.no_grad():
        maps = view.head(qat.student.extract_feat(data['inputs']))
    gts, gts_ignore, metas = unpack_gt_instances(samples)
    expected = view.head.loss_by_feat(*maps, gts, metas, gts_ignore)
    losses, targets, out = view.loss_and_targets(maps, samples)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness'}
    for key, value in expected.items():
        assert torch.equal(losses[key], value), key
    # One point per location: A = sum of H * W over the levels.
    num_points = sum(h * w for h, w in out['featmap_sizes'])
    assert out['cls'].shape == (3, num_points, 80)
    assert out['reg'].shape == (3, num_points, 4)
    assert out['ctr'].shape == (3, num_points)
    pos = targets['labels'] < 80
    assert pos[0].any() and pos[1].any() and not pos[2].any()
    assert targets['num_pos'].tolist() == pos.sum(1).float().tolist()
    assert (targets['centerness'][pos] > 0).all()
    assert (targets['centerness'][~pos] == 0).all()


@torch.no_grad()
def test_fcos_eval_outputs_are_in_training_units():
    # With norm_on_bbox the head scales its distances by the stride in
    # eval mode only; the scores must not depend on the mode.
    qat = build_qat(model=fcos_normbbox_cfg())
    qat.calibrate([det_batch()])
    qat.eval()
    view = dense_head(qat.student)
    batch = det_batch(((1, ), ))
    data = qat.data_preprocessor(batch, False)
    feats = qat.student.extract_feat(data['inputs'])
    out = view.outputs(feats)
    targets = view.targets(out, data['data_samples'])
    evs = view.image_losses(out, targets)
    view.head.train()  # the head alone: GN and scales have no mode
    maps = view.head(feats)
    gts, gts_ignore, metas = unpack_gt_instances(data['data_samples'])
    ref = sum(view.head.loss_by_feat(*maps, gts, metas,
                                     gts_ignore).values())
    assert torch.allclose(view.flatten(maps)['reg'], out['reg'], rtol=1e-5)
    assert evs.item() == pytest.approx(ref.item(), rel=1e-4)


def test_unsupported_heads_are_named():
    from mmdet.models.dense_heads import RetinaHead

    class OwnTargets(RetinaHead):
        """An anchor head with an assignment of its own."""

        def get_targets(self, *args, **kwargs):
            raise AssertionError('never called')

    model = torch.nn.Module()
    model.bbox_head = OwnTargets(num_classes=3, in_channels=8,
                                 feat_channels=8, stacked_convs=1)
    with pytest.raises(TypeError,
                       match="'ATSSHead', 'AnchorHead', 'FCOSHead'.*"
                       'OwnTargets'):
        dense_head(model)
    with pytest.raises(TypeError, match='no bbox_head'):
        dense_head(torch.nn.Module())
