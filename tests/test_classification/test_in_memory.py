# Copyright (c) mmacs contributors. All rights reserved.
"""The in-memory path of the classification datasets: one decoded array,
its cache, batches without the per-sample pipeline, and the batch
augmentation of the data preprocessor."""
import os
import time

import mmcv
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import ImgDataPreprocessor
from mmengine.registry import DefaultScope

from mmacs.classification import (BatchRandomCropPad, BatchRandomFlip,
                                  CIFARDataset, ClsDataPreprocessor,
                                  ImageFolderDataset, RandomCropPad)
from mmacs.classification.datasets import image_array
from mmacs.testing import make_cifar, make_images

PIPELINE = [dict(type='LoadClsImage'), dict(type='PackClsInputs')]


@pytest.fixture(autouse=True)
def mmdet_scope():
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def per_sample_batch(dataset, indices):
    """The batch the per-sample pipeline and pseudo_collate give."""
    return pseudo_collate([dataset[i] for i in indices])


def test_in_memory_batches_equal_per_sample_batches(tmp_path):
    root = make_images(tmp_path / 'imgs')
    kwargs = dict(data_root=str(root), split='train', val_size=4,
                  pipeline=PIPELINE,
                  label_noise=dict(mode='symmetric', rate=0.3, seed=1))
    lazy = ImageFolderDataset(**kwargs)
    mem = ImageFolderDataset(in_memory=True, **kwargs)
    assert len(mem) == len(lazy) == 14
    idx = [3, 0, 13, 7]
    ref = per_sample_batch(lazy, idx)
    # Through the per-sample pipeline of the in-memory dataset ...
    via_pipeline = per_sample_batch(mem, idx)
    # ... and in one call without it.
    fetched = mem.fetch_batch(idx)
    assert fetched['inputs'].dtype == torch.uint8
    assert torch.equal(fetched['inputs'], torch.stack(ref['inputs']))
    assert torch.equal(torch.stack(via_pipeline['inputs']),
                       torch.stack(ref['inputs']))
    for a, b in zip(fetched['data_samples'], ref['data_samples']):
        assert a.sample_idx == b.sample_idx
        assert a.gt_label.tolist() == b.gt_label.tolist()
        assert a.img_shape == b.img_shape == (8, 8)
    # Noisy labels travel (the batch holds the label the model trains on).
    assert mem.get_gt_labels().tolist() == lazy.get_gt_labels().tolist()
    assert mem.noisy_indices == lazy.noisy_indices
    # Preprocessed, the two batches are the same floats.
    pre = ImgDataPreprocessor(mean=[1, 2, 3], std=[4, 5, 6])
    assert torch.equal(pre(fetched)['inputs'], pre(ref)['inputs'])


def test_in_memory_is_read_only_and_subsets(tmp_path):
    root = make_images(tmp_path / 'imgs')
    mem = ImageFolderDataset(data_root=str(root), pipeline=PIPELINE,
                             in_memory=True)
    info = mem.get_data_info(5)
    with pytest.raises(ValueError, match='read-only'):
        info['img'][0, 0, 0] = 1
    full = mem.fetch_batch(list(range(len(mem))))['inputs']
    sub = mem.get_subset([4, 9, 2])
    assert len(sub) == 3
    assert torch.equal(sub.fetch_batch([0, 1, 2])['inputs'], full[[4, 9, 2]])
    assert sub._images.shape[0] == 3  # the copy does not hold all images
    assert len(mem) == 18  # get_subset leaves the original whole
    mem.get_subset_(-2)
    assert torch.equal(mem.fetch_batch([0, 1])['inputs'], full[16:])
    head = ImageFolderDataset(data_root=str(root), pipeline=PIPELINE,
                              in_memory=True, indices=5)
    assert torch.equal(head.fetch_batch(range(5))['inputs'], full[:5])
    lazy = ImageFolderDataset(data_root=str(root), pipeline=PIPELINE)
    with pytest.raises(RuntimeError, match='in_memory=True'):
        lazy.fetch_batch([0])


def test_cifar_in_memory(tmp_path):
    root = make_cifar(tmp_path)
    kwargs = dict(data_root=str(root), split='train', val_size=10,
                  pipeline=[dict(type='PackClsInputs')])
    lazy, mem = CIFARDataset(**kwargs), CIFARDataset(in_memory=True,
                                                     **kwargs)
    idx = list(range(len(lazy)))
    assert torch.equal(mem.fetch_batch(idx)['inputs'],
                       torch.stack(per_sample_batch(lazy, idx)['inputs']))
    # The images left the serialized data infos for the one array.
    assert mem.data_bytes.nbytes * 10 < lazy.data_bytes.nbytes
    assert mem._images.shape == (50, 32, 32, 3)


def test_in_memory_errors_name_the_file(tmp_path):
    root = make_images(tmp_path / 'imgs', per_class=(2, 2))
    empty = root / 'c1' / 'zz.png'
    empty.write_bytes(b'')
    # The folder check finds the empty file before anything is decoded.
    with pytest.raises(FileNotFoundError, match='zz.png'):
        ImageFolderDataset(data_root=str(root), in_memory=True)
    with pytest.raises(ValueError, match='zz.png.*empty'):
        image_array.decode_images([str(empty)])
    empty.write_bytes(b'\x89PNG not really')
    with pytest.raises(ValueError, match='zz.png.*does not decode'):
        ImageFolderDataset(data_root=str(root), in_memory=True)
    mmcv.imwrite(np.zeros((9, 8, 3), np.uint8), str(empty))
    with pytest.raises(ValueError, match=r'one size.*zz.png'):
        ImageFolderDataset(data_root=str(root), in_memory=True)
    with pytest.raises(TypeError, match='in_memory'):
        ImageFolderDataset(data_root=str(root), in_memory='yes')


def test_cache_is_reused_and_rebuilt_when_stale(tmp_path, monkeypatch):
    root = make_images(tmp_path / 'imgs')
    cache = tmp_path / 'cache'
    kwargs = dict(data_root=str(root), pipeline=PIPELINE, in_memory=True,
                  cache_dir=str(cache))
    first = ImageFolderDataset(**kwargs).fetch_batch(range(18))['inputs']
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2 and files[0].endswith('.json')
    calls = []
    real = image_array.decode_images

    def counting(paths):
        calls.append(len(paths))
        return real(paths)

    monkeypatch.setattr(image_array, 'decode_images', counting)
    # Same file list: read from the cache, nothing decoded.
    again = ImageFolderDataset(**kwargs).fetch_batch(range(18))['inputs']
    assert calls == [] and torch.equal(again, first)
    # A changed image: a new key, decoded afresh, never the stale array.
    changed = root / 'c0' / '00.png'
    mmcv.imwrite(np.full((8, 8, 3), 7, np.uint8), str(changed))
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    fresh = ImageFolderDataset(**kwargs).fetch_batch([0])['inputs']
    assert calls == [18] and torch.all(fresh == 7)
    # A cache file that does not hold what its metadata says: rebuilt.
    npy = next(p for p in cache.iterdir()
               if p.suffix == '.npy' and p.stat().st_mtime_ns ==
               max(q.stat().st_mtime_ns for q in cache.glob('*.npy')))
    np.save(npy, np.zeros((3, 8, 8, 3), np.uint8))
    rebuilt = ImageFolderDataset(**kwargs).fetch_batch([0])['inputs']
    assert calls == [18, 18] and torch.all(rebuilt == 7)
    # Truncated: rebuilt too.
    npy.write_bytes(npy.read_bytes()[:100])
    ImageFolderDataset(**kwargs)
    assert calls == [18, 18, 18]


def test_file_list_key_depends_on_paths_sizes_and_times(tmp_path):
    a, b = tmp_path / 'a.png', tmp_path / 'b.png'
    for p in (a, b):
        mmcv.imwrite(np.zeros((4, 4, 3), np.uint8), str(p))
    key = image_array.file_list_key([str(a), str(b)])
    assert key == image_array.file_list_key([str(a), str(b)])
    assert key != image_array.file_list_key([str(b), str(a)])
    assert key != image_array.file_list_key([str(a)])
    os.utime(a, ns=(1, 2))
    assert key != image_array.file_list_key([str(a), str(b)])


# ------------------------------------------------------ batch augments
def test_batch_random_flip_statistics():
    torch.manual_seed(0)
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.uint8).reshape(2, 3, 4, 5)
    x = x.repeat(500, 1, 1, 1)
    out, _ = BatchRandomFlip(prob=0.5)(x)
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    assert torch.all(flipped ^ same)  # each image whole, flipped or not
    assert 0.44 < flipped.float().mean() < 0.56
    assert torch.equal(BatchRandomFlip(prob=0.0)(x)[0], x)
    assert torch.equal(BatchRandomFlip(prob=1.0)(x)[0], x.flip(-1))
    with pytest.raises(ValueError, match='1.5'):
        BatchRandomFlip(prob=1.5)


def test_batch_random_crop_pad_windows_and_offsets():
    torch.manual_seed(0)
    b, p = 2000, 4
    x = torch.randint(1, 256, (b, 3, 6, 7), dtype=torch.uint8)
    out, _ = BatchRandomCropPad(padding=p)(x)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    offsets = []
    for i in range(b):
        found = [(t, c) for t in range(2 * p + 1) for c in range(2 * p + 1)
                 if torch.equal(padded[i, :, t:t + 6, c:c + 7], out[i])]
        assert found, f'image {i} is not a window of its padded input'
        offsets.append(found[0])
    tops = torch.tensor([t for t, _ in offsets])
    lefts = torch.tensor([c for _, c in offsets])
    # Uniform over 0..2p on both axes (81 cells, ~25 per value).
    for axis in (tops, lefts):
        counts = torch.bincount(axis, minlength=2 * p + 1)
        assert counts.numel() == 2 * p + 1
        assert counts.min() > 150 and counts.max() < 300
    assert torch.equal(BatchRandomCropPad(padding=0)(x)[0], x)
    with pytest.raises(ValueError, match='-1'):
        BatchRandomCropPad(padding=-1)


def test_batch_crop_equals_per_sample_crop(monkeypatch):
    """Given the same offsets, the batch crop is the per-sample one."""
    img = np.random.RandomState(0).randint(0, 256, (6, 7, 3), np.uint8)
    per_sample = RandomCropPad(padding=3)
    monkeypatch.setattr(np.random, 'randint',
                        lambda *a, **k: np.array([5, 1]))
    ref = per_sample(dict(img=img))['img']
    draws = iter([torch.tensor([[5]]), torch.tensor([[1]])])
    monkeypatch.setattr(torch, 'randint', lambda *a, **k: next(draws))
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    out, _ = BatchRandomCropPad(padding=3)(x)
    assert torch.equal(out[0].permute(1, 2, 0), torch.from_numpy(ref))


def test_cls_data_preprocessor_augments_raw_pixels_in_training():
    torch.manual_seed(0)
    pre = ClsDataPreprocessor(
        mean=[10, 20, 30], std=[2, 4, 5],
        batch_augments=[dict(type='BatchRandomCropPad', padding=2),
                        dict(type='BatchRandomFlip', prob=0.5)])
    plain = ImgDataPreprocessor(mean=[10, 20, 30], std=[2, 4, 5])
    imgs = [torch.randint(50, 256, (3, 5, 5), dtype=torch.uint8)
            for _ in range(64)]
    batch = dict(inputs=imgs, data_samples=[None] * 64)
    # Evaluation: untouched, the plain preprocessor's output.
    assert torch.equal(pre(dict(batch))['inputs'],
                       plain(dict(batch))['inputs'])
    out = pre(dict(batch), training=True)['inputs']
    assert out.shape == (64, 3, 5, 5)
    # Padding happened before normalisation: raw 0 -> (0 - mean) / std.
    pad_vals = torch.tensor([-5.0, -5.0, -6.0])
    is_pad = (out == pad_vals[None, :, None, None]).all(1)
    assert is_pad.any()
    # Normalised real pixels are never the padding value (pixels >= 50).
    assert not torch.equal(out, plain(dict(batch))['inputs'])
    with pytest.raises(ValueError, match='one size'):
        pre(dict(inputs=[imgs[0], imgs[0][:, :4]], data_samples=None),
            training=True)
