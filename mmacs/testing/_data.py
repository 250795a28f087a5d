# Copyright (c) mmacs contributors. All rights reserved.
"""Fake classification data on disk: CIFAR pickles and image folders."""
import os
import pickle

import mmcv
import numpy as np

CLASSES10 = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
             'horse', 'ship', 'truck')


def make_cifar(root, num_classes=10, n_train=60, n_test=20):
    """A fake ``cifar-10-batches-py`` (or ``cifar-100-python``) folder.

    Image ``i`` is filled with R = i % 256, G = 1, B = 2 so the decoded
    channel order can be checked.
    """
    rng = np.random.RandomState(0)

    def batch(offset, n, label_key, bytes_keys=False):
        data = np.zeros((n, 3, 32, 32), dtype=np.uint8)
        data[:, 0] = (np.arange(offset, offset + n) % 256)[:, None, None]
        data[:, 1], data[:, 2] = 1, 2
        entry = {
            'data': data.reshape(n, -1),
            label_key: [int(x) for x in rng.randint(0, num_classes, n)]
        }
        if bytes_keys:
            entry = {k.encode(): v for k, v in entry.items()}
        return entry

    if num_classes == 10:
        folder = root / 'cifar-10-batches-py'
        folder.mkdir(parents=True)
        per = n_train // 5
        files = {
            f'data_batch_{i + 1}': batch(i * per, per, 'labels', i == 0)
            for i in range(5)
        }
        files['test_batch'] = batch(1000, n_test, 'labels')
        files['batches.meta'] = {
            b'label_names': [c.encode() for c in CLASSES10]
        }
    else:
        folder = root / 'cifar-100-python'
        folder.mkdir(parents=True)
        files = dict(
            train=batch(0, n_train, 'fine_labels'),
            test=batch(1000, n_test, 'fine_labels'),
            meta=dict(fine_label_names=[f'k{i}' for i in range(num_classes)]))
    for name, entry in files.items():
        with open(folder / name, 'wb') as f:
            pickle.dump(entry, f)
    return root


def make_images(root, per_class=(5, 6, 7), size=8, seed=0):
    """Random-pixel PNGs (lossless) in ``root/c{i}/{j:02d}.png``."""
    rng = np.random.RandomState(seed)
    for i, n in enumerate(per_class):
        os.makedirs(root / f'c{i}', exist_ok=True)
        for j in range(n):
            img = rng.randint(0, 256, (size, size, 3), dtype=np.uint8)
            mmcv.imwrite(img, str(root / f'c{i}' / f'{j:02d}.png'))
    return root
