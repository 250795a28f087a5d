# Copyright (c) mmacs contributors. All rights reserved.
import math

import pytest
import torch

from mmacs.coreset.stats import score_summary


def test_histogram_spans_the_bulk_and_counts_every_scored_sample():
    g = torch.Generator().manual_seed(0)
    bulk = torch.rand(990, generator=g)
    tail = torch.tensor([40.0, 60.0, 80.0, 100.0] * 2 + [-5.0, -9.0])
    unscored = torch.full((7, ), math.nan)
    s = score_summary(torch.cat([bulk, tail, unscored]), bins=10)
    scored = torch.cat([bulk, tail]).double()
    q01, q99 = torch.quantile(scored, torch.tensor([0.01, 0.99],
                                                   dtype=torch.float64))
    assert s['hist_edges'][0] == pytest.approx(float(q01), abs=1e-6)
    assert s['hist_edges'][-1] == pytest.approx(float(q99), abs=1e-6)
    # A min..max histogram would put nearly all 990 bulk samples in the
    # first bin of ten; over the 1st-99th percentile they spread out.
    assert max(s['hist_counts']) < 200
    assert len(s['hist_counts']) == 10 and len(s['hist_edges']) == 11
    assert s['hist_below'] == int((scored < q01).sum()) > 0
    assert s['hist_above'] == int((scored > q99).sum()) > 0
    assert sum(s['hist_counts']) + s['hist_below'] + s['hist_above'] == 1000
    assert (s['min'], s['max']) == (-9.0, 100.0)
    assert s['min'] <= s['q01'] <= s['q25'] <= s['median'] <= s['q75'] \
        <= s['q99'] <= s['max']
    assert s['mean'] == pytest.approx(float(scored.mean()))


def test_constant_scores_fall_in_one_bin():
    s = score_summary(torch.full((6, ), 2.5))
    assert sum(s['hist_counts']) == 6 and s['hist_counts'][0] == 6
    assert s['hist_below'] == s['hist_above'] == 0 and s['std'] == 0.0


def test_no_scored_sample_is_an_error():
    with pytest.raises(ValueError, match='no scored sample'):
        score_summary(torch.full((3, ), math.nan))
