# Copyright (c) mmacs contributors. All rights reserved.
"""The teacher filter: which scored samples a selection may pick."""
import pytest
import torch

from mmacs.coreset import (apply_teacher_filter, build_scorer,
                           check_teacher_filter, teacher_drop_pool,
                           teacher_filter_pool)
from mmacs.coreset.scores import teacher_label_prob
from mmacs.tasks import ClassificationTask, DetectionTask


def test_check_teacher_filter_names_bad_values():
    assert check_teacher_filter(None) is None
    assert check_teacher_filter(dict(min_prob=0.2)) == dict(min_prob=0.2)
    for bad in (0, 1, 1.5, -0.1, True, '0.2', None):
        with pytest.raises(ValueError, match=repr(bad)):
            check_teacher_filter(dict(min_prob=bad))
    with pytest.raises(ValueError, match='max_prob'):
        check_teacher_filter(dict(max_prob=0.2))
    with pytest.raises(ValueError, match='0.3'):
        check_teacher_filter(0.3)
    assert check_teacher_filter(dict(drop=0.2)) == dict(drop=0.2)
    for bad in (0, 1, '0.1'):
        with pytest.raises(ValueError, match=f'drop must be .*{bad!r}'):
            check_teacher_filter(dict(drop=bad))
    with pytest.raises(ValueError, match='drop'):
        check_teacher_filter(dict(drop=0.2, min_prob=0.1))


def test_teacher_label_prob_is_the_softmax_of_the_label():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    prob = teacher_label_prob(logits, torch.tensor([0, 2]))
    assert torch.allclose(prob, torch.stack(
        [logits[0].softmax(0)[0], torch.tensor(1 / 3)]))


def test_filter_keeps_the_samples_the_teacher_supports():
    prob = torch.tensor([0.9, 0.05, 0.5, 0.1, 0.3, 0.02])
    pool = torch.arange(6)
    kept, passed = teacher_filter_pool(pool, prob, 0.1, 2)
    assert kept.tolist() == [0, 2, 3, 4] and passed == 4
    # Within a pool: only the pool's samples are candidates.
    kept, passed = teacher_filter_pool(torch.tensor([1, 2, 5]), prob, 0.1, 1)
    assert kept.tolist() == [2] and passed == 1


def test_filter_falls_back_to_the_most_supported_samples():
    prob = torch.tensor([0.01, 0.05, 0.03, 0.05, 0.2])
    kept, passed = teacher_filter_pool(torch.arange(5), prob, 0.5, 3)
    # Fewer than k pass: the k highest, ties to the lower index.
    assert passed == 0 and kept.tolist() == [1, 3, 4]


def test_drop_filter_drops_the_worst_fitted_share():
    # Fit: higher is better (minus a detection teacher loss here).
    fit = -torch.tensor([0.1, 3.0, 0.5, 2.0, 0.2, 2.0, 0.4, 0.3])
    pool = torch.arange(8)
    # ceil(0.25 * 8) = 2 dropped: the two highest losses, 1 (3.0), then of
    # the tie 3 / 5 (2.0) the higher index.
    kept, passed = teacher_drop_pool(pool, fit, 0.25, 2)
    assert kept.tolist() == [0, 2, 3, 4, 6, 7] and passed == 6
    # ceil(0.3 * 8) = 3: both of the tie.
    kept, passed = teacher_drop_pool(pool, fit, 0.3, 2)
    assert kept.tolist() == [0, 2, 4, 6, 7] and passed == 5
    # Never fewer candidates than the coreset.
    kept, passed = teacher_drop_pool(pool, fit, 0.9, 4)
    assert kept.tolist() == [0, 4, 6, 7] and passed == 0
    # Within a pool, the share is of the pool.
    kept, _ = teacher_drop_pool(torch.tensor([1, 2, 4, 6]), fit, 0.5, 1)
    assert kept.tolist() == [4, 6]
    kept, info = apply_teacher_filter(dict(drop=0.25), None, fit, 8, 2,
                                      noisy=[1, 3])
    assert info['drop'] == 0.25 and info['candidates'] == 6
    assert info['dropped_noisy_fraction'] == pytest.approx(0.5)


def test_teacher_fit_is_the_tasks():
    prob, loss = torch.tensor([0.2, 0.9]), torch.tensor([1.0, 3.0])
    assert ClassificationTask().teacher_fit(dict(label_prob=prob)) is prob
    assert torch.equal(DetectionTask().teacher_fit(
        dict(evs=loss, teacher_loss=loss)), -loss)
    with pytest.raises(ValueError, match="'label_prob'"):
        ClassificationTask().teacher_fit(dict(teacher_loss=loss))
    with pytest.raises(ValueError, match=r"\['ds', 'evs'\]"):
        DetectionTask().teacher_fit(dict(evs=loss, ds=loss))


def test_apply_teacher_filter_records_the_noisy_shares():
    prob = torch.tensor([0.9, 0.05, 0.5, 0.1, 0.3, 0.02, 0.8, 0.04])
    kept, info = apply_teacher_filter(dict(min_prob=0.2), None, prob, 8, 2,
                                      noisy=[1, 5, 6])
    assert kept.tolist() == [0, 2, 4, 6]
    assert info['scored'] == 8 and info['passed'] == info['candidates'] == 4
    # Dropped: 1, 3, 5, 7 (two noisy); candidates: 0, 2, 4, 6 (one noisy).
    assert info['dropped_noisy_fraction'] == pytest.approx(0.5)
    assert info['candidates_noisy_fraction'] == pytest.approx(0.25)
    kept, info = apply_teacher_filter(dict(min_prob=0.2), None, prob, 8, 2)
    assert 'dropped_noisy_fraction' not in info


class _Sample:

    def __init__(self, label):
        self.gt_label = torch.tensor([label])


@pytest.mark.parametrize('name', ['softmax', 'relative_entropy'])
def test_classification_scorers_give_the_label_prob_with_a_teacher(name):
    scorer = build_scorer(name, 'classification')
    s = dict(logits=torch.randn(4, 3, generator=torch.Generator()
                                .manual_seed(0)))
    t = dict(logits=torch.randn(4, 3, generator=torch.Generator()
                                .manual_seed(1)))
    samples = [_Sample(i % 3) for i in range(4)]
    scores = scorer(None, s, t, samples)
    assert torch.allclose(
        scores['label_prob'],
        t['logits'].softmax(-1)[torch.arange(4), torch.tensor([0, 1, 2, 0])])
    assert scores['ds'].shape == (4, )
    without = scorer(None, s, None, samples)
    assert without['ds'] is None and 'label_prob' not in without
    assert torch.equal(without['evs'], scores['evs'])
