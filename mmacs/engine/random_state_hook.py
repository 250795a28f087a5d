# Copyright (c) mmacs contributors. All rights reserved.
"""Carry the random generators' state across ``--resume``."""
import random
from typing import Optional

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook


def get_random_state() -> dict:
    """The state of Python's, numpy's and torch's global generators (and
    CUDA's, when CUDA is initialised)."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Restore a state taken by :func:`get_random_state`."""
    random.setstate(_as_python_state(state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and \
            len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def _as_python_state(state):
    # A checkpoint may hand back lists where random.getstate() had tuples.
    version, internal, gauss = state
    return version, tuple(internal), gauss


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make a resumed run draw the same random numbers as one that was
    never interrupted.

    mmengine's resume reseeds with the configured seed, so after
    ``--resume`` the data augmentation (flips, crops, ...) draws other
    numbers than the uninterrupted run would have. This hook takes the
    generators' state at the end of each training epoch (before the
    checkpoint is written, and before validation), gathers every rank's,
    stores them in the checkpoint (under ``rng_state``) and sets it again at
    the start of the next epoch, in the running job and in a resumed one alike:
    both start each epoch from the same state.

    Data workers draw from generators of their own, seeded by mmengine from
    the seed and the worker id when they start; with
    ``persistent_workers=True`` they live across epochs, and their state is
    out of reach (a resumed run then differs in the workers' random
    numbers).
    """

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self.state: Optional[dict] = None
        self.states: Optional[list] = None
        self.loaded: Optional[dict] = None

    def before_train(self, runner) -> None:
        # Only a resumed run continues the saved state (not ``load_from``).
        self.state = None
        if runner.epoch == 0 and runner.iter == 0:
            return
        saved = self.loaded
        rank, world_size = get_dist_info()
        if saved is None:
            runner.logger.warning(
                'the checkpoint holds no random state (rng_state): the '
                'resumed run draws other random numbers than the original')
        elif saved['world_size'] != world_size:
            runner.logger.warning(
                f"the checkpoint's random state is from "
                f"{saved['world_size']} processes, this run has "
                f'{world_size}: it is not restored')
        else:
            self.state = saved['states'][rank]

    def after_train_epoch(self, runner) -> None:
        self.state = get_random_state()
        # Gathered here, on every rank: mmengine calls
        # before_save_checkpoint on rank 0 only.
        world_size = get_dist_info()[1]
        self.states = all_gather_object(self.state) if world_size > 1 \
            else [self.state]

    def before_train_epoch(self, runner) -> None:
        if self.state is not None:
            set_random_state(self.state)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = self.states
        if states is None:  # saved before any epoch ended
            states = [get_random_state()] * get_dist_info()[1]
        checkpoint['rng_state'] = dict(
            world_size=len(states), states=states)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded = checkpoint.get('rng_state')
