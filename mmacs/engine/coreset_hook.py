# Copyright (c) mmacs contributors. All rights reserved.
"""The Adaptive Coreset Selection hook."""
import time
from typing import List, Optional

import torch
from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmacs.coreset import (ScoringPass, apply_teacher_filter, beta_schedule,
                           build_scorer, check_schedule, check_scoring_args,
                           check_selection, check_teacher_filter,
                           dataset_labels, find_dataset_attr, get_policy,
                           pool_size, random_pool, select_in_pool,
                           selection_record, teacher_fit)
from mmacs.datasets import clear_partial_pass, find_coreset_sampler
from mmacs.quantization.calibration import check_calibrated
from mmacs.utils.checks import check_fraction, check_int
from .coreset_log import archive_log, log_selection, truncate_log


@HOOKS.register_module()
class CoresetSelectionHook(Hook):
    """Score the whole training set every ``interval`` epochs and train on
    the top fraction (Adaptive Coreset Selection).

    Before training epochs ``0, R, 2R, ...`` a :class:`ScoringPass` scores
    the training set (``d = beta(t) EVS + (1 - beta(t)) DS``; the same on
    every rank), the policy selects and the hook hands the indices to the
    :class:`~mmacs.datasets.CoresetSampler` of the train dataloader, whose
    ``fraction`` sets the coreset size. Scores and indices are saved in
    checkpoints; a resumed run replaces the log lines of selections made
    after its checkpoint. ``score_pool < 1`` is a faster, approximate mode:
    each selection scores a seeded random pool of that fraction of the set.

    Args:
        interval (int): Epochs between selections ``R``. Defaults to 1.
        policy (str): 'acs', 'full', 'random_static', 'random_dynamic' or
            'el2n'. Defaults to 'acs'.
        schedule (str): The beta schedule: 'cosine', 'official', 'linear',
            'evs_only' or 'ds_only'. Defaults to 'cosine'.
        selection (str | dict, optional): The selection rule of score-based
            policies, e.g. 'topk' (the paper) or ``dict(type='mixed',
            share=0.5)``. Defaults to None ('topk').
        scorer (dict | str, optional): The scorer config; None gives the
            task's default. Defaults to None.
        class_balance (bool, optional): Select per class (single-label
            datasets); None: for classification only. Defaults to None.
        score_pipeline (list[dict], optional): The scoring pipeline; None
            derives it (:meth:`ScoringPass.from_runner`). Defaults to None.
        score_batch_size (int, optional): Defaults to the training one.
        score_num_workers (int, optional): Defaults to the training one.
        score_pool (float): Fraction of the set scored at each selection,
            in ``[fraction, 1]``; 1 is the paper's. Defaults to 1.0.
        teacher_cache_mb (float): CPU budget of the teacher-output cache; 0
            turns it off. Defaults to 2048.
        score_view (str): 'clean' (the test pipeline) or 'train' (the
            training augmentation). Defaults to 'clean'.
        teacher_filter (dict, optional): ``dict(min_prob=p)``: samples
            whose label the FP teacher gives a probability below ``p``
            (likely label errors) are never selected (classification);
            ``dict(drop=q)``: the fraction ``q`` of the scored samples the
            teacher fits worst never are (classification and detection; see
            :mod:`mmacs.coreset.filters`). Ignored by the policies that
            score nothing (random_*, full). Defaults to None (no filter,
            the paper).
        log_file (str): JSON-lines log of each selection, in the work dir.
            Defaults to 'coreset_log.jsonl'.
    """

    # Before IterTimerHook (NORMAL), which must not time the scoring pass;
    # after QATCalibrationHook (VERY_HIGH), which initialises the steps.
    priority = 'ABOVE_NORMAL'
    #: What a checkpoint saves (under 'coreset', with the policy's name).
    STATE = ('indices', 'scores', 'round_idx', 'last_epoch')

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
                 teacher_filter: Optional[dict] = None,
                 log_file: str = 'coreset_log.jsonl') -> None:
        check_int(interval, 'interval (R)', 1)
        self.policy = get_policy(policy)
        check_schedule(schedule)
        self.selection = check_selection(selection)
        check_fraction(score_pool, 'score_pool', low_open=True)
        self.scoring_cfg = check_scoring_args(
            pipeline=score_pipeline, batch_size=score_batch_size,
            num_workers=score_num_workers, view=score_view,
            teacher_cache_mb=teacher_cache_mb)
        self.interval, self.schedule = interval, schedule
        self.scorer_cfg, self.class_balance = scorer, class_balance
        self.score_pool = float(score_pool)
        # A policy that scores nothing selects among all samples: the
        # filter (a config default) does not apply to it.
        self.teacher_filter = check_teacher_filter(teacher_filter) \
            if self.policy.scores != 'never' else None
        self.log_file = log_file
        self.indices: Optional[torch.Tensor] = None  # and STATE's others
        self.scores: Optional[dict] = None
        self.round_idx = self.last_epoch = -1
        self.loaded_epoch: Optional[int] = None

    def before_train(self, runner) -> None:
        """Check the set-up, read the labels, build the scoring pass."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not hasattr(model, 'teacher_outputs'):
            raise TypeError('CoresetSelectionHook needs a QATModel (student '
                            f'and teacher), got {type(model).__name__}')
        self.sampler = find_coreset_sampler(runner.train_dataloader)
        self.batch_sampler = runner.train_dataloader.batch_sampler
        check_calibrated(model.student, 'the first selection')
        if self.class_balance is None:
            self.class_balance = model.task == 'classification'
        dataset = runner.train_dataloader.dataset
        self.num_samples = len(dataset)
        self.cat_ids, self.classes, self.labels = dataset_labels(
            dataset, self.class_balance)
        self.noisy = find_dataset_attr(dataset, 'noisy_indices')
        self.scoring = None
        if self.teacher_filter and 'min_prob' in self.teacher_filter and \
                model.task != 'classification':
            raise ValueError(
                "teacher_filter=dict(min_prob=p) reads the teacher's "
                'probability of a single label: classification only, the '
                f'model is a {model.task} model; use dict(drop=q)')
        if self.policy.scores != 'never':
            self.pool_size = pool_size(self.score_pool, self.num_samples,
                                       self.sampler.num_select)
            scorer = build_scorer(self.scorer_cfg, model.task)
            if self.teacher_filter and hasattr(scorer, 'with_teacher_loss'):
                scorer.with_teacher_loss = True  # what the filter reads
            self.scoring = ScoringPass.from_runner(runner, model, scorer,
                                                   **self.scoring_cfg)
        if is_main_process():
            if self.loaded_epoch is not None and runner.epoch > 0 and \
                    runner.epoch == self.loaded_epoch:
                truncate_log(runner, self.log_file, runner.epoch)
            elif runner.epoch == 0:  # a fresh run
                archive_log(runner, self.log_file)

    def before_train_epoch(self, runner) -> None:
        epoch = runner.epoch
        if epoch % self.interval == 0 and epoch != self.last_epoch:
            self.new_round(runner, epoch)
        elif self.indices is not None:
            self._set_coreset(runner, self.indices)

    def _set_coreset(self, runner, indices: torch.Tensor) -> None:
        """Hand ``indices`` to the sampler and drop what the batch sampler
        kept from an unfinished pass: the epoch yields the coreset, once."""
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
        policy, round_idx = self.policy, epoch // self.interval
        beta = beta_schedule(policy.schedule or self.schedule, epoch,
                             runner.max_epochs)
        rescore = policy.scores == 'every' or (policy.scores == 'once'
                                               and self.scores is None)
        t0, pool, score_info = time.perf_counter(), None, {}
        if rescore:
            pool = random_pool(self.num_samples, self.pool_size,
                               self.sampler.seed, round_idx)
            self.scores, score_info = self.scoring.score_round(
                pool, beta, need_teacher=bool(self.teacher_filter))
        t1 = time.perf_counter()
        indices, filtered = self.indices, None
        if rescore or policy.scores != 'once' or indices is None:
            scores = self.scores['combined'] if self.scores else None
            if self.teacher_filter and self.scores:
                pool, filtered = apply_teacher_filter(
                    self.teacher_filter, pool,
                    teacher_fit(self.teacher_filter, self.scores),
                    self.num_samples, self.sampler.num_select, self.noisy)
            indices = select_in_pool(
                policy.name, pool, self.num_samples, self.sampler.num_select,
                scores, self.labels, seed=self.sampler.seed,
                round_idx=round_idx, selection=self.selection)
        timing = dict(score_seconds=t1 - t0,
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
        if filtered is not None:
            record['teacher_filter'] = filtered
        log_selection(runner, record, self.log_file)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = {key: getattr(self, key) for key in self.STATE}
        checkpoint['coreset'] = dict(state, policy=self.policy.name)

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
                f"{state.get('policy')!r}, this run uses {self.policy.name!r}")
        for key in self.STATE:
            setattr(self, key, state[key])
