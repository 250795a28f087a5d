# Copyright (c) mmacs contributors. All rights reserved.
import math

import pytest
import torch

from mmacs.coreset import (anchor_l2_scores, combine_scores,
                           disagreement_score, error_vector_score)
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
