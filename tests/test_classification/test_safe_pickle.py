# Copyright (c) mmacs contributors. All rights reserved.
import io
import os
import pickle

import numpy as np
import pytest

from mmacs.classification import CIFARDataset
from mmacs.classification.datasets.safe_pickle import safe_load
from mmacs.testing import make_cifar


class _RunsCommand:
    """Unpickles to ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


@pytest.mark.parametrize('protocol', [2, pickle.HIGHEST_PROTOCOL])
def test_batch_contents_round_trip(protocol):
    entry = {
        b'batch_label': 'training batch 1 of 5',
        b'labels': [3, 1, np.int64(7)],
        b'data': np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072),
        b'filenames': [b'a.png', b'b.png'],
    }
    out = safe_load(io.BytesIO(pickle.dumps(entry, protocol=protocol)))
    assert out[b'labels'] == [3, 1, 7] and out[b'filenames'] == [
        b'a.png', b'b.png']
    assert out[b'data'].dtype == np.uint8
    np.testing.assert_array_equal(out[b'data'], entry[b'data'])


@pytest.mark.parametrize('name', ['data_batch_1', 'batches.meta'])
def test_crafted_batch_is_refused_without_running_it(tmp_path, name):
    root = make_cifar(tmp_path)
    marker = tmp_path / 'ran'
    with open(root / 'cifar-10-batches-py' / name, 'wb') as f:
        pickle.dump({b'data': _RunsCommand(f'touch {marker}')}, f,
                    protocol=2)
    # pickle.load would run the command; the dataset refuses the file.
    with pytest.raises(ValueError, match=rf'{name}.*system'):
        CIFARDataset(str(root))
    assert not marker.exists()


def test_truncated_or_foreign_batch_is_named(tmp_path):
    root = make_cifar(tmp_path)
    path = root / 'cifar-10-batches-py' / 'data_batch_2'
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match='data_batch_2'):
        CIFARDataset(str(root))
    with open(path, 'wb') as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(ValueError, match='data_batch_2.*list'):
        CIFARDataset(str(root))
