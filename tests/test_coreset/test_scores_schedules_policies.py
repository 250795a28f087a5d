# Copyright (c) mmacs contributors. All rights reserved.
import math

import pytest
import torch

from mmacs.coreset import (anchor_l2_scores, beta_schedule, combine_scores,
                           disagreement_score, error_vector_score,
                           select_coreset)
from mmacs.coreset.policies import class_quotas, topk_indices
from mmacs.coreset.scores import check_finite


def test_evs_and_ds_by_hand():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    labels = torch.tensor([0, 1])
    # softmax rows: [.5, .5] and [.75, .25]
    evs = error_vector_score(logits, labels)
    assert evs.tolist() == pytest.approx(
        [math.sqrt(0.5**2 * 2), math.sqrt(0.75**2 + 0.75**2)])
    ds = disagreement_score(logits[:1], logits[1:])
    assert ds.tolist() == pytest.approx([math.sqrt(2 * 0.25**2)])
    assert disagreement_score(logits, logits).abs().max() == 0


def test_anchor_l2_scores_by_hand():
    p_s = torch.tensor([[0.8, 0.1], [0.3, 0.0]])
    p_t = torch.tensor([[0.8, 0.1], [0.0, 0.4]])
    labels = torch.tensor([0, 2])  # a class-0 positive and a background
    evs, ds = anchor_l2_scores(p_s, p_t, labels, num_classes=2)
    # ||[-.2, .1]|| and ||[.3, 0]||; ||0|| and ||[.3, -.4]|| = .5
    assert evs.item() == pytest.approx(
        (math.sqrt(0.05) + 0.3) / 2, rel=1e-5)
    assert ds.item() == pytest.approx(0.25, rel=1e-5)
    e0, d0 = anchor_l2_scores(p_s[:0], p_t[:0], labels[:0], 2)
    assert e0.item() == 0 and d0.item() == 0


def test_combine_and_nan_check_name_indices():
    evs, ds = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 5.0])
    assert combine_scores(evs, ds, 0.25).tolist() == [2.5, 4.25]
    with pytest.raises(ValueError, match='beta'):
        combine_scores(evs, ds, 1.5)
    with pytest.raises(ValueError, match=r'indices \[7\]'):
        check_finite(torch.tensor([0.0, float('nan')]),
                     torch.tensor([3, 7]))


@pytest.mark.parametrize('name, start, mid, end', [
    ('cosine', 1.0, math.cos(math.pi / 4), 0.0),
    ('official', 1.0, 0.5, 0.0),
    ('linear', 1.0, 0.5, 0.0),
    ('evs_only', 1.0, 1.0, 1.0),
    ('ds_only', 0.0, 0.0, 0.0),
])
def test_schedule_endpoints(name, start, mid, end):
    assert beta_schedule(name, 0, 10) == pytest.approx(start)
    assert beta_schedule(name, 5, 10) == pytest.approx(mid)
    assert beta_schedule(name, 10, 10) == pytest.approx(end, abs=1e-12)


def test_unknown_schedule_is_named():
    with pytest.raises(ValueError, match="'cos'"):
        beta_schedule('cos', 0, 10)


def test_topk_is_deterministic_on_ties():
    scores = torch.tensor([1.0, 3.0, 3.0, 0.0, 3.0])
    assert topk_indices(scores, 2).tolist() == [1, 2]
    assert topk_indices(scores, 4).tolist() == [0, 1, 2, 4]


def test_class_balance_quota_sums_exactly():
    labels = torch.tensor([0] * 7 + [1] * 5 + [2] * 3)
    quotas = class_quotas(labels, 5)
    assert sum(quotas.values()) == 5
    assert quotas == {0: 2, 1: 2, 2: 1}
    scores = torch.arange(15, dtype=torch.float)
    chosen = select_coreset('acs', 15, 5, scores, labels.tolist())
    assert chosen.tolist() == [5, 6, 10, 11, 14]


def test_policies():
    scores = torch.rand(50)
    acs = select_coreset('acs', 50, 10, scores)
    top = scores.argsort(descending=True)[:10]
    assert acs.tolist() == sorted(top.tolist())
    a = select_coreset('random_static', 50, 10, seed=3, round_idx=0)
    b = select_coreset('random_static', 50, 10, seed=3, round_idx=4)
    assert torch.equal(a, b)
    c = select_coreset('random_dynamic', 50, 10, seed=3, round_idx=0)
    d = select_coreset('random_dynamic', 50, 10, seed=3, round_idx=1)
    assert not torch.equal(c, d) and len(set(d.tolist())) == 10
    assert select_coreset('full', 50, 50).tolist() == list(range(50))
    with pytest.raises(ValueError, match='fraction to 1.0'):
        select_coreset('full', 50, 10)
    with pytest.raises(ValueError, match="'best'"):
        select_coreset('best', 50, 10, scores)
    with pytest.raises(ValueError, match='needs 50 scores'):
        select_coreset('acs', 50, 10, None)


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
