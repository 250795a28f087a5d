# Copyright (c) mmacs contributors. All rights reserved.
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import DefaultScope
from pycocotools.coco import COCO

from mmacs.datasets import SHAPE_CLASSES, make_synthetic_shapes
from mmacs.datasets.synthetic_shapes import render_image, shape_mask


def read(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    make_synthetic_shapes(str(root), num_train=12, num_val=4, size=64,
                          seed=3, hard_ratio=0.5)
    return root


def test_same_seed_gives_identical_files(shapes_root, tmp_path):
    make_synthetic_shapes(str(tmp_path), num_train=12, num_val=4, size=64,
                          seed=3, hard_ratio=0.5)
    for split in ('train', 'val'):
        name = f'annotations/instances_{split}.json'
        assert read(tmp_path / name) == read(shapes_root / name)
    assert read(tmp_path / 'train' / '000005.jpg') == read(
        shapes_root / 'train' / '000005.jpg')


def test_other_seed_differs(shapes_root, tmp_path):
    make_synthetic_shapes(str(tmp_path), num_train=12, num_val=0, size=64,
                          seed=4, hard_ratio=0.5)
    name = 'annotations/instances_train.json'
    assert read(tmp_path / name) != read(shapes_root / name)


def test_coco_layout_and_boxes(shapes_root):
    coco = COCO(str(shapes_root / 'annotations' / 'instances_train.json'))
    assert len(coco.getImgIds()) == 12
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(
        SHAPE_CLASSES)
    assert any(img['hard'] for img in coco.dataset['images'])
    for img_id in coco.getImgIds():
        img = coco.loadImgs(img_id)[0]
        assert osp.isfile(shapes_root / 'train' / img['file_name'])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert 1 <= len(anns) <= 4
        for ann in anns:
            x, y, w, h = ann['bbox']
            assert x >= 0 and y >= 0 and w >= 1 and h >= 1
            assert x + w <= img['width'] and y + h <= img['height']
            assert 0 < ann['area'] <= w * h


def test_loads_in_mmdet_coco_dataset(shapes_root):
    from mmdet.datasets import CocoDataset
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = CocoDataset(
            data_root=str(shapes_root) + '/',
            ann_file='annotations/instances_val.json',
            data_prefix=dict(img='val/'),
            metainfo=dict(classes=SHAPE_CLASSES),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='PackDetInputs')
            ])
        assert len(dataset) == 4
        data = dataset[0]
    coco = json.loads(read(shapes_root / 'annotations' /
                           'instances_val.json'))
    labels = sorted(a['category_id'] - 1 for a in coco['annotations']
                    if a['image_id'] == 1)
    assert tuple(data['inputs'].shape) == (3, 64, 64)
    assert sorted(data['data_samples'].gt_instances.labels.tolist()) == \
        labels


def test_render_image_objects():
    img, objects = render_image(np.random.default_rng(0), size=96)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    assert 1 <= len(objects) <= 4
    for obj in objects:
        assert 0 <= obj['label'] < len(SHAPE_CLASSES)


def test_ring_has_a_hole():
    mask = shape_mask('ring', 64, 32, 32, 20)
    assert mask[32, 32 + 18] and not mask[32, 32]
    with pytest.raises(ValueError, match='hexagon'):
        shape_mask('hexagon', 64, 32, 32, 20)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_train=-1), 'num_train'),
    (dict(size=16), 'size'),
    (dict(seed=-2), 'seed'),
    (dict(hard_ratio=1.5), 'hard_ratio'),
    (dict(classes=('circle', 'blob')), 'blob'),
    (dict(classes=()), 'classes'),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_shapes(str(tmp_path), **kwargs)
