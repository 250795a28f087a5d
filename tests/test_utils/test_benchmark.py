# Copyright (c) mmacs contributors. All rights reserved.
import pytest

from mmacs.utils import paired_stats, seed_stats


def test_paired_stats_compares_seed_by_seed():
    base = {0: 80.0, 1: 81.0, 2: 80.5}
    vs = paired_stats({0: 81.0, 1: 81.5, 2: 81.5, 3: 99.0}, base)
    # Seed 3 has no baseline run: it does not count.
    assert vs['seeds'] == [0, 1, 2]
    assert vs['diff_mean'] == pytest.approx(2.5 / 3)
    assert (vs['diff_min'], vs['diff_max']) == (0.5, 1.0)
    assert vs['above'] == 3
    assert vs['spread'] == pytest.approx(seed_stats(base.values())['std'])
    assert vs['beats']  # 0.83 > max(0.29, 0.50)


def test_paired_stats_needs_more_than_the_spread():
    base = {0: 80.0, 1: 82.0, 2: 81.0}
    # Above on every seed, but by less than the baseline's spread (1.0).
    vs = paired_stats({0: 80.5, 1: 82.5, 2: 81.5}, base)
    assert vs['above'] == 3 and not vs['beats']
    # A larger mean gain made of one lucky seed: beyond the variant's own
    # spread it does not count either.
    vs = paired_stats({0: 79.0, 1: 81.0, 2: 86.0}, base)
    assert vs['diff_mean'] == pytest.approx(1.0) and not vs['beats']
    # One seed decides nothing.
    assert not paired_stats({0: 90.0}, base)['beats']


def test_paired_stats_without_common_seeds_names_them():
    with pytest.raises(ValueError, match=r'\[3\].*\[0, 1\]'):
        paired_stats({3: 1.0}, {0: 1.0, 1: 2.0})
