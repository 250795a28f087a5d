# Copyright (c) mmacs contributors. All rights reserved.
"""What Adaptive Coreset Selection costs over a random coreset of the same
size, measured side by side in one run.

For each task (ResNet-20 W2A2 on the shared CIFAR-10 images from the shared
FP checkpoint; the demo's W4A4 RetinaNet R18-FPN on synthetic shapes), the
same QAT config is trained with the same fraction ``f``, interval ``R``,
epochs and seed under

- ``random_dynamic``: a fresh random coreset every R epochs (no scoring),
  run first and last (their mean is the baseline, their gap the drift of
  the machine over the benchmark);
- ``acs``: the paper's method, every sample scored every R epochs;
- ``acs_pool``: the approximate fast mode, a random pool of
  ``--score-pool`` of the set scored every R epochs;
- ``full``: one epoch on all the data, for the ``f x full-data`` cost;

and the wall time of each run is split into training, scoring and
selection (the epoch loop; the QAT calibration before it is the same for
every run and reported apart). Then scoring passes over
``--ablation-samples`` training samples are timed with the scoring-pass
optimizations switched on one by one, to show what each bought.

The last printed line is one JSON object: ``acs_over_random`` and
``acs_pool_over_random`` (the largest over the tasks run), and per task the
phases of every run and the ablation.

The runs train on the device mmengine picks (CUDA when one is visible);
``--device`` checks it is the one wanted, and the JSON records its name.

Usage: python tools/benchmarks/overhead.py [--tasks resnet20 retinanet]
       [--epochs 20] [--interval 10] [--fraction 0.1] [--score-pool 0.3]
       [--num-samples 45000] [--quick] [--work-dir DIR]
       [--device {auto,cpu,cuda}]
"""
import argparse
import contextlib
import copy
import json
import os.path as osp
import sys
import time

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS

import mmacs  # noqa: F401
from mmacs.coreset.scoring import ScoringPass
from mmacs.coreset.teacher_cache import TeacherCache
from mmacs.datasets import make_synthetic_shapes
from mmacs.engine import CoresetSelectionHook
from mmacs.quantization import frozen_quantized_weights
from mmacs.utils import (device_name, repo_path, select_device,
                         set_coco_data_root, shared_root)

if __package__ in (None, ''):  # a script: import the package beside it
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmarks import common, protocol, report  # noqa: E402

CONFIGS = dict(
    resnet20=repo_path('configs', 'classification',
                       'lsq-w2a2_acs-f0.1_resnet20_cifar10.py'),
    retinanet=repo_path(
        'configs', 'demo',
        'lsq-w4a4_acs-f0.3_retinanet_r18-tiny_fpn_shapes-128.py'))
#: What the ResNet-20 task says it needs when the shared data is missing.
CIFAR_TASK = 'the CIFAR-10 benchmark'


class _Clock(Hook):
    """Time stamps of the train loop and of each epoch; registered twice,
    first (``start``) and last (``end``) among the hooks."""

    def __init__(self, stamps: dict, edge: str) -> None:
        self.stamps, self.edge = stamps, edge

    def _stamp(self, key):
        self.stamps.setdefault(key, []).append(time.perf_counter())

    def before_train(self, runner):
        if self.edge == 'start':
            self._stamp('train_start')

    def after_train(self, runner):
        if self.edge == 'end':
            self._stamp('train_end')

    def before_train_epoch(self, runner):
        if self.edge == 'start':
            self._stamp('epoch_start')

    def after_train_epoch(self, runner):
        if self.edge == 'end':
            self._stamp('epoch_end')


def cifar_cfg(shared: str,
              num_samples: int = 45000,
              val_samples: int = 5000) -> Config:
    """The W2A2 ResNet-20 ACS config on the shared CIFAR-10 images and
    checkpoint, on ``num_samples`` of the 45k training split and
    ``val_samples`` of the 5k hold-out."""
    cifar, weights = common.shared_cifar(shared, CIFAR_TASK)
    cfg = Config.fromfile(CONFIGS['resnet20'])
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = cifar
    cfg.model.float_checkpoint = weights
    # The stored tables time QAT without the W2A2 configs' layer alignment
    # (it adds a teacher forward to every step, whatever the policy).
    cfg.model.layer_align = None
    for key, total, num in (('train_dataloader', 45000, num_samples),
                            ('val_dataloader', 5000, val_samples)):
        indices = common.seeded_subset(total, num)
        if indices is not None:
            cfg[key].dataset.indices = indices
    return cfg


def quiet_training(cfg: Config, epochs: int) -> None:
    """``epochs`` epochs, no validation or checkpoint during training."""
    common.quiet_epochs(cfg, epochs)
    cfg.default_hooks.logger.interval = 50


def task_cfg(task: str, args, work_dir: str) -> Config:
    """The task's ACS config, without validation or checkpoints."""
    if task == 'resnet20':
        cfg = cifar_cfg(args.shared, args.num_samples)
    else:
        cfg = Config.fromfile(CONFIGS[task])
        root = osp.join(work_dir, 'shapes', '')
        make_synthetic_shapes(root, num_train=args.num_samples_det, seed=0)
        set_coco_data_root(cfg, root)
        # Timing only: the student starts from its own initial weights.
        cfg.model.float_checkpoint = None
    quiet_training(cfg, args.epochs)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    # The paper's method (top-k, no teacher filter), whatever the config's
    # default, so the figures keep their meaning.
    cfg.coreset.update(fraction=args.fraction, interval=args.interval,
                       seed=0, selection='topk', teacher_filter=None)
    cfg.randomness = dict(seed=0)
    return cfg


def run(cfg: Config, name: str, work_dir: str, **coreset) -> tuple:
    """Train one config; returns (phases, runner)."""
    cfg = copy.deepcopy(cfg)
    cfg.coreset.update(coreset)
    cfg.work_dir = osp.join(work_dir, name)
    if cfg.get('visualizer', None):
        # One visualizer per run (a shared name logs to the first run's dir).
        cfg.visualizer.name = f'visualizer_{osp.basename(work_dir)}_{name}'
    cfg.experiment_name = name
    runner = RUNNERS.build(cfg)
    stamps = {}
    runner.register_hook(_Clock(stamps, 'start'), 'HIGHEST')
    runner.register_hook(_Clock(stamps, 'end'), 'LOWEST')
    print(f'[{name}] training {cfg.train_cfg.max_epochs} epochs ...',
          flush=True)
    runner.train()
    epochs = sum(e - s for s, e in zip(stamps['epoch_start'],
                                       stamps['epoch_end']))
    score = select = 0.0
    log_file = osp.join(cfg.work_dir, 'coreset_log.jsonl')
    rounds = []
    if osp.isfile(log_file):
        with open(log_file) as f:
            rounds = [json.loads(line) for line in f]
        score = sum(r['score_seconds'] for r in rounds)
        select = sum(r['select_seconds'] for r in rounds)
    phases = dict(
        epoch_seconds=[round(e - s, 2) for s, e in zip(
            stamps['epoch_start'], stamps['epoch_end'])],
        loop_seconds=epochs,
        train_seconds=epochs - score - select,
        score_seconds=score,
        select_seconds=select,
        setup_seconds=stamps['train_end'][0] - stamps['train_start'][0] -
        epochs,
        score_seconds_per_round=[round(r['score_seconds'], 2)
                                 for r in rounds],
        teacher_seconds_per_round=[round(r.get('teacher_seconds', 0), 2)
                                   for r in rounds])
    print(f'[{name}] ' + ', '.join(
        f'{k} {v:.1f}' for k, v in phases.items() if isinstance(v, float)),
        flush=True)
    return phases, runner


def release(runner) -> None:
    """Stop the loader workers of a finished run (not beside the next)."""
    common.release_workers(runner.train_loop.dataloader)


def scoring_ablation(runner, batch_factor: int, num: int) -> dict:
    """Milliseconds per sample of a scoring pass (over ``num`` samples),
    the scoring-pass optimizations switched on one by one (same model,
    same data)."""
    hook = [h for h in runner.hooks
            if isinstance(h, CoresetSelectionHook)][0]
    model = hook.scoring.model
    dataset = runner.train_dataloader.dataset
    base_batch = runner.cfg.train_dataloader.batch_size

    train_workers = runner.cfg.train_dataloader.get('num_workers', 0)

    subset = list(range(min(num, len(dataset))))

    def loader(batch_size, workers):
        scoring = ScoringPass.from_runner(
            runner, model, hook.scoring.scorer,
            pipeline=hook.scoring_cfg['pipeline'], batch_size=batch_size,
            num_workers=workers, view=hook.scoring_cfg['view'],
            teacher_cache_mb=0)
        scoring.loader.sampler.set_indices(subset)
        return scoring

    def one_pass(scoring, inference, frozen, teacher, cache=None):
        model.eval()
        scoring.cache = cache
        grad_mode = torch.inference_mode() if inference else torch.no_grad()
        weights = frozen_quantized_weights(model.student) if frozen \
            else contextlib.nullcontext()
        start = time.perf_counter()
        with grad_mode, weights:
            for batch in scoring.loader:
                scoring.score_batch(batch, teacher)
        if next(model.parameters()).is_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    plain = loader(base_batch, train_workers)
    local = loader(base_batch, 0)
    big = loader(base_batch * batch_factor, 0)
    cache = TeacherCache()
    steps = [
        (f'student + teacher, no_grad, {train_workers} loader workers',
         lambda: one_pass(plain, False, False, True)),
        ('+ inference_mode', lambda: one_pass(plain, True, False, True)),
        ('+ weights quantized once per pass',
         lambda: one_pass(plain, True, True, True)),
        ('+ loading in the main process (score_num_workers=0)',
         lambda: one_pass(local, True, True, True)),
        (f'  (score batch x{batch_factor} instead)',
         lambda: one_pass(big, True, True, True)),
        ('+ teacher from the cache (passes after the first)',
         lambda: (one_pass(local, True, True, True, cache),
                  one_pass(local, True, True, True, cache))[1]),
        ('teacher skipped (beta = 1, the first cosine round)',
         lambda: one_pass(local, True, True, False)),
    ]
    result = {}
    for name, fn in steps:
        result[name] = fn() / len(subset) * 1e3
        print(f'  {name:<56} {result[name]:8.3f} ms', flush=True)
    return result


def bench_task(task: str, args) -> dict:
    work_dir = osp.join(args.work_dir, task)
    cfg = task_cfg(task, args, work_dir)
    n = args.num_samples if task == 'resnet20' else args.num_samples_det
    print(f'\n=== {task}: N = {n}, f = {args.fraction}, R = '
          f'{args.interval}, {args.epochs} epochs ===', flush=True)
    runs = {}

    def train(key, config=cfg, **coreset):
        runs[key], runner = run(config, key, work_dir, **coreset)
        return runner

    # The baseline runs first and last: machine drift over the benchmark
    # shows as the gap between the two, and their mean is the baseline.
    release(train('random_dynamic_first', policy='random_dynamic'))
    acs_runner = train('acs', policy='acs')
    print('scoring pass, per sample:', flush=True)
    ablation = scoring_ablation(acs_runner, args.batch_factor,
                                args.ablation_samples)
    release(acs_runner)
    del acs_runner
    release(train('acs_pool', policy='acs', score_pool=args.score_pool))
    release(train('random_dynamic_last', policy='random_dynamic'))
    full_cfg = copy.deepcopy(cfg)
    full_cfg.train_cfg.max_epochs = 1
    release(train('full_1_epoch', full_cfg, policy='full', fraction=1.0))
    randoms = [runs[k]['loop_seconds']
               for k in ('random_dynamic_first', 'random_dynamic_last')]
    baseline = sum(randoms) / 2
    f_full = args.fraction * args.epochs * runs['full_1_epoch'][
        'loop_seconds']
    acs, pool = runs['acs'], runs['acs_pool']
    result = dict(
        num_samples=n,
        runs=runs,
        scoring_pass_ablation_ms_per_sample=ablation,
        random_seconds=baseline,
        random_drift=abs(randoms[1] - randoms[0]) / baseline,
        acs_over_random=acs['loop_seconds'] / baseline,
        acs_pool_over_random=pool['loop_seconds'] / baseline,
        acs_scoring_over_random=(acs['score_seconds'] +
                                 acs['select_seconds']) / baseline,
        acs_pool_scoring_over_random=(pool['score_seconds'] +
                                      pool['select_seconds']) / baseline,
        random_over_f_full=baseline / f_full,
        acs_over_f_full=acs['loop_seconds'] / f_full,
        acs_pool_over_f_full=pool['loop_seconds'] / f_full)
    print(f"{task}: ACS / random = {result['acs_over_random']:.3f}, "
          f"ACS(pool {args.score_pool}) / random = "
          f"{result['acs_pool_over_random']:.3f}, ACS / (f x full) = "
          f"{result['acs_over_f_full']:.3f}", flush=True)
    return result


def coreset_parser(doc: str, epochs: int,
                   interval: int) -> argparse.ArgumentParser:
    """The arguments both benchmarks share."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=epochs)
    parser.add_argument('--interval', type=int, default=interval,
                        help='R: epochs between selections')
    parser.add_argument('--fraction', type=float, default=0.1)
    parser.add_argument('--score-pool', type=float, default=0.3,
                        help='pool fraction of the fast mode (acs_pool)')
    parser.add_argument('--num-samples', type=int, default=45000,
                        help='CIFAR-10 training images (of the 45k split)')
    parser.add_argument('--work-dir', help='defaults to a temporary dir')
    parser.add_argument('--out', help='also write the result (JSON) there, '
                        'e.g. results/overhead_<machine>.json: '
                        'tools/benchmarks/report.py makes its page')
    parser.add_argument('--shared', help='the shared data folder (default '
                        '$MMACS_SHARED or ../shared)')
    return parser


def prepare(args, need_cifar: bool, prefix: str):
    """Check the shared arguments; returns the temporary work dir (or
    None when ``--work-dir`` is given)."""
    args.shared = shared_root(args.shared)
    if need_cifar:
        common.shared_cifar(args.shared, CIFAR_TASK)
    if not 0 < args.fraction <= args.score_pool <= 1:
        raise ValueError('need 0 < --fraction <= --score-pool <= 1, got '
                         f'{args.fraction} and {args.score_pool}')
    return common.benchmark_work_dir(args, prefix)


def finish(result: dict, args, tmp, start: float) -> dict:
    """Add the shared settings to ``result`` and print it (see
    :func:`common.finish_benchmark`)."""
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    result.update(
        fraction=args.fraction,
        interval=args.interval,
        epochs=args.epochs,
        score_pool=args.score_pool,
        num_samples=args.num_samples,
        device=device,
        device_name=device_name(device),
        torch=torch.__version__,
        threads=torch.get_num_threads())
    if args.out:
        protocol.save_results(args.out, result)
    return common.finish_benchmark(result, tmp, start)


#: How the pages name the runs of a task, in order.
RUN_NAMES = dict(acs='acs (exact)',
                 acs_pool='acs, `score_pool` (fast mode)')


def pages(files: list) -> dict:
    """The page of every overhead results file (``--out``): ``{name:
    (title, markdown)}``, per task the seconds of the epoch loop of each
    run split into training and scoring, each over the random baseline,
    and the scoring pass ablation."""
    out = {}
    for path in files:
        stem = osp.splitext(osp.basename(path))[0]
        with open(path) as f:
            result = json.load(f)
        title = f'What ACS costs: `results/{stem}.json`'
        lines = [
            f'# {title}', '',
            f"f = {result['fraction']}, R = {result['interval']}, "
            f"{result['epochs']} epochs, `score_pool` = "
            f"{result['score_pool']}; {result['device_name']}, torch "
            f"{result['torch']}, {result['threads']} threads. Seconds of "
            'the epoch loop (the QAT calibration before it is common to '
            'all runs); scoring: per selection round.', ''
        ]
        for task, t in sorted(result['tasks'].items()):
            runs, base = t['runs'], t['random_seconds']
            first, last = (runs[f'random_dynamic_{k}']['loop_seconds']
                           for k in ('first', 'last'))
            cells = [[
                'random_dynamic (first / last; mean)',
                f'{first:.1f} / {last:.1f}; {base:.1f}', '', '0', '1'
            ]]
            for key, name in RUN_NAMES.items():
                r = runs[key]
                rounds = ' + '.join(f'{x:.1f}'
                                    for x in r['score_seconds_per_round'])
                cells.append([
                    name, f"{r['loop_seconds']:.1f}",
                    f"{r['train_seconds']:.1f}",
                    f"{r['score_seconds']:.1f} ({rounds})",
                    f"**{r['loop_seconds'] / base:.2f}**"
                ])
            full = runs['full_1_epoch']['loop_seconds']
            f_full = base / t['random_over_f_full']
            cells.append([
                f'f x full data (one full epoch: {full:.1f} s)',
                f'{f_full:.1f}', '', '', f"{t['random_over_f_full']:.2f}"
            ])
            ablation = t['scoring_pass_ablation_ms_per_sample']
            lines += [
                f"## {task} ({t['num_samples']} training samples)", '',
                report.markdown_table(
                    ['run', 'loop s', 'training s', 'scoring s',
                     '/ random'], cells), '',
                f"ACS / (f x full): {t['acs_over_f_full']:.2f}, fast mode "
                f"{t['acs_pool_over_f_full']:.2f}; the random baseline "
                f"drifted {t['random_drift']:.1%} between its runs.", '',
                report.markdown_table(
                    ['scoring pass', 'ms per sample'],
                    [[k, f'{v:.2f}'] for k, v in ablation.items()]), ''
            ]
        out[f'{stem}.md'] = (title, '\n'.join(lines))
    return out


def main(argv=None) -> dict:
    parser = coreset_parser(__doc__, epochs=20, interval=10)
    parser.add_argument('--tasks', nargs='+', default=['resnet20',
                                                       'retinanet'],
                        choices=['resnet20', 'retinanet'])
    parser.add_argument('--num-samples-det', type=int, default=400,
                        help='synthetic-shapes training images')
    parser.add_argument('--batch-factor', type=int, default=4,
                        help='score batch / train batch in the ablation')
    parser.add_argument('--ablation-samples', type=int, default=10000,
                        help='samples per pass in the scoring ablation')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 4 epochs, R = 2, few samples')
    parser.add_argument('--device', default='auto',
                        help="'auto' (CUDA when present), 'cpu' or 'cuda'")
    args = parser.parse_args(argv)
    select_device(args.device)
    if args.quick:
        args.epochs, args.interval = 4, 2
        args.num_samples, args.num_samples_det = 2000, 80
    tmp = prepare(args, 'resnet20' in args.tasks, 'mmacs_overhead_')
    start = time.perf_counter()
    tasks = {task: bench_task(task, args) for task in args.tasks}
    result = dict(
        acs_over_random=max(t['acs_over_random'] for t in tasks.values()),
        acs_pool_over_random=max(t['acs_pool_over_random']
                                 for t in tasks.values()),
        target_acs_over_random=1.10,
        tasks=tasks)
    return finish(result, args, tmp, start)


if __name__ == '__main__':
    main()
