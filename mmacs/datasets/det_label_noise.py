# Copyright (c) mmacs contributors. All rights reserved.
"""Seeded synthetic annotation noise for detection datasets."""
import copy
from typing import List, Union

import numpy as np
from mmdet.registry import DATASETS
from mmengine.dataset import BaseDataset

from mmacs.utils.checks import check_fraction, check_int, check_number

#: The corruptions, in the order their probabilities are given.
CORRUPTIONS = ('class_flip', 'drop_box', 'jitter_box')


@DATASETS.register_module()
class NoisyDetDataset:
    """A detection dataset with the boxes of some images corrupted.

    A seeded ``round(noise_rate * N)`` of the images that hold at least one
    (non-ignored) box are *noisy*; every box of a noisy image gets one
    corruption, drawn with probabilities proportional to ``class_flip``,
    ``drop_box`` and ``jitter_box``:

    - ``class_flip``: the label becomes one of the other classes
      (uniformly);
    - ``drop_box``: the box is removed (a missing annotation; a noisy image
      may end up with no box at all);
    - ``jitter_box``: the box's centre moves by up to ``jitter_scale`` of
      its width / height and each side is scaled by a factor in
      ``[1 / (1 + jitter_scale), 1 + jitter_scale]``, clipped to the image.

    The corruption is fixed once, in ``__init__``, so every epoch (and every
    scoring pass) sees the same noisy annotations. It is applied to the
    data info *before* the inner dataset's pipeline, which the wrapper runs
    itself: a shallow copy of the wrapper whose ``dataset`` is a copy of
    the inner dataset with another pipeline (as the coreset hook makes for
    scoring) sees the same noise. :attr:`noisy_indices` lists the noisy
    images, for the coreset selection logs.

    Args:
        dataset (BaseDataset | dict): The clean detection dataset (or its
            config), e.g. a ``CocoDataset``.
        noise_rate (float): Fraction of noisy images, in ``[0, 1]``.
            Defaults to 0.2.
        seed (int): Seed of the noise. Defaults to 0.
        class_flip (float): Relative probability of a class flip. Defaults
            to 0.5.
        drop_box (float): Relative probability of a dropped box. Defaults
            to 0.25.
        jitter_box (float): Relative probability of a jittered box.
            Defaults to 0.25.
        jitter_scale (float): Largest shift (fraction of the box size) and
            log-scale change of a jittered box, > 0. Defaults to 0.4.
        max_refetch (int): Times to draw another image when the pipeline
            returns None during training. Defaults to 1000.
    """

    def __init__(self,
                 dataset: Union[BaseDataset, dict],
                 noise_rate: float = 0.2,
                 seed: int = 0,
                 class_flip: float = 0.5,
                 drop_box: float = 0.25,
                 jitter_box: float = 0.25,
                 jitter_scale: float = 0.4,
                 max_refetch: int = 1000) -> None:
        check_fraction(noise_rate, 'noise_rate')
        check_int(seed, 'seed')
        probs = dict(
            class_flip=class_flip, drop_box=drop_box, jitter_box=jitter_box)
        for key, value in probs.items():
            check_number(value, key)
        if sum(probs.values()) <= 0:
            raise ValueError('at least one of class_flip, drop_box and '
                             f'jitter_box must be > 0, got {probs}')
        check_number(jitter_scale, 'jitter_scale', strict=True)
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        elif not isinstance(dataset, BaseDataset):
            raise TypeError('dataset must be a BaseDataset or its config '
                            f'dict, got {type(dataset).__name__}')
        num_classes = len(dataset.metainfo.get('classes', ()))
        if class_flip > 0 and num_classes < 2:
            raise ValueError('class_flip needs a dataset with at least 2 '
                             f'classes, got {num_classes}')
        self.dataset = dataset
        self.noise_rate = float(noise_rate)
        self.seed = seed
        total = float(sum(probs.values()))
        self.corruption_probs = {k: v / total for k, v in probs.items()}
        self.jitter_scale = float(jitter_scale)
        self.max_refetch = max_refetch
        self.num_classes = num_classes
        self.dataset.full_init()
        self._corrupt_all()

    # ------------------------------------------------------------ noise
    def _corrupt_all(self) -> None:
        rng = np.random.default_rng(self.seed)
        num = len(self.dataset)
        eligible = [
            i for i in range(num)
            if _clean_boxes(self.dataset.get_data_info(i)['instances'])
        ]
        num_noisy = min(int(round(self.noise_rate * num)), len(eligible))
        chosen = rng.permutation(len(eligible))[:num_noisy]
        self.noisy_indices: List[int] = sorted(eligible[i] for i in chosen)
        #: The corrupted instances of each noisy image, by index.
        self.noisy_instances = {}
        #: How many boxes each corruption changed.
        self.corruption_counts = dict.fromkeys(CORRUPTIONS, 0)
        probs = [self.corruption_probs[k] for k in CORRUPTIONS]
        for idx in self.noisy_indices:
            info = self.dataset.get_data_info(idx)
            instances = []
            for inst in info['instances']:
                if inst.get('ignore_flag', 0):
                    instances.append(inst)
                    continue
                kind = CORRUPTIONS[rng.choice(len(CORRUPTIONS), p=probs)]
                self.corruption_counts[kind] += 1
                if kind == 'drop_box':
                    continue
                inst = copy.deepcopy(inst)
                if kind == 'class_flip':
                    offset = int(rng.integers(1, self.num_classes))
                    inst['bbox_label'] = (inst['bbox_label'] +
                                          offset) % self.num_classes
                else:
                    inst['bbox'] = self._jitter(inst['bbox'], info, rng)
                instances.append(inst)
            self.noisy_instances[idx] = instances

    def _jitter(self, bbox: List[float], info: dict,
                rng: np.random.Generator) -> List[float]:
        x1, y1, x2, y2 = bbox
        w, h = x2 - x1, y2 - y1
        s = self.jitter_scale
        cx = (x1 + x2) / 2 + rng.uniform(-s, s) * w
        cy = (y1 + y2) / 2 + rng.uniform(-s, s) * h
        w = w * np.exp(rng.uniform(-np.log1p(s), np.log1p(s)))
        h = h * np.exp(rng.uniform(-np.log1p(s), np.log1p(s)))
        width = info.get('width', np.inf)
        height = info.get('height', np.inf)
        nx1 = float(np.clip(cx - w / 2, 0, width - 1))
        ny1 = float(np.clip(cy - h / 2, 0, height - 1))
        nx2 = float(np.clip(cx + w / 2, nx1 + 1, width))
        ny2 = float(np.clip(cy + h / 2, ny1 + 1, height))
        return [nx1, ny1, nx2, ny2]

    # ---------------------------------------------------------- dataset
    @property
    def metainfo(self) -> dict:
        """The inner dataset's meta information."""
        return copy.deepcopy(self.dataset.metainfo)

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        """The inner dataset's data info, with noisy instances if ``idx``
        is a noisy image."""
        info = self.dataset.get_data_info(idx)
        key = info.get('sample_idx', idx)
        if key in self.noisy_instances:
            info['instances'] = copy.deepcopy(self.noisy_instances[key])
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        """The (noisy) labels of the boxes of image ``idx``."""
        return [
            int(inst['bbox_label'])
            for inst in self.get_data_info(idx)['instances']
        ]

    def prepare_data(self, idx: int):
        """The noisy data info of ``idx`` through the inner pipeline."""
        return self.dataset.pipeline(self.get_data_info(idx))

    def __getitem__(self, idx: int) -> dict:
        if getattr(self.dataset, 'test_mode', False):
            data = self.prepare_data(idx)
            if data is None:
                raise RuntimeError('the test-time pipeline returned None '
                                   f'for image {idx}')
            return data
        for _ in range(self.max_refetch + 1):
            data = self.prepare_data(idx)
            if data is None:
                idx = self.dataset._rand_another()
                continue
            return data
        raise RuntimeError(f'no valid image after {self.max_refetch} '
                           'refetches; check the image paths and pipeline')

    def full_init(self) -> None:
        """The inner dataset is fully initialised in ``__init__``."""
        self.dataset.full_init()


def _clean_boxes(instances: List[dict]) -> List[dict]:
    return [i for i in instances if not i.get('ignore_flag', 0)]
