# Copyright (c) mmacs contributors. All rights reserved.
"""Small images decoded once into one ``uint8`` array, optionally cached.

The in-memory path of the classification datasets (``in_memory=True``)
keeps every image of a split in one ``[N, H, W, 3]`` RGB array. For image
folders the array is built by decoding each file once; with a
``cache_dir`` it is saved as ``.npy`` under a name keyed by the file list
(paths, sizes and modification times), so a second run loads it instead of
decoding, and a folder that changed since gets a new key and is decoded
again. A cache file is checked against its key and the expected shape
before use; one that does not match is rebuilt, never reused.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.logging import print_log

#: Bumped when the decoded layout changes, so old caches are not reused.
CACHE_VERSION = 1


def decode_image(path: str) -> np.ndarray:
    """``path`` as an ``HWC`` RGB ``uint8`` array, decoded as
    :class:`~mmacs.classification.LoadClsImage` does (OpenCV, colour).

    Raises:
        ValueError: naming ``path`` when the file is empty or does not
            decode.
    """
    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        raise ValueError(f'image file {path!r} is empty (0 bytes)')
    try:
        img = mmcv.imfrombytes(data, flag='color', backend='cv2')
    except Exception as e:  # OpenCV raises on some corrupt streams
        raise ValueError(f'image file {path!r} does not decode: {e}') from e
    if img is None:
        raise ValueError(f'image file {path!r} does not decode as an image')
    return mmcv.bgr2rgb(img)


def decode_images(paths: Sequence[str]) -> np.ndarray:
    """Decode ``paths`` into one ``[N, H, W, 3]`` ``uint8`` RGB array.

    Raises:
        ValueError: an image that does not decode (named), or images of
            different sizes (the first two shapes named).
    """
    if not paths:
        raise ValueError('decode_images got no paths')
    first = decode_image(paths[0])
    out = np.empty((len(paths), ) + first.shape, dtype=np.uint8)
    out[0] = first
    for i in range(1, len(paths)):
        img = decode_image(paths[i])
        if img.shape != first.shape:
            raise ValueError(
                'in_memory needs images of one size: '
                f'{paths[0]!r} is {first.shape}, {paths[i]!r} is '
                f'{img.shape}; use the per-sample path (in_memory=False) '
                'for images of mixed sizes')
        out[i] = img
    return out


def file_list_key(paths: Sequence[str]) -> str:
    """A hash of the file list: each path with its size and modification
    time (``os.stat``), in order, and :data:`CACHE_VERSION`."""
    h = hashlib.sha1(f'mmacs-image-array-v{CACHE_VERSION}\n'.encode())
    for path in paths:
        st = os.stat(path)
        h.update(f'{osp.abspath(path)}\t{st.st_size}\t{st.st_mtime_ns}\n'
                 .encode())
    return h.hexdigest()


def cached_image_array(paths: Sequence[str],
                       cache_dir: Optional[str] = None) -> np.ndarray:
    """The decoded images of ``paths``, read from or written to
    ``cache_dir`` when given.

    The cache is ``<cache_dir>/images-<key>.npy`` beside a
    ``images-<key>.json`` that records the key, the count and the shape;
    the array is used only if both match the current file list and the
    array's shape and dtype are as recorded. Anything else (a missing,
    truncated or foreign file) is decoded afresh and the cache rewritten.
    """
    if cache_dir is None:
        return decode_images(paths)
    key = file_list_key(paths)
    npy = osp.join(cache_dir, f'images-{key[:16]}.npy')
    meta = osp.join(cache_dir, f'images-{key[:16]}.json')
    cached = _read_cache(npy, meta, key, len(paths))
    if cached is not None:
        return cached
    images = decode_images(paths)
    os.makedirs(cache_dir, exist_ok=True)
    # Written under temporary names, then renamed: a crash never leaves a
    # half-written cache under the real name.
    tmp = f'{npy}.{os.getpid()}.tmp'
    with open(tmp, 'wb') as f:
        np.save(f, images)
    os.replace(tmp, npy)
    with open(f'{meta}.{os.getpid()}.tmp', 'w') as f:
        json.dump(dict(key=key, count=len(paths), shape=list(images.shape),
                       dtype=str(images.dtype)), f)
    os.replace(f'{meta}.{os.getpid()}.tmp', meta)
    print_log(f'decoded {len(paths)} images into {npy}', logger='current')
    return images


def _read_cache(npy: str, meta: str, key: str,
                count: int) -> Optional[np.ndarray]:
    if not (osp.isfile(npy) and osp.isfile(meta)):
        return None
    try:
        with open(meta) as f:
            info = json.load(f)
        images = np.load(npy, allow_pickle=False)
    except (OSError, ValueError) as e:
        print_log(f'image cache {npy} is unreadable ({e}); rebuilding it',
                  logger='current', level=30)
        return None
    ok = (info.get('key') == key and info.get('count') == count
          and list(images.shape) == info.get('shape')
          and images.shape[0] == count and images.dtype == np.uint8)
    if not ok:
        print_log(f'image cache {npy} does not match the file list; '
                  'rebuilding it', logger='current', level=30)
        return None
    return images
