# Copyright (c) mmacs contributors. All rights reserved.
"""The Adaptive Coreset Selection hook."""
import copy
import inspect
import json
import os.path as osp
import sys
import time
from typing import List, Optional, Sequence

import torch
from mmdet.registry import HOOKS, TRANSFORMS
from mmengine.dataset import Compose
from mmengine.dist import all_gather_object, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

from mmacs.coreset.policies import get_policy, select_coreset
from mmacs.coreset.schedules import beta_schedule, check_schedule
from mmacs.coreset.scorers import build_scorer
from mmacs.coreset.scores import check_finite, combine_scores
from mmacs.coreset.selection import check_selection
from mmacs.coreset.stats import selection_record
from mmacs.coreset.teacher_cache import TeacherCache
from mmacs.datasets.coreset_sampler import (CoresetSampler, IndexSampler,
                                            clear_partial_pass)
from mmacs.quantization.calibration import uninitialized_quantizers
from mmacs.quantization.convert import frozen_quantized_weights

SCORE_VIEWS = ('clean', 'train')


class ArrayBatchLoader:
    """The scoring loader of an in-memory dataset: batches of the indices
    of an :class:`IndexSampler` (this rank's share), each built in one call
    of ``dataset.fetch_batch`` without the per-sample pipeline."""

    def __init__(self, dataset, batch_size: int) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.sampler = IndexSampler(dataset)

    def __iter__(self):
        indices = list(self.sampler)
        for start in range(0, len(indices), self.batch_size):
            yield self.dataset.fetch_batch(indices[start:start +
                                                   self.batch_size])

    def __len__(self) -> int:
        return -(-len(self.sampler) // self.batch_size)


@HOOKS.register_module()
class CoresetSelectionHook(Hook):
    """Score the whole training set every ``interval`` epochs and train on
    the top fraction (Adaptive Coreset Selection).

    Before training epochs ``0, R, 2R, ...`` the hook scores every training
    sample with the quantized student and the frozen teacher (eval mode, no
    gradient, the test-time pipeline), combines ``d = beta(t) EVS + (1 -
    beta(t)) DS``, selects with ``policy`` and hands the indices to the
    :class:`~mmacs.datasets.CoresetSampler` of the train dataloader, whose
    ``fraction`` sets the coreset size. Under DDP every rank scores its own
    shard, the scores are all-gathered and every rank selects the same
    coreset. Scores and indices are saved in checkpoints and restored on
    resume; a resumed run replaces the log lines of selections made after
    its checkpoint. Each epoch yields exactly the coreset, once: indices
    that an unfinished pass (batches read outside the training loop) left
    in the train batch sampler are dropped when the coreset is set.

    The scoring pass runs under ``torch.inference_mode`` with each layer's
    quantized weight computed once, reads the teacher from an exact cache
    after its first pass, and skips the teacher while DS has no weight
    (``beta = 1``, e.g. at epoch 0 of the cosine schedule). All of this
    leaves the scores unchanged. ``score_pool < 1`` is a faster,
    approximate mode: each selection scores a seeded random pool of that
    fraction of the set and picks the coreset within it.

    Args:
        interval (int): Epochs between selections ``R``. Defaults to 1.
        policy (str): 'acs', 'full', 'random_static', 'random_dynamic' or
            'el2n'. Defaults to 'acs'.
        schedule (str): The beta schedule: 'cosine', 'official', 'linear',
            'evs_only' or 'ds_only'. Defaults to 'cosine'.
        selection (str | dict, optional): How a score-based policy picks
            the coreset from the scores: 'topk' (the paper), 'stratified',
            'mixed', 'sampled' or 'trimmed', or a dict with the rule's
            parameters, e.g. ``dict(type='mixed', share=0.5)`` (see
            :mod:`mmacs.coreset.selection`). None is 'topk'. Defaults to
            None.
        scorer (dict | str, optional): The scorer config; None gives the
            task's default ('loss' for detection, 'softmax' for
            classification). Defaults to None.
        class_balance (bool, optional): Select per class (single-label
            datasets); None means yes for classification, no for
            detection. Defaults to None.
        score_pipeline (list[dict], optional): The pipeline of the scoring
            pass; None takes the test dataloader's pipeline and adds
            'sample_idx' to its packing transform's ``meta_keys``.
            Defaults to None.
        score_batch_size (int, optional): Defaults to the training batch
            size.
        score_num_workers (int, optional): Defaults to the training
            dataloader's.
        score_pool (float): Fraction of the training set scored at each
            selection, in ``[fraction, 1]``; 1 is the paper's method (every
            sample scored). Below 1 (approximate, faster): a random pool
            drawn afresh each round, the coreset its top samples. Defaults
            to 1.0.
        teacher_cache_mb (float): CPU memory budget of the teacher-output
            cache; 0 turns it off (and so does ``score_view='train'``, whose
            inputs change every pass). Defaults to 2048.
        score_view (str): What the scoring pass sees: 'clean' (the test
            pipeline, no augmentation; mmacs's default) or 'train' (the
            training augmentation, as the authors' code scores: the train
            pipeline and the data preprocessor's batch augmentations).
            Defaults to 'clean'.
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
        if isinstance(interval, bool) or not isinstance(
                interval, int) or interval < 1:
            raise ValueError(f'interval (R) must be an int >= 1, got '
                             f'{interval!r}')
        get_policy(policy)
        check_schedule(schedule)
        self.selection = check_selection(selection)
        if score_batch_size is not None and score_batch_size < 1:
            raise ValueError('score_batch_size must be >= 1, got '
                             f'{score_batch_size!r}')
        if isinstance(score_pool, bool) or not isinstance(
                score_pool, (int, float)) or not 0 < score_pool <= 1:
            raise ValueError('score_pool must be a number in (0, 1], got '
                             f'{score_pool!r}')
        if teacher_cache_mb < 0:
            raise ValueError('teacher_cache_mb must be >= 0, got '
                             f'{teacher_cache_mb!r}')
        if score_view not in SCORE_VIEWS:
            raise ValueError(f'score_view must be one of {SCORE_VIEWS}, got '
                             f'{score_view!r}')
        self.score_view = score_view
        self.interval = interval
        self.policy = policy
        self.schedule = schedule
        self.scorer_cfg = scorer
        self.class_balance = class_balance
        self.score_pipeline = score_pipeline
        self.score_batch_size = score_batch_size
        self.score_num_workers = score_num_workers
        self.score_pool = float(score_pool)
        self.teacher_cache_mb = teacher_cache_mb
        self.log_file = log_file
        # State saved in checkpoints.
        self.indices: Optional[torch.Tensor] = None
        self.scores: Optional[dict] = None
        self.round_idx = -1
        self.last_epoch = -1
        self.loaded_epoch: Optional[int] = None

    # ----------------------------------------------------------- set-up
    def before_train(self, runner) -> None:
        model = self._model(runner)
        if not hasattr(model, 'score_step'):
            raise TypeError('CoresetSelectionHook needs a QATModel (student '
                            f'and teacher), got {type(model).__name__}')
        loader = runner.train_dataloader
        sampler = loader.sampler
        if not isinstance(sampler, CoresetSampler):
            # Behind a batch sampler (e.g. AspectRatioBatchSampler).
            sampler = getattr(loader.batch_sampler, 'sampler', sampler)
        if not isinstance(sampler, CoresetSampler):
            raise TypeError(
                'CoresetSelectionHook needs train_dataloader.sampler to be '
                f'a CoresetSampler, got {type(sampler).__name__}')
        if uninitialized_quantizers(model.student):
            raise RuntimeError(
                'the student has uninitialised LSQ steps before the first '
                "selection: add dict(type='QATCalibrationHook') to "
                'custom_hooks')
        self.sampler = sampler
        self.batch_sampler = loader.batch_sampler
        self.task = model.task
        self.scorer = build_scorer(self.scorer_cfg, self.task)
        if self.class_balance is None:
            self.class_balance = self.task == 'classification'
        dataset = runner.train_dataloader.dataset
        self.num_samples = len(dataset)
        self.cat_ids = [list(dataset.get_cat_ids(i))
                        for i in range(self.num_samples)]
        if self.class_balance and any(len(c) != 1 for c in self.cat_ids):
            bad = [i for i, c in enumerate(self.cat_ids) if len(c) != 1]
            raise ValueError(
                'class_balance=True needs a single label per sample, but '
                f'samples {bad[:10]} have {len(self.cat_ids[bad[0]])}; set '
                'class_balance=False')
        self.classes = list((dataset.metainfo or {}).get('classes', []))
        self.noisy = _find_attr(dataset, 'noisy_indices')
        # The cache is exact only for a deterministic scoring view.
        self.cache = TeacherCache(int(self.teacher_cache_mb * 2**20)) \
            if self.teacher_cache_mb > 0 and self.score_view == 'clean' \
            else None
        self.teacher_sec_per_sample = None
        self.score_loader = None
        if get_policy(self.policy).scores != 'never':
            self.pool_size = max(1, int(round(self.score_pool *
                                              self.num_samples)))
            if self.pool_size < sampler.num_select:
                raise ValueError(
                    f'score_pool={self.score_pool} scores {self.pool_size} '
                    f'samples, fewer than the coreset '
                    f'({sampler.num_select}); use score_pool >= fraction')
            self.score_loader = self._build_score_loader(runner, dataset)
        if self.loaded_epoch is not None and runner.epoch > 0 and \
                runner.epoch == self.loaded_epoch and is_main_process():
            self._truncate_log(runner, runner.epoch)

    def _truncate_log(self, runner, epoch: int) -> None:
        """Drop the log lines of selections at epochs >= ``epoch``: a
        resumed run starts at ``epoch`` and makes them again."""
        path = osp.join(runner.work_dir, self.log_file)
        if not osp.isfile(path):
            return
        with open(path) as f:
            lines = f.readlines()
        keep = [line for line in lines
                if not line.strip() or json.loads(line)['epoch'] < epoch]
        if len(keep) < len(lines):
            with open(path, 'w') as f:
                f.writelines(keep)
            runner.logger.info(
                f'{self.log_file}: dropped {len(lines) - len(keep)} '
                f'selection(s) made after the checkpoint (epoch >= {epoch}); '
                'they are made again')

    def _build_score_loader(self, runner, dataset):
        train_cfg = runner.cfg.train_dataloader
        batch_size = self.score_batch_size or train_cfg.batch_size
        augments = getattr(
            self._model(runner).data_preprocessor, 'batch_augments', None)
        if self.score_pipeline is None and getattr(
                dataset, 'in_memory', False) and (self.score_view == 'clean'
                                                  or augments):
            # Whole batches straight from the image array; the 'train'
            # view gets its augmentation from the data preprocessor.
            return ArrayBatchLoader(dataset, batch_size)
        pipeline = self.score_pipeline
        if pipeline is None:
            source = 'train_dataloader' if self.score_view == 'train' \
                else 'test_dataloader'
            loader_cfg = runner.cfg.get(source, None)
            if not loader_cfg:
                raise ValueError(
                    'CoresetSelectionHook needs score_pipeline when the '
                    f'config has no {source} to take it from')
            pipeline = _with_sample_idx(loader_cfg.dataset.pipeline)
        cfg = dict(
            dataset=dataset_with_pipeline(dataset, pipeline),
            sampler=dict(type='IndexSampler'),
            batch_size=batch_size,
            num_workers=self.score_num_workers
            if self.score_num_workers is not None else train_cfg.get(
                'num_workers', 0),
            collate_fn=copy.deepcopy(
                train_cfg.get('collate_fn', dict(type='pseudo_collate'))))
        return runner.build_dataloader(cfg, seed=runner.seed)

    # -------------------------------------------------------- selection
    def before_train_epoch(self, runner) -> None:
        epoch = runner.epoch
        if epoch % self.interval == 0 and epoch != self.last_epoch:
            self.select(runner, epoch)
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

    def select(self, runner, epoch: int) -> None:
        """Score (if the policy needs it), select and set the coreset."""
        policy = get_policy(self.policy)
        round_idx = epoch // self.interval
        beta = beta_schedule(
            'evs_only' if self.policy == 'el2n' else self.schedule, epoch,
            runner.max_epochs)
        score_info = {}
        t0 = time.perf_counter()
        need = policy.scores == 'every' or (policy.scores == 'once'
                                            and self.scores is None)
        pool = None
        if need:
            pool = self._pool(round_idx)
            with_teacher = beta < 1 or self.scorer.evs_needs_teacher
            evs, ds, score_info = self.score_dataset(runner, pool,
                                                     with_teacher)
            self.scores = dict(evs=evs, ds=ds,
                               combined=evs if ds is None and beta == 1
                               else combine_scores(evs, ds, beta))
        score_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        if need or policy.scores != 'once' or self.indices is None:
            indices = self._select(round_idx, pool)
        else:
            indices = self.indices
        select_seconds = time.perf_counter() - t1
        previous = self.indices
        self.indices = indices
        self.round_idx = round_idx
        self.last_epoch = epoch
        self._set_coreset(runner, indices)
        record = selection_record(
            epoch=epoch,
            round_idx=round_idx,
            policy=self.policy,
            beta=beta,
            num_samples=self.num_samples,
            indices=indices,
            previous=previous,
            scores=self.scores if need else None,
            cat_ids=self.cat_ids,
            classes=self.classes,
            noisy=self.noisy,
            timing=dict(score_seconds=score_seconds,
                        select_seconds=select_seconds, **score_info))
        if get_policy(self.policy).scores != 'never':
            record['selection'] = self.selection
        self._log(runner, record)

    def _pool(self, round_idx: int) -> torch.Tensor:
        """The sorted indices scored in round ``round_idx``: all of them,
        or a random pool of ``score_pool`` of the set (same on all
        ranks)."""
        if self.pool_size >= self.num_samples:
            return torch.arange(self.num_samples)
        g = torch.Generator().manual_seed(self.sampler.seed * 1000003 +
                                          round_idx + 1)
        perm = torch.randperm(self.num_samples, generator=g)
        return perm[:self.pool_size].sort().values

    def _select(self, round_idx: int,
                pool: Optional[torch.Tensor]) -> torch.Tensor:
        """Apply the policy to the whole set, or within the scored pool."""
        labels = torch.tensor([c[0] for c in self.cat_ids]) \
            if self.class_balance else None
        scores = None if self.scores is None else self.scores['combined']
        if pool is None or pool.numel() == self.num_samples:
            return select_coreset(
                self.policy, self.num_samples, self.sampler.num_select,
                scores=scores, labels=labels, seed=self.sampler.seed,
                round_idx=round_idx, selection=self.selection)
        chosen = select_coreset(
            self.policy, pool.numel(), self.sampler.num_select,
            scores=scores[pool], labels=None if labels is None else
            labels[pool], seed=self.sampler.seed, round_idx=round_idx,
            selection=self.selection)
        return pool[chosen].sort().values

    def score_dataset(self,
                      runner,
                      pool: Optional[torch.Tensor] = None,
                      with_teacher: bool = True) -> tuple:
        """EVS and DS (``[N]``, NaN outside ``pool``; DS None without the
        teacher) of the training samples in ``pool`` (default: all),
        identical on all ranks."""
        model = self._model(runner)
        pool = torch.arange(self.num_samples) if pool is None else pool
        self.score_loader.sampler.set_indices(pool.tolist())
        was_training = model.training
        model.eval()
        idx_parts, evs_parts, ds_parts = [], [], []
        hits, teacher_seconds, computed = 0, 0.0, 0
        # sys.stdout of now, not of import time (ProgressBar's default).
        bar = ProgressBar(len(self.score_loader), file=sys.stdout) \
            if is_main_process() else None
        try:
            with torch.inference_mode(), \
                    frozen_quantized_weights(model.student):
                for batch in self.score_loader:
                    idx, scores, info = model.score_step(
                        batch, self.scorer, self.cache, with_teacher,
                        augment=self.score_view == 'train')
                    idx_parts.append(idx)
                    # Kept on the model's device until the pass ends: one
                    # copy to the host per pass, not a wait per batch.
                    evs_parts.append(scores['evs'].float())
                    if with_teacher:
                        ds_parts.append(scores['ds'].float())
                    hits += info['cache_hits']
                    teacher_seconds += info['teacher_seconds']
                    if with_teacher:
                        computed += len(idx) - info['cache_hits']
                    if bar is not None:
                        bar.update()
        finally:
            model.train(was_training)
        if bar is not None:
            bar.file.write('\n')
        empty = torch.zeros(0)
        local = (torch.cat(idx_parts) if idx_parts else empty.long(),
                 torch.cat(evs_parts).cpu() if evs_parts else empty,
                 torch.cat(ds_parts).cpu() if ds_parts else empty)
        gathered = all_gather_object(local)
        idx = torch.cat([g[0] for g in gathered])
        if idx.numel() != pool.numel() or not torch.equal(
                idx.sort().values, pool):
            raise RuntimeError(
                f'the scoring pass covered {idx.unique().numel()} distinct '
                f'of {pool.numel()} samples ({idx.numel()} scores)')
        evs = torch.full((self.num_samples, ), float('nan'))
        evs[idx] = torch.cat([g[1] for g in gathered])
        check_finite(evs[pool], pool, what='EVS scores')
        ds = None
        if with_teacher:
            ds = torch.full((self.num_samples, ), float('nan'))
            ds[idx] = torch.cat([g[2] for g in gathered])
            check_finite(ds[pool], pool, what='DS scores')
        if computed:
            self.teacher_sec_per_sample = teacher_seconds / computed
        info = dict(
            teacher_cache_hits=hits,
            teacher_seconds=teacher_seconds,
            teacher_seconds_saved=hits * (self.teacher_sec_per_sample or 0.))
        return evs, ds, info

    # --------------------------------------------------------- logging
    def _log(self, runner, record: dict) -> None:
        score = record.get('score') or {}
        msg = (f"coreset epoch {record['epoch']}: {self.policy} selected "
               f"{record['num_selected']}/{record['num_samples']}, "
               f"beta={record['beta']:.3f}")
        if score:
            msg += (f", score mean={score['mean']:.4f} "
                    f"std={score['std']:.4f}")
        if record['jaccard_prev'] is not None:
            msg += f", jaccard(prev)={record['jaccard_prev']:.3f}"
        if record['noisy_fraction'] is not None:
            msg += f", noisy={record['noisy_fraction']:.3f}"
        msg += f", scoring {record['score_seconds']:.1f}s"
        if record.get('teacher_cache_hits'):
            msg += (f" (teacher cache: {record['teacher_cache_hits']:.0f} "
                    f"hits, ~{record['teacher_seconds_saved']:.1f}s saved)")
        runner.logger.info(msg)
        scalars = {
            'coreset/beta': record['beta'],
            'coreset/score_seconds': record['score_seconds'],
        }
        if score:
            scalars['coreset/score_mean'] = score['mean']
            scalars['coreset/score_std'] = score['std']
        if record['jaccard_prev'] is not None:
            scalars['coreset/jaccard_prev'] = record['jaccard_prev']
        if record['noisy_fraction'] is not None:
            scalars['coreset/noisy_fraction'] = record['noisy_fraction']
        runner.visualizer.add_scalars(scalars, step=record['epoch'])
        if is_main_process():
            with open(osp.join(runner.work_dir, self.log_file), 'a') as f:
                f.write(json.dumps(record) + '\n')

    # ----------------------------------------------------- checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['coreset'] = dict(
            indices=self.indices,
            scores=self.scores,
            round_idx=self.round_idx,
            last_epoch=self.last_epoch,
            policy=self.policy)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded_epoch = checkpoint.get('meta', {}).get('epoch')
        state = checkpoint.get('coreset')
        if state is None:
            runner.logger.warning(
                'the checkpoint holds no coreset state; the coreset is '
                'selected afresh')
            return
        if state.get('policy') != self.policy:
            runner.logger.warning(
                f"the checkpoint's coreset came from policy "
                f"{state.get('policy')!r}, this run uses {self.policy!r}")
        self.indices = state['indices']
        self.scores = state['scores']
        self.round_idx = state['round_idx']
        self.last_epoch = state['last_epoch']

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(
            runner.model) else runner.model


def dataset_with_pipeline(dataset, pipeline: Sequence[dict]):
    """A shallow copy of ``dataset`` (and of the wrappers around it) whose
    innermost dataset runs ``pipeline``; annotations are shared, not
    reloaded."""
    if hasattr(dataset, 'dataset'):
        wrapper = copy.copy(dataset)
        wrapper.dataset = dataset_with_pipeline(dataset.dataset, pipeline)
        return wrapper
    if not hasattr(dataset, 'pipeline'):
        raise TypeError(f'cannot set the scoring pipeline of '
                        f'{type(dataset).__name__}: it has no pipeline')
    new = copy.copy(dataset)
    new.pipeline = Compose(copy.deepcopy(list(pipeline)))
    return new


def _with_sample_idx(pipeline: Sequence[dict]) -> List[dict]:
    """``pipeline`` with 'sample_idx' in its packing transform's
    ``meta_keys`` (the transform's default keys when it names none)."""
    pipeline = copy.deepcopy(list(pipeline))
    last = pipeline[-1]
    keys = last.get('meta_keys')
    if keys is None:
        transform = TRANSFORMS.get(last['type'])
        param = inspect.signature(transform).parameters.get('meta_keys') \
            if transform is not None else None
        if param is None or param.default is inspect.Parameter.empty:
            return pipeline  # packs its own metainfo (e.g. PackClsInputs)
        keys = param.default
    if 'sample_idx' not in keys:
        last['meta_keys'] = tuple(keys) + ('sample_idx', )
    return pipeline


def _find_attr(dataset, name: str):
    while dataset is not None:
        if hasattr(dataset, name):
            return getattr(dataset, name)
        dataset = getattr(dataset, 'dataset', None)
    return None
