# Copyright (c) mmacs contributors. All rights reserved.
"""What every single-label classification dataset of mmacs shares."""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, force_full_init

from mmacs.utils.checks import check_int
from ..data_sample import ClsDataSample
from .image_array import cached_image_array
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
        split (str): 'all', 'train', 'val' or 'final'. Defaults to 'all'.
        val_size (int | float): The number (int) or fraction (float) of
            samples held out as 'val'. Defaults to 0.
        split_seed (int): The seed of the hold-out permutation. Defaults to
            0.
        final_size (int | float): The number (or fraction) of samples of
            a second hold-out, 'final', carved out of 'train' (see
            :func:`split_indices`). Defaults to 0.
        label_noise (dict, optional): ``dict(mode='symmetric' |
            'asymmetric', rate=0.2, seed=0)`` (see
            :mod:`~mmacs.classification.datasets.label_noise`); None keeps
            the labels clean. Defaults to None.
        pipeline (Sequence[dict | Callable]): The data pipeline. Defaults to
            ``()``.
        in_memory (bool): Hold every image of the dataset in one ``[N, H,
            W, 3]`` ``uint8`` RGB array, decoded once at start-up (small
            images of one size, e.g. CIFAR): each data info then carries
            ``img`` (a view into the array) and :meth:`fetch_batch` builds
            whole batches without the per-sample pipeline. Defaults to
            False (images are loaded per sample by the pipeline).
        cache_dir (str, optional): With ``in_memory``, where the decoded
            array of an image folder is cached as ``.npy`` (keyed by the
            file list; see
            :func:`~mmacs.classification.datasets.image_array.cached_image_array`).
            None decodes at every start. Defaults to None.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    SPLITS: Tuple[str, ...] = SPLITS

    def __init__(self,
                 data_root: str,
                 split: str = 'all',
                 val_size: Union[int, float] = 0,
                 split_seed: int = 0,
                 final_size: Union[int, float] = 0,
                 label_noise: Optional[dict] = None,
                 pipeline: Sequence = (),
                 in_memory: bool = False,
                 cache_dir: Optional[str] = None,
                 **kwargs) -> None:
        if not isinstance(in_memory, bool):
            raise TypeError(f'in_memory must be a bool, got {in_memory!r}')
        if cache_dir is not None and not isinstance(cache_dir, str):
            raise TypeError(f'cache_dir must be a str or None, got '
                            f'{cache_dir!r}')
        self.in_memory = in_memory
        self.cache_dir = cache_dir
        self._images: Optional[np.ndarray] = None
        self._loaded_images: Optional[List[np.ndarray]] = None
        if split not in self.SPLITS:
            raise ValueError(f'split must be one of {self.SPLITS}, got '
                             f'{split!r}')
        check_int(split_seed, 'split_seed')
        self.split = split
        self.val_size = val_size
        self.split_seed = split_seed
        self.final_size = final_size
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
                len(samples), holdout, self.val_size, self.split_seed,
                self.final_size)
        ]
        if self.label_noise is not None:
            noisy, _ = apply_label_noise([d['gt_label'] for d in data_list],
                                         len(classes), **self.label_noise)
            for info, label in zip(data_list, noisy):
                info['clean_label'] = info['gt_label']
                info['gt_label'] = label
        if self.in_memory:
            # Images decoded by load_samples (CIFAR) leave the data infos
            # (which mmengine serializes) for one array, built in
            # full_init once filtering and subsetting are done.
            self._loaded_images = [info.pop('img', None) for info in data_list]
            for i, info in enumerate(data_list):
                info['img_index'] = i
        return data_list

    # ----------------------------------------------------------- labels
    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        if self.in_memory:
            self._build_image_array()
        self._cache_labels()

    # --------------------------------------------------------- in memory
    def _build_image_array(self) -> None:
        """One ``[len(self), H, W, 3]`` array, row ``i`` the image of
        sample ``i``."""
        infos = [self.get_data_info(i) for i in range(len(self))]
        loaded = self._loaded_images
        self._loaded_images = None
        if loaded is not None and all(
                loaded[d['img_index']] is not None for d in infos):
            self._images = np.stack([loaded[d['img_index']] for d in infos])
        else:
            self._images = cached_image_array(
                [d['img_path'] for d in infos], self.cache_dir)
        # Samples are views into the array: no transform may write them.
        self._images.setflags(write=False)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if self._images is not None:
            info['img'] = self._images[idx]
        return info

    @force_full_init
    def fetch_batch(self, indices: Sequence[int]) -> dict:
        """The clean (unaugmented) samples ``indices`` as one collated
        batch, read straight from the image array (``in_memory=True``).

        Returns ``dict(inputs=uint8 [B, 3, H, W], data_samples=[...])``,
        the batch the per-sample test pipeline ``LoadClsImage`` ->
        ``PackClsInputs`` and ``pseudo_collate`` would give, with ``inputs``
        stacked (the data preprocessors take either form).
        """
        if self._images is None:
            raise RuntimeError(
                f'{type(self).__name__}.fetch_batch needs in_memory=True')
        idx = np.asarray(indices, dtype=np.int64)
        inputs = torch.from_numpy(self._images[idx]).permute(0, 3, 1, 2)
        shape = tuple(self._images.shape[1:3])
        samples = []
        for i, label in zip(idx.tolist(), self._gt_labels[idx].tolist()):
            sample = ClsDataSample(
                metainfo=dict(sample_idx=i, img_shape=shape,
                              ori_shape=shape))
            sample.gt_label = label
            samples.append(sample)
        return dict(inputs=inputs, data_samples=samples)

    def _subset_positions(self, indices: Union[Sequence[int], int]):
        n = len(self)
        if isinstance(indices, int):
            return list(range(indices)) if indices >= 0 else list(
                range(n + indices, n))
        return list(indices)

    def _cache_labels(self) -> None:
        infos = [self.get_data_info(i) for i in range(len(self))]
        self._gt_labels = np.array([d['gt_label'] for d in infos],
                                   dtype=np.int64)
        self._clean_labels = np.array(
            [d.get('clean_label', d['gt_label']) for d in infos],
            dtype=np.int64)

    @force_full_init
    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        if self._images is not None:
            self._images = self._images[self._subset_positions(indices)]
            self._images.setflags(write=False)
        super().get_subset_(indices)
        self._cache_labels()

    @force_full_init
    def get_subset(self, indices: Union[Sequence[int],
                                        int]) -> 'BaseClsDataset':
        images = self._images
        if images is not None:
            # The copy must not share (or copy) the whole array.
            self._images = images[self._subset_positions(indices)]
            self._images.setflags(write=False)
        try:
            subset = super().get_subset(indices)
        finally:
            if images is not None:
                subset_images, self._images = self._images, images
        if images is not None:
            subset._images = subset_images
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
