# Copyright (c) mmacs contributors. All rights reserved.
"""What Adaptive Coreset Selection buys over the baselines: a converged,
multi-seed protocol on real CIFAR-10 images.

LSQ QAT of ResNet-20 from the shared full-precision checkpoint (also the
teacher) on the seeded 45k split of the shared CIFAR-10 training images,
every policy with the same fraction ``f``, interval ``R``, epochs, cosine
LR schedule and seeds:

- ``acs``: the paper's method (every sample scored every R epochs);
- ``random_static``: one random coreset for the whole run (the paper's
  random baseline);
- ``random_dynamic``: a fresh random coreset every R epochs;
- ``el2n``: the error score of the first selection, kept fixed;
- ``full``: all the data for ``round(f x epochs)`` epochs (the same number
  of training steps);
- ``acs_pool``: ACS's approximate fast mode (``--score-pool``).

Settings (``--settings``): ``w2a32`` (2-bit weights, FP activations: the
paper's CIFAR setting), ``w4a4``, ``w2a2``. Reported: top-1 on the seeded
5k hold-out of the training images (never trained on), mean, sample std,
min and max over seeds, and per run the wall time split into training and
scoring.

Every finished run is written at once to ``--out`` (JSON); a later call
with the same file skips the runs it already holds, so an interrupted
benchmark resumes where it stopped, and settings, policies and seeds can be
run one at a time into one file. Runs are matched by their recipe (all
options that change training), so ablations (``--distill``,
``--score-view train``, ``--schedule official``, ...) sit in the same file
as separate rows. The last printed line is one JSON object.

A run itself survives an interruption too: with a kept ``--work-dir``,
every run trains in a directory named by its setting, policy, seed and
recipe and saves a checkpoint every ``--checkpoint-every`` epochs; a later
call resumes an unfinished run from its last checkpoint (the run's wall
time then counts the work up to that checkpoint, not the work lost after
it).

Usage: python tools/benchmarks/quality.py [--settings w2a32]
       [--policies acs random_static ...] [--seeds 0 1 2] [--epochs 30]
       [--interval 10] [--fraction 0.1] [--out FILE] [--quick]
"""
import argparse
import hashlib
import json
import os.path as osp
import statistics
import tempfile
import time

SETTINGS = dict(w2a32=(2, None), w4a4=(4, 4), w2a2=(2, 2))
POLICIES = ('acs', 'random_static', 'random_dynamic', 'el2n', 'full',
            'acs_pool')
CONFIG = osp.join('configs', 'classification',
                  'lsq-w2a2_acs-f0.1_resnet20_cifar10.py')
#: Options that change what is trained: a run is reused only when all of
#: them match.
RECIPE_KEYS = ('fraction', 'interval', 'epochs', 'lr', 'weight_decay',
               'step_lr_mult', 'distill', 'score_view', 'schedule',
               'score_pool', 'selection', 'scorer', 'layer_align',
               'num_samples', 'val_samples', 'batch_size', 'label_noise',
               'teacher_filter', 'step_init', 'class_balance')
#: Recipe keys added after runs got their resumable work directories: each
#: enters a directory's name only when it differs from its default, so an
#: interrupted run started before the key existed finds its checkpoint.
LATE_KEYS = ('class_balance', )
#: Recipe keys only the score-based policies read (the random policies and
#: ``full`` train the same whatever they are; random draws are global
#: always): ``--pair`` ignores them when it looks for a variant's
#: same-recipe baseline.
SCORE_KEYS = ('score_view', 'schedule', 'score_pool', 'selection', 'scorer',
              'teacher_filter', 'class_balance')
#: The order of the settings in the tables of ``--verdict``.
SETTING_ORDER = ('w2a32', 'w4a4', 'w2a2')


def parse_args(argv=None) -> argparse.Namespace:
    from mmacs.utils import add_benchmark_args, add_results_args, json_option
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--settings', nargs='+', default=['w2a32'],
                        choices=sorted(SETTINGS))
    parser.add_argument('--policies', nargs='+',
                        default=['acs', 'random_static', 'random_dynamic',
                                 'el2n', 'full'], choices=POLICIES)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--interval', type=int, default=10,
                        help='R: epochs between selections')
    parser.add_argument('--fraction', type=float, default=0.1)
    parser.add_argument('--lr', type=float, default=0.01,
                        help='SGD learning rate (cosine to 0)')
    parser.add_argument('--weight-decay', type=float, default=5e-4,
                        help='weight decay of the weights (LSQ steps: 0)')
    parser.add_argument('--step-lr-mult', type=float, default=1.0,
                        help='LR multiplier of the LSQ steps')
    parser.add_argument('--step-init', default='lsq', choices=['lsq', 'mse'],
                        help="how calibration sets the LSQ steps ('lsq': "
                        "2 mean|x| / sqrt(Qp); 'mse': least squared "
                        'quantization error)')
    parser.add_argument('--distill', type=float, default=0.0,
                        help='weight of the soft-CE distillation to the '
                        'teacher (0: off)')
    parser.add_argument('--score-view', default='clean',
                        choices=['clean', 'train'])
    parser.add_argument('--schedule', default='cosine',
                        choices=['cosine', 'official', 'linear', 'evs_only',
                                 'ds_only'])
    parser.add_argument('--score-pool', type=float, default=0.3,
                        help='pool fraction of acs_pool')
    parser.add_argument('--selection', default=None,
                        help="the coreset's selection rule as JSON, e.g. "
                        '\'{"type": "mixed", "share": 0.5}\' (default: '
                        "top-k, the paper's, whatever the config says)")
    parser.add_argument('--scorer', default='softmax',
                        choices=['softmax', 'relative_entropy'],
                        help="the classification scorer ('relative_entropy':"
                        ' DS is KL(teacher || student))')
    parser.add_argument('--layer-align', type=float, default=0.0,
                        help='weight of the stage-output alignment to the '
                        'teacher (layer1-3; 0: off)')
    parser.add_argument('--num-samples', type=int, default=45000,
                        help='training images (of the 45k split)')
    parser.add_argument('--val-samples', type=int, default=5000,
                        help='hold-out images (of the 5k split)')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--label-noise', type=float, default=0.0,
                        help='symmetric label noise on the training images '
                        '(a rate in [0, 1); the hold-out stays clean)')
    parser.add_argument('--teacher-filter', type=float, default=0.0,
                        metavar='P',
                        help='never select a sample whose label the FP '
                        'teacher gives a probability below P (acs / el2n; '
                        '0: off, the paper)')
    parser.add_argument('--global-selection', dest='class_balance',
                        action='store_false',
                        help='select over the whole training set, not a '
                        'quota per class (the ablation of per-class vs '
                        'global; random policies are global always)')
    add_results_args(
        parser, 'quality.json',
        'train nothing: print every setting, policy and recipe stored in '
        '--out (and --merge), named by how they differ from the recipe of '
        'the other options')
    add_benchmark_args(parser)
    parser.add_argument('--pair', metavar='POLICY', choices=POLICIES,
                        help='with --report: compare every variant, seed by '
                        'seed, with the runs of POLICY (e.g. random_dynamic) '
                        'on the same setting and recipe (the options that '
                        'only score-based policies read aside)')
    parser.add_argument('--verdict', nargs='+', metavar='FILE',
                        help='train nothing: one markdown table over the '
                        'results FILEs, a row per setting and recipe where '
                        'acs with the given score options (--selection, '
                        '--teacher-filter, --scorer, ...) and --pair '
                        '(random_dynamic) both ran: their mean +- std, the '
                        'seed-by-seed difference, beats, and the wall-time '
                        'ratio')
    parser.add_argument('--checkpoint-every', type=int, default=5,
                        metavar='N',
                        help='save a checkpoint of each run every N epochs, '
                        'from which an interrupted run resumes (with a kept '
                        '--work-dir; 0: none)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 600 images, 2 epochs, R = 1')
    args = parser.parse_args(argv)
    if args.quick:
        args.num_samples, args.val_samples = 600, 300
        args.epochs, args.interval = 2, 1
    if not 0 <= args.label_noise < 1:
        parser.error(f'--label-noise must be in [0, 1), got '
                     f'{args.label_noise}')
    if args.checkpoint_every < 0:
        parser.error(f'--checkpoint-every must be >= 0, got '
                     f'{args.checkpoint_every}')
    if not 0 < args.fraction <= 1:
        parser.error(f'--fraction must be in (0, 1], got {args.fraction}')
    if 'acs_pool' in args.policies and not (args.fraction <= args.score_pool
                                            <= 1):
        parser.error('need --fraction <= --score-pool <= 1, got '
                     f'{args.fraction} and {args.score_pool}')
    if not 0 <= args.teacher_filter < 1:
        parser.error(f'--teacher-filter must be in [0, 1), got '
                     f'{args.teacher_filter}')
    args.selection = json_option(parser, '--selection', args.selection)
    if args.pair is not None and args.baseline is not None:
        parser.error('--pair and --baseline exclude each other: give one')
    if args.verdict and (args.report or args.merge):
        parser.error('--verdict reads its own FILEs: no --report, --merge')
    if args.verdict and args.pair == 'acs':
        parser.error('--verdict compares acs with --pair: give another '
                     'policy')
    return args


def recipe_of(args) -> dict:
    return {k: getattr(args, k) for k in RECIPE_KEYS}


def default_recipe() -> dict:
    """The recipe of the protocol's defaults (no options given)."""
    return recipe_of(parse_args([]))


def build_cfg(setting: str, policy: str, seed: int, args, work_dir: str):
    from mmengine.config import Config

    from mmacs.utils import (quiet_epochs, repo_path, seeded_subset,
                             shared_cifar)
    cfg = Config.fromfile(repo_path(CONFIG))
    cifar, weights = shared_cifar(args.shared, 'the protocol')
    for key, total, num in (('train_dataloader', 45000, args.num_samples),
                            ('val_dataloader', 5000, args.val_samples)):
        dataset = cfg[key].dataset
        dataset.data_root = cifar
        dataset.cache_dir = osp.join(args.work_dir, 'data_cache')
        indices = seeded_subset(total, num)
        if indices is not None:
            dataset.indices = indices
    if args.label_noise > 0:
        cfg.train_dataloader.dataset.label_noise = dict(
            mode='symmetric', rate=args.label_noise, seed=0)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_dataloader.batch_size = args.batch_size
    w_bits, a_bits = SETTINGS[setting]
    cfg.model.float_checkpoint = weights
    # Explicit, whatever the config's default (as the selection rule).
    cfg.model.weight_quant = dict(bits=w_bits, init=args.step_init)
    cfg.model.act_quant = None if a_bits is None else dict(
        bits=a_bits, signed='auto', init=args.step_init)
    cfg.model.distill = dict(loss_weight=args.distill, temperature=1.0) \
        if args.distill > 0 else None
    cfg.model.layer_align = dict(
        layers=[f'backbone.layer{i}' for i in (1, 2, 3)],
        loss_weight=args.layer_align) if args.layer_align > 0 else None
    cfg.optim_wrapper.optimizer.lr = args.lr
    cfg.optim_wrapper.optimizer.weight_decay = args.weight_decay
    cfg.qat.step_lr_mult = args.step_lr_mult
    coreset = dict(policy=policy, fraction=args.fraction,
                   interval=args.interval, seed=seed,
                   schedule=args.schedule, score_view=args.score_view,
                   scorer=args.scorer, class_balance=args.class_balance)
    # Explicit, whatever the config's default: no --selection is the
    # paper's top-k, so stored runs keep their meaning.
    coreset['selection'] = 'topk' if args.selection is None \
        else args.selection
    epochs = args.epochs
    if policy == 'acs_pool':
        coreset.update(policy='acs', score_pool=args.score_pool)
    elif policy == 'full':
        # The same number of training steps on all the data.
        epochs = max(1, int(round(args.fraction * args.epochs)))
        coreset.update(fraction=1.0, interval=epochs)
        coreset.pop('selection', None)
    # Explicit too: no --teacher-filter is no filter (the paper).
    coreset['teacher_filter'] = dict(min_prob=args.teacher_filter) \
        if args.teacher_filter > 0 else None
    if policy not in ('acs', 'acs_pool', 'el2n'):
        coreset.pop('selection', None)
        coreset['teacher_filter'] = None
    cfg.coreset.update(coreset)
    quiet_epochs(cfg, epochs)
    if args.checkpoint_every:
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=args.checkpoint_every,
            max_keep_ckpts=1, save_last=True)
        # An unfinished run of this recipe resumes from its last checkpoint.
        cfg.resume = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    return cfg, epochs


def run_dir_name(setting: str, policy: str, seed: int, recipe: dict) -> str:
    """The work directory of one run: the same for the same setting,
    policy, seed and recipe, so an interrupted run finds its checkpoint."""
    defaults = default_recipe()
    named = {k: v for k, v in recipe.items()
             if k not in LATE_KEYS or v != defaults[k]}
    digest = hashlib.sha1(json.dumps(named, sort_keys=True).encode())
    return f'{setting}_{policy}_seed{seed}_{digest.hexdigest()[:10]}'


def epoch_clock(work_dir: str, start: float):
    """A hook that records in ``clock.json`` of the run's work dir the wall
    seconds (since ``start``) the run has spent when each epoch ends, so a
    resumed run adds the seconds spent up to the checkpoint it resumes
    from; ``seconds()`` is the run's wall time so far."""
    from mmengine.hooks import Hook

    class EpochClock(Hook):
        priority = 'LOWEST'  # after the checkpoint is saved

        def __init__(self) -> None:
            self.path = osp.join(work_dir, 'clock.json')
            self.before = 0.0  # seconds spent before this process resumed
            self.resumed_from = 0
            self.elapsed = {}  # epochs done -> seconds spent by then

        def seconds(self) -> float:
            return self.before + time.perf_counter() - start

        def before_train(self, runner) -> None:
            # The runner has resumed by now: runner.epoch is the epochs done;
            # a fresh run (epoch 0) counts no earlier attempt.
            self.resumed_from = runner.epoch
            if runner.epoch and osp.isfile(self.path):
                with open(self.path) as f:
                    self.elapsed = json.load(f)
            self.before = float(self.elapsed.get(str(runner.epoch), 0.0))

        def after_train_epoch(self, runner) -> None:
            self.elapsed[str(runner.epoch + 1)] = self.seconds()
            with open(self.path, 'w') as f:
                json.dump(self.elapsed, f)

    return EpochClock()


def run_one(setting: str, policy: str, seed: int, args) -> dict:
    """Train one (setting, policy, seed), or finish it from its last
    checkpoint; its top-1 and wall times."""
    from mmengine.registry import RUNNERS

    from mmacs.engine import release_process_group
    from mmacs.utils import random_draws
    recipe = recipe_of(args)
    work_dir = osp.join(args.work_dir,
                        run_dir_name(setting, policy, seed, recipe))
    cfg, epochs = build_cfg(setting, policy, seed, args, work_dir)
    if cfg.get('resume', False):
        print(f'[{setting} {policy} seed {seed}] resuming from the last '
              f'checkpoint in {work_dir}', flush=True)
    start = time.perf_counter()
    runner = RUNNERS.build(cfg)
    clock = epoch_clock(work_dir, start)
    runner.register_hook(clock)
    runner.train()
    loop_seconds = clock.seconds()
    metrics = runner.val_loop.run()
    release_process_group()
    rounds = []
    log = osp.join(work_dir, 'coreset_log.jsonl')
    if osp.isfile(log):
        with open(log) as f:
            rounds = [json.loads(line) for line in f]
    score_seconds = sum(r.get('score_seconds', 0.0) for r in rounds)
    select_seconds = sum(r.get('select_seconds', 0.0) for r in rounds)
    run = dict(
        setting=setting,
        policy=policy,
        seed=seed,
        recipe=recipe,
        epochs_run=epochs,
        resumed_from_epoch=clock.resumed_from,
        top1=float(metrics['accuracy/top1']),
        top5=float(metrics.get('accuracy/top5', float('nan'))),
        wall_seconds=loop_seconds,
        score_seconds=score_seconds,
        train_seconds=loop_seconds - score_seconds - select_seconds,
        jaccard_prev=[r['jaccard_prev'] for r in rounds
                      if r.get('jaccard_prev') is not None],
        noisy_fraction=[r['noisy_fraction'] for r in rounds
                        if r.get('noisy_fraction') is not None]
        if args.label_noise > 0 else [],
        noisy_fraction_all=rounds[0].get('noisy_fraction_all')
        if rounds and args.label_noise > 0 else None,
        teacher_filter=[r['teacher_filter'] for r in rounds
                        if 'teacher_filter' in r],
        random_draws=random_draws(policy),
        device=args.device_name,
        finished=time.strftime('%Y-%m-%d %H:%M:%S'))
    print(f"[{setting} {policy} seed {seed}] top-1 {run['top1']:.2f}%, "
          f"{loop_seconds:.0f} s ({score_seconds:.0f} s scoring)",
          flush=True)
    return run


def load_results(path: str) -> dict:
    from mmacs.utils import load_results as load
    return load(path)


def save_results(path: str, results: dict) -> None:
    from mmacs.utils import save_results as save
    save(path, results)


def find_run(results: dict, setting: str, policy: str, seed: int,
             recipe: dict):
    """The stored run of this setting, policy, seed and recipe, or None.
    Recipe keys added after a run was stored count as their defaults."""
    defaults = default_recipe()
    for run in results['runs']:
        stored = dict(defaults, **run['recipe'])
        if (run['setting'], run['policy'], run['seed'],
                stored) == (setting, policy, seed, recipe):
            return run
    return None


def merge_results(results: dict, others: list) -> int:
    """Add the runs of the results files ``others`` that ``results`` does
    not hold yet (same setting, policy, seed and recipe), or that replace
    the one it holds (``merge_run``: a rerun of a random policy with
    independent draws); the number added or replaced."""
    from mmacs.utils import merge_run
    added, defaults = 0, default_recipe()
    for path in others:
        for run in load_results(path)['runs']:
            stored = find_run(results, run['setting'], run['policy'],
                              run['seed'], dict(defaults, **run['recipe']))
            added += merge_run(results['runs'], stored, run)
    return added


def variant(run: dict, base: dict) -> str:
    """The policy and the recipe keys where ``run`` differs from the recipe
    ``base``, e.g. ``acs selection=type:stratified,bins:50,trim:0.0``."""
    diff = []
    for key, value in sorted(run['recipe'].items()):
        if value != base.get(key):
            if isinstance(value, dict):
                value = ','.join(f'{k}:{v}' for k, v in value.items())
            diff.append(f'{key}={value}')
    return ' '.join([run['policy']] + diff)


def pairing_key(run: dict, defaults: dict) -> tuple:
    """What a run shares with its same-recipe baseline: its setting and
    its recipe (keys it was stored without read as ``defaults``) but for
    ``SCORE_KEYS``."""
    recipe = {
        k: v
        for k, v in dict(defaults, **run['recipe']).items()
        if k not in SCORE_KEYS
    }
    return run['setting'], json.dumps(recipe, sort_keys=True)


def same_recipe_baselines(runs: list, base: dict, policy: str) -> dict:
    """``{setting: {variant: baseline variant}}``: for every variant of
    ``runs`` (named by ``variant(run, base)``), the variant of ``policy``
    trained on the same setting with the same recipe but for
    ``SCORE_KEYS``, or None when there is none (``policy``'s own variants
    are not paired)."""

    defaults = default_recipe()  # runs stored before a key existed
    baselines = {}
    for run in runs:
        if run['policy'] == policy:
            baselines.setdefault(pairing_key(run, defaults),
                                 variant(run, base))
    pairs = {}
    for run in runs:
        pairs.setdefault(run['setting'], {})[variant(run, base)] = (
            None if run['policy'] == policy else baselines.get(
                pairing_key(run, defaults)))
    return pairs


def summarize(runs: list, key=lambda run: run['policy']) -> dict:
    """``{setting: {key(run): stats}}`` over the seeds of ``runs``."""
    from mmacs.utils import seed_stats
    groups = {}
    for run in runs:
        groups.setdefault(run['setting'], {}).setdefault(key(run),
                                                         []).append(run)
    out = {}
    for setting, by_policy in groups.items():
        out[setting] = {}
        for policy, rs in by_policy.items():
            noisy = [f for r in rs for f in r.get('noisy_fraction', [])]
            out[setting][policy] = dict(
                seed_stats(r['top1'] for r in rs),
                seeds=sorted(r['seed'] for r in rs),
                by_seed={r['seed']: r['top1'] for r in rs},
                wall_seconds_mean=statistics.fmean(r['wall_seconds']
                                                   for r in rs),
                score_seconds_mean=statistics.fmean(r['score_seconds']
                                                    for r in rs),
                noisy_fraction_mean=statistics.fmean(noisy)
                if noisy else None)
    return out


def print_table(summary: dict, args, title: bool = True) -> None:
    for setting, by_policy in summary.items():
        if title:
            print(f'\nResNet-20 {setting}, f = {args.fraction}, R = '
                  f'{args.interval}, {args.epochs} epochs, '
                  f'{args.num_samples} training images, top-1 on '
                  f'{args.val_samples} hold-out images')
        else:
            print(f'\nResNet-20 {setting}, top-1 on the hold-out')
        width = max([16] + [len(p) + 2 for p in by_policy])
        print(f"{'policy':<{width}}{'mean':>8}{'std':>7}{'min':>8}"
              f"{'max':>8}{'n':>4}{'wall_s':>9}{'score_s':>9}"
              f"{'noisy':>7}")
        for policy, s in by_policy.items():
            noisy = s['noisy_fraction_mean']
            print(f"{policy:<{width}}{s['mean']:>8.2f}{s['std']:>7.2f}"
                  f"{s['min']:>8.2f}{s['max']:>8.2f}{len(s['seeds']):>4}"
                  f"{s['wall_seconds_mean']:>9.0f}"
                  f"{s['score_seconds_mean']:>9.0f}"
                  f"{'-' if noisy is None else f'{noisy:.3f}':>7}")


def verdict_rows(runs: list, args) -> list:
    """For every setting and recipe (the keys only score-based policies
    read aside) where ``acs`` with the score options of ``args`` and the
    baseline policy (``args.pair``, default ``random_dynamic``) both ran, a
    row: the recipe's differences from the protocol's defaults, both
    policies' seed stats, their seed-by-seed comparison, the ratio of their
    mean wall times and how the baseline's random draws were seeded.
    ``runs`` holds each run once (``merge_results`` makes it so)."""
    from mmacs.utils import paired_stats, seed_stats
    baseline = args.pair or 'random_dynamic'
    defaults, wanted = default_recipe(), recipe_of(args)
    groups = {}
    for run in runs:
        recipe = dict(defaults, **run['recipe'])
        if run['policy'] == 'acs':
            if any(recipe[k] != wanted[k] for k in SCORE_KEYS):
                continue
        elif run['policy'] != baseline:
            continue
        group = groups.setdefault(pairing_key(run, defaults),
                                  dict(acs={}, base={}))
        group['acs' if run['policy'] == 'acs' else 'base'][run['seed']] = run
    rows = []
    for (setting, recipe), group in groups.items():
        acs, base = group['acs'], group['base']
        if not set(acs) & set(base):
            continue
        recipe = json.loads(recipe)
        other = {
            k: v
            for k, v in recipe.items()
            if v != defaults[k] and k not in ('fraction', 'interval')
        }
        draws = {
            base[s].get('random_draws')
            or ('shared' if baseline.startswith('random') else '-')
            for s in base
        }
        rows.append(
            dict(setting=setting,
                 fraction=recipe['fraction'],
                 interval=recipe['interval'],
                 other=' '.join(f'{k}={v}' for k, v in sorted(other.items())),
                 acs=seed_stats(r['top1'] for r in acs.values()),
                 acs_seeds=len(acs),
                 base=seed_stats(r['top1'] for r in base.values()),
                 base_seeds=len(base),
                 vs=paired_stats({s: r['top1'] for s, r in acs.items()},
                                 {s: r['top1'] for s, r in base.items()}),
                 wall_ratio=statistics.fmean(r['wall_seconds']
                                             for r in acs.values()) /
                 statistics.fmean(r['wall_seconds'] for r in base.values()),
                 draws='/'.join(sorted(draws))))
    order = {s: i for i, s in enumerate(SETTING_ORDER)}
    rows.sort(key=lambda r: (order.get(r['setting'], len(order)), r['other'],
                             r['fraction'], r['interval']))
    return rows


def verdict_table(rows: list, baseline: str) -> str:
    """``verdict_rows`` as a markdown table."""
    lines = [
        f'| setting | f | R | other recipe | acs | {baseline} | diff '
        f'(min, max) | above | beats | wall acs / {baseline} | random draws '
        '|',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
    ]
    for r in rows:
        vs = r['vs']
        lines.append(
            f"| {r['setting']} | {r['fraction']:g} | {r['interval']} | "
            f"{r['other'] or '-'} | {r['acs']['mean']:.2f} ± "
            f"{r['acs']['std']:.2f} ({r['acs_seeds']}) | "
            f"{r['base']['mean']:.2f} ± {r['base']['std']:.2f} "
            f"({r['base_seeds']}) | {vs['diff_mean']:+.2f} "
            f"({vs['diff_min']:+.2f}, {vs['diff_max']:+.2f}) | "
            f"{vs['above']}/{len(vs['seeds'])} | "
            f"{'**yes**' if vs['beats'] else 'no'} | "
            f"{r['wall_ratio']:.2f} | {r['draws']} |")
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.verdict:
        held = dict(runs=[])
        merge_results(held, args.verdict)
        rows = verdict_rows(held['runs'], args)
        print(verdict_table(rows, args.pair or 'random_dynamic'))
        print(json.dumps(dict(verdict=rows)))
        return dict(verdict=rows)
    import torch

    import mmacs  # noqa: F401  (registers the components)
    from mmacs.utils import device_name, select_device, shared_root
    args.shared = shared_root(args.shared)
    args.device_name = (f'{device_name(select_device(args.device))}, '
                        f'{torch.get_num_threads()} threads')
    tmp = None
    if args.work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix='mmacs_quality_')
        args.work_dir = tmp.name
    out = args.out or osp.join(args.work_dir, 'quality.json')
    results = load_results(out)
    if args.merge:
        print(f'merged {merge_results(results, args.merge)} runs into '
              f'{out}', flush=True)
        save_results(out, results)
    if args.report:
        base = recipe_of(args)
        summary = summarize(results['runs'],
                            key=lambda run: variant(run, base))
        print_table(summary, args, title=False)
        pairs = same_recipe_baselines(results['runs'], base, args.pair) \
            if args.pair is not None else {}
        if args.baseline is not None or args.pair is not None:
            from mmacs.utils import compare_with_baseline
            for setting, by_variant in summary.items():
                compare_with_baseline(by_variant,
                                      pairs.get(setting, args.baseline),
                                      f'ResNet-20 {setting}, top-1')
        print(json.dumps(dict(summary=summary)))
        return dict(summary=summary)
    recipe = recipe_of(args)
    start = time.perf_counter()
    mine = []
    # Seeds outermost: an interrupted benchmark still has every policy.
    for seed in args.seeds:
        for setting in args.settings:
            for policy in args.policies:
                run = find_run(results, setting, policy, seed, recipe)
                if run is None:
                    run = run_one(setting, policy, seed, args)
                    results['runs'].append(run)
                    save_results(out, results)
                else:
                    print(f'[{setting} {policy} seed {seed}] from {out}: '
                          f"top-1 {run['top1']:.2f}%", flush=True)
                mine.append(run)
    summary = summarize(mine)
    print_table(summary, args)
    result = dict(
        summary=summary,
        runs=mine,
        recipe=recipe,
        settings=args.settings,
        seeds=args.seeds,
        device=args.device_name,
        results_file=None if tmp is not None else osp.abspath(out),
        total_seconds=time.perf_counter() - start)
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(result))
    return result


if __name__ == '__main__':
    main()
