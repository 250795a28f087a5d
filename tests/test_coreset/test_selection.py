# Copyright (c) mmacs contributors. All rights reserved.
"""Selection rules: exact budgets, per-class quotas, seeded draws, ties and
all-equal scores."""
import pytest
import torch

from mmacs.coreset.policies import class_quotas, select_coreset
from mmacs.coreset.selection import check_selection, select_by_rule
from mmacs.registry import SELECTION_RULES

RULES = [
    'topk', dict(type='trimmed', trim=0.1), dict(type='mixed', share=0.5),
    dict(type='sampled', power=2.0), dict(type='stratified', bins=8),
    dict(type='stratified', bins=5, trim=0.1)
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize('rule', RULES)
@pytest.mark.parametrize('k', [0, 1, 7, 50, 100])
def test_exact_budget_distinct_in_range(rule, k):
    scores = torch.rand(100, generator=gen(3))
    idx = select_by_rule(rule, scores, k, gen())
    assert idx.numel() == k and idx.unique().numel() == k
    assert k == 0 or (idx.min() >= 0 and idx.max() < 100)


@pytest.mark.parametrize('rule', RULES)
def test_all_equal_and_tied_scores(rule):
    scores = torch.ones(40)
    idx = select_by_rule(rule, scores, 10, gen())
    assert idx.unique().numel() == 10
    ties = torch.tensor([1., 1., 0., 1., 1., 0.])
    assert select_by_rule(rule, ties, 6, gen()).sort().values.tolist() == \
        list(range(6))


@pytest.mark.parametrize('rule', RULES)
def test_seeded(rule):
    scores = torch.rand(200, generator=gen(1))
    a = select_by_rule(rule, scores, 30, gen(5))
    b = select_by_rule(rule, scores, 30, gen(5))
    assert torch.equal(a, b)


def test_topk_and_trimmed():
    scores = torch.tensor([0.5, 0.9, 0.9, 0.1, 0.7, 0.3])
    # Ties to the lower index.
    assert sorted(select_by_rule('topk', scores, 2).tolist()) == [1, 2]
    assert sorted(select_by_rule('topk', scores, 4).tolist()) == [0, 1, 2, 4]
    # trim 0.2 of 6 -> ceil(1.2) = 2 highest dropped.
    trimmed = dict(type='trimmed', trim=0.2)
    assert sorted(select_by_rule(trimmed, scores, 2).tolist()) == [0, 4]
    # Fewer than k would remain: drops only what it can (the top one).
    assert sorted(select_by_rule(trimmed, scores, 5).tolist()) == \
        [0, 2, 3, 4, 5]


def test_mixed_takes_its_share_of_top_scores():
    scores = torch.arange(1000.)
    idx = select_by_rule(dict(type='mixed', share=0.3), scores, 100, gen())
    top = set(range(970, 1000))
    assert top <= set(idx.tolist())
    rest = [i for i in idx.tolist() if i not in top]
    # The other 70 are uniform over the remaining 970: spread, not top.
    assert len(rest) == 70 and min(rest) < 300 and max(rest) > 600
    assert sorted(select_by_rule(dict(type='mixed', share=1.0), scores, 10,
                                 gen()).tolist()) == list(range(990, 1000))


def test_sampled_favours_high_scores_without_excluding_low_ones():
    scores = torch.cat([torch.full((500, ), 0.1), torch.full((500, ), 1.0)])
    high = low = 0
    for seed in range(20):
        idx = select_by_rule('sampled', scores, 100, gen(seed))
        high += int((idx >= 500).sum())
        low += int((idx < 500).sum())
    # Weights 1 : 10: high scores ~10/11 of the draws, low ones not none.
    assert high > 5 * low and low > 0
    soft = dict(type='sampled', power=0.0)  # power 0: uniform
    idx = torch.cat([select_by_rule(soft, scores, 100, gen(s))
                     for s in range(20)])
    assert 0.4 < (idx >= 500).float().mean() < 0.6


def test_stratified_covers_the_score_range():
    # Scores piled up at the top: top-k would take only the pile.
    scores = torch.cat([torch.linspace(0, 1, 200), torch.full((800, ), 1.0)])
    idx = select_by_rule(dict(type='stratified', bins=10), scores, 100,
                         gen())
    strata = (scores[idx] * 10).long().clamp(max=9)
    counts = torch.bincount(strata, minlength=10)
    # Nine strata of 20 samples get an even share (9 or 10), the pile the
    # rest.
    assert counts[:9].min() >= 9 and counts[:9].max() <= 10
    assert counts.sum() == 100
    # trim drops the top before binning.
    idx = select_by_rule(dict(type='stratified', bins=10, trim=0.81),
                         scores, 100, gen())
    assert scores[idx].max() < 1.0


def test_per_class_quotas_apply_to_every_rule():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    scores = torch.rand(100, generator=gen(2))
    quotas = class_quotas(labels, 25)
    for rule in RULES:
        idx = select_coreset('acs', 100, 25, scores=scores, labels=labels,
                             seed=1, round_idx=2, selection=rule)
        assert idx.numel() == 25 and torch.equal(idx, idx.sort().values)
        counts = torch.bincount(labels[idx], minlength=3).tolist()
        assert counts == [quotas[0], quotas[1], quotas[2]]
        again = select_coreset('acs', 100, 25, scores=scores,
                               labels=labels, seed=1, round_idx=2,
                               selection=rule)
        assert torch.equal(idx, again)


def test_rounds_and_seeds_change_random_rules_only():
    scores = torch.rand(300, generator=gen(4))
    kw = dict(scores=scores, seed=0)
    a = select_coreset('acs', 300, 30, round_idx=0, selection='sampled',
                       **kw)
    b = select_coreset('acs', 300, 30, round_idx=1, selection='sampled',
                       **kw)
    assert not torch.equal(a, b)
    c = select_coreset('acs', 300, 30, round_idx=0, **kw)
    d = select_coreset('acs', 300, 30, round_idx=1, **kw)
    assert torch.equal(c, d)  # top-k is not random


@pytest.mark.parametrize('cfg, error, match', [
    ('best', ValueError, "'best'"),
    (dict(type='mixed', share=1.5), ValueError, 'share.*1.5'),
    (dict(type='mixed', ratio=0.5), ValueError, "'ratio'"),
    (dict(type='stratified', bins=2.5), ValueError, 'bins.*2.5'),
    (dict(type='trimmed', trim=1.0), ValueError, 'trim.*1.0'),
    (dict(type='sampled', power=True), ValueError, 'power.*True'),
    (dict(share=0.5), TypeError, "'type'"),
    (3, TypeError, '3'),
])
def test_bad_selection_is_named(cfg, error, match):
    with pytest.raises(error, match=match):
        check_selection(cfg)


def test_defaults_are_filled():
    assert check_selection(None) == dict(type='topk')
    assert check_selection('mixed') == dict(type='mixed', share=0.5)
    assert check_selection(dict(type='stratified')) == dict(
        type='stratified', bins=50, trim=0.0)
    assert set(SELECTION_RULES.module_dict) == {
        'topk', 'trimmed', 'mixed', 'sampled', 'stratified'}


@pytest.mark.parametrize('rule', RULES)
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_scores_are_named(rule, bad):
    scores = torch.rand(20, generator=gen(6))
    scores[[3, 11]] = bad
    with pytest.raises(ValueError, match=r'2 non-finite .*\[3, 11\]'):
        select_by_rule(rule, scores, 5, gen())
    labels = torch.arange(20) % 2
    with pytest.raises(ValueError, match=r'\[3, 11\]'):
        select_coreset('acs', 20, 5, scores=scores, labels=labels,
                       selection=rule)
