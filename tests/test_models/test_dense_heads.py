# Copyright (c) mmacs contributors. All rights reserved.
from unittest import mock

import pytest
import torch
from mmdet.models.utils import unpack_gt_instances

from mmacs.models.dense_heads import (dense_head_targets,
                                      flatten_dense_outputs,
                                      head_loss_and_targets,
                                      soft_focal_distance, teacher_distance)
from mmacs.testing import build_qat, det_batch


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
    head = qat.student.bbox_head
    data = qat.data_preprocessor(det_batch(((1, ), (0, 2), ())), True)
    samples = data['data_samples']
    with torch.no_grad():
        cls_scores, bbox_preds = head(
            qat.student.extract_feat(data['inputs']))[:2]
    gts, gts_ignore, metas = unpack_gt_instances(samples)
    expected = head.loss_by_feat(cls_scores, bbox_preds, gts, metas,
                                 gts_ignore)
    sizes = flatten_dense_outputs(cls_scores, bbox_preds,
                                  head.cls_out_channels)['featmap_sizes']
    expected_targets = dense_head_targets(head, sizes, samples,
                                          cls_scores[0].device)
    with mock.patch.object(head, 'get_targets',
                           wraps=head.get_targets) as get_targets:
        losses, targets = head_loss_and_targets(head, cls_scores, bbox_preds,
                                                samples)
    assert get_targets.call_count == 1
    for key in ('loss_cls', 'loss_bbox'):
        assert all(torch.equal(a, b)
                   for a, b in zip(losses[key], expected[key]))
    assert set(targets) == set(expected_targets)
    for key, value in expected_targets.items():
        assert torch.equal(targets[key], value), key
