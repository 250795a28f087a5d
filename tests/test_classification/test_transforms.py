# Copyright (c) mmacs contributors. All rights reserved.
import mmcv
import numpy as np
import pytest
import torch
from mmdet.registry import TRANSFORMS
from mmengine.dataset import pseudo_collate
from mmengine.model import ImgDataPreprocessor
from mmengine.registry import DefaultScope

from mmacs.classification import (ClsDataSample, LoadClsImage, PackClsInputs,
                                  RandomCropPad)


def test_load_cls_image(tmp_path):
    img = np.zeros((6, 5, 3), dtype=np.uint8)
    img[..., 0] = 9  # blue in BGR
    path = str(tmp_path / 'a.png')
    mmcv.imwrite(img, path)
    out = LoadClsImage()(dict(img_path=path))
    assert out['img'].shape == (6, 5, 3)
    assert out['img'][0, 0].tolist() == [0, 0, 9]  # RGB
    assert out['img_shape'] == (6, 5) and out['ori_shape'] == (6, 5)
    # An image already in memory is passed through.
    mem = np.ones((4, 4, 3), dtype=np.uint8)
    out = LoadClsImage()(dict(img=mem, img_path='absent.png'))
    assert out['img'] is mem and out['img_shape'] == (4, 4)


def test_random_crop_pad():
    img = np.arange(1, 32 * 32 * 3 + 1).reshape(32, 32, 3).astype(np.uint8)
    np.random.seed(0)
    shifted = 0
    for _ in range(20):
        out = RandomCropPad(padding=4)(dict(img=img.copy()))['img']
        assert out.shape == img.shape
        shifted += not np.array_equal(out, img)
        # The crop is a window of the zero-padded image.
        padded = np.pad(img, ((4, 4), (4, 4), (0, 0)))
        assert any(
            np.array_equal(padded[t:t + 32, c:c + 32], out) for t in range(9)
            for c in range(9))
    assert shifted > 0
    assert RandomCropPad(padding=0)(dict(img=img))['img'] is img
    with pytest.raises(ValueError, match='-1'):
        RandomCropPad(padding=-1)
    with pytest.raises(ValueError, match="'wrap'"):
        RandomCropPad(padding_mode='wrap')


def test_random_flip_from_registry():
    with DefaultScope.overwrite_default_scope('mmdet'):
        flip = TRANSFORMS.build(dict(type='RandomFlip', prob=1.0))
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = flip(dict(img=img.copy(), img_shape=(2, 3), gt_label=1))
    assert np.array_equal(out['img'], img[:, ::-1])
    assert out['flip'] and out['gt_label'] == 1


def test_pack_cls_inputs_and_preprocessor():
    img = np.random.randint(0, 255, (8, 6, 3), dtype=np.uint8)
    pack = PackClsInputs(meta_keys=('img_shape', ))
    out = pack(
        dict(img=img[:, ::-1], gt_label=3, sample_idx=11, img_path='x.png'))
    inputs, sample = out['inputs'], out['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 8, 6)
    assert torch.equal(inputs,
                       torch.from_numpy(img[:, ::-1].copy()).permute(2, 0, 1))
    assert isinstance(sample, ClsDataSample)
    assert sample.gt_label.dtype == torch.long
    assert sample.gt_label.tolist() == [3]
    # sample_idx is always carried; unnamed keys are not.
    assert sample.metainfo == dict(sample_idx=11, img_shape=(8, 6))
    assert 'gt_label' not in pack(dict(img=img))['data_samples']
    with pytest.raises(TypeError, match="'img_path'"):
        PackClsInputs(meta_keys='img_path')

    batch = pseudo_collate(
        [out, pack(dict(img=img, gt_label=1, sample_idx=2))])
    pre = ImgDataPreprocessor(mean=[10, 20, 30], std=[2, 2, 2])
    data = pre(batch, training=False)
    assert data['inputs'].shape == (2, 3, 8, 6)
    assert data['inputs'].dtype == torch.float32
    assert torch.allclose(data['inputs'][1, 2],
                          (torch.from_numpy(img[..., 2]).float() - 30) / 2)
    samples = data['data_samples']
    assert [s.sample_idx for s in samples] == [11, 2]
    assert [s.gt_label.item() for s in samples] == [3, 1]


def test_cls_data_sample():
    sample = ClsDataSample(metainfo=dict(sample_idx=0))
    sample.gt_label = np.int64(4)
    sample.pred_score = torch.tensor([0.1, 0.9])
    sample.pred_label = torch.tensor(1)
    assert sample.gt_label.tolist() == [4]
    assert sample.pred_label.tolist() == [1]
    assert set(sample.to_dict()) == {
        'sample_idx', 'gt_label', 'pred_score', 'pred_label'
    }
    with pytest.raises(TypeError, match='1.5'):
        sample.gt_label = 1.5
    with pytest.raises(TypeError, match='pred_score'):
        sample.pred_score = torch.zeros(2, 2)
