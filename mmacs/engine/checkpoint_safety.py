# Copyright (c) mmacs contributors. All rights reserved.
"""Let ``torch.load(weights_only=True)`` read mmengine/mmdet/mmacs
checkpoints.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which only
unpickles allow-listed globals. mmengine 0.10.7 calls ``torch.load``
without ``weights_only`` and stores its message hub (``HistoryBuffer``
objects holding numpy arrays, numpy scalars) in every checkpoint, so
``--resume`` and ``load_from`` fail. Importing mmacs allow-lists exactly
the globals those checkpoints contain; anything else in a checkpoint is
still refused by torch, and the safety check itself stays on.
"""
import os.path as osp
import pickle
from typing import List

import numpy as np
import torch


def checkpoint_globals() -> List[object]:
    """The globals that mmengine/mmdet/mmacs checkpoints pickle."""
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [
        type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32,
                                    np.int64, np.uint8, np.uint16, np.uint32,
                                    np.uint64, np.float16, np.float32,
                                    np.float64)
    ]
    return [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype,
            (history_buffer_getattr, 'builtins.getattr')] + dtype_classes


def history_buffer_getattr(obj, name: str):
    """The one use of ``getattr`` that mmengine checkpoints need.

    ``HistoryBuffer.__getstate__`` pickles its statistics methods, which
    pickle stores as ``getattr(HistoryBuffer, 'mean')`` and so on. This
    stands in for ``builtins.getattr`` while unpickling and answers only
    for methods of ``HistoryBuffer``; any other attribute lookup a
    checkpoint asks for is refused.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and isinstance(name, str) and \
            not name.startswith('_') and callable(
                getattr(HistoryBuffer, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); mmacs only allows '
        "mmengine's HistoryBuffer statistics methods")


def allow_checkpoint_globals() -> None:
    """Add :func:`checkpoint_globals` to torch's weights-only allow-list."""
    torch.serialization.add_safe_globals(checkpoint_globals())


def check_checkpoint_file(filename: str) -> None:
    """Refuse a local checkpoint file that is empty (0 bytes), naming it;
    torch would fail on it with a bare ``EOFError``. Remote paths
    (``scheme://``) and missing files are left to the loader."""
    if isinstance(filename, str) and '://' not in filename and \
            osp.isfile(filename) and osp.getsize(filename) == 0:
        raise RuntimeError(
            f'checkpoint {filename!r} is empty (0 bytes): an interrupted '
            'save? Pass another checkpoint, or delete it (and fix the '
            "work dir's last_checkpoint) to resume from an older one")
