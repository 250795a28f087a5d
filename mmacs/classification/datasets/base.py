# Copyright (c) mmacs contributors. All rights reserved.
"""What every single-label classification dataset of mmacs shares."""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init

from .label_noise import apply_label_noise, check_label_noise
from .splits import SPLITS, split_indices


class BaseClsDataset(BaseDataset):
    """A single-label dataset with a seeded hold-out and label noise.

    Subclasses implement :meth:`load_samples`, which returns every sample
    (a dict with an int ``gt_label``) and the class names. This class keeps
    the samples of ``split`` (see :func:`split_indices`), then corrupts
    their labels if ``label_noise`` is set; the clean label stays in each
    data info as ``clean_label``.

    Args:
        data_root (str): The dataset folder.
        split (str): 'all', 'train' or 'val'. Defaults to 'all'.
        val_size (int | float): The number (int) or fraction (float) of
            samples held out as 'val'. Defaults to 0.
        split_seed (int): The seed of the hold-out permutation. Defaults to
            0.
        label_noise (dict, optional): ``dict(mode='symmetric' |
            'asymmetric', rate=0.2, seed=0)`` (see
            :mod:`~mmacs.classification.datasets.label_noise`); None keeps
            the labels clean. Defaults to None.
        pipeline (Sequence[dict | Callable]): The data pipeline. Defaults to
            ``()``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    SPLITS: Tuple[str, ...] = SPLITS

    def __init__(self,
                 data_root: str,
                 split: str = 'all',
                 val_size: Union[int, float] = 0,
                 split_seed: int = 0,
                 label_noise: Optional[dict] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'split must be one of {self.SPLITS}, got '
                             f'{split!r}')
        if isinstance(split_seed, bool) or not isinstance(split_seed, int):
            raise TypeError(f'split_seed must be an int, got {split_seed!r}')
        self.split = split
        self.val_size = val_size
        self.split_seed = split_seed
        self.label_noise = check_label_noise(label_noise)
        super().__init__(
            data_root=data_root, pipeline=list(pipeline), **kwargs)

    def load_samples(self) -> Tuple[List[dict], List[str]]:
        """Every sample (each a dict with ``gt_label``) and the class
        names."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        samples, classes = self.load_samples()
        self._metainfo['classes'] = tuple(classes)
        holdout = self.split if self.split in SPLITS else 'all'
        data_list = [
            samples[i] for i in split_indices(
                len(samples), holdout, self.val_size, self.split_seed)
        ]
        if self.label_noise is not None:
            noisy, _ = apply_label_noise([d['gt_label'] for d in data_list],
                                         len(classes), **self.label_noise)
            for info, label in zip(data_list, noisy):
                info['clean_label'] = info['gt_label']
                info['gt_label'] = label
        return data_list

    # ----------------------------------------------------------- labels
    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        self._cache_labels()

    def _cache_labels(self) -> None:
        infos = [self.get_data_info(i) for i in range(len(self))]
        self._gt_labels = np.array([d['gt_label'] for d in infos],
                                   dtype=np.int64)
        self._clean_labels = np.array(
            [d.get('clean_label', d['gt_label']) for d in infos],
            dtype=np.int64)

    @force_full_init
    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        super().get_subset_(indices)
        self._cache_labels()

    @force_full_init
    def get_subset(self, indices: Union[Sequence[int],
                                        int]) -> 'BaseClsDataset':
        subset = super().get_subset(indices)
        subset._cache_labels()
        return subset

    @force_full_init
    def get_cat_ids(self, idx: int) -> List[int]:
        """The (possibly noisy) label of sample ``idx``, as ``[label]``."""
        return [int(self._gt_labels[idx])]

    @force_full_init
    def get_gt_labels(self) -> np.ndarray:
        """The (possibly noisy) labels of all samples, ``int64 [N]``."""
        return self._gt_labels.copy()

    @force_full_init
    def clean_label(self, idx: int) -> int:
        """The label of sample ``idx`` before label noise."""
        return int(self._clean_labels[idx])

    @property
    @force_full_init
    def noisy_indices(self) -> List[int]:
        """The sorted indices of the samples whose label noise changed."""
        return np.flatnonzero(self._gt_labels != self._clean_labels).tolist()
