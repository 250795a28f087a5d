# Copyright (c) mmacs contributors. All rights reserved.
"""Config edits and paths the tools and benchmarks share."""
import os
import os.path as osp
import random
from typing import List, Optional, Tuple

from mmengine.config import Config

from .checks import check_int

#: The environment variable naming the shared data folder.
SHARED_ENV = 'MMACS_SHARED'
#: The repository holding the package (its configs and tools beside it).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def repo_path(*parts: str) -> str:
    """A path inside the repository, e.g. ``repo_path('configs', ...)``."""
    return osp.join(REPO_ROOT, *parts)


def shared_root(path: Optional[str] = None) -> str:
    """The shared data folder: ``path`` if given, else ``$MMACS_SHARED``,
    else ``../shared`` beside the repository."""
    if path:
        return path
    if os.environ.get(SHARED_ENV):
        return os.environ[SHARED_ENV]
    return osp.join(osp.dirname(REPO_ROOT), 'shared')


def set_epochs(cfg: Config,
               epochs: int,
               val_interval: Optional[int] = None) -> None:
    """Train ``cfg`` for ``epochs`` epochs with its cosine schedules
    stretched to match, validating every ``val_interval`` epochs (None: at
    the end)."""
    check_int(epochs, 'epochs', 1)
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs if val_interval is None \
        else val_interval
    for scheduler in cfg.get('param_scheduler', None) or []:
        if scheduler.type == 'CosineAnnealingLR':
            scheduler.T_max = epochs
            if 'end' in scheduler:
                scheduler.end = epochs


def quiet_epochs(cfg: Config, epochs: int, validate: bool = False) -> None:
    """:func:`set_epochs` with no checkpoint during training and (unless
    ``validate``) no validation before the end; INFO logs muted."""
    set_epochs(cfg, epochs, 1 if validate else epochs + 1)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=epochs + 1, save_last=False)
    cfg.log_level = 'WARNING'


def _innermost(dataset):
    while 'dataset' in dataset:  # inside dataset wrappers
        dataset = dataset.dataset
    return dataset


def set_coco_data_root(cfg: Config, root: str) -> None:
    """Point the COCO datasets of the train / val / test dataloaders (inside
    their wrappers) at ``root`` and the evaluators at the annotations of
    the val / test sets there (as ``mmdet.utils.update_data_root`` does
    for ``$MMDET_DATASETS``)."""
    root = osp.join(root, '')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key, None):
            _innermost(cfg[key].dataset).data_root = root
    for key, loader in (('val_evaluator', 'val_dataloader'),
                        ('test_evaluator', 'test_dataloader')):
        if cfg.get(key, None) and cfg.get(loader, None):
            cfg[key].ann_file = root + _innermost(
                cfg[loader].dataset).ann_file


def shared_cifar(shared: str, what: str) -> Tuple[str, str]:
    """The shared CIFAR-10 training images and FP ResNet-20 weights below
    ``shared``; a FileNotFoundError says what (``what``) needs a missing
    one."""
    cifar = osp.join(shared, 'data', 'cifar10-jpeg', 'train')
    weights = osp.join(shared, 'weights', 'resnet20-12fca82f.th')
    for path in (cifar, weights):
        if not osp.exists(path):
            raise FileNotFoundError(f'{what} needs {path} (set --shared or '
                                    '$MMACS_SHARED)')
    return cifar, weights


def seeded_subset(total: int, num: int) -> Optional[List[int]]:
    """A seeded subset of ``range(total)`` of ``num`` indices (sorted), or
    None for all."""
    return None if num >= total else sorted(
        random.Random(0).sample(range(total), num))
