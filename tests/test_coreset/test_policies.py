# Copyright (c) mmacs contributors. All rights reserved.
import pytest
import torch

from mmacs.coreset import select_coreset
from mmacs.coreset.policies import class_quotas
from mmacs.coreset.selection import topk


def test_topk_is_deterministic_on_ties():
    scores = torch.tensor([1.0, 3.0, 3.0, 0.0, 3.0])
    assert topk(scores, 2, None).tolist() == [1, 2]
    assert sorted(topk(scores, 4, None).tolist()) == [0, 1, 2, 4]


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
    # Seeds are independent runs: no run redraws another seed's coreset
    # one round later (seed and round are mixed, not added), and the
    # static draw is none of the dynamic ones.
    draws = {(policy, seed, r): tuple(
        select_coreset(policy, 1000, 100, seed=seed, round_idx=r).tolist())
             for policy in ('random_static', 'random_dynamic')
             for seed in range(3) for r in range(4)}
    dynamic = {k: v for k, v in draws.items() if k[0] == 'random_dynamic'}
    static = {v for k, v in draws.items() if k[0] == 'random_static'}
    assert len(set(dynamic.values())) == len(dynamic) == 12
    assert len(static) == 3 and not static & set(dynamic.values())
    assert select_coreset('full', 50, 50).tolist() == list(range(50))
    with pytest.raises(ValueError, match='fraction to 1.0'):
        select_coreset('full', 50, 10)
    with pytest.raises(ValueError, match="'best'"):
        select_coreset('best', 50, 10, scores)
    with pytest.raises(ValueError, match='needs 50 scores'):
        select_coreset('acs', 50, 10, None)
