# Copyright (c) mmacs contributors. All rights reserved.
from unittest import mock

import pytest
import torch
from mmdet.models.utils import unpack_gt_instances

from mmacs.coreset import TeacherCache, build_scorer
from mmacs.coreset.scoring import ScoringPass
from mmacs.testing import atss_cfg, build_qat, det_batch, fcos_cfg

#: The detectors every detection scorer test runs on: RetinaNet, the
#: anchor-free FCOS and ATSS (both from mmdet's own configs).
DETECTORS = dict(retinanet=None, fcos=fcos_cfg, atss=atss_cfg)


@pytest.fixture(scope='module', params=sorted(DETECTORS))
def qat(request):
    cfg = DETECTORS[request.param]
    model = build_qat(model=None if cfg is None else cfg())
    model.calibrate([det_batch()])
    model.eval()
    return model


def head_loss_single_image(model, batch):
    """The head's own batch loss (every term) for a one-image batch."""
    data = model.data_preprocessor(batch, False)
    head = model.student.bbox_head
    maps = head(model.student.extract_feat(data['inputs']))
    gts, ignores, metas = unpack_gt_instances(data['data_samples'])
    losses = head.loss_by_feat(*maps, gts, metas, ignores)
    return sum(sum(v) if isinstance(v, (list, tuple)) else v
               for v in losses.values())


@torch.no_grad()
def test_loss_evs_equals_head_loss_per_image(qat):
    scorer = build_scorer('loss', 'detection')
    full = det_batch(((1, ), (0, 2)))
    _, scores, _ = ScoringPass(qat, scorer).score_batch(full)
    for i in range(2):
        single = dict(inputs=[full['inputs'][i]],
                      data_samples=[full['data_samples'][i]])
        ref = head_loss_single_image(qat, single)
        assert scores['evs'][i].item() == pytest.approx(ref.item(), rel=1e-4)


@torch.no_grad()
def test_images_without_boxes_are_finite(qat):
    for name in ('loss', 'anchor_l2'):
        scorer = build_scorer(name, 'detection')
        _, scores, _ = ScoringPass(qat, scorer).score_batch(
            det_batch(((), (3, ))))
        assert torch.isfinite(scores['evs']).all()
        assert torch.isfinite(scores['ds']).all()
        assert scores['evs'][0] > 0  # the false alarms of an empty image
        # A batch without a single box (no positive anywhere).
        _, empty, _ = ScoringPass(qat, scorer).score_batch(det_batch(((), )))
        assert torch.isfinite(empty['evs']).all() and empty['evs'][0] > 0


@torch.no_grad()
def test_ds_is_zero_when_student_equals_teacher(qat):
    data = qat.data_preprocessor(det_batch(), False)
    out = qat.adapter.outputs(qat.student, data['inputs'])
    for name in ('loss', 'anchor_l2'):
        scores = build_scorer(name, 'detection')(qat.student, out, out,
                                                 data['data_samples'])
        assert scores['ds'].abs().max() < 1e-6
    # The quantized student does disagree with its float teacher.
    t_out = qat.teacher_outputs(data['inputs'])
    scores = build_scorer('loss', 'detection')(qat.student, out, t_out,
                                               data['data_samples'])
    assert (scores['ds'] > 0).all()


@torch.no_grad()
def test_teacher_loss_is_the_teachers_head_loss_per_image(qat):
    # What a teacher filter reads: the EVS formula on the teacher's outputs
    # (equal to the EVS where the teacher is the student).
    data = qat.data_preprocessor(det_batch(((1, ), (0, 2))), False)
    out = qat.adapter.outputs(qat.student, data['inputs'])
    t_out = qat.teacher_outputs(data['inputs'])
    loss = build_scorer('loss', 'detection')
    # Computed only when asked for (a teacher filter asks).
    assert 'teacher_loss' not in loss(qat.student, out, t_out,
                                      data['data_samples'])
    loss.with_teacher_loss = True
    same = loss(qat.student, out, out, data['data_samples'])
    assert torch.allclose(same['teacher_loss'], same['evs'])
    scores = loss(qat.student, out, t_out, data['data_samples'])
    swapped = loss(qat.student, t_out, None, data['data_samples'])
    assert torch.allclose(scores['teacher_loss'], swapped['evs'])
    assert 'teacher_loss' not in swapped
    l2 = build_scorer('anchor_l2', 'detection')
    l2.with_teacher_loss = True
    l2 = l2(qat.student, out, t_out, data['data_samples'])
    assert torch.allclose(l2['teacher_loss'], scores['teacher_loss'])


@torch.no_grad()
def test_anchor_l2_scored_set(qat):
    scorer = build_scorer(
        dict(type='anchor_l2', neg_pos_ratio=3, min_negatives=5,
             teacher_topk=4), 'detection')
    num_classes = 3
    labels = torch.tensor([0, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    weights = torch.ones(10)
    weights[9] = 0  # an ignored anchor is never scored
    p_s = torch.rand(10, num_classes)
    p_t = torch.rand(10, num_classes)
    mask = scorer.scored_anchors(p_s, p_t, labels, weights, num_classes)
    assert mask[0] and not mask[9]
    assert int(mask.sum()) >= 1 + 5


@torch.no_grad()
def test_teacher_cache_is_exact(qat):
    scorer = build_scorer('loss', 'detection')
    cache = TeacherCache()
    _, first, info1 = ScoringPass(qat, scorer, cache=cache).score_batch(
        det_batch())
    _, second, info2 = ScoringPass(qat, scorer, cache=cache).score_batch(
        det_batch())
    assert info1['cache_hits'] == 0 and info2['cache_hits'] == 2
    assert torch.equal(first['ds'], second['ds'])
    assert torch.equal(first['evs'], second['evs'])
    small = TeacherCache(max_bytes=1)
    ScoringPass(qat, scorer, cache=small).score_batch(det_batch())
    assert len(small) == 0 and small.full


@torch.no_grad()
def test_teacher_as_student_scores_the_teachers_outputs(qat):
    batch = det_batch(((1, ), (0, 2)))
    loss = build_scorer('loss', 'detection')
    cache = TeacherCache()
    calls = []
    outputs = qat.adapter.outputs
    with mock.patch.object(
            qat.adapter, 'outputs',
            lambda net, inputs: calls.append(net) or outputs(net, inputs)):
        _, scores, info = ScoringPass(qat, loss, cache=cache).score_batch(
            batch, with_teacher=False, teacher_as_student=True)
    # Only the teacher ran, and its outputs went to the cache.
    assert calls == [qat.teacher] and len(cache) == 2
    assert info['cache_hits'] == 0
    data = qat.data_preprocessor(batch, False)
    t_out = qat.teacher_outputs(data['inputs'])
    ref = loss(qat.student, t_out, None, data['data_samples'])
    assert torch.allclose(scores['evs'], ref['evs'])
    assert scores['ds'].abs().max() < 1e-6
    # The student's own EVS differs: it is quantized.
    _, own, _ = ScoringPass(qat, loss).score_batch(batch)
    assert not torch.allclose(own['evs'], scores['evs'])


def test_unknown_or_mismatched_scorer_is_named():
    with pytest.raises(ValueError, match="'l2'"):
        build_scorer('l2', 'detection')
    with pytest.raises(ValueError, match='for classification'):
        build_scorer('softmax', 'detection')


@torch.no_grad()
def test_evs_without_the_teacher_is_unchanged(qat):
    scorer = build_scorer('loss', 'detection')
    assert not scorer.evs_needs_teacher
    assert build_scorer('anchor_l2', 'detection').evs_needs_teacher
    batch = det_batch(((1, ), (0, 2)))
    with mock.patch.object(qat, 'teacher_outputs',
                           wraps=qat.teacher_outputs) as teacher:
        _, alone, info = ScoringPass(qat, scorer).score_batch(
            batch, with_teacher=False)
        assert teacher.call_count == 0 and info['teacher_seconds'] == 0
        _, both, _ = ScoringPass(qat, scorer).score_batch(batch)
        assert teacher.call_count == 1
    assert alone['ds'] is None
    assert torch.equal(alone['evs'], both['evs'])


def test_relative_entropy_score_by_hand():
    from mmacs.classification import ClsDataSample
    from mmacs.coreset.scorers import build_scorer
    from mmacs.coreset.scores import relative_entropy_score
    s = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0]])
    t = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 3.0]])
    kl = relative_entropy_score(s, t)
    p = torch.softmax(s[1], 0)
    # KL(uniform || p) = sum 0.5 log(0.5 / p)
    ref = float((0.5 * torch.log(0.5 / p)).sum())
    assert kl.tolist() == pytest.approx([0.0, ref, 0.0], abs=1e-6)
    # KL is asymmetric: the teacher is the reference distribution.
    assert relative_entropy_score(t, s)[1] != pytest.approx(kl[1])
    # T = 2 softens both: a smaller divergence here.
    assert relative_entropy_score(s, t, 2.0)[1] < kl[1]
    samples = []
    for label in (0, 1, 1):
        sample = ClsDataSample()
        sample.gt_label = label
        samples.append(sample)
    scorer = build_scorer(dict(type='relative_entropy'), 'classification')
    out = scorer(None, dict(logits=s), dict(logits=t), samples)
    assert torch.allclose(out['ds'], kl)
    assert torch.allclose(out['evs'],
                          build_scorer(None, 'classification')(
                              None, dict(logits=s), None, samples)['evs'])
    assert scorer(None, dict(logits=s), None, samples)['ds'] is None
    with pytest.raises(ValueError, match='0'):
        build_scorer(dict(type='relative_entropy', temperature=0),
                     'classification')
