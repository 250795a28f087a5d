# Copyright (c) mmacs contributors. All rights reserved.
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

import mmacs  # noqa: F401  (allow-lists the checkpoint globals)


class NotAllowed:
    pass


def test_mmengine_message_hub_objects_load_weights_only(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(2.5)
    ckpt = dict(
        meta=dict(seed=np.int64(3), epoch=2, ratio=np.float64(0.5)),
        message_hub=dict(log_scalars={'train/loss': buf},
                         runtime_info=dict(arr=np.arange(3, dtype=np.int32))),
        state_dict={'w': torch.ones(2)})
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path)  # weights_only=True is torch's default
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 2.0
    assert loaded['meta']['seed'] == 3
    assert loaded['message_hub']['runtime_info']['arr'].tolist() == [0, 1, 2]


def test_other_pickled_objects_are_refused_by_name(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': NotAllowed()}, path)
    with pytest.raises(pickle.UnpicklingError, match='NotAllowed'):
        torch.load(path)


def test_getattr_is_limited_to_history_buffer_methods():
    from mmacs.engine.checkpoint_safety import history_buffer_getattr
    assert history_buffer_getattr(HistoryBuffer, 'mean') is \
        HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        history_buffer_getattr(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError, match='system'):
        import os
        history_buffer_getattr(os, 'system')
