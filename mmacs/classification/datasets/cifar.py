# Copyright (c) mmacs contributors. All rights reserved.
"""CIFAR-10 / CIFAR-100 from the standard python pickles."""
import os.path as osp
import pickle
from typing import List, Optional, Tuple, Union

import numpy as np
from mmdet.registry import DATASETS

from .base import BaseClsDataset
from .safe_pickle import safe_load

#: Folder, training files, test files, meta file and its class-name key.
CIFAR_LAYOUTS = {
    'cifar10':
    ('cifar-10-batches-py', [f'data_batch_{i}' for i in range(1, 6)],
     ['test_batch'], 'batches.meta', 'label_names', 'labels'),
    'cifar100': ('cifar-100-python', ['train'], ['test'], 'meta',
                 'fine_label_names', 'fine_labels'),
}


def _load_pickle(path: str) -> dict:
    """A CIFAR batch as a dict with ``str`` keys, read with the restricted
    unpickler (the file cannot run code)."""
    with open(path, 'rb') as f:
        try:
            entry = safe_load(f, encoding='latin1')
        except (pickle.UnpicklingError, EOFError) as e:
            raise ValueError(f'{path!r} is not a valid CIFAR batch: {e}') \
                from e
    if not isinstance(entry, dict):
        raise ValueError(f'{path!r} is not a valid CIFAR batch: it holds a '
                         f'{type(entry).__name__}, not a dict')
    return {
        k.decode() if isinstance(k, bytes) else k: v
        for k, v in entry.items()
    }


@DATASETS.register_module()
class CIFARDataset(BaseClsDataset):
    """CIFAR-10 or CIFAR-100 (fine labels) read from the python pickles.

    ``data_root`` holds ``cifar-10-batches-py/`` (``data_batch_1`` ...
    ``data_batch_5``, ``test_batch``, ``batches.meta``) or
    ``cifar-100-python/`` (``train``, ``test``, ``meta``), or is that folder
    itself. 'all', 'train', 'val' and 'final' are taken from the training
    pickles (with the seeded hold-outs of :func:`split_indices`), 'test' is
    the test pickles. Each data info holds ``img`` (``HWC`` uint8 RGB),
    ``gt_label`` (int) and, with label noise, ``clean_label``.

    Args:
        data_root (str): The folder described above.
        split (str, optional): 'all', 'train', 'val', 'final' or 'test';
            None means 'test' if ``test_mode`` else 'all'. Defaults to
            None.
        val_size (int | float): The number (int) or fraction (float) of
            training images held out as 'val'. Defaults to 0.
        split_seed (int): The seed of the hold-out permutation. Defaults to
            0.
        label_noise (dict, optional): ``dict(mode=..., rate=..., seed=...)``
            or None. Defaults to None.
        test_mode (bool): Passed to ``BaseDataset``; also picks the default
            split. Defaults to False.
        **kwargs: Other arguments of :class:`BaseClsDataset`.

    Examples:
        >>> train = CIFARDataset('data/cifar10', split='train', val_size=5000)
        >>> test = CIFARDataset('data/cifar10', test_mode=True)
    """

    SPLITS = ('all', 'train', 'val', 'final', 'test')

    def __init__(self,
                 data_root: str,
                 split: Optional[str] = None,
                 val_size: Union[int, float] = 0,
                 split_seed: int = 0,
                 label_noise: Optional[dict] = None,
                 test_mode: bool = False,
                 **kwargs) -> None:
        if split is None:
            split = 'test' if test_mode else 'all'
        super().__init__(
            data_root=data_root,
            split=split,
            val_size=val_size,
            split_seed=split_seed,
            label_noise=label_noise,
            test_mode=test_mode,
            **kwargs)

    def _layout(self) -> Tuple[str, tuple]:
        root = self.data_root
        found = []
        for layout in CIFAR_LAYOUTS.values():
            folder, _, _, meta = layout[:4]
            for path in (osp.join(root, folder), root):
                if osp.isfile(osp.join(path, meta)):
                    found.append((path, layout))
                    break
        if len(found) != 1:
            what = 'both CIFAR-10 and CIFAR-100' if found else 'no CIFAR'
            raise FileNotFoundError(
                f'found {what} pickles in data_root {root!r}; it must hold '
                "exactly one of 'cifar-10-batches-py/' or "
                "'cifar-100-python/'")
        return found[0]

    def load_samples(self) -> Tuple[List[dict], List[str]]:
        path, (_, train_files, test_files, meta, names_key,
               labels_key) = self._layout()
        classes = [
            n.decode() if isinstance(n, bytes) else n
            for n in _load_pickle(osp.join(path, meta))[names_key]
        ]
        given = self._metainfo.get('classes')
        if given is not None and len(given) != len(classes):
            raise ValueError(f'metainfo names {len(given)} classes but the '
                             f'pickles in {path!r} have {len(classes)}')
        images, labels = [], []
        for name in test_files if self.split == 'test' else train_files:
            entry = _load_pickle(osp.join(path, name))
            images.append(np.asarray(entry['data'], dtype=np.uint8))
            labels.extend(int(x) for x in entry[labels_key])
        # Rows are 3 x 32 x 32 planes (R, G, B).
        images = np.concatenate(images).reshape(-1, 3, 32, 32)
        images = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        samples = [
            dict(img=img, gt_label=label)
            for img, label in zip(images, labels)
        ]
        return samples, list(given) if given is not None else classes
