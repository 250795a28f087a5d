# Copyright (c) mmacs contributors. All rights reserved.
import copy

import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.registry import DefaultScope

from mmacs.coreset.scoring import dataset_with_pipeline, find_dataset_attr
from mmacs.datasets import (SHAPE_CLASSES, NoisyDetDataset,
                            make_synthetic_shapes)

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs')
]


@pytest.fixture(autouse=True)
def mmdet_scope():
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


@pytest.fixture(scope='module')
def coco_cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    make_synthetic_shapes(str(root), num_train=20, num_val=0, size=64,
                          seed=1)
    return dict(
        type='CocoDataset',
        data_root=str(root) + '/',
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=SHAPE_CLASSES),
        pipeline=PIPELINE)


def boxes(info):
    return [(i['bbox_label'], tuple(i['bbox'])) for i in info['instances']]


def test_noisy_indices_are_seeded(coco_cfg):
    a = NoisyDetDataset(coco_cfg, noise_rate=0.5, seed=0)
    b = NoisyDetDataset(coco_cfg, noise_rate=0.5, seed=0)
    c = NoisyDetDataset(coco_cfg, noise_rate=0.5, seed=1)
    assert len(a) == 20 and len(a.noisy_indices) == 10
    assert a.noisy_indices == sorted(a.noisy_indices)
    assert a.noisy_indices == b.noisy_indices
    assert a.noisy_indices != c.noisy_indices
    assert a.metainfo['classes'] == SHAPE_CLASSES
    assert [boxes(a.get_data_info(i)) for i in range(20)] == \
        [boxes(b.get_data_info(i)) for i in range(20)]


def test_clean_images_untouched(coco_cfg):
    noisy = NoisyDetDataset(coco_cfg, noise_rate=0.3, seed=0)
    for i in range(len(noisy)):
        clean = noisy.dataset.get_data_info(i)
        if i not in noisy.noisy_indices:
            assert boxes(noisy.get_data_info(i)) == boxes(clean)
        else:
            assert boxes(noisy.get_data_info(i)) != boxes(clean)
    assert NoisyDetDataset(coco_cfg, noise_rate=0).noisy_indices == []


def test_class_flip_only(coco_cfg):
    noisy = NoisyDetDataset(coco_cfg, noise_rate=1.0, class_flip=1,
                            drop_box=0, jitter_box=0)
    assert len(noisy.noisy_indices) == 20
    for i in range(len(noisy)):
        clean = noisy.dataset.get_data_info(i)['instances']
        flipped = noisy.get_data_info(i)['instances']
        assert [c['bbox'] for c in clean] == [f['bbox'] for f in flipped]
        assert all(c['bbox_label'] != f['bbox_label']
                   for c, f in zip(clean, flipped))
        assert noisy.get_cat_ids(i) == [f['bbox_label'] for f in flipped]
        assert all(0 <= c < len(SHAPE_CLASSES)
                   for c in noisy.get_cat_ids(i))


def test_drop_and_jitter(coco_cfg):
    dropped = NoisyDetDataset(coco_cfg, noise_rate=0.5, class_flip=0,
                              drop_box=1, jitter_box=0)
    for i in dropped.noisy_indices:
        assert dropped.get_data_info(i)['instances'] == []
        assert dropped.get_cat_ids(i) == []
    assert dropped.corruption_counts['drop_box'] > 0
    jittered = NoisyDetDataset(coco_cfg, noise_rate=0.5, class_flip=0,
                               drop_box=0, jitter_box=1, jitter_scale=0.5)
    for i in jittered.noisy_indices:
        clean = jittered.dataset.get_data_info(i)
        info = jittered.get_data_info(i)
        assert [c['bbox_label'] for c in clean['instances']] == \
            jittered.get_cat_ids(i)
        for c, j in zip(clean['instances'], info['instances']):
            x1, y1, x2, y2 = j['bbox']
            assert j['bbox'] != c['bbox']
            assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64


def test_getitem_runs_inner_pipeline_on_noisy_info(coco_cfg):
    noisy = DATASETS.build(
        dict(type='NoisyDetDataset', dataset=coco_cfg, noise_rate=1.0,
             class_flip=1, drop_box=0, jitter_box=0))
    assert isinstance(noisy, NoisyDetDataset)
    data = noisy[3]
    assert data['data_samples'].gt_instances.labels.tolist() == \
        noisy.get_cat_ids(3)
    assert data['data_samples'].metainfo.get('sample_idx', 3) == 3


def test_shallow_copy_with_another_pipeline(coco_cfg):
    noisy = NoisyDetDataset(coco_cfg, noise_rate=1.0, class_flip=1,
                            drop_box=0, jitter_box=0)
    pipeline = copy.deepcopy(PIPELINE)
    pipeline[-1] = dict(type='PackDetInputs', meta_keys=('img_id',
                                                         'sample_idx'))
    scoring = dataset_with_pipeline(noisy, pipeline)
    assert scoring is not noisy and scoring.dataset is not noisy.dataset
    assert scoring.dataset.pipeline is not noisy.dataset.pipeline
    data = scoring[5]
    assert data['data_samples'].metainfo['sample_idx'] == 5
    assert data['data_samples'].gt_instances.labels.tolist() == \
        noisy.get_cat_ids(5)
    assert find_dataset_attr(scoring, 'noisy_indices') == noisy.noisy_indices
    assert 'sample_idx' not in noisy[5]['data_samples'].metainfo


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(noise_rate=1.5), ValueError, 'noise_rate'),
    (dict(noise_rate='0.2'), ValueError, 'noise_rate'),
    (dict(seed=0.5), TypeError, 'seed'),
    (dict(class_flip=-1), ValueError, 'class_flip'),
    (dict(class_flip=0, drop_box=0, jitter_box=0), ValueError,
     'at least one'),
    (dict(jitter_scale=0), ValueError, 'jitter_scale'),
])
def test_bad_arguments(coco_cfg, kwargs, error, match):
    with pytest.raises(error, match=match):
        NoisyDetDataset(coco_cfg, **kwargs)


def test_bad_dataset():
    with pytest.raises(TypeError, match='list'):
        NoisyDetDataset([1, 2, 3])


def test_jitter_is_seeded(coco_cfg):
    a = NoisyDetDataset(coco_cfg, noise_rate=1.0, class_flip=0, drop_box=0,
                        jitter_box=1, seed=7)
    b = NoisyDetDataset(coco_cfg, noise_rate=1.0, class_flip=0, drop_box=0,
                        jitter_box=1, seed=7)
    np.testing.assert_allclose(
        [x for i in range(20) for _, b_ in boxes(a.get_data_info(i))
         for x in b_],
        [x for i in range(20) for _, b_ in boxes(b.get_data_info(i))
         for x in b_])
