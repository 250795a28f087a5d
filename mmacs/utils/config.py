# Copyright (c) mmacs contributors. All rights reserved.
"""Config edits and the repository and shared-data paths the tools and
test helpers share."""
import os
import os.path as osp
from typing import Optional

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


def innermost_dataset(dataset):
    """The dataset config inside ``dataset``'s wrappers."""
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
            innermost_dataset(cfg[key].dataset).data_root = root
    for key, loader in (('val_evaluator', 'val_dataloader'),
                        ('test_evaluator', 'test_dataloader')):
        if cfg.get(key, None) and cfg.get(loader, None):
            cfg[key].ann_file = root + innermost_dataset(
                cfg[loader].dataset).ann_file
