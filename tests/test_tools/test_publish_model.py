# Copyright (c) mmacs contributors. All rights reserved.
import pytest
import torch

from mmacs.testing import load_tool

publish_tool = load_tool('misc/publish_model')


def test_publish_keeps_weights_and_plain_meta(tmp_path):
    src = tmp_path / 'epoch_3.pth'
    weights = {'backbone.conv1.weight': torch.randn(4, 3, 3, 3)}
    torch.save(dict(state_dict=weights,
                    meta=dict(epoch=3, seed=0, hook_msgs=dict(x=1)),
                    optimizer=dict(state={}, param_groups=[])), src)
    dst = tmp_path / 'teachers' / 'teacher.pth'
    publish_tool.main([str(src), str(dst)])
    out = torch.load(dst, weights_only=True)
    assert set(out) == {'state_dict', 'meta'}
    assert torch.equal(out['state_dict']['backbone.conv1.weight'],
                       weights['backbone.conv1.weight'])
    assert out['meta'] == dict(epoch=3, seed=0, source=str(src))


def test_publish_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        publish_tool.publish(str(tmp_path / 'nothing.pth'), 'x')
    bad = tmp_path / 'bad.pth'
    torch.save(dict(weights={}), bad)
    with pytest.raises(ValueError, match='no state_dict'):
        publish_tool.publish(str(bad), str(tmp_path / 'out.pth'))
