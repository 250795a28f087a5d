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
"""
import copy
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict
from mmengine.dist import is_distributed
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

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
    cfg.custom_hooks = hooks
    return cfg


def release_process_group() -> None:
    """End a finished distributed run: wait for every rank, then destroy the
    default process group.

    Call it once per process after the last collective, on success only (a
    failed rank may leave the others inside a collective). A gloo group left
    alive at interpreter exit can abort the process from its worker threads
    (``terminate called without an active exception``, SIGABRT) although the
    run itself completed. No-op when no group is initialised.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


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

    def setup_env(self, env_cfg: dict) -> None:
        """mmengine's set-up; on a machine without CUDA the ``pytorch``
        launcher's process group is started here (mmengine's own start
        selects a CUDA device first)."""
        if self.distributed and not is_distributed() and \
                self.launcher == 'pytorch' and not torch.cuda.is_available():
            dist_cfg = dict(env_cfg.get('dist_cfg', {}))
            backend = dist_cfg.pop('backend', 'gloo')
            torch_dist.init_process_group(
                backend=backend,
                rank=int(os.environ['RANK']),
                world_size=int(os.environ['WORLD_SIZE']),
                **dist_cfg)
        super().setup_env(env_cfg)
