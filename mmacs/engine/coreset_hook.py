# Copyright (c) mmacs contributors. All rights reserved.
"""The Adaptive Coreset Selection hook: when a selection runs, and where its
coreset goes (the train sampler, the checkpoint, the log)."""
import time

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmacs.coreset import (CoresetSelector, ScoreStore, ScoringPass,
                           pop_scoring_args)
from mmacs.datasets import find_coreset_sampler, set_coreset
from mmacs.models import find_qat_model
from mmacs.quantization.calibration import check_calibrated
from mmacs.utils.checks import check_int
from .coreset_log import log_selection, start_log


@HOOKS.register_module()
class CoresetSelectionHook(Hook):
    """Select a coreset every ``interval`` epochs and train on it.

    Before training epochs ``0, R, 2R, ...`` the
    :class:`~mmacs.coreset.CoresetSelector` plans the round, a
    :class:`~mmacs.coreset.ScoringPass` scores the planned samples into a
    :class:`~mmacs.coreset.ScoreStore` and the selector chooses; the hook
    hands the coreset to the train dataloader's
    :class:`~mmacs.datasets.CoresetSampler` (whose ``fraction`` sets its
    size). The coreset and its scores are saved in checkpoints; a resumed
    run replaces the log lines of selections made after its checkpoint.

    Args:
        interval (int): Epochs between selections ``R``. Defaults to 1.
        log_file (str): JSON-lines log of each selection, in the work dir.
            Defaults to 'coreset_log.jsonl'.
        **cfg: The rest of the ``coreset`` config: ``scorer`` (None: the
            task's default), the scoring pass's ``score_*`` keys and
            ``teacher_cache_mb`` (:data:`~mmacs.coreset.scoring.SCORING_KEYS`)
            and the selector's (:class:`~mmacs.coreset.CoresetSelector`).
    """

    # Before IterTimerHook (NORMAL), which must not time the scoring pass;
    # after QATCalibrationHook (VERY_HIGH), which initialises the steps.
    priority = 'ABOVE_NORMAL'
    #: Saved under 'coreset' in checkpoints, with the store's state.
    STATE = ('indices', 'round_idx', 'last_epoch')

    def __init__(self,
                 interval: int = 1,
                 log_file: str = 'coreset_log.jsonl',
                 **cfg) -> None:
        check_int(interval, 'interval (R)', 1)
        self.interval, self.log_file = interval, log_file
        self.scorer_cfg = cfg.pop('scorer', None)
        self.scoring_cfg = pop_scoring_args(cfg)
        self.selector = CoresetSelector(**cfg)
        self.store = ScoreStore(self.selector.score_reuse)
        self.indices = self.loaded_epoch = None
        self.round_idx = self.last_epoch = -1

    def before_train(self, runner) -> None:
        """Check the set-up, set up the selector, build the scoring pass."""
        model = find_qat_model(runner, 'CoresetSelectionHook')
        self.sampler = find_coreset_sampler(runner.train_dataloader)
        self.batch_sampler = runner.train_dataloader.batch_sampler
        check_calibrated(model.student, 'the first selection')
        self.selector.setup(runner.train_dataloader.dataset, self.sampler,
                            model.adapter)
        self.scoring = ScoringPass.for_selector(
            runner, model, self.selector, self.scorer_cfg, **self.scoring_cfg)
        self.store.setup(model, self.scoring, self.selector.num_samples)
        start_log(runner, self.log_file, self.loaded_epoch)

    def before_train_epoch(self, runner) -> None:
        epoch = runner.epoch
        if epoch % self.interval == 0 and epoch != self.last_epoch:
            self.new_round(runner, epoch)
        elif self.indices is not None:
            set_coreset(self.sampler, self.batch_sampler, self.indices,
                        runner.logger)
        if self.store.reuse and (epoch + 1) % self.interval == 0 and \
                epoch + 1 < runner.max_epochs and \
                not self.selector.policy.static:
            # The round's last epoch: score what the training step sees.
            self.store.listen()

    def after_train_epoch(self, runner) -> None:
        self.store.collect((runner.epoch + 1) // self.interval)

    def new_round(self, runner, epoch: int) -> None:
        """A selection round at ``epoch``: plan, score, select, hand over."""
        round_idx = epoch // self.interval
        plan = self.selector.plan(
            epoch, runner.max_epochs, round_idx,
            self.indices is not None and self.store.complete(),
            self.store.fresh(round_idx))
        t0 = time.perf_counter()
        info = self.store.score(plan, self.scoring) if plan.score else {}
        t1 = time.perf_counter()
        selection = self.selector.select(
            plan, self.store.scores if plan.score else None, self.indices)
        timing = dict(score_seconds=t1 - t0,
                      select_seconds=time.perf_counter() - t1, **info)
        self.indices, self.round_idx, self.last_epoch = \
            selection.indices, plan.round_idx, epoch
        set_coreset(self.sampler, self.batch_sampler, self.indices,
                    runner.logger)
        log_selection(runner, selection.stats, timing, self.log_file)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = {key: getattr(self, key) for key in self.STATE}
        checkpoint['coreset'] = dict(state, **self.store.state_dict(),
                                     policy=self.selector.policy.name)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded_epoch = checkpoint.get('meta', {}).get('epoch')
        state = checkpoint.get('coreset')
        if state is None:
            runner.logger.warning(
                'the checkpoint holds no coreset state; the coreset is '
                'selected afresh')
            return
        old, name = state.get('policy'), self.selector.policy.name
        if old != name:
            runner.logger.warning(f"the checkpoint's coreset came from "
                                  f'policy {old!r}, this run uses {name!r}')
        for key in self.STATE:
            setattr(self, key, state[key])
        self.store.load_state_dict(state)
