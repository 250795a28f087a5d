# Copyright (c) mmacs contributors. All rights reserved.
"""What Adaptive Coreset Selection buys over the baselines: a converged,
multi-seed protocol on real CIFAR-10 images.

LSQ QAT of ResNet-20 from a full-precision checkpoint (also the teacher),
every policy with the same fraction ``f``, interval ``R``, epochs, cosine
LR schedule and seeds:

- ``acs``: the paper's method (every sample scored every R epochs);
- ``random_static``: one random coreset for the whole run (the paper's
  random baseline);
- ``random_dynamic``: a fresh random coreset every R epochs;
- ``random_timed``: ``random_dynamic`` given back the extra wall time of
  ``acs``: its fraction is ``f`` times the ratio of the mean wall times of
  ``acs`` (with the given score options) and ``random_dynamic`` stored for
  the same setting and recipe (or ``--time-ratio``), so it trains on as
  many more samples per epoch, with the same epochs and schedule;
- ``el2n``: the error score of the first selection, kept fixed;
- ``full``: all the data for ``round(f x epochs)`` epochs (the same number
  of training steps; ``full_steps`` of ``detection``);
- ``acs_pool``: ACS's approximate fast mode (``--score-pool``).

``--score-reuse P`` (P in (0, 1]; 0, the default, is off) makes the
score-based policies keep their scores between rounds: the coreset is
scored from the training step of each round's last epoch and the scoring
pass refreshes a rotating P of the rest (``coreset=dict(score_reuse=True,
score_pool=P)``, :mod:`mmacs.coreset.reuse`); compare its wall time with
``random_dynamic``'s. ``--first-scores teacher`` scores the first
selection on the teacher's outputs instead of the untrained student's
(``coreset.first_scores``), skipping the student's pass over the set.

The protocol (``--teacher``): ``clean`` (the default) starts from, and
distils to, the FP ResNet-20 trained on the seeded 40k training split only
(``configs/classification/resnet20_cifar10-jpeg-40k_scratch.py``, cached
as ``<cache>/teachers/resnet20_cifar10-jpeg-40k.pth``, cache:
``$MMACS_CACHE`` or ``~/.cache/mmacs``) and trains on that 40k split;
``shared`` is the shared FP checkpoint, trained on all 50k images (so it
saw the hold-out), and the 45k split, the protocol of every run stored
before the clean teacher existed. Top-1 is measured on ``--eval-split``:
``val``, the seeded 5k hold-out where recipes are tuned, or ``final`` (the
clean protocol only), a second seeded 5k split left untouched until the
defaults are judged. A clean run evaluating on ``val`` also measures
``final`` and stores it sealed (``final_top1``): only ``--report --final``
shows it, so one training run serves both judgements without the final
split steering any choice. Settings (``--settings``): ``w2a32`` (2-bit
weights, FP activations: the paper's CIFAR setting), ``w4a4``, ``w2a2``.
Reported: top-1, mean, sample std, min and max over seeds, and per run the
wall time split into training and scoring.

Every finished run is written at once to ``--out`` (JSON); a later call
with the same file skips the runs it already holds, so an interrupted
benchmark resumes where it stopped, and settings, policies and seeds can be
run one at a time into one file. Runs are matched by their recipe (all
options that change training, the teacher and the evaluation split
included), so ablations (``--distill``, ``--score-view train``,
``--schedule official``, ...) sit in the same file as separate rows. The
last printed line is one JSON object.

A run itself survives an interruption too: with a kept ``--work-dir``,
every run trains in a directory named by its setting, policy, seed and
recipe and saves a checkpoint every ``--checkpoint-every`` epochs; a later
call resumes an unfinished run from its last checkpoint (the run's wall
time then counts the work up to that checkpoint, not the work lost after
it).

Usage: python tools/benchmarks/quality.py [--settings w2a32]
       [--policies acs random_static ...] [--seeds 0 1 2] [--epochs 30]
       [--interval 10] [--fraction 0.1] [--teacher {clean,shared}]
       [--eval-split {val,final}] [--out FILE] [--quick]
"""
import argparse
import copy
import fnmatch
import json
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Optional

if __package__ in (None, ''):  # a script: import the package beside it
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from benchmarks import common, protocol, report  # noqa: E402

SETTINGS = dict(w2a32=(2, None), w4a4=(4, 4), w2a2=(2, 2))
POLICIES = ('acs', 'random_static', 'random_dynamic', 'random_timed', 'el2n',
            'full', 'acs_pool')
CONFIG = osp.join('configs', 'classification',
                  'lsq-w2a2_acs-f0.1_resnet20_cifar10.py')
#: The config of the clean teacher and where its checkpoint is cached.
CLEAN_CONFIG = osp.join('configs', 'classification',
                        'resnet20_cifar10-jpeg-40k_scratch.py')
CLEAN_TEACHER = osp.join('teachers', 'resnet20_cifar10-jpeg-40k.pth')
#: The training split of each teacher's protocol, its size, and the size
#: of the second hold-out it carves out of the 45k.
TRAIN_SIZE = dict(shared=45000, clean=40000)
FINAL_SIZE = dict(shared=0, clean=5000)
EVAL_SIZE = 5000
#: Options that change what is trained or measured: a run is reused only
#: when all of them match.
RECIPE_KEYS = ('fraction', 'interval', 'epochs', 'lr', 'weight_decay',
               'step_lr_mult', 'distill', 'score_view', 'schedule',
               'score_pool', 'selection', 'scorer', 'layer_align',
               'num_samples', 'val_samples', 'batch_size', 'label_noise',
               'teacher_filter', 'step_init', 'class_balance', 'teacher',
               'eval_split', 'score_reuse', 'reuse_start', 'first_scores')
#: The protocol a run belongs to: its tables never mix them.
PROTOCOL_KEYS = ('teacher', 'eval_split')
#: Runs stored before a recipe key existed had this value of it.
STORE = protocol.RunStore(
    ('setting', 'policy', 'seed', 'teacher_digest'),
    dict(label_noise=0.0, teacher_filter=0.0, step_init='lsq',
         class_balance=True, teacher='shared', eval_split='val',
         score_reuse=0.0, reuse_start='all', first_scores='student'))
#: Recipe keys added after runs got their resumable work directories: each
#: enters a directory's name only when it differs from the value those
#: runs had, so an interrupted run started before the key existed finds
#: its checkpoint.
DIR_LATE_KEYS = ('class_balance', 'teacher', 'eval_split', 'score_reuse',
                 'reuse_start', 'first_scores')
#: Recipe keys only the score-based policies read (the random policies and
#: ``full`` train the same whatever they are; random draws are global
#: always): ``--pair`` ignores them when it looks for a variant's
#: same-recipe baseline.
SCORE_KEYS = ('score_view', 'schedule', 'score_pool', 'selection', 'scorer',
              'teacher_filter', 'class_balance', 'score_reuse',
              'reuse_start', 'first_scores')
#: The order of the settings in the tables of ``--verdict``.
SETTING_ORDER = ('w2a32', 'w4a4', 'w2a2')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--settings', nargs='+', default=['w2a32'],
                        choices=sorted(SETTINGS))
    protocol.add_run_args(parser, POLICIES, [
        'acs', 'random_static', 'random_dynamic', 'el2n', 'full'
    ], epochs=30, interval=10)
    parser.add_argument('--teacher', default='clean',
                        choices=sorted(TRAIN_SIZE),
                        help="the FP start and teacher: 'clean' (trained on "
                        "the 40k split only; training on it) or 'shared' "
                        '(trained on all 50k images, so it saw the hold-out;'
                        ' training on the 45k split)')
    parser.add_argument('--eval-split', default='val',
                        choices=['val', 'final'],
                        help="where top-1 is measured: 'val' (the 5k "
                        "hold-out recipes are tuned on) or 'final' (the "
                        'second 5k hold-out of the clean protocol, for the '
                        'last judgement)')
    parser.add_argument('--fraction', type=float, default=0.1)
    parser.add_argument('--time-ratio', type=float, metavar='X',
                        help='random_timed trains on X times the fraction '
                        '(default: the wall time of acs over '
                        'random_dynamic, stored in --out for the same '
                        'setting and recipe)')
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
    parser.add_argument('--score-reuse', type=float, default=0.0,
                        help='keep scores between rounds, score the '
                        "coreset from the training step and refresh this "
                        'rotating fraction of the set (0: off)')
    parser.add_argument('--reuse-start', default='all',
                        choices=['all', 'block'],
                        help='with --score-reuse, what the first round '
                        'scores: the whole set or its rotating block')
    parser.add_argument('--first-scores', default='student',
                        choices=['student', 'teacher'],
                        help="whose outputs the first selection scores: "
                        "the teacher's stand for the untrained student's "
                        "(coreset.first_scores)")
    parser.add_argument('--scorer', default='softmax',
                        choices=['softmax', 'relative_entropy'],
                        help="the classification scorer ('relative_entropy':"
                        ' DS is KL(teacher || student))')
    parser.add_argument('--layer-align', type=float, default=0.0,
                        help='weight of the stage-output alignment to the '
                        'teacher (layer1-3; 0: off)')
    parser.add_argument('--num-samples', type=int,
                        help='training images (of the training split: 40k '
                        'clean, 45k shared; default all)')
    parser.add_argument('--val-samples', type=int, default=EVAL_SIZE,
                        help='images of the evaluation split (of its 5k)')
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
    protocol.add_results_args(
        parser, 'quality.json',
        'train nothing: print every setting, policy and recipe stored in '
        '--out (and --merge), named by how they differ from the recipe of '
        'the other options')
    common.add_benchmark_args(parser)
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
                        'ratio (a table per teacher and evaluation split)')
    parser.add_argument('--final', action='store_true',
                        help="with --report: top-1 on the 'final' split, "
                        'which every clean run evaluating on val also '
                        'measures and stores unseen (for the last judgement '
                        'of the candidate defaults only)')
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
    if args.num_samples is None:
        args.num_samples = TRAIN_SIZE[args.teacher]
    if args.eval_split == 'final' and args.teacher != 'clean':
        parser.error('--eval-split final is the clean protocol\'s: it needs '
                     '--teacher clean (the shared teacher saw it)')
    common.check_shares(parser, args, '--label-noise', '--teacher-filter')
    if args.checkpoint_every < 0:
        parser.error(f'--checkpoint-every must be >= 0, got '
                     f'{args.checkpoint_every}')
    if not 0 < args.fraction <= 1:
        parser.error(f'--fraction must be in (0, 1], got {args.fraction}')
    if args.time_ratio is not None and not args.time_ratio > 0:
        parser.error(f'--time-ratio must be > 0, got {args.time_ratio}')
    if not 0 <= args.score_reuse <= 1:
        parser.error(f'--score-reuse must be in [0, 1], got '
                     f'{args.score_reuse}')
    if args.reuse_start != 'all' and not args.score_reuse:
        parser.error(f'--reuse-start {args.reuse_start} needs --score-reuse')
    if 'acs_pool' in args.policies and not (args.fraction <= args.score_pool
                                            <= 1):
        parser.error('need --fraction <= --score-pool <= 1, got '
                     f'{args.fraction} and {args.score_pool}')
    args.selection = common.json_option(parser, '--selection', args.selection)
    if args.pair is not None and args.baseline is not None:
        parser.error('--pair and --baseline exclude each other: give one')
    if args.final and not args.report:
        parser.error('--final is a view of --report')
    if args.verdict and (args.report or args.merge):
        parser.error('--verdict reads its own FILEs: no --report, --merge')
    if args.verdict and args.pair == 'acs':
        parser.error('--verdict compares acs with --pair: give another '
                     'policy')
    return args


def recipe_of(args) -> dict:
    return {k: getattr(args, k) for k in RECIPE_KEYS}


def default_recipe(teacher: str = 'clean') -> dict:
    """The recipe of the protocol's defaults (no options given) with
    ``teacher``."""
    return recipe_of(parse_args(['--teacher', teacher]))


def clean_teacher() -> str:
    """The cached clean teacher's checkpoint; a FileNotFoundError names
    its path and how to make it."""
    path = osp.join(common.cache_root(), CLEAN_TEACHER)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'the clean teacher {path} is missing: train it with `python '
            f'tools/train.py {CLEAN_CONFIG}`, then `python '
            'tools/misc/publish_model.py BEST_CHECKPOINT '
            f'{path}` (the cache is $MMACS_CACHE or ~/.cache/mmacs), or run '
            'the old protocol with --teacher shared')
    return path


def teacher_checkpoint(args) -> str:
    """The FP checkpoint that starts and teaches the runs of ``args``."""
    if args.teacher == 'shared':
        return common.shared_cifar(args.shared, 'the protocol')[1]
    return clean_teacher()


def build_cfg(setting: str, policy: str, seed: int, args, work_dir: str):
    """The config of one run and its epochs (``args.time_ratio`` set for
    ``random_timed``)."""
    from mmengine.config import Config

    from mmacs.coreset import get_policy
    from mmacs.utils import repo_path
    cfg = Config.fromfile(repo_path(CONFIG))
    cifar, _ = common.shared_cifar(args.shared, 'the protocol')
    split = dict(val_size=EVAL_SIZE, final_size=FINAL_SIZE[args.teacher],
                 split_seed=0)
    for key, name, total, num in (
            ('train_dataloader', 'train', TRAIN_SIZE[args.teacher],
             args.num_samples),
            ('val_dataloader', args.eval_split, EVAL_SIZE, args.val_samples)):
        dataset = cfg[key].dataset
        dataset.update(
            dict(split, split=name, data_root=cifar,
                 cache_dir=osp.join(args.work_dir, 'data_cache')))
        indices = common.seeded_subset(total, num)
        if indices is not None:
            dataset.indices = indices
    if args.label_noise > 0:
        cfg.train_dataloader.dataset.label_noise = dict(
            mode='symmetric', rate=args.label_noise, seed=0)
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    if sealed_final(args):
        cfg.test_dataloader.dataset.split = 'final'
    cfg.train_dataloader.batch_size = args.batch_size
    w_bits, a_bits = SETTINGS[setting]
    cfg.model.float_checkpoint = teacher_checkpoint(args)
    if args.teacher == 'clean':  # the shared one's `module.` keys revised
        cfg.model.float_checkpoint_revise_keys = []  # the model's own keys
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
    fraction, kind = args.fraction, policy
    if policy == 'acs_pool':
        kind = 'acs'
    elif policy == 'full':
        kind = 'full_steps'
    elif policy == 'random_timed':
        if args.time_ratio is None:
            raise ValueError('random_timed needs the wall-time ratio of acs '
                             'over random_dynamic (args.time_ratio)')
        kind, fraction = 'random_dynamic', min(1.0,
                                               fraction * args.time_ratio)
    coreset, epochs = protocol.coreset_overrides(
        kind, fraction, args.interval, seed, args.epochs,
        args.selection,
        dict(min_prob=args.teacher_filter) if args.teacher_filter > 0 else
        None)
    if policy == 'acs_pool':
        coreset['score_pool'] = args.score_pool
    elif args.score_reuse > 0:
        # A static policy scores once: it has no later blocks to wait for.
        coreset.update(score_reuse=True, score_pool=args.score_reuse,
                       reuse_start='all' if get_policy(
                           coreset['policy']).static else args.reuse_start)
    coreset.update(schedule=args.schedule, score_view=args.score_view,
                   first_scores=args.first_scores,
                   scorer=args.scorer, class_balance=args.class_balance)
    cfg.coreset.update(coreset)
    common.quiet_epochs(cfg, epochs)
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


def sealed_final(args) -> bool:
    """Whether a run also measures the ``final`` split, stored sealed: the
    clean protocol evaluating on ``val``. Tables show it only with
    ``--final``, for the last judgement of the candidate defaults."""
    return args.teacher == 'clean' and args.eval_split == 'val'


def run_dir_name(setting: str, policy: str, seed: int, recipe: dict,
                 teacher_digest: Optional[str] = None) -> str:
    """The work directory of one run: the same for the same setting,
    policy, seed, recipe and teacher checkpoint (its ``teacher_digest``),
    so an interrupted run finds its checkpoint and never one trained from
    another teacher."""
    late = {k: STORE.late_defaults[k] for k in DIR_LATE_KEYS}
    if teacher_digest is not None:
        recipe = dict(recipe, teacher_digest=teacher_digest)
    digest = protocol.recipe_digest(recipe, late)
    return f'{setting}_{policy}_seed{seed}_{digest}'


def time_ratio(results: dict, setting: str, args,
               teacher_digest: Optional[str] = None) -> float:
    """``args.time_ratio``, else the mean wall time of the ``acs`` runs of
    ``results`` with the recipe of ``args`` and the teacher checkpoint
    ``teacher_digest`` over that of the ``random_dynamic`` runs of the same
    setting, recipe (the options only score-based policies read aside) and
    teacher."""
    if args.time_ratio is not None:
        return args.time_ratio
    recipe = recipe_of(args)
    key = pairing_key(
        dict(setting=setting, recipe=recipe, teacher_digest=teacher_digest))

    def ours(policy):
        return lambda run: run['setting'] == setting and run[
            'policy'] == policy and pairing_key(run) == key and (
                policy != 'acs' or STORE.recipe(run) == recipe)

    return protocol.wall_ratio(results['runs'], ours('acs'),
                               ours('random_dynamic'),
                               f'random_timed ({setting})')


def run_one(setting: str, policy: str, seed: int, args, results: dict,
            teacher_digest: str) -> dict:
    """Train one (setting, policy, seed) from the teacher checkpoint of
    digest ``teacher_digest``, or finish it from its last checkpoint; its
    top-1 and wall times."""
    recipe = recipe_of(args)
    work_dir = osp.join(
        args.work_dir,
        run_dir_name(setting, policy, seed, recipe, teacher_digest))
    extra = {}
    if policy == 'random_timed':
        ratio = time_ratio(results, setting, args, teacher_digest)
        args = argparse.Namespace(**dict(vars(args), time_ratio=ratio))
        extra = dict(time_ratio=ratio,
                     fraction_run=min(1.0, args.fraction * ratio))
    cfg, epochs = build_cfg(setting, policy, seed, args, work_dir)
    if cfg.get('resume', False):
        print(f'[{setting} {policy} seed {seed}] resuming from the last '
              f'checkpoint in {work_dir}', flush=True)
    metrics, seconds, resumed, final = protocol.train_and_evaluate(
        cfg, test=sealed_final(args))
    if final is not None:
        extra['final_top1'] = float(final['accuracy/top1'])
    record = protocol.coreset_record(work_dir, args.label_noise > 0)
    run = dict(
        setting=setting,
        policy=policy,
        seed=seed,
        recipe=recipe,
        epochs_run=epochs,
        resumed_from_epoch=resumed,
        eval_split=args.eval_split,
        top1=float(metrics['accuracy/top1']),
        top5=float(metrics.get('accuracy/top5', float('nan'))),
        wall_seconds=seconds,
        score_seconds=record['score_seconds'],
        train_seconds=seconds - record['score_seconds'] -
        record['select_seconds'],
        jaccard_prev=record['jaccard_prev'],
        noisy_fraction=record['noisy_fraction'],
        noisy_fraction_all=record['noisy_fraction_all'],
        teacher_filter=record['teacher_filter'],
        random_draws=protocol.random_draws(policy),
        teacher_digest=teacher_digest,
        device=args.device_name,
        finished=time.strftime('%Y-%m-%d %H:%M:%S'),
        **extra)
    print(f"[{setting} {policy} seed {seed}] top-1 {run['top1']:.2f}% on "
          f"{args.eval_split}, {seconds:.0f} s "
          f"({record['score_seconds']:.0f} s scoring)", flush=True)
    return run


def merge_results(results: dict, others: list) -> int:
    """Add the runs of the results files ``others`` that ``results`` does
    not hold (same setting, policy, seed and recipe) or that replace the
    one it holds (:meth:`protocol.RunStore.merge`); the number added or
    replaced."""
    return STORE.merge(results, others)


def variant(run: dict, base: dict) -> str:
    """The policy and the recipe keys where ``run`` differs from the recipe
    ``base``, e.g. ``acs selection=type:stratified,bins:50,trim:0.0``; a
    run of another protocol than ``base``'s is compared with ``base`` moved
    to its protocol (the training-set size following its teacher) and
    named with it, e.g. ``acs [shared/val]``."""
    recipe = STORE.recipe(run)
    own = dict(base, **{k: recipe[k] for k in PROTOCOL_KEYS})
    if base['num_samples'] == TRAIN_SIZE[base['teacher']]:
        own['num_samples'] = TRAIN_SIZE[recipe['teacher']]
    diff = []
    for key, value in sorted(recipe.items()):
        if value != own.get(key):
            if isinstance(value, dict):
                value = ','.join(f'{k}:{v}' for k, v in value.items())
            diff.append(f'{key}={value}')
    if protocol_of(recipe) != protocol_of(base):
        diff.append(f"[{'/'.join(protocol_of(recipe))}]")
    return ' '.join([run['policy']] + diff)


def pairing_key(run: dict) -> tuple:
    """What a run shares with its same-recipe baseline: its setting, its
    teacher checkpoint and its full recipe but for ``SCORE_KEYS``."""
    recipe = {
        k: v
        for k, v in STORE.recipe(run).items() if k not in SCORE_KEYS
    }
    return (run['setting'], run.get('teacher_digest') or '',
            json.dumps(recipe, sort_keys=True))


def same_recipe_baselines(runs: list, name: Callable[[dict], str],
                          policy: str) -> dict:
    """``{setting: {variant: baseline variant}}``: for every variant of
    ``runs`` (named by ``name(run)``), the variant of ``policy`` trained on
    the same setting from the same teacher with the same recipe but for
    ``SCORE_KEYS``, or None when there is none (``policy``'s own variants
    are not paired)."""
    baselines = {}
    for run in runs:
        if run['policy'] == policy:
            baselines.setdefault(pairing_key(run), name(run))
    pairs = {}
    for run in runs:
        pairs.setdefault(run['setting'], {})[name(run)] = (
            None if run['policy'] == policy else baselines.get(
                pairing_key(run)))
    return pairs


def teacher_baselines(runs: list, name: Callable[[dict], str],
                      tag: Callable[[dict], str], baseline: str) -> dict:
    """``{setting: {variant: baseline variant}}`` for ``--baseline
    NAME``: every variant is compared with ``NAME`` of its own teacher
    checkpoint (``NAME`` + ``tag(run)``), so a bare name serves a file of
    several teachers; a setting of one teacher, or where no variant has
    one, keeps the one name (its error lists the variants)."""
    names = {}
    for run in runs:
        names.setdefault(run['setting'], {})[name(run)] = baseline + tag(run)
    pairs = {}
    for setting, targets in names.items():
        mine = {v: t if t in targets and t != v else None
                for v, t in targets.items()}
        if len(set(targets.values())) == 1:
            pairs[setting] = next(iter(targets.values()))
        else:
            pairs[setting] = mine if any(mine.values()) else baseline
    return pairs


def summarize(runs: list, key=lambda run: run['policy'],
              metric: str = 'top1') -> dict:
    """``{setting: {key(run): stats}}`` of ``metric`` over the seeds of
    ``runs`` (those that hold it)."""
    by_setting = {}
    for run in runs:
        if metric in run:
            by_setting.setdefault(run['setting'], []).append(run)
    return {
        setting: report.summarize(rs, key, metric)
        for setting, rs in by_setting.items()
    }


def print_table(summary: dict, args, title: bool = True) -> None:
    for setting, by_policy in summary.items():
        if title:
            print(f'\nResNet-20 {setting}, f = {args.fraction}, R = '
                  f'{args.interval}, {args.epochs} epochs, '
                  f'{args.num_samples} training images, top-1 on '
                  f'{args.val_samples} {args.eval_split} images '
                  f'({args.teacher} teacher)')
        else:
            where = 'the sealed final split' if args.final else 'the hold-out'
            print(f'\nResNet-20 {setting}, top-1 on {where}')
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


def protocol_of(recipe: dict) -> tuple:
    """The teacher and the evaluation split of a full recipe."""
    return tuple(recipe[k] for k in PROTOCOL_KEYS)


def verdict_rows(runs: list, args) -> list:
    """For every setting and recipe (the keys only score-based policies
    read aside) where ``acs`` with the score options of ``args`` and the
    baseline policy (``args.pair``, default ``random_dynamic``) both ran, a
    row: the protocol (teacher, evaluation split), the recipe's
    differences from that protocol's defaults, both policies' seed stats,
    their seed-by-seed comparison, the ratio of their mean wall times and
    how the baseline's random draws were seeded. ``runs`` holds each run
    once (``merge_results`` makes it so)."""
    baseline = args.pair or 'random_dynamic'
    wanted = recipe_of(args)

    def name(run):
        if run['policy'] == baseline:
            return baseline
        if run['policy'] == 'acs' and all(STORE.recipe(run)[k] == wanted[k]
                                          for k in SCORE_KEYS):
            return 'acs'
        return None

    rows = []
    for row in report.paired_rows(runs, lambda run: str(pairing_key(run)),
                                  name, 'top1', baseline):
        if row['variant'] != 'acs' or row['vs'] is None:
            continue
        run = row['first']
        recipe = STORE.recipe(run)
        defaults = default_recipe(recipe['teacher'])
        other = {
            k: v
            for k, v in recipe.items() if v != defaults[k] and k not in (
                'fraction', 'interval') + PROTOCOL_KEYS + SCORE_KEYS
        }
        rows.append(
            dict(setting=run['setting'],
                 protocol='/'.join(protocol_of(recipe)),
                 checkpoint=run.get('teacher_digest'),
                 fraction=recipe['fraction'],
                 interval=recipe['interval'],
                 other=' '.join(f'{k}={v}' for k, v in sorted(other.items())),
                 acs=row['stats'], acs_seeds=row['seeds'],
                 base=row['pair_stats'], base_seeds=row['pair_seeds'],
                 vs=row['vs'], wall_ratio=row['wall_ratio'],
                 draws=row['pair_draws']))
    order = {s: i for i, s in enumerate(SETTING_ORDER)}
    rows.sort(key=lambda r: (r['protocol'] != 'shared/val', r['protocol'],
                             r['checkpoint'] or '',
                             order.get(r['setting'], len(order)), r[
                                 'other'], r['fraction'], r['interval']))
    return rows


def verdict_table(rows: list, baseline: str) -> str:
    """``verdict_rows`` as markdown: one table per protocol and teacher
    checkpoint, each under a line naming them when there are several."""
    groups = sorted({(r['protocol'], r['checkpoint'] or '') for r in rows},
                    key=lambda g: (g[0] != 'shared/val', ) + g)
    tables = []
    for proto, checkpoint in groups:
        cells = [[
            r['setting'], f"{r['fraction']:g}", r['interval'], r['other'] or
            '-',
            report.mean_std(r['acs'], 2, r['acs_seeds']),
            report.mean_std(r['base'], 2, r['base_seeds'])
        ] + report.paired_cells(r['vs'], 2) + [
            f"{r['wall_ratio']:.2f}", '/'.join(r['draws']) or '-'
        ] for r in rows if r['protocol'] == proto
                 and (r['checkpoint'] or '') == checkpoint]
        table = report.markdown_table([
            'setting', 'f', 'R', 'other recipe', 'acs', baseline,
            'diff (min, max)', 'above', 'beats', f'wall acs / {baseline}',
            'random draws'
        ], cells)
        if len(groups) > 1:
            table = (f'{protocol_title(proto)}; '
                     f'{checkpoint_text(checkpoint or None)}:\n\n{table}')
        tables.append(table)
    return '\n\n'.join(tables)


def protocol_title(proto: str) -> str:
    """How a page names a protocol (``teacher/eval split``)."""
    teacher, split = proto.split('/')
    who = ('the shared FP teacher (trained on all 50k images: it saw the '
           'hold-out), 45k training images' if teacher == 'shared' else
           'the clean FP teacher (trained on the 40k training split only), '
           '40k training images')
    return f'Teacher: {who}; top-1 on the {split} split'


def checkpoint_text(digest: Optional[str]) -> str:
    """How a page names the teacher checkpoint of a group of runs."""
    if digest is None:
        return ('teacher checkpoint not recorded (stored before runs kept '
                'its digest)')
    return f'teacher checkpoint (SHA-256) `{digest}`'


#: The results files of the verdict page.
VERDICT_FILES = 'quality_*.json'
#: The line at the top of every page with runs of the shared teacher.
SAW_HOLDOUT = ('**Measured against a teacher that saw the hold-out**: the '
               'shared FP ResNet-20 (the start and teacher of these runs) '
               'was trained on all 50k images, the 5k hold-out included, '
               'so a student that imitates it more closely looks better '
               'here without generalizing better. The clean protocol '
               '(`--teacher clean`) re-measures them.')


def pages(files: list) -> dict:
    """The result pages of the CIFAR results ``files``: ``{name: (title,
    markdown)}``, one per file (every setting, protocol and recipe, each
    variant beside the ``random_dynamic`` run of its recipe) and the
    verdicts of the configs' default and of the paper's rule."""
    out = {}
    held = dict(runs=[])
    verdict_files = [f for f in files
                     if fnmatch.fnmatch(osp.basename(f), VERDICT_FILES)]
    merge_results(held, verdict_files)
    shared = any(STORE.recipe(r)['teacher'] == 'shared' for r in held['runs'])
    head = [SAW_HOLDOUT, ''] if shared else []
    verdicts = []
    for what, options in (
            ("The CIFAR configs' default (`stratified` + teacher filter "
             '0.05)', ['--selection', '{"type": "stratified"}',
                       '--teacher-filter', '0.05']),
            ("The paper's rule (top-k, no filter)", [])):
        rows = verdict_rows(held['runs'], parse_args(['--verdict', 'x'] +
                                                     options))
        verdicts += [f'## {what}', '', verdict_table(rows,
                                                     'random_dynamic'), '']
    files_list = ', '.join(f'`results/{osp.basename(f)}`'
                           for f in verdict_files)
    out['cifar_verdict.md'] = ('CIFAR-10: the default and the paper\'s rule '
                               'against random', '\n'.join([
                                   '# CIFAR-10: the default and the paper\'s '
                                   'rule against random', ''
                               ] + head + [
                                   f'Over {files_list}: a row per setting and '
                                   'recipe where `acs` and `random_dynamic` '
                                   'both ran; "other recipe" is what differs '
                                   "from the protocol's defaults besides f "
                                   'and R; "wall" is the ratio of the mean '
                                   'wall times. `python '
                                   'tools/benchmarks/quality.py --verdict '
                                   'results/quality_*.json [options]` prints '
                                   'the same tables.', ''
                               ] + verdicts))
    for path in files:
        stem = osp.splitext(osp.basename(path))[0]
        out[f'{stem}.md'] = (f'CIFAR-10 runs of `results/{stem}.json`',
                             results_page(path))
    return out


def results_page(path: str) -> str:
    """Every run of the results file ``path``: per setting and protocol, a
    table of each variant (named by how its recipe differs from the
    protocol's defaults) with its top-1 per seed, mean ± std, min and max,
    the wall time split, and the seed-by-seed difference with the
    ``random_dynamic`` runs of its recipe."""
    runs = protocol.load_results(path)['runs']
    stem = osp.splitext(osp.basename(path))[0]
    lines = [f'# CIFAR-10 runs of `results/{stem}.json`', '']
    if any(STORE.recipe(r)['teacher'] == 'shared' for r in runs):
        lines += [SAW_HOLDOUT, '']
    lines += [
        'ResNet-20 LSQ QAT, top-1 (%) on the evaluation split; std: sample '
        'std over the seeds; wall: mean seconds of the epoch loop (train + '
        'scoring); vs random_dynamic: the seed-by-seed difference with the '
        'random_dynamic runs of the same recipe (beats: the mean difference '
        'exceeds both stds). Printed by `python tools/benchmarks/quality.py '
        f'--report --pair random_dynamic --out results/{stem}.json` '
        '(with `--teacher shared` for runs of the shared teacher).', ''
    ]
    groups = {}
    for run in runs:
        recipe = STORE.recipe(run)
        groups.setdefault((run['setting'], '/'.join(protocol_of(recipe)),
                           run.get('teacher_digest') or ''), []).append(run)
    mixed = len({g[2] for g in groups}) > 1
    order = {s: i for i, s in enumerate(SETTING_ORDER)}
    for setting, proto, digest in sorted(
            groups, key=lambda g: (g[1] != 'shared/val', g[1],
                                   order.get(g[0], len(order)), g[2])):
        rs = groups[(setting, proto, digest)]
        base = default_recipe(proto.split('/')[0])

        def name(run):
            return variant(run, base)

        summary = report.summarize(rs, name, 'top1')
        pairs = {}
        for run in rs:
            if run['policy'] != 'random_dynamic':
                continue
            for other in rs:
                if (other['policy'] != 'random_dynamic' and pairing_key(other)
                        == pairing_key(run)):
                    pairs.setdefault(name(other), name(run))
        seeds = sorted({r['seed'] for r in rs})
        cells = []
        for label in sorted(summary):
            s = summary[label]
            vs = None
            if label in pairs and set(s['by_seed']) & set(
                    summary[pairs[label]]['by_seed']):
                vs = report.paired_stats(s['by_seed'],
                                         summary[pairs[label]]['by_seed'])
            walls = [r for r in rs if name(r) == label]
            train = statistics.fmean(r['wall_seconds'] - r['score_seconds']
                                     for r in walls)
            cells.append([f'`{label}`'] + [
                f"{s['by_seed'][x]:.2f}" if x in s['by_seed'] else '-'
                for x in seeds
            ] + [
                report.mean_std(s, 2), f"{s['min']:.2f}", f"{s['max']:.2f}",
                f"{s['wall_seconds_mean']:.0f} ({train:.0f} + "
                f"{s['score_seconds_mean']:.0f})"
            ] + report.paired_cells(vs, 2))
        checkpoints = protocol.teacher_sentence(rs) if digest or not mixed \
            else f' {checkpoint_text(None).capitalize()}.'
        heading = f'## {setting}'
        if mixed:
            heading += f", teacher {digest or 'not recorded'}"
        lines += [
            heading, '', protocol_title(proto) + '.' + checkpoints,
            '',
            report.markdown_table(
                ['variant'] + [f'seed {x}' for x in seeds] + [
                    'mean ± std', 'min', 'max', 'wall s (train + scoring)',
                    'vs random_dynamic (min, max)', 'above', 'beats'
                ], cells), ''
        ]
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.verdict:
        return protocol.print_verdict(
            STORE, args.verdict, lambda runs: verdict_rows(runs, args),
            lambda rows: verdict_table(rows, args.pair or 'random_dynamic'))
    import mmacs  # noqa: F401  (registers the components)
    from mmacs.utils import shared_root
    args.shared = shared_root(args.shared)
    results, out, tmp, start = protocol.open_results(STORE, args,
                                                     'mmacs_quality_',
                                                     'quality.json')
    if args.report:
        base = recipe_of(args)
        tag = protocol.teacher_tag(results['runs'])

        def name(run):
            return variant(run, base) + tag(run)

        summary = summarize(results['runs'], key=name,
                            metric='final_top1' if args.final else 'top1')
        print_table(summary, args, title=False)
        note = protocol.teacher_note(results['runs'],
                                     lambda run: run['setting'])
        if note is not None:
            print(note, flush=True)
        if args.baseline is not None or args.pair is not None:
            pairs = same_recipe_baselines(
                results['runs'], name, args.pair) if args.pair is not None \
                else teacher_baselines(results['runs'], name, tag,
                                       args.baseline)
            for setting, by_variant in summary.items():
                report.compare_with_baseline(
                    by_variant, pairs[setting], f'ResNet-20 {setting}, top-1')
        return common.finish_benchmark(dict(summary=summary), tmp, start)
    recipe = recipe_of(args)
    # A run of a retrained teacher (same name, another file) is another run.
    digest = common.file_digest(teacher_checkpoint(args))
    # Seeds outermost: an interrupted benchmark still has every policy.
    wanted = [
        dict(setting=setting, policy=policy, seed=seed, recipe=recipe,
             teacher_digest=digest) for seed in args.seeds
        for setting in args.settings for policy in args.policies
    ]
    mine = protocol.run_all(
        STORE, results, out, wanted,
        lambda w: run_one(w['setting'], w['policy'], w['seed'], args,
                          results, digest),
        lambda run: (f"[{run['setting']} {run['policy']} seed "
                     f"{run['seed']}]", f"top-1 {run['top1']:.2f}%"))
    summary = summarize(mine)
    print_table(summary, args)
    return protocol.finish_study(
        dict(summary=summary, runs=mine, recipe=recipe,
             settings=args.settings, seeds=args.seeds), args, out, tmp,
        start)


if __name__ == '__main__':
    main()
