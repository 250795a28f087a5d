# Copyright (c) mmacs contributors. All rights reserved.
"""Per-object detection scores: the anchors of each box, pooled per image."""
import pytest
import torch

from mmacs.coreset import build_scorer
from mmacs.coreset.scores import object_means, pool_objects
from mmacs.coreset.scoring import ScoringPass
from mmacs.tasks import dense_head
from mmacs.testing import atss_cfg, build_qat, det_batch, fcos_cfg
from ..test_tasks.test_heads import fcos_normbbox_cfg

POOLS = ('mean', 'max', 'sum')


def test_pool_objects_by_hand():
    values = torch.tensor([[1., 3., 5., 7., 9.], [2., 2., 2., 2., 2.],
                           [4., 4., 4., 4., 4.]])
    gt_inds = torch.tensor([[0, 0, 1, -1, 1], [-1, -1, -1, -1, -1],
                            [-1, 2, -1, -1, -1]])
    image, mean, count = object_means(values, gt_inds)
    assert image.tolist() == [0, 0, 2]
    assert mean.tolist() == [2.0, 7.0, 4.0]  # (1 + 3) / 2, (5 + 9) / 2
    assert count.tolist() == [2, 2, 1]
    # The unassigned point 3 (value 7) is never read; image 1 has no box.
    assert pool_objects(values, gt_inds, 'mean').tolist() == [4.5, 0, 4]
    assert pool_objects(values, gt_inds, 'max').tolist() == [7, 0, 4]
    assert pool_objects(values, gt_inds, 'sum').tolist() == [9, 0, 4]
    with pytest.raises(ValueError, match="'median'"):
        pool_objects(values, gt_inds, 'median')
    with pytest.raises(ValueError, match="'median'"):
        build_scorer(dict(type='object_loss', pool='median'), 'detection')


def calibrated(cfg=None):
    model = build_qat(model=cfg)
    model.calibrate([det_batch()])
    model.eval()
    return model


@pytest.fixture(scope='module')
def retinanet():
    return calibrated()


@pytest.fixture(scope='module', params=['retinanet', 'atss', 'fcos'])
def detector(request, retinanet):
    """RetinaNet (the sampler's assignment), ATSS and FCOS (the box of each
    positive's box target)."""
    if request.param == 'retinanet':
        return retinanet
    return calibrated(dict(atss=atss_cfg, fcos=fcos_cfg)[request.param]())


def scores_of(model, pool, batch):
    scorer = build_scorer(dict(type='object_loss', pool=pool), 'detection')
    return ScoringPass(model, scorer).score_batch(batch)[1]


@torch.no_grad()
def test_one_box_pools_alike_and_boxless_images_score_zero(detector):
    batch = det_batch(((1, ), (), (0, 2)))
    pooled = {p: scores_of(detector, p, batch) for p in POOLS}
    for key in ('evs', 'ds'):
        one = [pooled[p][key][0] for p in POOLS]
        assert one[0] > 0
        assert one[0] == pytest.approx(one[1])
        assert one[0] == pytest.approx(one[2])
        assert all(pooled[p][key][1] == 0 for p in pooled)  # no box
        mean, top, total = (pooled[p][key][2] for p in POOLS)
        # Two boxes: the sum is twice the mean, the max in between.
        assert total == pytest.approx(2 * mean)
        assert mean <= top + 1e-6 and top <= total + 1e-6
    # A batch without a single box (no positive anywhere) scores 0.
    empty = scores_of(detector, 'max', det_batch(((), )))
    assert empty['evs'].tolist() == [0.0] and empty['ds'].tolist() == [0.0]


@torch.no_grad()
def test_sum_is_the_image_loss_of_the_positives(retinanet):
    # Batch of one: sum_j |P_j| EVS_j = n_i EVS_i(loss) - the focal loss of
    # the negatives, with n_i the image's positives.
    single = det_batch(((0, 2), ))
    data = retinanet.data_preprocessor(single, False)
    out = retinanet.adapter.outputs(retinanet.student, data['inputs'])
    head = dense_head(retinanet.student)
    tg = head.object_targets(out, data['data_samples'])
    per_point = head.point_losses(out, tg)
    image, mean, count = object_means(per_point, tg['gt_inds'])
    assert image.tolist() == [0, 0]  # both boxes have anchors
    loss = build_scorer('loss', 'detection')(retinanet.student, out, None,
                                             data['data_samples'])['evs']
    negatives = per_point[tg['gt_inds'] < 0].sum()
    assert float((count * mean).sum() + negatives) == pytest.approx(
        float(loss[0] * tg['num_pos'][0]), rel=1e-5)
    # Each box's points are its positives, as the head assigned them.
    assert torch.equal(tg['gt_inds'] >= 0, tg['labels'] < head.num_classes)
    assert int(count.sum()) == int(tg['num_pos'][0])


@torch.no_grad()
def test_an_image_scores_as_it_does_alone(detector):
    batch = det_batch(((1, ), (0, 2)))
    both = scores_of(detector, 'max', batch)
    for i in range(2):
        alone = scores_of(detector, 'max', dict(
            inputs=[batch['inputs'][i]],
            data_samples=[batch['data_samples'][i]]))
        for key in ('evs', 'ds'):
            assert alone[key][0].item() == pytest.approx(
                both[key][i].item(), rel=1e-4)


@torch.no_grad()
def test_every_box_gets_the_points_of_its_targets(detector):
    # Each positive's box is one of the image's boxes, every box has
    # points, and the per-object means add up to the points' losses.
    data = detector.data_preprocessor(det_batch(((0, 2), (1, ))), False)
    out = detector.adapter.outputs(detector.student, data['inputs'])
    head = dense_head(detector.student)
    tg = head.object_targets(out, data['data_samples'])
    assert torch.equal(tg['gt_inds'] >= 0, tg['labels'] < head.num_classes)
    per_point = head.point_losses(out, tg)
    image, mean, count = object_means(per_point, tg['gt_inds'])
    assert image.tolist() == [0, 0, 1]
    assert torch.allclose((count * mean).sum() +
                          per_point[tg['gt_inds'] < 0].sum(),
                          per_point.sum(), rtol=1e-5)
    # The box of a point is the one whose label it learns.
    for i, sample in enumerate(data['data_samples']):
        pos = tg['gt_inds'][i] >= 0
        labels = sample.gt_instances.labels.to(pos.device)
        assert torch.equal(labels[tg['gt_inds'][i][pos]],
                           tg['labels'][i][pos])


@torch.no_grad()
def test_fcos_boxes_are_found_in_either_unit():
    # With norm_on_bbox the distances are in strides: the same boxes.
    model = calibrated(fcos_normbbox_cfg())
    data = model.data_preprocessor(det_batch(((0, 2), )), False)
    out = model.adapter.outputs(model.student, data['inputs'])
    head = dense_head(model.student)
    assert head.head.norm_on_bbox
    tg = head.object_targets(out, data['data_samples'])
    pos = tg['gt_inds'][0] >= 0
    labels = data['data_samples'][0].gt_instances.labels
    assert torch.equal(labels[tg['gt_inds'][0][pos]], tg['labels'][0][pos])
    assert tg['gt_inds'][0][pos].unique().tolist() == [0, 1]


def test_a_head_family_without_the_assignment_is_named():
    from mmacs.tasks import DenseHead

    class OwnHead(torch.nn.Module):
        num_classes = 2

    with pytest.raises(NotImplementedError, match='OwnHead'):
        DenseHead(OwnHead()).object_targets({}, [])
    with pytest.raises(NotImplementedError, match='OwnHead'):
        DenseHead(OwnHead()).point_losses({}, {})
