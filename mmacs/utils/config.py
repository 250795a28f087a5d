# Copyright (c) mmacs contributors. All rights reserved.
"""Config edits used by the tools and benchmarks."""
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config

from .checks import check_int

#: The environment variable naming the shared data folder.
SHARED_ENV = 'MMACS_SHARED'


def shared_root(path: Optional[str] = None) -> str:
    """The shared data folder: ``path`` if given, else ``$MMACS_SHARED``,
    else ``../shared`` beside the repository."""
    if path:
        return path
    if os.environ.get(SHARED_ENV):
        return os.environ[SHARED_ENV]
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    return osp.join(osp.dirname(repo), 'shared')


def quiet_epochs(cfg: Config, epochs: int, validate: bool = False) -> None:
    """Train ``cfg`` for ``epochs`` epochs with its cosine schedules
    stretched to match, no checkpoint during training and (unless
    ``validate``) no validation before the end; INFO logs muted."""
    check_int(epochs, 'epochs', 1)
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = 1 if validate else epochs + 1
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=epochs + 1, save_last=False)
    for scheduler in cfg.get('param_scheduler', None) or []:
        if scheduler.type == 'CosineAnnealingLR':
            scheduler.T_max = epochs
            if 'end' in scheduler:
                scheduler.end = epochs
    cfg.log_level = 'WARNING'
