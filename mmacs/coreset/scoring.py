# Copyright (c) mmacs contributors. All rights reserved.
"""The scoring pass: per-sample EVS and DS of (a pool of) the training set.

A :class:`ScoringPass` owns what one pass needs: the scoring loader (the
test pipeline with 'sample_idx' in its metainfo, or whole batches straight
from an in-memory image array), the student and the frozen teacher in eval
mode under ``torch.inference_mode`` with each layer's quantized weight
computed once, the exact cache of the teacher's outputs, the gather of the
scores of all ranks and the check that every scored value is finite.
"""
import copy
import inspect
import sys
import time
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.registry import TRANSFORMS
from mmengine.dataset import Compose
from mmengine.dist import all_gather_object, is_main_process
from mmengine.utils import ProgressBar
from torch import Tensor

from mmacs.datasets.coreset_sampler import IndexSampler
from mmacs.quantization.convert import frozen_quantized_weights
from mmacs.tasks import sample_indices
from .scorers import build_scorer
from .scores import check_finite, combine_scores
from .teacher_cache import TeacherCache

SCORE_VIEWS = ('clean', 'train')


def check_scoring_args(**kwargs) -> dict:
    """``kwargs`` (those of :meth:`ScoringPass.from_runner` after the
    scorer), each checked; an error names a bad value."""
    batch_size = kwargs.get('batch_size')
    if batch_size is not None and batch_size < 1:
        raise ValueError('score_batch_size must be >= 1, got '
                         f'{batch_size!r}')
    if kwargs.get('teacher_cache_mb', 0) < 0:
        raise ValueError('teacher_cache_mb must be >= 0, got '
                         f"{kwargs['teacher_cache_mb']!r}")
    if kwargs.get('view', 'clean') not in SCORE_VIEWS:
        raise ValueError(f'score_view must be one of {SCORE_VIEWS}, got '
                         f"{kwargs['view']!r}")
    return kwargs


#: The ``coreset`` config keys of the scoring pass: ``from_runner``'s
#: arguments and their defaults.
SCORING_KEYS = dict(
    score_pipeline=('pipeline', None),
    score_batch_size=('batch_size', None),
    score_num_workers=('num_workers', None),
    score_view=('view', 'clean'),
    teacher_cache_mb=('teacher_cache_mb', 2048))


def pop_scoring_args(cfg: dict) -> dict:
    """Take the scoring pass's keys (:data:`SCORING_KEYS`) out of the
    ``coreset`` config ``cfg``: ``from_runner``'s keyword arguments, all of
    them, checked."""
    return check_scoring_args(**{
        arg: cfg.pop(key, default)
        for key, (arg, default) in SCORING_KEYS.items()
    })


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


class ScoringPass:
    """Score training samples with a :class:`~mmacs.models.QATModel`.

    The pass runs under ``torch.inference_mode`` with each layer's
    quantized weight computed once and reads the teacher from an exact
    cache after its first pass; none of this changes the scores.

    Args:
        model (QATModel): The model (not wrapped for DDP).
        scorer (callable): A built scorer (see :mod:`mmacs.coreset.scorers`).
        loader (Iterable, optional): Raw batches of the samples its
            ``sampler`` (an :class:`IndexSampler`) is set to; needed by
            :meth:`score`. Defaults to None.
        num_samples (int): The size of the training set. Defaults to 0.
        cache (TeacherCache, optional): The teacher's outputs, read and
            filled by the pass; only exact for a deterministic view.
            Defaults to None.
        augment (bool): Preprocess as in training, so the data
            preprocessor's batch augmentations apply (the scoring view
            'train'); the networks stay in eval mode. Defaults to False.
        embedding (bool): Also return the teacher's ``embedding`` of each
            sample (``[N, D]``, from the teacher's outputs, so it is cached
            with them); the teacher then runs at every pass. Defaults to
            False.
    """

    def __init__(self,
                 model,
                 scorer,
                 loader=None,
                 num_samples: int = 0,
                 cache: Optional[TeacherCache] = None,
                 augment: bool = False,
                 embedding: bool = False) -> None:
        self.model = model
        self.scorer = scorer
        self.loader = loader
        self.num_samples = num_samples
        self.cache = cache
        self.augment = augment
        self.embedding = embedding
        self.teacher_sec_per_sample: Optional[float] = None

    @classmethod
    def from_runner(cls,
                    runner,
                    model,
                    scorer,
                    pipeline: Optional[List[dict]] = None,
                    batch_size: Optional[int] = None,
                    num_workers: Optional[int] = None,
                    view: str = 'clean',
                    teacher_cache_mb: float = 2048,
                    embedding: bool = False) -> 'ScoringPass':
        """The pass over ``runner``'s training set.

        ``view`` is what the pass sees: 'clean' (the test pipeline, no
        augmentation) or 'train' (the training augmentation, as the
        authors' code scores: the train pipeline and the data
        preprocessor's batch augmentations). ``pipeline`` None takes the
        test dataloader's pipeline (the train dataloader's for
        ``view='train'``) and adds 'sample_idx' to its packing transform's
        ``meta_keys``; an in-memory dataset is read in
        whole batches instead. ``batch_size`` and ``num_workers`` default
        to the training dataloader's; ``teacher_cache_mb`` is the CPU
        budget of the teacher cache (0, or the 'train' view, turns it
        off). ``embedding``: see the class.
        """
        check_scoring_args(batch_size=batch_size, view=view,
                           teacher_cache_mb=teacher_cache_mb)
        dataset = runner.train_dataloader.dataset
        train_cfg = runner.cfg.train_dataloader
        batch_size = batch_size or train_cfg.batch_size
        augments = getattr(model.data_preprocessor, 'batch_augments', None)
        if pipeline is None and getattr(dataset, 'in_memory', False) and (
                view == 'clean' or augments):
            # Whole batches straight from the image array; the 'train'
            # view gets its augmentation from the data preprocessor.
            loader = ArrayBatchLoader(dataset, batch_size)
        else:
            if pipeline is None:
                source = 'train_dataloader' if view == 'train' \
                    else 'test_dataloader'
                loader_cfg = runner.cfg.get(source, None)
                if not loader_cfg:
                    raise ValueError(
                        'CoresetSelectionHook needs score_pipeline when the '
                        f'config has no {source} to take it from')
                pipeline = pipeline_with_sample_idx(
                    loader_cfg.dataset.pipeline)
            pipeline = annotations_first(pipeline)
            loader = runner.build_dataloader(
                dict(
                    dataset=dataset_with_pipeline(dataset, pipeline),
                    sampler=dict(type='IndexSampler'),
                    batch_size=batch_size,
                    num_workers=num_workers if num_workers is not None else
                    train_cfg.get('num_workers', 0),
                    collate_fn=copy.deepcopy(
                        train_cfg.get('collate_fn',
                                      dict(type='pseudo_collate')))),
                seed=runner.seed)
        # The cache is exact only for a deterministic scoring view.
        cache = TeacherCache(int(teacher_cache_mb * 2**20)) \
            if teacher_cache_mb > 0 and view == 'clean' else None
        return cls(model, scorer, loader, len(dataset), cache,
                   augment=view == 'train', embedding=embedding)

    @classmethod
    def for_selector(cls, runner, model, selector, scorer=None,
                     **kwargs) -> Optional['ScoringPass']:
        """The pass a set-up :class:`~mmacs.coreset.CoresetSelector` needs
        (None: its policy scores nothing): ``scorer`` (a config, None: the
        task's default) scores what a teacher filter reads, and the pass
        gives the teacher's embedding to a rule that reads it. ``kwargs``:
        those of :meth:`from_runner`."""
        if not selector.needs_scores:
            return None
        scorer = build_scorer(scorer, model.task,
                              bool(selector.teacher_filter))
        return cls.from_runner(runner, model, scorer,
                               embedding=selector.needs_embedding, **kwargs)

    def score_batch(self,
                    data: dict,
                    with_teacher: bool = True,
                    teacher_as_student: bool = False
                    ) -> Tuple[Tensor, dict, dict]:
        """Score one raw batch (no gradient).

        Args:
            data (dict): A batch of the scoring loader.
            with_teacher (bool): Run (or read from the cache) the teacher;
                False scores EVS only (``ds`` is None). Defaults to True.
            teacher_as_student (bool): Score the teacher's outputs as the
                student's (the student is not run; DS is 0): the first
                selection of a student that starts as the quantized
                teacher (``first_scores='teacher'``). Defaults to False.

        Returns:
            tuple: ``(indices [B], dict(evs=[B], ds=[B]), info)``, with
            ``info['cache_hits']`` the samples whose teacher outputs came
            from the cache and ``info['teacher_seconds']`` the time spent
            in the teacher.
        """
        model = self.model
        with torch.no_grad():
            data = model.data_preprocessor(data, self.augment)
            inputs, data_samples = data['inputs'], data['data_samples']
            indices = sample_indices(data_samples)
            with_teacher = with_teacher or teacher_as_student
            s_out = None if teacher_as_student else \
                model.adapter.outputs(model.student, inputs)
            t_out, hits, seconds = None, 0, 0.0
            if with_teacher and self.cache is not None and s_out is not None:
                t_out = self.cache.get(indices.tolist(), s_out)
                hits = len(indices) if t_out is not None else 0
            if with_teacher and t_out is None:
                start = time.perf_counter()
                t_out = model.teacher_outputs(inputs)
                seconds = time.perf_counter() - start
                if self.cache is not None:
                    self.cache.put(indices.tolist(), t_out)
            if teacher_as_student:
                s_out = t_out
            scores = self.scorer(model.student, s_out, t_out, data_samples)
            if self.embedding and t_out is not None:
                if 'embedding' not in t_out:
                    raise ValueError(
                        "the teacher's outputs hold no 'embedding' (they "
                        f'hold {sorted(t_out)})')
                scores['embedding'] = t_out['embedding']
        return indices, scores, dict(cache_hits=hits, teacher_seconds=seconds)

    def score(self,
              pool: Optional[Tensor] = None,
              with_teacher: bool = True,
              teacher_as_student: bool = False) -> Tuple[dict, dict]:
        """The per-sample scores of the training samples in ``pool``
        (default: all), identical on all ranks: ``dict(evs=[N], ds=[N])``
        (NaN outside ``pool``; ``ds`` None without the teacher) plus any
        other per-sample output of the scorer (e.g. ``label_prob``), and
        ``info``, which counts the teacher-cache hits and the teacher's
        seconds. ``teacher_as_student``: see :meth:`score_batch`."""
        model = self.model
        with_teacher = with_teacher or teacher_as_student
        pool = torch.arange(self.num_samples) if pool is None else pool
        self.loader.sampler.set_indices(pool.tolist())
        was_training = model.training
        model.eval()
        idx_parts, parts = [], {}
        hits, teacher_seconds, computed = 0, 0.0, 0
        # sys.stdout of now, not of import time (ProgressBar's default).
        bar = ProgressBar(len(self.loader), file=sys.stdout) \
            if is_main_process() else None
        try:
            with torch.inference_mode(), \
                    frozen_quantized_weights(model.student):
                for batch in self.loader:
                    idx, scores, info = self.score_batch(
                        batch, with_teacher, teacher_as_student)
                    idx_parts.append(idx)
                    # Kept on the model's device until the pass ends: one
                    # copy to the host per pass, not a wait per batch.
                    for key, value in scores.items():
                        if value is not None:
                            parts.setdefault(key, []).append(value.float())
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
        scores = self._gather(pool, idx_parts, parts)
        scores.setdefault('ds', None)
        if computed:
            self.teacher_sec_per_sample = teacher_seconds / computed
        info = dict(
            teacher_cache_hits=hits,
            teacher_seconds=teacher_seconds,
            teacher_seconds_saved=hits * (self.teacher_sec_per_sample or 0.))
        if teacher_as_student:
            info['teacher_as_student'] = True
        return scores, info

    def score_round(self,
                    pool: Optional[Tensor],
                    beta: float,
                    need_teacher: bool = False,
                    teacher_as_student: bool = False) -> Tuple[dict, dict]:
        """The scores of a selection with EVS weight ``beta``: those of
        :meth:`score` plus ``combined = beta EVS + (1 - beta) DS``, and
        :meth:`score`'s ``info``. The teacher is skipped while DS has no
        weight, unless the scorer's EVS (or ``need_teacher``: a teacher
        filter) needs it. ``teacher_as_student``: see
        :meth:`score_batch`."""
        with_teacher = beta < 1 or self.scorer.evs_needs_teacher or \
            need_teacher or self.embedding
        scores, info = self.score(pool, with_teacher, teacher_as_student)
        evs, ds = scores['evs'], scores['ds']
        scores['combined'] = evs if ds is None or beta == 1 else \
            combine_scores(evs, ds, beta)
        return scores, info

    def _gather(self, pool: Tensor, idx_parts: list, parts: dict) -> dict:
        """The scores of all ranks as ``[N]`` tensors (``[N, D]`` for a
        per-sample vector such as ``embedding``; NaN outside ``pool``),
        checked to cover ``pool`` once and to be finite."""
        empty = torch.zeros(0)
        local = (torch.cat(idx_parts) if idx_parts else empty.long(),
                 {key: torch.cat(value).cpu()
                  for key, value in parts.items()})
        gathered = all_gather_object(local)
        # Every rank's keys: a rank with no samples to score has none.
        keys = sorted(set().union(*(g[1] for g in gathered)))
        idx = torch.cat([g[0] for g in gathered])
        if idx.numel() != pool.numel() or not torch.equal(
                idx.sort().values, pool):
            raise RuntimeError(
                f'the scoring pass covered {idx.unique().numel()} distinct '
                f'of {pool.numel()} samples ({idx.numel()} scores)')
        out = {}
        for key in keys:
            found = torch.cat([g[1][key] for g in gathered if key in g[1]])
            values = torch.full((self.num_samples, ) + found.shape[1:],
                                float('nan'))
            values[idx] = found
            scored = values[pool]
            if scored.dim() > 1:  # a row is finite when all its values are
                scored = torch.where(
                    torch.isfinite(scored).flatten(1).all(1), 0.0,
                    float('nan'))
            check_finite(scored, pool,
                         what=f'{key.upper()} scores' if key in ('evs', 'ds')
                         else f'{key} values')
            out[key] = values
        if 'evs' not in out:  # an empty pool on every rank
            out['evs'] = torch.full((self.num_samples, ), float('nan'))
        return out


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


def annotations_first(pipeline: Sequence[dict]) -> List[dict]:
    """``pipeline`` with its loading transforms (type ``Load*``) moved
    ahead of the others, each group in its own order.

    mmdet's test pipelines load the boxes after ``Resize``, as evaluation
    compares predictions rescaled to the original image with the original
    boxes. A score computed from a loss needs the boxes in the frame of the
    image the model sees, so they must pass through ``Resize`` too, as in
    a training pipeline. Applied to every scoring pipeline, a
    ``score_pipeline`` of the config included. The transforms are the
    input's own (:func:`dataset_with_pipeline` copies them before use).
    """
    def loads(transform):
        if not isinstance(transform, dict):
            return False  # a callable: where the user put it
        name = transform.get('type')
        name = name if isinstance(name, str) else getattr(name, '__name__',
                                                          '')
        return name.split('.')[-1].startswith('Load')

    return [t for t in pipeline if loads(t)] + [
        t for t in pipeline if not loads(t)
    ]


def pipeline_with_sample_idx(pipeline: Sequence[dict]) -> List[dict]:
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


def find_dataset_attr(dataset, name: str):
    """``name`` of ``dataset`` or of the first dataset it wraps that has
    it; None when none has."""
    while dataset is not None:
        if hasattr(dataset, name):
            return getattr(dataset, name)
        dataset = getattr(dataset, 'dataset', None)
    return None
