# Copyright (c) mmacs contributors. All rights reserved.
import mmcv
import numpy as np
import pytest
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

import mmacs  # noqa: F401  (registers mmdet's transforms in their scope)
from mmacs.coreset.scoring import annotations_first

# mmdet's test pipeline order: boxes loaded after Resize, at the original
# scale (evaluation rescales the predictions instead).
TEST_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(100, 50), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_shape'))
]


def test_annotations_first_keeps_the_order_of_the_rest():
    types = [t['type'] for t in annotations_first(TEST_PIPELINE)]
    assert types == ['LoadImageFromFile', 'LoadAnnotations', 'Resize',
                     'PackDetInputs']
    assert TEST_PIPELINE[1]['type'] == 'Resize'  # the input is not changed
    train = [TEST_PIPELINE[0], TEST_PIPELINE[2], TEST_PIPELINE[1]]
    assert annotations_first(train) == train
    scoped = [dict(type='mmdet.Resize', scale=(8, 8)),
              dict(type='mmdet.LoadAnnotations')]
    assert [t['type'] for t in annotations_first(scoped)] == [
        'mmdet.LoadAnnotations', 'mmdet.Resize']

    # A callable transform (Compose takes them) stays among the others.
    def step(results):
        return results

    mixed = [dict(type='LoadImageFromFile'), step,
             dict(type='LoadAnnotations')]
    assert annotations_first(mixed)[1:] == [dict(type='LoadAnnotations'),
                                            step]


@pytest.mark.parametrize('reorder', [False, True])
def test_scoring_boxes_follow_the_resized_image(tmp_path, reorder):
    """Through the test pipeline as written the boxes stay at the original
    scale of a 200x100 image resized to 100x50; loaded first, they are
    halved with it."""
    path = str(tmp_path / 'img.png')
    mmcv.imwrite(np.zeros((100, 200, 3), np.uint8), path)
    pipeline = annotations_first(TEST_PIPELINE) if reorder else TEST_PIPELINE
    with DefaultScope.overwrite_default_scope('mmdet'):
        out = Compose(pipeline)(dict(
            img_path=path, img_id=0,
            instances=[dict(bbox=[20., 10., 60., 50.], bbox_label=0,
                            ignore_flag=0)]))
    assert out['data_samples'].img_shape == (50, 100)
    boxes = out['data_samples'].gt_instances.bboxes.tensor.tolist()
    expected = [10., 5., 30., 25.] if reorder else [20., 10., 60., 50.]
    assert boxes == [pytest.approx(expected)]


def test_the_scoring_pass_loads_boxes_before_resizing():
    """from_runner's clean view: the test dataloader's pipeline, boxes
    loaded ahead of its Resize, 'sample_idx' packed."""
    from types import SimpleNamespace

    from mmengine.config import Config

    from mmacs.coreset.scoring import ScoringPass

    class Dataset:
        pipeline = None

        def __len__(self):
            return 4

    built = {}

    def build_dataloader(cfg, seed=None):
        built.update(cfg)
        return []

    runner = SimpleNamespace(
        train_dataloader=SimpleNamespace(dataset=Dataset()),
        cfg=Config(dict(train_dataloader=dict(batch_size=2),
                        test_dataloader=dict(dataset=dict(
                            pipeline=TEST_PIPELINE)))),
        build_dataloader=build_dataloader, seed=0)
    model = SimpleNamespace(data_preprocessor=None)
    with DefaultScope.overwrite_default_scope('mmdet'):
        ScoringPass.from_runner(runner, model, scorer=None)
    transforms = built['dataset'].pipeline.transforms
    assert [type(t).__name__ for t in transforms] == [
        'LoadImageFromFile', 'LoadAnnotations', 'Resize', 'PackDetInputs']
    assert 'sample_idx' in transforms[-1].meta_keys
