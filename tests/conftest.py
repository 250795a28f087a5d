# Copyright (c) mmacs contributors. All rights reserved.
import pytest

from mmacs.datasets import make_synthetic_shapes


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """Synthetic shapes, 16 training and 4 validation images of 64 px, for
    tiny detection runs (read only)."""
    root = tmp_path_factory.mktemp('shapes')
    make_synthetic_shapes(str(root), num_train=16, num_val=4, size=64)
    return str(root)
