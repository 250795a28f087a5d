# Copyright (c) mmacs contributors. All rights reserved.
import os
from collections import Counter

import mmcv
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmacs.classification import (CIFARDataset, ImageFolderDataset,
                                  apply_label_noise, split_indices)
from mmacs.classification.datasets.label_noise import CIFAR10_ASYMMETRIC
from mmacs.testing import CLASSES10, make_cifar


@pytest.fixture(autouse=True)
def mmdet_scope():
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def make_folder(root, per_class=(3, 4, 5), size=8):
    """``root/c{i}/{j}.png`` of BGR colour ``(i, j, 7)``, plus a file that
    is not an image."""
    for i, n in enumerate(per_class):
        os.makedirs(root / f'c{i}')
        for j in range(n):
            img = np.full((size, size, 3), (i, j, 7), dtype=np.uint8)
            mmcv.imwrite(img, str(root / f'c{i}' / f'{j:02d}.png'))
    (root / 'c0' / 'notes.txt').write_text('not an image')
    return root


# ------------------------------------------------------------------ splits
def test_split_indices():
    val = split_indices(100, 'val', 10, seed=0)
    train = split_indices(100, 'train', 10, seed=0)
    assert len(val) == 10 and len(train) == 90
    assert sorted(val + train) == list(range(100))
    assert val == sorted(val)
    assert split_indices(100, 'val', 10, seed=0) == val
    assert split_indices(100, 'val', 10, seed=1) != val
    assert split_indices(100, 'val', 0.25) == split_indices(100, 'val', 25)
    assert split_indices(7, 'all') == list(range(7))
    assert split_indices(7, 'train', 0) == list(range(7))


def test_final_split_is_carved_out_of_train():
    val = split_indices(100, 'val', 10, seed=0)
    train = split_indices(100, 'train', 10, seed=0)
    final = split_indices(100, 'final', 10, seed=0, final_size=20)
    rest = split_indices(100, 'train', 10, seed=0, final_size=20)
    # The hold-out does not move; 'final' and the new 'train' split the old.
    assert split_indices(100, 'val', 10, seed=0, final_size=20) == val
    assert len(final) == 20 and len(rest) == 70
    assert sorted(final + rest) == train
    assert split_indices(100, 'final', 10, seed=1, final_size=20) != final


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(split='test'), ValueError, "'test'"),
    (dict(split='val', val_size=0), ValueError, 'val_size > 0'),
    (dict(split='val', val_size=11), ValueError, '11'),
    (dict(split='val', val_size=-1), ValueError, '-1'),
    (dict(split='val', val_size=1.5), ValueError, '1.5'),
    (dict(split='val', val_size='3'), TypeError, "'3'"),
    (dict(split='final', val_size=2), ValueError, 'final_size > 0'),
    (dict(split='final', val_size=6, final_size=5), ValueError,
     'val_size 6 and final_size 5'),
])
def test_split_indices_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        split_indices(10, **kwargs)


# ------------------------------------------------------------- label noise
def test_symmetric_noise():
    labels = [i % 10 for i in range(1000)]
    noisy, changed = apply_label_noise(labels, 10, 'symmetric', 0.2, seed=3)
    assert len(changed) == 200 and changed == sorted(changed)
    assert all(noisy[i] != labels[i] for i in changed)
    assert sum(a != b for a, b in zip(noisy, labels)) == 200
    # Uniform over the other classes: every offset appears.
    offsets = Counter((noisy[i] - labels[i]) % 10 for i in changed)
    assert set(offsets) == set(range(1, 10))
    again = apply_label_noise(labels, 10, 'symmetric', 0.2, seed=3)
    assert again == (noisy, changed)
    assert apply_label_noise(labels, 10, 'symmetric', 0.2, seed=4) != again
    assert apply_label_noise(labels, 10, 'symmetric', 0.0)[1] == []


def test_asymmetric_noise():
    labels = [i % 10 for i in range(1000)]
    noisy, changed = apply_label_noise(labels, 10, 'asymmetric', 0.4)
    # 5 source classes x 100 samples x 0.4.
    assert len(changed) == 200
    for i in changed:
        assert noisy[i] == CIFAR10_ASYMMETRIC[labels[i]]
    assert {labels[i] for i in changed} == {9, 2, 4, 3, 5}
    assert CIFAR10_ASYMMETRIC == {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}
    # Other class counts: the next class.
    labels = [i % 4 for i in range(400)]
    noisy, changed = apply_label_noise(labels, 4, 'asymmetric', 0.5)
    assert len(changed) == 200
    assert all(noisy[i] == (labels[i] + 1) % 4 for i in changed)


@pytest.mark.parametrize('noise, error, match', [
    (dict(mode='uniform', rate=0.2), ValueError, "'uniform'"),
    (dict(mode='symmetric', rate=1.5), ValueError, '1.5'),
    (dict(mode='symmetric', rate=-0.1), ValueError, '-0.1'),
    (dict(mode='symmetric'), ValueError, 'None'),
    (dict(mode='symmetric', rate=0.2, sed=1), ValueError, 'sed'),
    ('symmetric', TypeError, "'symmetric'"),
])
def test_label_noise_errors(tmp_path, noise, error, match):
    root = make_folder(tmp_path / 'imgs')
    with pytest.raises(error, match=match):
        ImageFolderDataset(str(root), label_noise=noise)


# ------------------------------------------------------------ image folder
def test_image_folder(tmp_path):
    root = make_folder(tmp_path / 'imgs')
    ds = ImageFolderDataset(str(root))
    assert len(ds) == 12
    assert ds.metainfo['classes'] == ('c0', 'c1', 'c2')
    info = ds.get_data_info(4)
    assert info['img_path'] == str(root / 'c1' / '01.png')
    assert info['gt_label'] == 1 and info['sample_idx'] == 4
    assert [ds.get_cat_ids(i) for i in (0, 3, 11)] == [[0], [1], [2]]
    assert ds.get_gt_labels().tolist() == [0] * 3 + [1] * 4 + [2] * 5
    assert ds.noisy_indices == [] and ds.clean_label(5) == 1

    # The configured classes pick and order the folders.
    sub = ImageFolderDataset(str(root), metainfo=dict(classes=('c2', 'c0')))
    assert len(sub) == 8 and sub.get_cat_ids(0) == [0]
    assert sub.get_data_info(0)['img_path'].endswith('c2/00.png')


def test_image_folder_split(tmp_path):
    root = make_folder(tmp_path / 'imgs')

    def paths(**kwargs):
        ds = ImageFolderDataset(str(root), **kwargs)
        return [ds.get_data_info(i)['img_path'] for i in range(len(ds))]

    val = paths(split='val', val_size=4)
    train = paths(split='train', val_size=4)
    assert len(val) == 4 and len(train) == 8
    assert not set(val) & set(train)
    assert sorted(val + train) == sorted(paths())
    assert paths(split='val', val_size=4) == val
    assert paths(split='val', val_size=4, split_seed=1) != val
    assert paths(split='val', val_size=1 / 3) == val


def test_image_folder_noise(tmp_path):
    root = make_folder(tmp_path / 'imgs', per_class=(10, 10, 10))
    clean = ImageFolderDataset(str(root), split='train', val_size=10)
    ds = ImageFolderDataset(
        str(root),
        split='train',
        val_size=10,
        label_noise=dict(mode='symmetric', rate=0.5, seed=1))
    assert len(ds) == 20 and len(ds.noisy_indices) == 10
    for i in range(len(ds)):
        assert ds.clean_label(i) == clean.get_cat_ids(i)[0]
        assert (ds.get_cat_ids(i) != clean.get_cat_ids(i)) == (
            i in ds.noisy_indices)
    # Subsets keep their own labels.
    sub = ds.get_subset(ds.noisy_indices[:3])
    assert len(sub.noisy_indices) == 3
    assert sub.get_cat_ids(0) == ds.get_cat_ids(ds.noisy_indices[0])


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(split='test'), ValueError, "'test'"),
    (dict(split='val', val_size=13), ValueError, '13'),
    (dict(split_seed='0'), TypeError, "'0'"),
    (dict(metainfo=dict(classes=('c0', 'dog'))), FileNotFoundError, 'dog'),
])
def test_image_folder_errors(tmp_path, kwargs, error, match):
    root = make_folder(tmp_path / 'imgs')
    with pytest.raises(error, match=match):
        ImageFolderDataset(str(root), **kwargs)
    with pytest.raises(FileNotFoundError, match='missing'):
        ImageFolderDataset(str(tmp_path / 'missing'))


def test_image_folder_pipeline(tmp_path):
    root = make_folder(tmp_path / 'imgs')
    ds = ImageFolderDataset(
        str(root),
        pipeline=[dict(type='LoadClsImage'),
                  dict(type='PackClsInputs')])
    out = ds[5]
    assert out['inputs'].shape == (3, 8, 8)
    # mmcv.imwrite takes BGR: (B, G, R) = (1, 2, 7) reads back as RGB.
    assert out['inputs'][:, 0, 0].tolist() == [7, 2, 1]
    assert out['data_samples'].gt_label.tolist() == [1]
    assert out['data_samples'].sample_idx == 5


# ------------------------------------------------------------------- CIFAR
def test_cifar10(tmp_path):
    root = make_cifar(tmp_path)
    ds = CIFARDataset(str(root))
    assert len(ds) == 60
    assert ds.metainfo['classes'] == CLASSES10
    info = ds.get_data_info(13)
    assert info['img'].shape == (32, 32, 3) and info['img'].dtype == np.uint8
    assert info['img'][5, 7].tolist() == [13, 1, 2]
    assert ds.get_cat_ids(13) == [info['gt_label']]
    test = CIFARDataset(str(root), test_mode=True)
    assert len(test) == 20
    assert test.get_data_info(0)['img'][0, 0, 0] == 1000 % 256
    # data_root may also be the pickle folder itself.
    assert len(CIFARDataset(str(root / 'cifar-10-batches-py'),
                            split='test')) == 20


def test_cifar_split_and_noise(tmp_path):
    root = make_cifar(tmp_path)
    full = CIFARDataset(str(root))
    val = CIFARDataset(str(root), split='val', val_size=0.25)
    train = CIFARDataset(
        str(root),
        split='train',
        val_size=15,
        label_noise=dict(mode='asymmetric', rate=1.0))
    # A held-out validation set in test mode.
    val_test_mode = CIFARDataset(
        str(root), split='val', val_size=15, test_mode=True)
    assert len(val) == 15 and len(train) == 45 and len(val_test_mode) == 15

    def pixels(ds):
        return [
            int(ds.get_data_info(i)['img'][0, 0, 0]) for i in range(len(ds))
        ]

    assert not set(pixels(val)) & set(pixels(train))
    assert pixels(val) == pixels(val_test_mode)
    assert sorted(pixels(val) + pixels(train)) == pixels(full)
    # Every sample of a source class moved (rate 1.0), the others did not.
    for i in range(len(train)):
        clean = train.clean_label(i)
        noisy = train.get_cat_ids(i)[0]
        assert noisy == CIFAR10_ASYMMETRIC.get(clean, clean)
        assert (i in train.noisy_indices) == (clean in CIFAR10_ASYMMETRIC)


def test_cifar100(tmp_path):
    root = make_cifar(tmp_path, num_classes=100)
    ds = CIFARDataset(str(root), label_noise=dict(mode='symmetric', rate=0.5))
    assert len(ds) == 60 and len(ds.metainfo['classes']) == 100
    assert len(ds.noisy_indices) == 30
    assert len(CIFARDataset(str(root), split='test')) == 20


def test_cifar_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='no CIFAR'):
        CIFARDataset(str(tmp_path))
    make_cifar(tmp_path)
    make_cifar(tmp_path, num_classes=100)
    with pytest.raises(FileNotFoundError, match='both'):
        CIFARDataset(str(tmp_path))
    root = str(tmp_path / 'cifar-10-batches-py')
    with pytest.raises(ValueError, match="'valid'"):
        CIFARDataset(root, split='valid')
    with pytest.raises(ValueError, match='3 classes'):
        CIFARDataset(root, metainfo=dict(classes=('a', 'b', 'c')))
