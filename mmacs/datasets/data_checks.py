# Copyright (c) mmacs contributors. All rights reserved.
"""Checks of a dataset's files and annotations made when it is built, so
bad data stops a run at its start with the file named, not minutes later
inside a data worker."""
import json
import os
import os.path as osp
from collections import Counter
from typing import Iterable, List, Optional

#: How many bad paths an error message lists.
_SHOWN = 5


def check_image_files(paths: Iterable[str], what: str = 'dataset') -> int:
    """Check that every file in ``paths`` exists and is not empty.

    One ``os.stat`` per file, no image is opened (a 0-byte file would
    otherwise fail in OpenCV's decoder with a message that names no file).

    Args:
        paths (Iterable[str]): Image paths.
        what (str): What the paths belong to, for the message. Defaults to
            'dataset'.

    Returns:
        int: The number of files checked.

    Raises:
        FileNotFoundError: Some files are missing or empty; the message
            counts them and names the first few.
    """
    missing: List[str] = []
    empty: List[str] = []
    num = 0
    for path in paths:
        num += 1
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            missing.append(path)
            continue
        if size == 0:
            empty.append(path)
    problems = []
    if missing:
        problems.append(f'{len(missing)} missing ({_show(missing)})')
    if empty:
        problems.append(f'{len(empty)} empty, 0 bytes ({_show(empty)})')
    if problems:
        raise FileNotFoundError(f'{what}: of {num} image files, ' +
                                '; '.join(problems))
    return num


def _show(paths: List[str]) -> str:
    more = len(paths) - _SHOWN
    return ', '.join(repr(p) for p in paths[:_SHOWN]) + (
        f' and {more} more' if more > 0 else '')


def innermost_dataset(dataset):
    """The dataset inside dataset wrappers (``.dataset`` attributes)."""
    while hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    return dataset


def dataset_image_paths(dataset) -> Optional[List[str]]:
    """The ``img_path`` of every sample of an mmengine ``BaseDataset``, or
    None when its samples name no image files."""
    dataset = innermost_dataset(dataset)
    if not hasattr(dataset, 'get_data_info'):
        return None
    paths = []
    for i in range(len(dataset)):
        path = dataset.get_data_info(i).get('img_path')
        if path is None:
            return None
        paths.append(path)
    return paths


def coco_filter_report(dataset) -> Optional[dict]:
    """What mmdet's ``CocoDataset`` left out of ``dataset``, and why.

    mmdet drops, while parsing, annotations whose box lies outside the
    image or has zero area, whose width or height is below 1 or whose area
    is not positive, those marked ``ignore`` and those of categories not in
    the classes; ``filter_cfg`` then drops images without an annotation of
    the classes (``filter_empty_gt``) and images smaller than
    ``min_size``. All of this is silent. This re-reads the annotation file
    (once, at build time) and counts each reason.

    Args:
        dataset: A built dataset (wrappers are looked through).

    Returns:
        dict, optional: ``num_images``, ``num_annotations`` (in the file),
        ``kept_images``, ``kept_instances``, ``dropped_images`` and
        ``dropped_annotations`` (each a dict reason -> count), or None when
        the dataset is not a COCO-style dataset read from a local file.
    """
    inner = innermost_dataset(dataset)
    ann_file = getattr(inner, 'ann_file', None)
    if not hasattr(inner, 'cat_ids') or not hasattr(inner, 'filter_cfg') \
            or not ann_file or not osp.isfile(ann_file):
        return None
    with open(ann_file) as f:
        raw = json.load(f)
    if not isinstance(raw, dict) or 'images' not in raw:
        return None
    images = {im['id']: im for im in raw['images']}
    cat_ids = set(inner.cat_ids)
    kept_ids = set()
    kept_instances = 0
    for i in range(len(inner)):
        info = inner.get_data_info(i)
        kept_ids.add(info.get('img_id'))
        kept_instances += len(info.get('instances', ()))
    dropped_anns = Counter()
    ids_in_cat = set()
    for ann in raw.get('annotations', []):
        img = images.get(ann.get('image_id'))
        if img is None:
            dropped_anns['image id not in the file'] += 1
            continue
        if ann.get('category_id') in cat_ids:
            ids_in_cat.add(img['id'])
        if img['id'] not in kept_ids:
            dropped_anns['on a dropped image'] += 1
            continue
        reason = _annotation_problem(ann, img, cat_ids)
        if reason:
            dropped_anns[reason] += 1
    filter_cfg = inner.filter_cfg or {}
    dropped_imgs = Counter()
    for img_id, img in images.items():
        if img_id in kept_ids:
            continue
        if filter_cfg.get('filter_empty_gt', False) and \
                img_id not in ids_in_cat:
            dropped_imgs['no annotation of the classes'] += 1
        elif min(img['width'], img['height']) < filter_cfg.get(
                'min_size', 0):
            dropped_imgs[f"smaller than min_size={filter_cfg['min_size']}"] \
                += 1
        else:
            dropped_imgs['other'] += 1
    return dict(
        ann_file=ann_file,
        num_images=len(images),
        num_annotations=len(raw.get('annotations', [])),
        kept_images=len(inner),
        kept_instances=kept_instances,
        dropped_images=dict(dropped_imgs),
        dropped_annotations=dict(dropped_anns))


def _annotation_problem(ann: dict, img: dict, cat_ids: set) -> str:
    """Why mmdet 3.3's ``CocoDataset.parse_data_info`` skips ``ann`` ('' if
    it keeps it)."""
    if ann.get('ignore', False):
        return "marked 'ignore'"
    x1, y1, w, h = ann['bbox']
    inter_w = max(0, min(x1 + w, img['width']) - max(x1, 0))
    inter_h = max(0, min(y1 + h, img['height']) - max(y1, 0))
    if inter_w * inter_h == 0:
        return 'box outside the image or of zero area'
    if ann.get('area', 0) <= 0 or w < 1 or h < 1:
        return 'width or height < 1 or area <= 0'
    if ann['category_id'] not in cat_ids:
        return 'category not in the classes'
    return ''


def format_filter_report(report: dict) -> str:
    """One log line for :func:`coco_filter_report`."""

    def reasons(counts: dict) -> str:
        return ', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))

    num_imgs = sum(report['dropped_images'].values())
    num_anns = sum(report['dropped_annotations'].values())
    msg = (f"{osp.basename(report['ann_file'])}: {report['num_images']} "
           f"images, {report['num_annotations']} annotations; kept "
           f"{report['kept_images']} images, {report['kept_instances']} "
           f'instances; dropped {num_imgs} images')
    if num_imgs:
        msg += f" ({reasons(report['dropped_images'])})"
    msg += f', {num_anns} annotations'
    if num_anns:
        msg += f" ({reasons(report['dropped_annotations'])})"
    return msg
