# Copyright (c) mmacs contributors. All rights reserved.
import pytest
import torch

from mmacs.coreset.detection_rules import (class_aware_select, class_budgets,
                                           kcenter_select)


def test_class_budgets_temper_and_floor():
    boxes = torch.tensor([8000, 100, 10])
    images = torch.tensor([900, 80, 6])
    proportional = class_budgets(boxes, images, 100, power=1.0, floor=0)
    assert proportional.tolist() == [99, 1, 0]
    tempered = class_budgets(boxes, images, 100, power=0.5, floor=0)
    assert tempered[1] > proportional[1] and tempered[2] > 0
    # The floor covers the rarest class, capped by the images it has.
    floored = class_budgets(boxes, images, 100, power=1.0, floor=10)
    assert floored.tolist() == [99, 10, 6]
    with pytest.raises(ValueError, match='power'):
        class_budgets(boxes, images, 100, power=2.0)
    with pytest.raises(ValueError, match='floor'):
        class_budgets(boxes, images, 100, floor=-1)


def test_class_aware_select_covers_the_rare_class():
    n = 200
    scores = torch.linspace(1, 0, n)  # the first images score highest
    holds = torch.zeros(n, 3, dtype=torch.bool)
    holds[:, 0] = True
    holds[150:170, 1] = True  # a mid-common class, low scores
    holds[190:195, 2] = True  # the rare class, the lowest scores
    k = 20
    chosen = class_aware_select(scores, holds, k, power=0.5, floor=5)
    assert chosen.numel() == k and chosen.unique().numel() == k
    # Top-k would hold neither class 1 nor class 2.
    assert not holds[scores.topk(k).indices][:, 1:].any()
    assert int(holds[chosen, 2].sum()) == 5  # the floor, all it has
    assert int(holds[chosen, 1].sum()) >= 5
    # Deterministic: the same call gives the same coreset.
    assert torch.equal(chosen, class_aware_select(scores, holds, k,
                                                  power=0.5, floor=5))
    # The rest of the budget goes by score.
    rest = set(chosen.tolist()) - set(range(150, 200))
    assert rest == set(range(len(rest)))


def test_class_aware_select_exact_budget_and_errors():
    scores = torch.rand(30, generator=torch.Generator().manual_seed(0))
    holds = torch.rand(30, 4, generator=torch.Generator().manual_seed(1)) > .5
    for k in (0, 1, 7, 30):
        chosen = class_aware_select(scores, holds, k, floor=3)
        assert chosen.numel() == k and chosen.unique().numel() == k
    with pytest.raises(ValueError, match='k=31'):
        class_aware_select(scores, holds, 31)
    with pytest.raises(ValueError, match='image_classes'):
        class_aware_select(scores, holds[:5], 3)
    with pytest.raises(ValueError, match='box_counts has 2 classes'):
        class_aware_select(scores, holds, 3, box_counts=torch.ones(2))
    bad = scores.clone()
    bad[4] = float('nan')
    with pytest.raises(ValueError, match='4'):
        class_aware_select(bad, holds, 3)


def test_kcenter_never_takes_both_of_a_duplicate_pair_when_it_can_avoid():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(10, 8, generator=g) * 10
    # Each image twice (near-duplicate frames), the copy scoring higher.
    feats = torch.cat([base, base + 1e-4])
    scores = torch.cat([torch.rand(10, generator=g),
                        torch.rand(10, generator=g) + 1])
    chosen = kcenter_select(feats, scores, 10).tolist()
    assert len(set(chosen)) == 10
    assert len({i % 10 for i in chosen}) == 10  # one of each pair
    assert chosen[0] == int(scores.argmax())
    # A larger budget than distinct images: the copies come last.
    chosen = kcenter_select(feats, scores, 14)
    assert chosen.unique().numel() == 14
    assert len({i % 10 for i in chosen[:10].tolist()}) == 10
    assert torch.equal(chosen, kcenter_select(feats, scores, 14))


def test_kcenter_score_weight_prefers_high_scores_among_far_images():
    feats = torch.tensor([[0.0], [10.0], [-10.0]])
    scores = torch.tensor([1.0, 0.1, 0.9])
    # Both far images are 10 away from the first; the higher score wins.
    assert kcenter_select(feats, scores, 2).tolist() == [0, 2]
    with pytest.raises(ValueError, match='score_weight'):
        kcenter_select(feats, scores, 2, score_weight=-1)
    with pytest.raises(ValueError, match='features'):
        kcenter_select(feats[:2], scores, 2)
    assert kcenter_select(feats, scores, 0).numel() == 0
