# Copyright (c) mmacs contributors. All rights reserved.
"""A seeded generator of a small COCO-format detection dataset of shapes.

Every image shows 1-4 filled shapes of :data:`SHAPE_CLASSES` (a random
colour each, so only the shape tells the class) on a cluttered background:
a colour gradient, blobs, thin lines, elongated ellipses and pixel noise.
A ``hard_ratio`` fraction of the images are hard: small, low-contrast
objects that may occlude one another, more clutter and lines drawn across
the objects. Boxes are the tight boxes of the visible pixels; ``area`` is
the visible pixel count.

The layout is COCO's::

    out_dir/annotations/instances_train.json
    out_dir/annotations/instances_val.json
    out_dir/train/000000.jpg ...
    out_dir/val/000000.jpg ...

Each image draws from its own generator seeded with ``(seed, split,
index)``, so the same seed gives byte-identical JSON files (and images).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from mmacs.utils.checks import check_fraction, check_int

#: The shape classes, in label order (COCO category ids 1, 2, ...).
SHAPE_CLASSES = ('circle', 'square', 'triangle', 'star', 'ring')

_SPLIT_IDS = dict(train=0, val=1)


def _shape_polygon(name: str, cx: float, cy: float, r: float,
                   angle: float) -> np.ndarray:
    """Integer polygon of a square, triangle or star of radius ``r``."""
    if name == 'square':
        theta = angle + np.pi / 4 + np.arange(4) * np.pi / 2
        radii = np.full(4, r)
    elif name == 'triangle':
        theta = angle - np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        radii = np.full(3, r)
    elif name == 'star':
        theta = angle - np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    else:
        raise ValueError(f'{name!r} is not a polygon shape')
    pts = np.stack([cx + radii * np.cos(theta), cy + radii * np.sin(theta)],
                   axis=1)
    return np.round(pts).astype(np.int32)


def shape_mask(name: str, size: int, cx: float, cy: float, r: float,
               angle: float = 0.0) -> np.ndarray:
    """Boolean ``[size, size]`` mask of one shape.

    Args:
        name (str): One of :data:`SHAPE_CLASSES`.
        size (int): Image side in pixels.
        cx (float): Centre x.
        cy (float): Centre y.
        r (float): Radius (half the shape's extent).
        angle (float): Rotation in radians (polygons only). Defaults to 0.0.

    Returns:
        np.ndarray: The mask.
    """
    mask = np.zeros((size, size), np.uint8)
    centre = (int(round(cx)), int(round(cy)))
    if name == 'circle':
        cv2.circle(mask, centre, int(round(r)), 1, -1)
    elif name == 'ring':
        cv2.circle(mask, centre, int(round(r)), 1, -1)
        cv2.circle(mask, centre, max(1, int(round(0.55 * r))), 0, -1)
    elif name in ('square', 'triangle', 'star'):
        cv2.fillPoly(mask, [_shape_polygon(name, cx, cy, r, angle)], 1)
    else:
        raise ValueError(f'unknown shape {name!r}; choose from '
                         f'{SHAPE_CLASSES}')
    return mask.astype(bool)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated BGR colour."""
    hsv = np.array([[[rng.integers(0, 180),
                      rng.integers(150, 256),
                      rng.integers(150, 256)]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _background(rng: np.random.Generator, size: int,
                hard: bool) -> np.ndarray:
    """A gradient with blobs, lines and elongated ellipses (float BGR)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0 = rng.uniform(30, 200, 3).astype(np.float32)
    c1 = rng.uniform(30, 200, 3).astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    t = (np.cos(direction) * xx + np.sin(direction) * yy + 1) / 2
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    canvas = img.astype(np.uint8)
    for _ in range(int(rng.integers(3, 7))):  # soft blobs
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(size // 8, size // 3, 2))
        colour = tuple(float(v) for v in rng.uniform(20, 230, 3))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0,
                    360, colour, -1)
    canvas = cv2.GaussianBlur(canvas, (0, 0), size / 16)
    num_distractors = int(rng.integers(4, 9)) if hard else int(
        rng.integers(1, 5))
    for _ in range(num_distractors):
        colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
        if rng.random() < 0.6:  # a line or a scribble
            pts = rng.integers(0, size, (int(rng.integers(2, 5)), 2))
            cv2.polylines(canvas, [pts.astype(np.int32)], False, colour,
                          int(rng.integers(1, 3)))
        else:  # a thin ellipse: never round enough to pass for a circle
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            major = int(rng.integers(size // 12, size // 5))
            minor = max(1, int(major / rng.uniform(3, 6)))
            cv2.ellipse(canvas, centre, (major, minor),
                        float(rng.uniform(0, 180)), 0, 360, colour, -1)
    return canvas.astype(np.float32)


def render_image(rng: np.random.Generator,
                 size: int = 128,
                 hard: bool = False,
                 classes: Sequence[str] = SHAPE_CLASSES
                 ) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image and its objects.

    Args:
        rng (np.random.Generator): The image's generator.
        size (int): Image side in pixels. Defaults to 128.
        hard (bool): Small, low-contrast, possibly occluded objects and
            more clutter. Defaults to False.
        classes (Sequence[str]): The shapes to draw from. Defaults to
            :data:`SHAPE_CLASSES`.

    Returns:
        tuple[np.ndarray, list[dict]]: The uint8 BGR image and one
        ``dict(label, bbox=[x, y, w, h], area)`` per object, ``label``
        indexing ``classes``.
    """
    img = _background(rng, size, hard)
    owner = np.full((size, size), -1, np.int32)
    full_area: List[int] = []
    labels: List[int] = []
    max_occlusion = 0.4 if hard else 0.0
    lo, hi = (0.05, 0.11) if hard else (0.08, 0.2)
    for _ in range(int(rng.integers(1, 5))):
        label = int(rng.integers(len(classes)))
        for _try in range(30):
            r = rng.uniform(lo, hi) * size
            cx, cy = rng.uniform(r + 1, size - r - 2, 2)
            mask = shape_mask(classes[label], size, cx, cy, r,
                              rng.uniform(0, 2 * np.pi))
            if not mask.any():
                continue
            # Keep at least (1 - max_occlusion) of every earlier object
            # visible; easy images keep a gap between objects.
            grown = cv2.dilate(mask.astype(np.uint8), np.ones(
                (5, 5), np.uint8)).astype(bool) if not hard else mask
            hit = owner[grown]
            ok = all((owner == k).sum() - (hit == k).sum() >=
                     (1 - max_occlusion) * full_area[k] and
                     (max_occlusion > 0 or not (hit == k).any())
                     for k in range(len(labels)))
            if ok:
                break
        else:
            continue  # no room left for this object
        colour = _random_colour(rng)
        if hard:  # blend towards the background: low contrast
            alpha = rng.uniform(0.55, 0.8)
            img[mask] = alpha * colour + (1 - alpha) * img[mask]
        else:
            img[mask] = colour
        owner[mask] = len(labels)
        full_area.append(int(mask.sum()))
        labels.append(label)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    if hard:  # lines across the objects
        for _ in range(int(rng.integers(1, 4))):
            (x0, y0), (x1, y1) = rng.integers(0, size, (2, 2)).tolist()
            colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
            cv2.line(canvas, (x0, y0), (x1, y1), colour, 1)
    canvas = cv2.GaussianBlur(canvas, (3, 3), 0.6 if not hard else 1.0)
    noise = rng.normal(0, 10 if hard else 6, canvas.shape)
    canvas = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    objects = []
    for k, label in enumerate(labels):
        ys, xs = np.nonzero(owner == k)
        if len(xs) == 0:
            continue
        x0, y0 = int(xs.min()), int(ys.min())
        objects.append(
            dict(
                label=label,
                bbox=[
                    float(x0),
                    float(y0),
                    float(xs.max() - x0 + 1),
                    float(ys.max() - y0 + 1)
                ],
                area=float(len(xs))))
    return canvas, objects


def make_split(out_dir: str,
               split: str,
               num_images: int,
               size: int = 128,
               seed: int = 0,
               hard_ratio: float = 0.25,
               classes: Sequence[str] = SHAPE_CLASSES) -> dict:
    """Write one split's images and return its COCO dict (see
    :func:`make_synthetic_shapes` for the arguments)."""
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        rng = np.random.default_rng([seed, _SPLIT_IDS[split], i])
        hard = bool(rng.random() < hard_ratio)
        img, objects = render_image(rng, size, hard, classes)
        file_name = f'{i:06d}.jpg'
        cv2.imwrite(
            osp.join(img_dir, file_name), img,
            [int(cv2.IMWRITE_JPEG_QUALITY), 95])
        images.append(
            dict(id=i + 1, file_name=file_name, width=size, height=size,
                 hard=hard))
        for obj in objects:
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=i + 1,
                    category_id=obj['label'] + 1,
                    bbox=obj['bbox'],
                    area=obj['area'],
                    iscrowd=0))
    return dict(
        info=dict(
            description=f'mmacs synthetic shapes ({split}, seed {seed})',
            version='1.0'),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(id=c + 1, name=name, supercategory='shape')
            for c, name in enumerate(classes)
        ])


def make_synthetic_shapes(out_dir: str,
                          num_train: int = 400,
                          num_val: int = 100,
                          size: int = 128,
                          seed: int = 0,
                          hard_ratio: float = 0.25,
                          classes: Sequence[str] = SHAPE_CLASSES
                          ) -> Dict[str, str]:
    """Generate the synthetic shapes dataset in ``out_dir``.

    Args:
        out_dir (str): The dataset root (created if needed).
        num_train (int): Training images. Defaults to 400.
        num_val (int): Validation images. Defaults to 100.
        size (int): Image side in pixels, >= 32. Defaults to 128.
        seed (int): The dataset's seed. Defaults to 0.
        hard_ratio (float): Fraction of hard images in ``[0, 1]``.
            Defaults to 0.25.
        classes (Sequence[str]): Shapes to use, a non-empty subset of
            :data:`SHAPE_CLASSES`. Defaults to :data:`SHAPE_CLASSES`.

    Returns:
        dict[str, str]: The annotation file of each split, by split name.
    """
    for key, value in dict(num_train=num_train, num_val=num_val).items():
        check_int(value, key, 0)
    check_int(size, 'size', 32)
    check_int(seed, 'seed', 0)
    check_fraction(hard_ratio, 'hard_ratio')
    classes = tuple(classes)
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise ValueError(f'classes must be distinct names from '
                         f'{SHAPE_CLASSES}, got {classes!r}')
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    files = {}
    for split, num in (('train', num_train), ('val', num_val)):
        coco = make_split(out_dir, split, num, size, seed, hard_ratio,
                          classes)
        files[split] = osp.join(ann_dir, f'instances_{split}.json')
        with open(files[split], 'w') as f:
            json.dump(coco, f, separators=(',', ':'))
    return files
