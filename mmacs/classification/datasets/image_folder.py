# Copyright (c) mmacs contributors. All rights reserved.
"""An ImageNet-style folder of images, one sub-folder per class."""
import os
import os.path as osp
from typing import List, Tuple

from mmdet.registry import DATASETS

from mmacs.datasets.data_checks import check_image_files
from .base import BaseClsDataset

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png')


@DATASETS.register_module()
class ImageFolderDataset(BaseClsDataset):
    """Images laid out as ``data_root/<class>/<name>.{jpg,jpeg,png}``.

    The classes are the sorted sub-folder names (or ``metainfo['classes']``
    when given, each of which must be a sub-folder), the label is the
    class's position, and the files of each class are sorted by name. The
    folders are listed with :func:`os.scandir` and no image is opened, so
    tens of thousands of files load in well under a second; each file is
    checked with one ``stat`` (a missing link target or a 0-byte file stops
    the load with the files named). Each data info
    holds ``img_path``, ``gt_label`` (int) and, with label noise,
    ``clean_label``.

    Args:
        data_root (str): The folder holding one sub-folder per class.
        split (str): 'all', 'train', 'val' or 'final'. Defaults to 'all'.
        val_size (int | float): The number (int) or fraction (float) of
            images held out as 'val'. Defaults to 0.
        split_seed (int): The seed of the hold-out permutation. Defaults to
            0.
        final_size (int | float): The size of the second hold-out,
            'final' (see :func:`split_indices`). Defaults to 0.
        label_noise (dict, optional): ``dict(mode=..., rate=..., seed=...)``
            or None. Defaults to None.
        pipeline (Sequence[dict | Callable]): The data pipeline. Defaults to
            ``()``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`
            (``metainfo``, ``test_mode``, ``lazy_init``, ...).

    Examples:
        >>> val = ImageFolderDataset(
        ...     'data/cifar10-jpeg/train', split='val', val_size=5000)
    """

    def load_samples(self) -> Tuple[List[dict], List[str]]:
        root = self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(f'data_root {root!r} is not a folder')
        with os.scandir(root) as it:
            folders = sorted(e.name for e in it if e.is_dir())
        classes = self._metainfo.get('classes')
        if classes is None:
            classes = folders
        else:
            missing = sorted(set(classes) - set(folders))
            if missing:
                raise FileNotFoundError(f'classes {missing} have no folder '
                                        f'in {root!r}')
        samples = []
        for label, name in enumerate(classes):
            folder = osp.join(root, name)
            with os.scandir(folder) as it:
                files = sorted(
                    e.name for e in it
                    if e.name.lower().endswith(IMG_EXTENSIONS) and (
                        e.is_file() or e.is_symlink()))
            samples.extend(
                dict(img_path=osp.join(folder, f), gt_label=label)
                for f in files)
        if not samples:
            raise FileNotFoundError(
                f'no {"/".join(IMG_EXTENSIONS)} image in the class folders '
                f'of {root!r}')
        check_image_files((s['img_path'] for s in samples),
                          what=f'ImageFolderDataset {root!r}')
        return samples, list(classes)
