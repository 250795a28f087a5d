# Copyright (c) mmacs contributors. All rights reserved.
import json
import os
from unittest import mock

import mmcv
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmacs.classification import ImageFolderDataset
from mmacs.classification.transforms import LoadClsImage
from mmacs.datasets.data_checks import check_image_files, coco_filter_report
from mmacs.engine import QATRunner
from mmacs.engine.runner import check_dataset


@pytest.fixture(autouse=True)
def mmdet_scope():
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def png(path, h=48, w=64):
    mmcv.imwrite(np.full((h, w, 3), 9, dtype=np.uint8), str(path))


def box(ann_id, img_id, bbox, cat=1):
    return dict(id=ann_id, image_id=img_id, bbox=bbox, category_id=cat,
                area=float(max(bbox[2], 0) * max(bbox[3], 0)), iscrowd=0)


def make_coco(root):
    """Five images; mmdet keeps 1 and 2 and one box of each.

    1: a box. 2: a box, one of negative width, one 0.5 px wide. 3: no box.
    4: smaller than min_size=32. 5: only a box of a category not in the
    classes.
    """
    (root / 'imgs').mkdir(parents=True)
    sizes = {1: (48, 64), 2: (48, 64), 3: (48, 64), 4: (20, 20), 5: (48, 64)}
    for i, (h, w) in sizes.items():
        png(root / 'imgs' / f'{i}.png', h, w)
    ann = dict(
        images=[dict(id=i, file_name=f'{i}.png', height=h, width=w)
                for i, (h, w) in sizes.items()],
        annotations=[
            box(1, 1, [4, 4, 20, 20]),
            box(2, 2, [10, 10, -5, 12]),
            box(3, 2, [4, 4, 0.5, 10]),
            box(4, 2, [30, 10, 12, 12], cat=2),
            box(5, 4, [2, 2, 8, 8]),
            box(6, 5, [2, 2, 8, 8], cat=3),
        ],
        categories=[dict(id=1, name='a'), dict(id=2, name='b'),
                    dict(id=3, name='c')])
    (root / 'ann.json').write_text(json.dumps(ann))
    return root


def coco_loader_cfg(root):
    return dict(
        batch_size=2,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='CocoDataset',
            data_root=str(root),
            ann_file='ann.json',
            data_prefix=dict(img='imgs/'),
            metainfo=dict(classes=('a', 'b')),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=[]))


def test_coco_filter_report_counts_each_reason(tmp_path):
    root = make_coco(tmp_path)
    with mock.patch('mmacs.engine.runner.print_log') as log:
        loader = QATRunner.build_dataloader(coco_loader_cfg(root))
    assert len(loader.dataset) == 2
    report = coco_filter_report(loader.dataset)
    assert (report['num_images'], report['num_annotations']) == (5, 6)
    assert (report['kept_images'], report['kept_instances']) == (2, 2)
    assert report['dropped_images'] == {
        'no annotation of the classes': 2,
        'smaller than min_size=32': 1
    }
    assert report['dropped_annotations'] == {
        'box outside the image or of zero area': 1,
        'width or height < 1 or area <= 0': 1,
        'on a dropped image': 2
    }
    # The runner logs it when it builds the training set.
    msg = log.call_args[0][0]
    assert 'ann.json: 5 images, 6 annotations; kept 2 images' in msg
    assert 'dropped 3 images (no annotation of the classes: 2' in msg
    assert 'width or height < 1 or area <= 0: 1' in msg


@pytest.mark.parametrize('problem', ['missing', 'empty'])
def test_coco_image_missing_or_empty_stops_the_build(tmp_path, problem):
    root = make_coco(tmp_path)
    bad = root / 'imgs' / '2.png'
    if problem == 'missing':
        bad.unlink()
    else:
        bad.write_bytes(b'')
    with pytest.raises(FileNotFoundError,
                       match=rf'1 {problem}.*{bad}'):
        QATRunner.build_dataloader(coco_loader_cfg(root))


def test_image_folder_checks_every_file_at_load_time(tmp_path):
    for name in ('a', 'b'):
        (tmp_path / name).mkdir()
        for j in range(3):
            png(tmp_path / name / f'{j}.png', 8, 8)
    assert len(ImageFolderDataset(str(tmp_path))) == 6
    (tmp_path / 'b' / '1.png').write_bytes(b'')
    os.symlink(tmp_path / 'gone.png', tmp_path / 'a' / 'link.png')
    with pytest.raises(FileNotFoundError) as err:
        ImageFolderDataset(str(tmp_path))
    msg = str(err.value)
    assert '1 missing' in msg and 'link.png' in msg
    assert '1 empty' in msg and str(tmp_path / 'b' / '1.png') in msg


def test_undecodable_image_is_named(tmp_path):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(b'\xff\xd8\xff\xe0 not a jpeg at all')
    with pytest.raises(OSError, match='broken.jpg'):
        LoadClsImage()(dict(img_path=str(path)))


def test_check_image_files_lists_a_few_and_counts_the_rest(tmp_path):
    paths = [str(tmp_path / f'{i}.png') for i in range(8)]
    with pytest.raises(FileNotFoundError, match='8 missing.*and 3 more'):
        check_image_files(paths, what='toy')
    for p in paths:
        png(p, 4, 4)
    assert check_image_files(paths) == 8


def test_check_dataset_ignores_datasets_without_files():
    from mmacs.testing.toy import ToyPointsDataset
    check_dataset(ToyPointsDataset(pipeline=[]))  # no img_path: nothing
