# Copyright (c) mmacs contributors. All rights reserved.
import math

import pytest

from mmacs.coreset import beta_schedule


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
