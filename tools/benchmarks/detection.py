# Copyright (c) mmacs contributors. All rights reserved.
"""Coreset policies for detection, side by side: LSQ QAT of a detector
from its full-precision model, COCO bbox mAP (mmdet's ``CocoMetric``) on
the validation images.

The detector, its data and the QAT recipe come from two configs:
``--fp-config`` (the full-precision model, trained once per work dir and
reused as the starting point and the teacher of every QAT run, unless
``--fp-checkpoint`` gives one) and ``--qat-config`` (the QAT recipe, its
``coreset`` overridden per run). By default the demo: W4A4 RetinaNet
R18-FPN on synthetic shapes generated into the work dir (6 epochs, R = 1,
cosine LR); ``--data-root DIR`` trains on the COCO-style data of the
configs there instead (e.g. HIT-UAV). For every fraction, policy and seed:

- ``acs``: scores every R epochs with ``--scorer`` (default the config's,
  the per-image loss; e.g. ``{"type": "object_loss", "pool": "max"}``,
  per-object scores) and selects by ``--selection`` (default top-k, the
  paper's rule; the detection rules ``{"type": "class_aware"}``, class
  quotas, and ``{"type": "kcenter"}``, diversity in the teacher's pooled
  neck features), with ``--teacher-drop Q`` among the images but the share
  ``Q`` whose boxes the FP teacher fits worst;
- ``random_static``: one random coreset for the whole run;
- ``random_dynamic``: a fresh random coreset every R epochs;
- ``full``: all the images for all the epochs (the reference for the share
  of full-data mAP a coreset keeps; independent of the fraction);
- ``full_steps``: all the images for ``round(f x epochs)`` epochs (the same
  number of training steps as a coreset run);
- ``random_timed``: ``random_dynamic`` given back the extra wall time of
  ``acs`` (with the given score options): its fraction is ``f`` times the
  ratio of their mean wall times stored for the same recipe (or
  ``--time-ratio``);
- ``ptq``: no training, the FP model quantized with steps calibrated on
  training batches (the QAT config's ``init``): what QAT has to beat.

``--layer-align W`` adds, to every QAT run whatever its policy, the mean
squared error between the student's and the teacher's FPN outputs
(``QATModel(layer_align=dict(layers=['neck'], loss_weight=W))``, our form
of QuaRC's intermediate-layer correction).

``--noise RATE`` corrupts the boxes of that share of the training images
(``NoisyDetDataset``: class flips, dropped and jittered boxes, as the
demo's noisy config) and reports the noisy share of every coreset.

Every finished run is written at once to ``--out`` (JSON); a later call
with the same file skips the runs it holds (matched by policy, seed and
recipe), so an interrupted study resumes, and invocations run in parallel
join with ``--merge``. ``--verdict FILE...`` trains nothing: it prints
every variant of those files beside ``random_dynamic`` (``--pair``) at the
same fraction, noise and alignment, seed by seed, as a markdown table. The
last printed line is one JSON object.

Usage: python tools/benchmarks/detection.py [--fractions 0.3 0.1]
       [--policies acs random_static random_dynamic full]
       [--seeds 0 1 2] [--selection JSON] [--scorer JSON] [--noise 0.2]
       [--out FILE]
       [--fp-config CFG] [--qat-config CFG] [--data-root DIR]
       [--report] [--verdict FILE...] [--quick]
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
import time
from typing import Optional

if __package__ in (None, ''):  # a script: import the package beside it
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from benchmarks import common, protocol, report  # noqa: E402

POLICIES = ('acs', 'random_static', 'random_dynamic', 'full', 'full_steps',
            'random_timed', 'ptq')
#: Policies that do not depend on the fraction.
WHOLE = ('full', 'ptq')
#: The demo's configs, the defaults of --fp-config and --qat-config.
FP_CONFIG = 'configs/demo/retinanet_r18-tiny_fpn_shapes-128.py'
QAT_CONFIG = ('configs/demo/'
              'lsq-w4a4_acs-f0.3_retinanet_r18-tiny_fpn_shapes-128.py')
METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75')
#: Options that change what a QAT run trains: a run is reused only when
#: all of them match.
RECIPE_KEYS = ('fraction', 'epochs', 'interval', 'selection', 'noise',
               'fp_epochs', 'num_train', 'num_val', 'teacher_drop',
               'layer_align', 'fp_config', 'qat_config', 'data_root',
               'scorer', 'final_share', 'acs_options', 'fp_checkpoint')
#: Runs stored before a recipe key existed had this value of it.
STORE = protocol.RunStore(
    ('policy', 'seed', 'teacher_digest'),
    dict(teacher_drop=0.0, layer_align=0.0, fp_config=FP_CONFIG,
         qat_config=QAT_CONFIG, data_root=None, scorer=None,
         final_share=0.0, acs_options=None, fp_checkpoint=None))
#: The modules ``--layer-align`` aligns to the teacher's.
ALIGN_LAYERS = ['neck']


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    protocol.add_run_args(parser, POLICIES, [
        'acs', 'random_static', 'random_dynamic', 'full'
    ], epochs=6, interval=1)
    parser.add_argument('--fractions', nargs='+', type=float,
                        default=[0.3, 0.1])
    parser.add_argument('--fp-config', default=FP_CONFIG,
                        help='the full-precision model (repository path)')
    parser.add_argument('--qat-config', default=QAT_CONFIG,
                        help='the QAT recipe (repository path); its coreset '
                        'is set per run')
    parser.add_argument('--fp-checkpoint',
                        help='the FP weights to start from (default: '
                        '--fp-config trained once per work dir)')
    parser.add_argument('--data-root',
                        help='the COCO-style data of the configs (default: '
                        'synthetic shapes made in the work dir, the demo)')
    parser.add_argument('--final-share', type=float, metavar='S',
                        help="the seeded share of the validation images "
                        "kept as a sealed 'final' split: runs are scored on "
                        'the rest and store the final split\'s metrics, '
                        'which only --report --final shows (default 0.5 '
                        'with --data-root, 0 for the demo)')
    parser.add_argument('--final', action='store_true',
                        help='with --report or --verdict: the metrics of '
                        'the sealed final split')
    parser.add_argument('--teacher-drop', type=float, default=0.0,
                        metavar='Q',
                        help="acs never selects the share Q of the images "
                        "whose boxes the FP teacher fits worst (its head "
                        "loss; teacher_filter=dict(drop=Q)); 0: off, the "
                        "paper")
    parser.add_argument('--scorer', default=None, metavar='JSON',
                        help="acs's scorer as JSON, e.g. '\"object_loss\"' "
                        'or \'{"type": "object_loss", "pool": "max"}\' '
                        "(default: the QAT config's)")
    parser.add_argument('--acs-options', default=None, metavar='JSON',
                        help="more of acs's coreset config as a JSON object, "
                        'e.g. \'{"score_pool": 0.3}\' (score a random 30%% '
                        'of the images per selection, select among them) or '
                        "a cheaper 'score_pipeline'")
    parser.add_argument('--time-ratio', type=float, metavar='X',
                        help='random_timed trains on X times the fraction '
                        '(default: the wall time of acs over random_dynamic '
                        'stored in --out for the same recipe)')
    parser.add_argument('--layer-align', type=float, default=0.0,
                        metavar='W',
                        help='weight of the alignment of the student\'s FPN '
                        "outputs to the teacher's, for every policy (0: off)")
    parser.add_argument('--noise', type=float, default=0.0,
                        help='share of training images whose boxes are '
                        'corrupted (0: clean)')
    parser.add_argument('--fp-epochs', type=int, default=20,
                        help='epochs of the full-precision model')
    parser.add_argument('--num-train', type=int, default=400,
                        help='synthetic training images')
    parser.add_argument('--num-val', type=int, default=100,
                        help='synthetic validation images')
    protocol.add_results_args(
        parser, 'detection.json',
        'train nothing: print every policy and recipe stored in --out (and '
        '--merge)')
    parser.add_argument('--verdict', nargs='+', metavar='FILE',
                        help='train nothing: print, as one markdown table, '
                        'every variant in these results files beside '
                        '--pair (random_dynamic) at the same fraction, '
                        'noise and layer alignment, seed by seed')
    parser.add_argument('--pair', metavar='POLICY', default='random_dynamic',
                        choices=[p for p in POLICIES
                                 if p not in ('acs', 'random_timed') + WHOLE],
                        help='with --verdict: the policy every variant is '
                        'compared with (default random_dynamic)')
    common.add_benchmark_args(parser)
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 40 + 20 images, FP 2 epochs, QAT '
                        '2 epochs, one fraction and seed')
    args = parser.parse_args(argv)
    if args.verdict and (args.report or args.merge):
        parser.error('--verdict reads its own FILEs: no --report, --merge')
    if args.quick:
        args.num_train, args.num_val = 40, 20
        args.fp_epochs, args.epochs = 2, 2
        args.fractions, args.seeds = args.fractions[:1], args.seeds[:1]
    for f in args.fractions:
        if not 0 < f <= 1:
            parser.error(f'--fractions must lie in (0, 1], got {f}')
    common.check_shares(parser, args, '--noise', '--teacher-drop')
    if args.layer_align < 0:
        parser.error(f'--layer-align must be >= 0, got {args.layer_align}')
    for key in ('epochs', 'interval', 'fp_epochs', 'num_train', 'num_val'):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1, got "
                         f'{getattr(args, key)}')
    if args.final_share is None:
        args.final_share = 0.5 if args.data_root is not None else 0.0
    if not 0 <= args.final_share < 1:
        parser.error(f'--final-share must lie in [0, 1), got '
                     f'{args.final_share}')
    if args.time_ratio is not None and not args.time_ratio > 0:
        parser.error(f'--time-ratio must be > 0, got {args.time_ratio}')
    if args.final and not (args.report or args.verdict):
        parser.error('--final is a view of --report or --verdict')
    args.selection = common.json_option(parser, '--selection', args.selection)
    args.scorer = common.json_option(parser, '--scorer', args.scorer)
    args.acs_options = common.json_option(parser, '--acs-options',
                                          args.acs_options)
    if args.acs_options is not None and not isinstance(args.acs_options,
                                                       dict):
        parser.error(f'--acs-options must be a JSON object, got '
                     f'{args.acs_options!r}')
    return args


def recipe_of(args, policy: str, fraction: float) -> dict:
    """What a run of ``policy`` at ``fraction`` trains. ``full`` does not
    depend on the fraction, and only ``acs`` (and ``random_timed``, given
    back the time of that ``acs``) on the selection rule, the scorer and
    its other options."""
    recipe = {k: getattr(args, k) for k in RECIPE_KEYS if k != 'fraction'}
    recipe['fraction'] = None if policy in WHOLE else fraction
    if policy not in ('acs', 'random_timed'):
        recipe['selection'] = None
        recipe['teacher_drop'] = 0.0
        recipe['scorer'] = None
        recipe['acs_options'] = None
    return recipe


def load_cfg(path: str, args, work_dir: str, seed: int):
    """The config at the repository ``path`` for one run in ``work_dir``
    on the study's data."""
    from mmengine.config import Config

    from mmacs.utils import repo_path, set_coco_data_root
    cfg = Config.fromfile(repo_path(path))
    set_coco_data_root(cfg, args.data_dir)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    cfg.randomness = dict(seed=seed)
    # One visualizer per run: a shared name logs to the first run's dir.
    cfg.visualizer.name = f'visualizer_{osp.abspath(work_dir)}'
    return cfg


def split_validation(ann_file: str, share: float, out_dir: str) -> tuple:
    """The COCO annotation files of the two seeded parts of the
    validation set ``ann_file``: ``(val, final)``, ``final`` holding the
    ``share`` of its images (written once into ``out_dir``)."""
    import numpy as np
    paths = tuple(osp.join(out_dir, f'{name}_{share:g}.json')
                  for name in ('val', 'final'))
    if all(osp.isfile(p) for p in paths):
        return paths
    with open(ann_file) as f:
        coco = json.load(f)
    ids = sorted(img['id'] for img in coco['images'])
    order = np.random.default_rng(0).permutation(len(ids))
    final = {ids[i] for i in order[:round(share * len(ids))]}
    os.makedirs(out_dir, exist_ok=True)
    for path, keep in zip(paths, (lambda i: i not in final,
                                  lambda i: i in final)):
        part = dict(coco,
                    images=[x for x in coco['images'] if keep(x['id'])],
                    annotations=[a for a in coco['annotations']
                                 if keep(a['image_id'])])
        with open(path + '.tmp', 'w') as f:
            json.dump(part, f)
        os.replace(path + '.tmp', path)
    return paths


def seal_final_split(cfg, args) -> None:
    """Score ``cfg``'s runs on the validation images outside the sealed
    final split (``args.final_share``), and test them on that split."""
    if not args.final_share:
        return
    from mmacs.utils import innermost_dataset
    dataset = innermost_dataset(cfg.val_dataloader.dataset)
    ann_file = osp.join(dataset.data_root, dataset.ann_file)
    val, final = split_validation(ann_file, args.final_share,
                                  osp.join(args.work_dir, 'val_split'))
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.test_evaluator = copy.deepcopy(cfg.val_evaluator)
    for loader, evaluator, path in (
            (cfg.val_dataloader, cfg.val_evaluator, val),
            (cfg.test_dataloader, cfg.test_evaluator, final)):
        innermost_dataset(loader.dataset).ann_file = path
        evaluator.ann_file = path


def coco_metrics(metrics: dict, where: str) -> dict:
    """CocoMetric's ``metrics`` without the ``coco/`` prefix: the
    ``METRICS``, AP by object size (``bbox_mAP_s`` ...) and, with
    ``classwise``, the AP of every class (``<class>_precision``); the
    ``METRICS`` are 0 when it returned none (the model detected nothing on
    ``where``)."""
    if not any(f'coco/{k}' in metrics for k in METRICS):
        print(f'{where}: no detections, mAP 0', flush=True)
        return {k: 0.0 for k in METRICS}
    return {
        k[len('coco/'):]: float(v)
        for k, v in metrics.items() if k.startswith('coco/')
    }


def evaluate_run(cfg, epochs: int, test: bool = False) -> tuple:
    """Train ``cfg`` for ``epochs``, checkpointing every epoch, or finish
    it from the last checkpoint in its work dir (0 epochs: evaluate it
    untrained, i.e. a QAT model after post-training quantization, or the
    checkpoint of ``cfg.load_from`` as it is); its COCO metrics on the
    validation images, the seconds training took (the interrupted
    attempts' included), the epoch it resumed from and, with ``test``, its
    metrics on the test images (else None)."""
    if epochs == 0:
        metrics, seconds, tested = protocol.evaluate_untrained(cfg, test)
        resumed = 0
    else:
        metrics, seconds, resumed, tested = train(cfg, epochs, test)
    return (coco_metrics(metrics, cfg.work_dir), seconds, resumed,
            None if tested is None else coco_metrics(tested, cfg.work_dir))


def train(cfg, epochs: int, test: bool) -> tuple:
    """``protocol.train_and_evaluate`` of ``cfg`` for ``epochs``,
    checkpointing every epoch and resuming from its work dir's last
    checkpoint."""
    common.quiet_epochs(cfg, epochs)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=1, save_last=True)
    cfg.resume = osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint'))
    if cfg.resume:
        print(f'{cfg.work_dir}: resuming from its last checkpoint',
              flush=True)
    return protocol.train_and_evaluate(cfg, test)


def fp_key(args) -> str:
    """The name of the FP model in ``results['fp']``."""
    key = f'{args.fp_epochs}ep_{args.num_train}_{args.num_val}'
    if args.fp_config != FP_CONFIG or args.data_root is not None:
        key = f'{osp.splitext(osp.basename(args.fp_config))[0]}_{key}'
    return key


def fp_model(args, results: dict) -> str:
    """The full-precision checkpoint: ``--fp-checkpoint``, or the one of
    this work dir (trained once, with seed 0); its metrics on the
    validation images the QAT runs score on, and on the sealed final split
    under 'final', are stored in ``results['fp']`` with the checkpoint's
    digest (a given checkpoint's by its path; evaluated again when the file
    there is another model)."""
    from mmacs.datasets import make_synthetic_shapes
    if args.data_root is None:
        make_synthetic_shapes(args.data_dir, num_train=args.num_train,
                              num_val=args.num_val, seed=0)
    results.setdefault('fp', {})
    if args.fp_checkpoint is not None:
        ckpt = args.fp_checkpoint
        if not osp.isfile(ckpt):
            raise FileNotFoundError(f'--fp-checkpoint {ckpt} does not exist')
        if not fp_stored(results, ckpt, ckpt, args):
            digest = protocol.recipe_digest(dict(ckpt=ckpt), {})
            cfg = load_cfg(args.fp_config, args,
                           osp.join(args.work_dir, f'fp_eval_{digest}'), 0)
            cfg.load_from = ckpt
            seal_final_split(cfg, args)
            metrics, seconds, _, final = evaluate_run(
                cfg, 0, test=bool(args.final_share))
            results['fp'][ckpt] = fp_record(
                metrics, final, digest=common.file_digest(ckpt),
                eval_seconds=seconds)
        print(f"FP model {ckpt}: bbox_mAP "
              f"{results['fp'][ckpt]['bbox_mAP']:.3f}", flush=True)
        return ckpt
    work_dir = osp.join(args.work_dir, f'fp_{args.fp_epochs}ep')
    ckpt = osp.join(work_dir, f'epoch_{args.fp_epochs}.pth')
    key = fp_key(args)
    if osp.isfile(ckpt) and fp_stored(results, key, ckpt, args):
        print(f"FP model from {ckpt}: bbox_mAP "
              f"{results['fp'][key]['bbox_mAP']:.3f}", flush=True)
        return ckpt
    cfg = load_cfg(args.fp_config, args, work_dir, seed=0)
    seal_final_split(cfg, args)
    metrics, seconds, _, final = evaluate_run(cfg, args.fp_epochs,
                                              test=bool(args.final_share))
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'FP training wrote no checkpoint {ckpt}')
    results['fp'][key] = fp_record(metrics, final,
                                   digest=common.file_digest(ckpt),
                                   train_seconds=seconds)
    print(f"FP model: bbox_mAP {metrics['bbox_mAP']:.3f}, {seconds:.0f} s",
          flush=True)
    return ckpt


def fp_stored(results: dict, key: str, ckpt: str, args) -> bool:
    """Whether ``results['fp'][key]`` holds the metrics of the checkpoint
    now at ``ckpt``: stored with its digest (records from before the digest
    was kept are measured again), and tested on the sealed split when the
    study seals one."""
    stored = results['fp'].get(key)
    if stored is None or (args.final_share and 'final' not in stored):
        return False
    digest = common.file_digest(ckpt)
    if stored.get('digest') != digest:
        print(f"FP model {key}: the stored metrics are of checkpoint "
              f"{stored.get('digest', 'of unknown digest')}, the file is "
              f"{digest}; evaluating it again", flush=True)
        return False
    return True


def fp_record(metrics: dict, final: dict = None, **extra) -> dict:
    """What ``results['fp']`` holds of an FP model: its validation
    ``metrics``, ``extra`` and, when it was tested there, the sealed final
    split's metrics under 'final'."""
    record = dict(metrics, **extra)
    if final is not None:
        record['final'] = final
    return record


def json_to_cfg(options: dict) -> dict:
    """``options`` parsed from JSON, with the lists inside a
    ``score_pipeline``'s transforms as tuples (JSON has none; mmcv's
    ``Resize`` takes its ``scale`` as a tuple only)."""
    def tuples(value):
        if isinstance(value, dict):
            return {k: tuples(v) for k, v in value.items()}
        if isinstance(value, list):
            if all(isinstance(v, (int, float, str)) for v in value):
                return tuple(value)  # a scale, a list of keys
            return [tuples(v) for v in value]  # e.g. a list of scales
        return value

    options = copy.deepcopy(options)
    if 'score_pipeline' in options:
        options['score_pipeline'] = [
            tuples(t) for t in options['score_pipeline']
        ]
    return options


def build_qat_cfg(policy: str, fraction: float, seed: int, args,
                  fp_ckpt: str, work_dir: str):
    cfg = load_cfg(args.qat_config, args, work_dir, seed)
    cfg.model.float_checkpoint = fp_ckpt
    if args.layer_align > 0:
        cfg.model.layer_align = dict(layers=list(ALIGN_LAYERS),
                                     loss_weight=args.layer_align)
    if args.noise > 0:
        cfg.train_dataloader.dataset = dict(
            type='NoisyDetDataset',
            dataset=cfg.train_dataloader.dataset,
            noise_rate=args.noise,
            seed=0,
            class_flip=0.5,
            drop_box=0.25,
            jitter_box=0.25)
    kind = dict(ptq='full',  # trains nothing: its coreset is never used
                random_timed='random_dynamic').get(policy, policy)
    if policy == 'random_timed':
        if args.time_ratio is None:
            raise ValueError('random_timed needs the wall-time ratio of acs '
                             'over random_dynamic (args.time_ratio)')
        fraction = min(1.0, fraction * args.time_ratio)
    coreset, epochs = protocol.coreset_overrides(
        kind, fraction, args.interval, seed, args.epochs, args.selection,
        dict(drop=args.teacher_drop) if args.teacher_drop > 0 else None)
    cfg.coreset.update(coreset)
    if policy == 'acs' and args.scorer is not None:
        cfg.coreset.scorer = args.scorer
    if policy == 'acs' and args.acs_options:
        cfg.coreset.update(json_to_cfg(args.acs_options))
    seal_final_split(cfg, args)
    return cfg, epochs


def time_ratio(results: dict, fraction: float, args,
               teacher_digest: Optional[str] = None) -> float:
    """``args.time_ratio``, else the mean wall time of the stored ``acs``
    runs of this recipe and teacher checkpoint (``teacher_digest``) over
    that of the ``random_dynamic`` runs of the same recipe and teacher."""
    if args.time_ratio is not None:
        return args.time_ratio
    recipes = {p: recipe_of(args, p, fraction)
               for p in ('acs', 'random_dynamic')}

    def ours(policy):
        return lambda r: (r['policy'] == policy
                          and r.get('teacher_digest') == teacher_digest
                          and STORE.recipe(r) == recipes[policy])

    return protocol.wall_ratio(results['runs'], ours('acs'),
                               ours('random_dynamic'),
                               f'random_timed (f = {fraction})')


def run_one(policy: str, fraction: float, seed: int, args, fp_ckpt: str,
            results: dict, teacher_digest: str) -> dict:
    """Train one run from the FP model ``fp_ckpt`` (of digest
    ``teacher_digest``), or finish it from its last checkpoint."""
    tag = 'all' if policy in WHOLE else f'f{fraction}'
    recipe = recipe_of(args, policy, fraction)
    extra = {}
    if policy == 'random_timed':
        ratio = time_ratio(results, fraction, args, teacher_digest)
        args = argparse.Namespace(**dict(vars(args), time_ratio=ratio))
        extra = dict(time_ratio=ratio,
                     fraction_run=min(1.0, fraction * ratio))
    # Named by the recipe and the FP model: an interrupted run finds its
    # checkpoint, never one trained from another FP model.
    named = protocol.recipe_digest(dict(recipe, teacher_digest=teacher_digest),
                                   {})
    work_dir = osp.join(args.work_dir, f'{policy}_{tag}_seed{seed}_{named}')
    cfg, epochs = build_qat_cfg(policy, fraction, seed, args, fp_ckpt,
                                work_dir)
    if policy == 'ptq':
        epochs = 0
    metrics, seconds, resumed, final = evaluate_run(
        cfg, epochs, test=bool(args.final_share))
    record = protocol.coreset_record(work_dir, args.noise > 0)
    noisy = record['noisy_fraction']
    run = dict(
        policy=policy,
        seed=seed,
        recipe=recipe,
        epochs_run=epochs,
        resumed_from_epoch=resumed,
        **metrics,
        wall_seconds=seconds,
        score_seconds=record['score_seconds'],
        noisy_fraction=noisy,
        noisy_fraction_all=record['noisy_fraction_all'],
        jaccard_prev=record['jaccard_prev'],
        random_draws=protocol.random_draws(policy),
        teacher_digest=teacher_digest,
        device=args.device_name,
        finished=time.strftime('%Y-%m-%d %H:%M:%S'),
        **extra)
    if final is not None:
        run['final'] = final  # sealed: only --report --final shows it
    print(f"[{policy} {tag} seed {seed}] bbox_mAP {run['bbox_mAP']:.3f}, "
          f"mAP_50 {run['bbox_mAP_50']:.3f}, {seconds:.0f} s "
          f"({record['score_seconds']:.0f} s scoring)" +
          (f', noisy share {sum(noisy) / len(noisy):.3f}' if noisy else ''),
          flush=True)
    return run


def find_run(results: dict, policy: str, seed: int, recipe: dict,
             teacher_digest: Optional[str] = None):
    """The stored run of this policy, seed, recipe and FP checkpoint
    (``teacher_digest``), or None."""
    return STORE.find(
        results,
        dict(policy=policy, seed=seed, recipe=recipe,
             teacher_digest=teacher_digest))


def merge_results(results: dict, others: list) -> int:
    """Add the runs (and FP models) of the files ``others`` that
    ``results`` does not hold, or that replace the one it holds
    (:meth:`protocol.RunStore.merge`); the number of runs added or replaced."""
    return STORE.merge(results, others)


def rule_text(cfg) -> str:
    """A selection rule or scorer config as ``type (key value, ...)``."""
    if not isinstance(cfg, dict):
        return str(cfg)
    rest = ', '.join(f'{k} {v}' for k, v in cfg.items() if k != 'type')
    return str(cfg.get('type')) + (f' ({rest})' if rest else '')


def options_text(options: dict) -> str:
    """``--acs-options`` as ``key value, ...`` (a pipeline by its
    transforms' types, and the scales they resize to)."""
    def transform(t):
        if not isinstance(t, dict):
            return str(t)
        scale = t.get('scale')
        return t.get('type', '?') + (
            '' if scale is None else ' ' +
            ('x'.join(map(str, scale)) if isinstance(scale, (list, tuple))
             else str(scale)))

    def text(value):
        if isinstance(value, list):
            return '[' + ', '.join(transform(v) for v in value) + ']'
        return str(value)

    return ', '.join(f'{k} {text(v)}' for k, v in sorted(options.items()))


def label(run: dict) -> str:
    """``policy`` plus what sets its recipe apart (the fraction, a
    selection rule other than top-k, a scorer, the noise, the configs)."""
    recipe = STORE.recipe(run)
    parts = [run['policy']]
    if recipe['fraction'] is not None:
        parts.append(f"f={recipe['fraction']}")
    if recipe['selection'] is not None and recipe['selection'] != 'topk':
        sel = recipe['selection']
        parts.append('selection=' + (','.join(
            f'{k}:{v}' for k, v in sel.items()) if isinstance(sel, dict)
            else str(sel)))
    if recipe['scorer'] is not None:
        parts.append('scorer=' + rule_text(recipe['scorer']))
    if recipe['acs_options']:
        parts.append('options=' + options_text(recipe['acs_options']))
    for key in ('teacher_drop', 'layer_align', 'noise'):
        if recipe[key]:
            parts.append(f'{key}={recipe[key]}')
    for key in ('fp_config', 'qat_config', 'data_root'):
        if recipe[key] != STORE.late_defaults[key]:
            parts.append(f'{key}={recipe[key]}')
    return ' '.join(parts)


#: The recipe keys a run shares with the ``full`` runs of its ``kept``.
FULL_KEYS = ('noise', 'epochs', 'fp_epochs', 'num_train', 'num_val',
             'layer_align', 'fp_config', 'qat_config', 'data_root',
             'final_share')


def kept_of(runs: list):
    """``kept(mean, run)``: the bbox mAP ``mean`` of ``run``'s variant over
    the mean of the ``full`` runs among ``runs`` that share its
    ``FULL_KEYS``, or None when there are none."""
    def key(run):
        recipe = STORE.recipe(run)
        return tuple(recipe[k] for k in FULL_KEYS) + (
            run.get('teacher_digest'), )

    fulls = {}
    for run in runs:
        if run['policy'] == 'full':
            fulls.setdefault(key(run), []).append(run['bbox_mAP'])

    def kept(mean: float, run: dict):
        ref = fulls.get(key(run))
        ref_mean = sum(ref) / len(ref) if ref else 0.0
        return mean / ref_mean if ref_mean > 0 else None

    return kept


def summarize(runs: list) -> dict:
    """``{label: stats}`` over the seeds of ``runs`` (``report.summarize``
    of the bbox mAP, with the seed stats of every metric); ``kept`` is the
    mean bbox_mAP over the mean of ``full`` at the same noise, epochs,
    layer alignment and FP. Runs of several FP checkpoints are named
    apart (``protocol.teacher_tag``)."""
    tag = protocol.teacher_tag(runs)

    def name_of(run):
        return label(run) + tag(run)

    out = report.summarize(runs, name_of, 'bbox_mAP')
    kept = kept_of(runs)
    for name, stats in out.items():
        rs = [r for r in runs if name_of(r) == name]
        stats.update({m: report.seed_stats(r[m] for r in rs)
                      for m in METRICS},
                     noisy_fraction_all=rs[0].get('noisy_fraction_all'),
                     kept=kept(stats['mean'], rs[0]))
    return out


def print_table(summary: dict, fp: dict) -> None:
    for key, metrics in sorted(fp.items()):
        print(f"FP model ({key}): bbox_mAP {metrics['bbox_mAP']:.3f}, "
              f"mAP_50 {metrics['bbox_mAP_50']:.3f}")
    width = max([16] + [len(n) + 2 for n in summary])
    print(f"{'policy':<{width}}{'mAP':>7}{'std':>7}{'min':>7}{'max':>7}"
          f"{'mAP_50':>8}{'n':>3}{'kept':>7}{'wall_s':>8}{'score_s':>8}"
          f"{'noisy':>7}")
    for name, s in sorted(summary.items()):
        m = s['bbox_mAP']
        kept, noisy = s['kept'], s['noisy_fraction_mean']
        print(f"{name:<{width}}{m['mean']:>7.3f}{m['std']:>7.3f}"
              f"{m['min']:>7.3f}{m['max']:>7.3f}"
              f"{s['bbox_mAP_50']['mean']:>8.3f}{len(s['seeds']):>3}"
              f"{'-' if kept is None else f'{kept:.3f}':>7}"
              f"{s['wall_seconds_mean']:>8.0f}{s['score_seconds_mean']:>8.0f}"
              f"{'-' if noisy is None else f'{noisy:.3f}':>7}")


#: Recipe keys that only ``acs`` reads: the rest make a verdict's condition.
ACS_KEYS = ('selection', 'teacher_drop', 'scorer', 'acs_options')


def variant_name(run: dict) -> str:
    """The policy and, for ``acs``, its selection rule, scorer and teacher
    drop, e.g. ``acs stratified + teacher drop 0.2``."""
    recipe = STORE.recipe(run)
    if run['policy'] == 'random_timed':
        timed = variant_name(dict(run, policy='acs'))
        return f'random_timed (the time of {timed})'
    if run['policy'] != 'acs':
        return run['policy']
    sel = recipe['selection'] or 'topk'
    if isinstance(sel, dict):
        sel = rule_text(dict(sel, type=sel.get('type', 'topk')))
    paper = sel == 'topk' and recipe['scorer'] is None
    name = f'acs {sel}' + (' (the paper)' if paper else '')
    if recipe['scorer'] is not None:
        name += ' on ' + rule_text(recipe['scorer'])
    if recipe['teacher_drop']:
        name += f" + teacher drop {recipe['teacher_drop']:g}"
    if recipe['acs_options']:
        name += f" ({options_text(recipe['acs_options'])})"
    return name


def verdict_rows(runs: list, pair: str = 'random_dynamic') -> list:
    """A row per variant (``variant_name``) and condition (fraction,
    noise, layer alignment and the rest of the recipe but ``ACS_KEYS``):
    its bbox mAP over the seeds, ``kept`` (``kept_of``: the mean over the
    mean of ``full`` on the same ``FULL_KEYS``), the noisy share of its
    coresets (min, max), and, where ``pair`` ran the same condition, the
    seed-by-seed comparison with it and the ratio of the mean wall times.
    ``runs`` holds each run once (``merge_results`` makes it so)."""
    def condition(run):
        return json.dumps(
            dict({k: v for k, v in STORE.recipe(run).items()
                  if k not in ACS_KEYS},
                 teacher_digest=run.get('teacher_digest')), sort_keys=True)

    tag = protocol.teacher_tag(runs)

    kept = kept_of(runs)
    rows = []
    for row in report.paired_rows(runs, condition, variant_name, 'bbox_mAP',
                                  pair):
        recipe = STORE.recipe(row['first'])
        by_seed = [r for r in runs if condition(r) == row['condition']
                   and variant_name(r) == row['variant']]
        noisy = [f for r in by_seed for f in r.get('noisy_fraction') or []]
        rows.append(
            dict(fraction=recipe['fraction'], noise=recipe['noise'],
                 layer_align=recipe['layer_align'],
                 variant=row['variant'] + tag(row['first']),
                 checkpoint=row['first'].get('teacher_digest') or '',
                 map=row['stats'], seeds=row['seeds'],
                 detail=detail_means(by_seed),
                 per_seed=row['per_seed'],
                 kept=kept(row['stats']['mean'], row['first']),
                 noisy=(min(noisy), max(noisy)) if noisy else None,
                 vs=row['vs'], wall_ratio=row['wall_ratio'],
                 draws=row['draws']))
    # Per condition: the pair, the other baselines, then the acs variants.
    order = [pair] + [p for p in POLICIES[1:] if p != pair] + ['acs']
    rows.sort(key=lambda r: (r['checkpoint'], r['noise'], r['layer_align'],
                             -(r['fraction'] or 1.0),
                             order.index(r['variant'].split()[0]),
                             r['variant']))
    return rows


def detail_means(runs: list) -> dict:
    """The means over ``runs`` of the COCO metrics beyond ``METRICS``
    that all of them hold: AP of small objects (``bbox_mAP_s``) and of
    every class (``<class>_precision``), in CocoMetric's order."""
    keys = [k for k in runs[0]
            if k == 'bbox_mAP_s' or k.endswith('_precision')]
    # NaN (a class without boxes in these images) or COCO's -1 (no object
    # of that size): nothing to show.
    return {k: statistics.fmean(r[k] for r in runs) for k in keys
            if all(k in r and r[k] >= 0 for r in runs)}


def verdict_table(rows: list, pair: str = 'random_dynamic') -> str:
    """``verdict_rows`` as a markdown table."""
    extra = []  # the detail metrics of any row, in their order
    for r in rows:
        extra += [k for k in r.get('detail', {}) if k not in extra]
    extra.sort(key=lambda k: k != 'bbox_mAP_s')
    cells = []
    for r in rows:
        boxes = f"{r['noise']:.0%} noisy" if r['noise'] else 'clean'
        if r['layer_align']:
            boxes += f", align {r['layer_align']:g}"
        cells.append([
            boxes, 'all' if r['fraction'] is None else f"{r['fraction']:g}",
            r['variant'],
            report.mean_std(r['map'], 3, r['seeds']),
            ' / '.join(f'{v:.3f}' for v in r['per_seed']),
            '-' if r['kept'] is None else f"{r['kept']:.2f}"
        ] + [
            '-' if k not in r.get('detail', {}) else f"{r['detail'][k]:.3f}"
            for k in extra
        ] + report.paired_cells(r['vs'], 3) + [
            '-' if r['wall_ratio'] is None else f"{r['wall_ratio']:.2f}",
            '-' if r['noisy'] is None else
            f"{r['noisy'][0]:.3f}–{r['noisy'][1]:.3f}",
            '/'.join(r['draws']) or '-'
        ])
    return report.markdown_table([
        'boxes', 'f', 'variant', 'bbox mAP', 'per seed', 'kept'
    ] + [
        'AP_s' if k == 'bbox_mAP_s' else f"AP {k[:-len('_precision')]}"
        for k in extra
    ] + [
        f'diff vs {pair} (min, max)', 'above', 'beats', f'wall / {pair}',
        'noisy share', 'random draws'
    ], cells)


def pages(files: list) -> dict:
    """The result page of every detection results file: ``{name: (title,
    markdown)}``."""
    out = {}
    for path in files:
        stem = osp.splitext(osp.basename(path))[0]
        results = protocol.load_results(path)
        fp = [
            f"- FP model `{key}`: bbox mAP {m['bbox_mAP']:.3f}, mAP_50 "
            f"{m['bbox_mAP_50']:.3f}" +
            (f", {m['train_seconds']:.0f} s" if 'train_seconds' in m else
             '') + (f", SHA-256 `{m['digest']}`" if 'digest' in m else '')
            for key, m in sorted(results.get('fp', {}).items())
        ]
        teachers = protocol.teacher_sentence(results['runs'])
        summary = summarize(results['runs'])
        cells = [[
            f'`{name}`', report.mean_std(s['bbox_mAP'], 3),
            f"{s['bbox_mAP']['min']:.3f}", f"{s['bbox_mAP']['max']:.3f}",
            len(s['seeds']), f"{s['wall_seconds_mean']:.0f} "
            f"({s['wall_seconds_mean'] - s['score_seconds_mean']:.0f} + "
            f"{s['score_seconds_mean']:.0f})"
        ] for name, s in sorted(summary.items())]
        title = f'Detection runs of `results/{stem}.json`'
        out[f'{stem}.md'] = (title, '\n'.join([
            f'# {title}', '',
            'COCO bbox mAP on the validation images; every variant beside '
            '`random_dynamic` at the same fraction, noise and alignment, '
            'seed by seed (beats: the mean difference exceeds both stds); '
            'kept: the mean over that of `full` on the same data. `python '
            f'tools/benchmarks/detection.py --verdict results/{stem}.json` '
            'prints the first table.', ''
        ] + fp + ([
            '', teachers.strip()
        ] if teachers else []) + [
            '', '## Verdict', '',
            verdict_table(verdict_rows(results['runs'])), '',
            '## Every variant', '',
            report.markdown_table([
                'variant', 'bbox mAP', 'min', 'max', 'seeds',
                'wall s (train + scoring)'
            ], cells), ''
        ]))
    return out


def sealed(runs: list) -> list:
    """The ``runs`` that tested on the sealed final split, with those
    metrics in place of the validation ones."""
    return [dict(r, **r['final']) for r in runs if 'final' in r]


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.verdict:
        return protocol.print_verdict(
            STORE, args.verdict,
            lambda runs: verdict_rows(sealed(runs) if args.final else runs,
                                      args.pair),
            lambda rows: verdict_table(rows, args.pair))
    import mmacs  # noqa: F401  (registers the components)
    results, out, tmp, start = protocol.open_results(STORE, args,
                                                     'mmacs_detection_',
                                                     'detection.json')
    args.data_dir = args.data_root or osp.join(args.work_dir, 'data')
    if args.report:
        summary = summarize(sealed(results['runs']) if args.final else
                            results['runs'])
        fp = results.get('fp', {})
        if args.final:
            fp = {k: dict(m, **m.get('final', {})) for k, m in fp.items()}
        print_table(summary, fp)
        note = protocol.teacher_note(results['runs'], label)
        if note is not None:
            print(note, flush=True)
        if args.baseline is not None:
            report.compare_with_baseline(summary, args.baseline,
                                         'bbox mAP', digits=3)
        return common.finish_benchmark(dict(summary=summary), tmp, start)
    fp_ckpt = fp_model(args, results)
    protocol.save_results(out, results)
    # A run from another FP model (a retrained one at the same path) is
    # another run. Seeds outermost: an interrupted study still has every
    # policy; full and ptq do not depend on the fraction.
    digest = common.file_digest(fp_ckpt)
    wanted = [
        dict(policy=policy, seed=seed, fraction=fraction,
             recipe=recipe_of(args, policy, fraction), teacher_digest=digest)
        for seed in args.seeds for fraction in args.fractions
        for policy in args.policies
        if policy not in WHOLE or fraction == args.fractions[0]
    ]
    mine = protocol.run_all(
        STORE, results, out, wanted,
        lambda w: run_one(w['policy'], w['fraction'], w['seed'], args,
                          fp_ckpt, results, digest),
        lambda run: (f"[{label(run)} seed {run['seed']}]",
                     f"bbox_mAP {run['bbox_mAP']:.3f}"))
    summary = summarize(mine)
    print_table(summary, results.get('fp', {}))
    return protocol.finish_study(
        dict(summary=summary, runs=mine, fp=results.get('fp', {})), args,
        out, tmp, start)


if __name__ == '__main__':
    main()
