# Copyright (c) mmacs contributors. All rights reserved.
"""A Runner that turns the plain ``qat`` / ``coreset`` config keys into the
components they stand for.

mmengine refuses the same key in two sibling bases, so a fragment that set
``train_dataloader`` or ``custom_hooks`` could not sit beside an mmdet base.
The mmacs fragments therefore set only keys of their own (``runner_type``,
``qat``, ``coreset``), and this runner expands them when it is built:

- ``qat = dict(calibration_batches=8, step_decay_mult=0.0)``: adds the
  :class:`QATCalibrationHook`, gives the LSQ steps (parameters named
  ``*.step``) their own optimizer settings and leaves the frozen teacher
  out of the optimizer (:class:`QATOptimWrapperConstructor`).
- ``coreset = dict(fraction=0.1, interval=2, policy='acs', ...)``: sets the
  train dataloader's sampler to :class:`CoresetSampler` with ``fraction``
  and adds a :class:`CoresetSelectionHook` with the other keys.

A model that folds BatchNorm into its quantized convolutions
(``QATModel(fold_bn=...)``) gets a :class:`BNFreezeHook`. It also adds a
:class:`RandomStateHook`, so ``--resume`` continues the
random generators where the interrupted run left them.
"""
import copy
import datetime
import gc
import logging
import os
import time
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict
from mmengine.dist import is_distributed
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmacs.datasets.data_checks import (check_image_files, coco_filter_report,
                                        dataset_image_paths,
                                        format_filter_report,
                                        innermost_dataset)
from .checkpoint_safety import check_checkpoint_file

_SAMPLER_KEYS = ('fraction', 'shuffle', 'seed', 'round_up')


def expand_mmacs_cfg(cfg: Config) -> Config:
    """Expand ``cfg.qat`` and ``cfg.coreset`` in a copy of ``cfg``."""
    cfg = copy.deepcopy(cfg)
    hooks = list(cfg.get('custom_hooks', None) or [])
    types = [h.get('type') for h in hooks]
    qat = cfg.get('qat', None)
    if qat is not None:
        qat = dict(qat)
        unknown = set(qat) - {'calibration_batches', 'step_decay_mult',
                              'step_lr_mult'}
        if unknown:
            raise KeyError(f'unknown keys in cfg.qat: {sorted(unknown)}')
        if 'QATCalibrationHook' not in types:
            hooks.insert(
                0,
                dict(
                    type='QATCalibrationHook',
                    num_batches=qat.get('calibration_batches', 8)))
        cfg.optim_wrapper.setdefault('constructor',
                                     'QATOptimWrapperConstructor')
        paramwise = cfg.optim_wrapper.setdefault('paramwise_cfg',
                                                 ConfigDict())
        custom = paramwise.setdefault('custom_keys', ConfigDict())
        step_cfg = dict(lr_mult=qat.get('step_lr_mult', 1.0))
        if cfg.optim_wrapper.get('optimizer', {}).get('weight_decay'):
            step_cfg['decay_mult'] = qat.get('step_decay_mult', 0.0)
        custom.setdefault('.step', step_cfg)
    coreset = cfg.get('coreset', None)
    if coreset is not None:
        coreset = dict(coreset)
        sampler = dict(type='CoresetSampler')
        for key in _SAMPLER_KEYS:
            if key in coreset:
                sampler[key] = coreset.pop(key)
        if 'fraction' not in sampler:
            raise KeyError('cfg.coreset needs a fraction')
        cfg.train_dataloader.sampler = sampler
        if 'CoresetSelectionHook' not in types:
            hooks.append(dict(type='CoresetSelectionHook', **coreset))
    if cfg.get('model', {}).get('fold_bn') is not None and \
            'BNFreezeHook' not in types:
        hooks.append(dict(type='BNFreezeHook'))
    if 'RandomStateHook' not in types:
        hooks.append(dict(type='RandomStateHook'))
    cfg.custom_hooks = hooks
    return cfg


def dist_backend(backend: Optional[str] = None) -> str:
    """The process-group backend for this machine.

    None (or 'auto') follows the device: 'nccl' with CUDA, 'gloo' without.
    A named backend is kept where the machine can run it; 'nccl' without
    CUDA becomes 'gloo' (mmdet's runtime base, and so every config built
    on it, names 'nccl').

    Args:
        backend (str, optional): The configured backend
            (``env_cfg.dist_cfg.backend``). Defaults to None.

    Returns:
        str: The backend to start the process group with.
    """
    cuda = torch.cuda.is_available()
    if backend is None or backend == 'auto':
        return 'nccl' if cuda else 'gloo'
    if not isinstance(backend, str):
        raise TypeError(f'env_cfg.dist_cfg.backend must be a str, got '
                        f'{backend!r}')
    if backend == 'nccl' and not cuda:
        return 'gloo'
    return backend


def _with_timedelta(kwargs: dict) -> dict:
    """``timeout`` in seconds (as configs give it) as a timedelta, as
    ``init_process_group`` takes it."""
    timeout = kwargs.get('timeout', None)
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        kwargs = dict(kwargs, timeout=datetime.timedelta(seconds=timeout))
    return kwargs


def check_dataset(dataset) -> None:
    """Check a freshly built dataset: every image file it names exists and
    is not empty (:func:`check_image_files`), and, for a COCO-style
    training set, log how many images and annotations mmdet's filters
    dropped and why (:func:`coco_filter_report`)."""
    inner = innermost_dataset(dataset)
    paths = dataset_image_paths(inner)
    if paths is not None:
        where = getattr(inner, 'ann_file', None) or getattr(
            inner, 'data_root', None)
        check_image_files(paths, what=f'{type(inner).__name__} {where!r}')
    if getattr(inner, 'test_mode', True):
        return
    report = coco_filter_report(inner)
    if report is not None:
        print_log(
            f'{type(inner).__name__} {format_filter_report(report)}',
            logger='current',
            level=logging.INFO)


#: How long :func:`release_process_group` lets gloo's worker threads take
#: the GIL before the group is freed.
GLOO_SETTLE_SECONDS = 0.2


def release_process_group(runner: Optional[Runner] = None) -> None:
    """End a finished distributed run: wait for every rank, destroy the
    default process group and free what still holds it.

    Call it once per process after the last collective, on success only (a
    failed rank may leave the others inside a collective). A gloo group
    that outlives the interpreter's finalization can abort a rank whose run
    completed (``terminate called without an active exception``, SIGABRT).
    ``destroy_process_group`` only drops torch's own reference: the
    runner's DDP wrapper keeps the group, and the runner sits in reference
    cycles that only the collector, or finalization, breaks. So the
    runner's model is unwrapped and the collector run here, while the
    interpreter is whole. No-op when no group is initialised.

    A gloo worker thread frees a finished collective's tensors after the
    caller's wait returns, and needs the GIL for tensors that Python has
    dropped; the group's destructor joins those threads with the GIL held.
    Freed under load after the barrier, that deadlocked a rank for good,
    so the GIL is let go for ``GLOO_SETTLE_SECONDS`` first: a margin that
    makes the race unlikely, not impossible.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    torch_dist.barrier()
    time.sleep(GLOO_SETTLE_SECONDS)
    torch_dist.destroy_process_group()
    if runner is not None and is_model_wrapper(runner.model):
        runner.model = runner.model.module
    gc.collect()


# In mmengine's root registry: `tools/train.py` (ours and mmdet's) build
# `runner_type` before any default scope is set.
@RUNNERS.register_module()
class QATRunner(Runner):
    """mmengine's Runner, built from a config with ``qat`` / ``coreset``
    keys expanded (see :func:`expand_mmacs_cfg`)."""

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'QATRunner':
        cfg = expand_mmacs_cfg(cfg)
        if cfg.get('launcher', 'none') != 'none' and \
                not torch.cuda.is_available() and \
                cfg.get('model_wrapper_cfg', None) is None:
            # DDP of a CPU module takes no device ids.
            cfg.model_wrapper_cfg = dict(
                type='MMDistributedDataParallel', device_ids=None)
        return super().from_cfg(cfg)

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        """mmengine's ``build_dataloader``; a dataset built here from its
        config is checked first (:func:`check_dataset`)."""
        fresh = isinstance(dataloader, dict) and isinstance(
            dataloader.get('dataset', None), dict)
        loader = Runner.build_dataloader(
            dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        if fresh:
            check_dataset(loader.dataset)
        return loader

    def load_checkpoint(self, filename: str, *args, **kwargs):
        """mmengine's ``load_checkpoint`` (also used by ``resume``), with
        an empty or truncated file reported by name."""
        check_checkpoint_file(filename)
        try:
            return super().load_checkpoint(filename, *args, **kwargs)
        except (EOFError, OSError, RuntimeError) as e:
            # torch names no file for a truncated pickle (EOFError) or zip
            # archive (OSError 'Invalid argument', PytorchStreamReader).
            if isinstance(e, FileNotFoundError) or isinstance(
                    e, RuntimeError) and 'PytorchStreamReader' not in str(e):
                raise
            raise RuntimeError(
                f'cannot read checkpoint {filename!r} (truncated or not a '
                f'torch checkpoint?): {e}') from e

    def setup_env(self, env_cfg: dict) -> None:
        """mmengine's set-up, with the process-group backend chosen by
        :func:`dist_backend`; on a machine without CUDA the ``pytorch``
        launcher's process group is started here (mmengine's own start
        selects a CUDA device first)."""
        env_cfg = dict(env_cfg)
        dist_cfg = dict(env_cfg.get('dist_cfg', None) or {})
        if self.distributed and not is_distributed():
            backend = dist_backend(dist_cfg.get('backend', None))
            if dist_cfg.get('backend', None) == 'nccl' != backend:
                print_log(
                    f"env_cfg.dist_cfg.backend={dist_cfg['backend']!r} needs "
                    f'CUDA, which this machine lacks: using {backend!r}',
                    logger='current', level=logging.WARNING)
            dist_cfg['backend'] = backend
            env_cfg['dist_cfg'] = dist_cfg
        if self.distributed and not is_distributed() and \
                self.launcher == 'pytorch' and not torch.cuda.is_available():
            kwargs = dict(dist_cfg)
            torch_dist.init_process_group(
                backend=kwargs.pop('backend'),
                rank=int(os.environ['RANK']),
                world_size=int(os.environ['WORLD_SIZE']),
                **_with_timedelta(kwargs))
        super().setup_env(env_cfg)
