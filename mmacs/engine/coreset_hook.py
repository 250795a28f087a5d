# Copyright (c) mmacs contributors. All rights reserved.
"""The Adaptive Coreset Selection hook."""
import time
from typing import List, Optional

import torch
from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmacs.coreset.policies import get_policy, select_in_pool
from mmacs.coreset.schedules import beta_schedule, check_schedule
from mmacs.coreset.scorers import build_scorer
from mmacs.coreset.scores import combine_scores
from mmacs.coreset.scoring import (ScoringPass, check_scoring_args,
                                   find_dataset_attr, pool_size, random_pool)
from mmacs.coreset.selection import check_selection
from mmacs.coreset.stats import dataset_labels, selection_record
from mmacs.datasets.coreset_sampler import (clear_partial_pass,
                                            find_coreset_sampler)
from mmacs.quantization.calibration import uninitialized_quantizers
from mmacs.utils.checks import check_fraction, check_int
from .coreset_log import log_selection, truncate_log


@HOOKS.register_module()
class CoresetSelectionHook(Hook):
    """Score the whole training set every ``interval`` epochs and train on
    the top fraction (Adaptive Coreset Selection).

    Before training epochs ``0, R, 2R, ...`` a :class:`ScoringPass` scores
    every training sample with the quantized student and the frozen
    teacher, the hook combines ``d = beta(t) EVS + (1 - beta(t)) DS``,
    selects with ``policy`` and hands the indices to the
    :class:`~mmacs.datasets.CoresetSampler` of the train dataloader, whose
    ``fraction`` sets the coreset size. Under DDP every rank scores its own
    shard and every rank selects the same coreset. Scores and indices are
    saved in checkpoints and restored on resume; a resumed run replaces the
    log lines of selections made after its checkpoint. Each epoch yields
    exactly the coreset, once (see :func:`clear_partial_pass`). The teacher
    is skipped while DS has no weight (``beta = 1``). ``score_pool < 1`` is
    a faster, approximate mode: each selection scores a seeded random pool
    of that fraction of the set and picks the coreset within it.

    Args:
        interval (int): Epochs between selections ``R``. Defaults to 1.
        policy (str): 'acs', 'full', 'random_static', 'random_dynamic' or
            'el2n'. Defaults to 'acs'.
        schedule (str): The beta schedule: 'cosine', 'official', 'linear',
            'evs_only' or 'ds_only'. Defaults to 'cosine'.
        selection (str | dict, optional): How a score-based policy picks
            the coreset: 'topk' (the paper), 'stratified', 'mixed',
            'sampled' or 'trimmed', or a dict with the rule's parameters,
            e.g. ``dict(type='mixed', share=0.5)``. Defaults to None
            ('topk').
        scorer (dict | str, optional): The scorer config; None gives the
            task's default. Defaults to None.
        class_balance (bool, optional): Select per class (single-label
            datasets); None means yes for classification, no for
            detection. Defaults to None.
        score_pipeline (list[dict], optional): The scoring pipeline; None
            derives it (:meth:`ScoringPass.from_runner`). Defaults to None.
        score_batch_size (int, optional): Defaults to the training batch
            size.
        score_num_workers (int, optional): Defaults to the training
            dataloader's.
        score_pool (float): Fraction of the training set scored at each
            selection, in ``[fraction, 1]``; 1 is the paper's method.
            Defaults to 1.0.
        teacher_cache_mb (float): CPU budget of the teacher-output cache; 0
            turns it off. Defaults to 2048.
        score_view (str): 'clean' (the test pipeline) or 'train' (the
            training augmentation, as the authors' code scores). Defaults
            to 'clean'.
        log_file (str): JSON-lines log of each selection, in the work dir.
            Defaults to 'coreset_log.jsonl'.
    """

    # Before IterTimerHook (NORMAL): the scoring pass in before_train_epoch
    # must not be timed as the first iteration's data time. After
    # QATCalibrationHook (VERY_HIGH), which initialises the steps first.
    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 interval: int = 1,
                 policy: str = 'acs',
                 schedule: str = 'cosine',
                 selection=None,
                 scorer=None,
                 class_balance: Optional[bool] = None,
                 score_pipeline: Optional[List[dict]] = None,
                 score_batch_size: Optional[int] = None,
                 score_num_workers: Optional[int] = None,
                 score_pool: float = 1.0,
                 teacher_cache_mb: float = 2048,
                 score_view: str = 'clean',
                 log_file: str = 'coreset_log.jsonl') -> None:
        check_int(interval, 'interval (R)', 1)
        self.policy = get_policy(policy)
        check_schedule(schedule)
        self.selection = check_selection(selection)
        check_fraction(score_pool, 'score_pool', low_open=True)
        check_scoring_args(score_batch_size, teacher_cache_mb, score_view)
        self.scoring_cfg = dict(
            pipeline=score_pipeline,
            batch_size=score_batch_size,
            num_workers=score_num_workers,
            view=score_view,
            teacher_cache_mb=teacher_cache_mb)
        self.interval = interval
        self.schedule = schedule
        self.scorer_cfg = scorer
        self.class_balance = class_balance
        self.score_pool = float(score_pool)
        self.log_file = log_file
        # State saved in checkpoints.
        self.indices: Optional[torch.Tensor] = None
        self.scores: Optional[dict] = None
        self.round_idx = -1
        self.last_epoch = -1
        self.loaded_epoch: Optional[int] = None

    def before_train(self, runner) -> None:
        """Check the set-up, read the dataset's labels and build the
        scoring pass."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not hasattr(model, 'teacher_outputs'):
            raise TypeError('CoresetSelectionHook needs a QATModel (student '
                            f'and teacher), got {type(model).__name__}')
        self.sampler = find_coreset_sampler(runner.train_dataloader)
        self.batch_sampler = runner.train_dataloader.batch_sampler
        if uninitialized_quantizers(model.student):
            raise RuntimeError(
                'the student has uninitialised LSQ steps before the first '
                "selection: add dict(type='QATCalibrationHook') to "
                'custom_hooks')
        if self.class_balance is None:
            self.class_balance = model.task == 'classification'
        dataset = runner.train_dataloader.dataset
        self.num_samples = len(dataset)
        self.cat_ids, self.classes = dataset_labels(dataset,
                                                    self.class_balance)
        self.noisy = find_dataset_attr(dataset, 'noisy_indices')
        self.scoring = None
        if self.policy.scores != 'never':
            self.pool_size = pool_size(self.score_pool, self.num_samples,
                                       self.sampler.num_select)
            self.scoring = ScoringPass.from_runner(
                runner, model, build_scorer(self.scorer_cfg, model.task),
                **self.scoring_cfg)
        if self.loaded_epoch is not None and runner.epoch > 0 and \
                runner.epoch == self.loaded_epoch and is_main_process():
            truncate_log(runner, self.log_file, runner.epoch)

    def before_train_epoch(self, runner) -> None:
        epoch = runner.epoch
        if epoch % self.interval == 0 and epoch != self.last_epoch:
            self.new_round(runner, epoch)
        elif self.indices is not None:
            self._set_coreset(runner, self.indices)

    def _set_coreset(self, runner, indices: torch.Tensor) -> None:
        """Hand ``indices`` to the sampler and drop what the batch sampler
        kept from an unfinished pass (batches read before this epoch by
        another hook), so the epoch yields exactly the coreset, once."""
        self.sampler.set_indices(indices)
        dropped = clear_partial_pass(getattr(self, 'batch_sampler', None))
        if dropped:
            runner.logger.warning(
                f'the train batch sampler held {dropped} indices of an '
                'unfinished pass (batches read outside the training loop); '
                'they were dropped, so this epoch trains on the coreset only')

    def new_round(self, runner, epoch: int) -> None:
        """A selection round at ``epoch``: score (when the policy needs
        it), apply the policy, set and log the coreset."""
        policy = self.policy
        round_idx = epoch // self.interval
        beta = beta_schedule(policy.schedule or self.schedule, epoch,
                             runner.max_epochs)
        score_info = {}
        t0 = time.perf_counter()
        rescore = policy.scores == 'every' or (policy.scores == 'once'
                                               and self.scores is None)
        pool = None
        if rescore:
            pool = random_pool(self.num_samples, self.pool_size,
                               self.sampler.seed, round_idx)
            with_teacher = beta < 1 or self.scoring.scorer.evs_needs_teacher
            evs, ds, score_info = self.scoring.score(pool, with_teacher)
            self.scores = dict(evs=evs, ds=ds,
                               combined=evs if ds is None and beta == 1
                               else combine_scores(evs, ds, beta))
        score_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        indices = self.indices
        if rescore or policy.scores != 'once' or indices is None:
            labels = torch.tensor([c[0] for c in self.cat_ids]) \
                if self.class_balance else None
            indices = select_in_pool(
                policy.name, pool, self.num_samples, self.sampler.num_select,
                scores=None if self.scores is None else
                self.scores['combined'], labels=labels,
                seed=self.sampler.seed, round_idx=round_idx,
                selection=self.selection)
        timing = dict(score_seconds=score_seconds,
                      select_seconds=time.perf_counter() - t1, **score_info)
        previous, self.indices = self.indices, indices
        self.round_idx, self.last_epoch = round_idx, epoch
        self._set_coreset(runner, indices)
        record = selection_record(
            epoch, round_idx, policy.name, beta, self.num_samples, indices,
            previous, self.scores if rescore else None, self.cat_ids,
            self.classes, self.noisy, timing)
        if policy.scores != 'never':
            record['selection'] = self.selection
        log_selection(runner, record, self.log_file)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['coreset'] = dict(
            indices=self.indices,
            scores=self.scores,
            round_idx=self.round_idx,
            last_epoch=self.last_epoch,
            policy=self.policy.name)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded_epoch = checkpoint.get('meta', {}).get('epoch')
        state = checkpoint.get('coreset')
        if state is None:
            runner.logger.warning(
                'the checkpoint holds no coreset state; the coreset is '
                'selected afresh')
            return
        if state.get('policy') != self.policy.name:
            runner.logger.warning(
                f"the checkpoint's coreset came from policy "
                f"{state.get('policy')!r}, this run uses "
                f'{self.policy.name!r}')
        self.indices = state['indices']
        self.scores = state['scores']
        self.round_idx = state['round_idx']
        self.last_epoch = state['last_epoch']
