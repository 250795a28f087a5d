# Copyright (c) mmacs contributors. All rights reserved.
"""Coreset policies for detection, side by side: W4A4 LSQ QAT of the demo
RetinaNet R18-FPN on the synthetic shapes, COCO bbox mAP (mmdet's
``CocoMetric``) on the validation images.

One full-precision RetinaNet is trained once per work dir (and reused: it
is the starting point and the teacher of every QAT run); then, for every
fraction, policy and seed, W4A4 QAT from it with the demo's recipe (6
epochs, R = 1, cosine LR):

- ``acs``: scores every R epochs and selects by ``--selection`` (default
  top-k, the paper's rule), with ``--teacher-drop Q`` among the images
  but the share ``Q`` whose boxes the FP teacher fits worst;
- ``random_static``: one random coreset for the whole run;
- ``random_dynamic``: a fresh random coreset every R epochs;
- ``full``: all the images for all the epochs (the reference for the share
  of full-data mAP a coreset keeps; independent of the fraction);
- ``full_steps``: all the images for ``round(f x epochs)`` epochs (the same
  number of training steps as a coreset run).

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
       [--seeds 0 1 2] [--selection JSON] [--noise 0.2] [--out FILE]
       [--report] [--verdict FILE...] [--quick]
"""
import argparse
import json
import os.path as osp
import statistics
import time

POLICIES = ('acs', 'random_static', 'random_dynamic', 'full', 'full_steps')
CONFIG_DIR = osp.join('configs', 'demo')
FP_CONFIG = 'retinanet_r18-tiny_fpn_shapes-128.py'
QAT_CONFIG = 'lsq-w4a4_acs-f0.3_retinanet_r18-tiny_fpn_shapes-128.py'
METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75')
#: Options that change what a QAT run trains: a run is reused only when
#: all of them match.
RECIPE_KEYS = ('fraction', 'epochs', 'interval', 'selection', 'noise',
               'fp_epochs', 'num_train', 'num_val', 'teacher_drop',
               'layer_align')
#: The modules ``--layer-align`` aligns to the teacher's.
ALIGN_LAYERS = ['neck']


def parse_args(argv=None) -> argparse.Namespace:
    from mmacs.utils import add_benchmark_args, add_results_args, json_option
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--policies', nargs='+',
                        default=['acs', 'random_static', 'random_dynamic',
                                 'full'], choices=POLICIES)
    parser.add_argument('--fractions', nargs='+', type=float,
                        default=[0.3, 0.1])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=6,
                        help='QAT epochs (the demo config: 6)')
    parser.add_argument('--interval', type=int, default=1,
                        help='R: epochs between selections')
    parser.add_argument('--selection', default=None,
                        help="acs's selection rule as JSON, e.g. "
                        '\'{"type": "stratified"}\' (default: top-k, the '
                        "paper's)")
    parser.add_argument('--teacher-drop', type=float, default=0.0,
                        metavar='Q',
                        help="acs never selects the share Q of the images "
                        "whose boxes the FP teacher fits worst (its head "
                        "loss; teacher_filter=dict(drop=Q)); 0: off, the "
                        "paper")
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
    add_results_args(
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
                                 if p not in ('acs', 'full')],
                        help='with --verdict: the policy every variant is '
                        'compared with (default random_dynamic)')
    add_benchmark_args(parser)
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
    if not 0 <= args.noise < 1:
        parser.error(f'--noise must be in [0, 1), got {args.noise}')
    if not 0 <= args.teacher_drop < 1:
        parser.error(f'--teacher-drop must be in [0, 1), got '
                     f'{args.teacher_drop}')
    if args.layer_align < 0:
        parser.error(f'--layer-align must be >= 0, got {args.layer_align}')
    for key in ('epochs', 'interval', 'fp_epochs', 'num_train', 'num_val'):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1, got "
                         f'{getattr(args, key)}')
    args.selection = json_option(parser, '--selection', args.selection)
    return args


def recipe_of(args, policy: str, fraction: float) -> dict:
    """What a run of ``policy`` at ``fraction`` trains. ``full`` does not
    depend on the fraction, and only ``acs`` on the selection rule."""
    recipe = {k: getattr(args, k) for k in RECIPE_KEYS if k != 'fraction'}
    recipe['fraction'] = None if policy == 'full' else fraction
    if policy != 'acs':
        recipe['selection'] = None
        recipe['teacher_drop'] = 0.0
    return recipe


def load_cfg(name: str, args, work_dir: str, seed: int):
    from mmengine.config import Config

    from mmacs.utils import repo_path, set_coco_data_root
    cfg = Config.fromfile(repo_path(CONFIG_DIR, name))
    set_coco_data_root(cfg, args.data_root)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    cfg.randomness = dict(seed=seed)
    # One visualizer per run: a shared name logs to the first run's dir.
    cfg.visualizer.name = f'visualizer_{osp.basename(work_dir)}'
    return cfg


def train_and_evaluate(cfg, epochs: int) -> tuple:
    """Train ``cfg`` for ``epochs`` (saving the last checkpoint); its COCO
    metrics on the validation images and the seconds training took."""
    from mmacs.engine import release_process_group
    from mmacs.engine.cli import build_runner
    from mmacs.utils import quiet_epochs
    quiet_epochs(cfg, epochs)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=epochs, save_last=True)
    start = time.perf_counter()
    runner = build_runner(cfg)
    runner.train()
    seconds = time.perf_counter() - start
    metrics = runner.val_loop.run()
    release_process_group()
    if not any(f'coco/{k}' in metrics for k in METRICS):
        # CocoMetric returns nothing when the model detects nothing.
        print(f'{cfg.work_dir}: no detections on the validation images, '
              'mAP 0', flush=True)
        return {k: 0.0 for k in METRICS}, seconds
    return {k: float(metrics[f'coco/{k}']) for k in METRICS}, seconds


def fp_model(args, results: dict) -> str:
    """The full-precision checkpoint of this work dir (trained once, with
    seed 0); its metrics are stored in ``results['fp']``."""
    from mmacs.datasets import make_synthetic_shapes
    work_dir = osp.join(args.work_dir, f'fp_{args.fp_epochs}ep')
    ckpt = osp.join(work_dir, f'epoch_{args.fp_epochs}.pth')
    make_synthetic_shapes(args.data_root, num_train=args.num_train,
                          num_val=args.num_val, seed=0)
    key = f'{args.fp_epochs}ep_{args.num_train}_{args.num_val}'
    stored = results.setdefault('fp', {}).get(key)
    if stored is not None and osp.isfile(ckpt):
        print(f"FP model from {ckpt}: bbox_mAP {stored['bbox_mAP']:.3f}",
              flush=True)
        return ckpt
    cfg = load_cfg(FP_CONFIG, args, work_dir, seed=0)
    metrics, seconds = train_and_evaluate(cfg, args.fp_epochs)
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'FP training wrote no checkpoint {ckpt}')
    results['fp'][key] = dict(metrics, train_seconds=seconds)
    print(f"FP model: bbox_mAP {metrics['bbox_mAP']:.3f}, {seconds:.0f} s",
          flush=True)
    return ckpt


def build_qat_cfg(policy: str, fraction: float, seed: int, args,
                  fp_ckpt: str, work_dir: str):
    cfg = load_cfg(QAT_CONFIG, args, work_dir, seed)
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
    epochs = args.epochs
    coreset = dict(policy=policy, fraction=fraction, interval=args.interval,
                   seed=seed)
    if policy == 'acs':
        coreset['selection'] = 'topk' if args.selection is None \
            else args.selection
        coreset['teacher_filter'] = dict(drop=args.teacher_drop) \
            if args.teacher_drop > 0 else None
    elif policy in ('full', 'full_steps'):
        if policy == 'full_steps':
            epochs = max(1, int(round(fraction * args.epochs)))
        coreset.update(policy='full', fraction=1.0, interval=epochs)
    cfg.coreset.update(coreset)
    return cfg, epochs


def run_one(policy: str, fraction: float, seed: int, args,
            fp_ckpt: str) -> dict:
    from mmacs.utils import random_draws
    tag = 'all' if policy == 'full' else f'f{fraction}'
    work_dir = osp.join(args.work_dir,
                        f'{policy}_{tag}_seed{seed}_{int(time.time())}')
    cfg, epochs = build_qat_cfg(policy, fraction, seed, args, fp_ckpt,
                                work_dir)
    metrics, seconds = train_and_evaluate(cfg, epochs)
    rounds = []
    log = osp.join(work_dir, 'coreset_log.jsonl')
    if osp.isfile(log):
        with open(log) as f:
            rounds = [json.loads(line) for line in f]
    score_seconds = sum(r.get('score_seconds', 0.0) for r in rounds)
    noisy = [r['noisy_fraction'] for r in rounds
             if r.get('noisy_fraction') is not None]
    run = dict(
        policy=policy,
        seed=seed,
        recipe=recipe_of(args, policy, fraction),
        epochs_run=epochs,
        **metrics,
        wall_seconds=seconds,
        score_seconds=score_seconds,
        noisy_fraction=noisy,
        noisy_fraction_all=rounds[0].get('noisy_fraction_all')
        if rounds else None,
        jaccard_prev=[r['jaccard_prev'] for r in rounds
                      if r.get('jaccard_prev') is not None],
        random_draws=random_draws(policy),
        device=args.device_name,
        finished=time.strftime('%Y-%m-%d %H:%M:%S'))
    print(f"[{policy} {tag} seed {seed}] bbox_mAP {run['bbox_mAP']:.3f}, "
          f"mAP_50 {run['bbox_mAP_50']:.3f}, {seconds:.0f} s "
          f'({score_seconds:.0f} s scoring)' +
          (f', noisy share {sum(noisy) / len(noisy):.3f}' if noisy else ''),
          flush=True)
    return run


#: Recipe keys added after runs were stored, with the value those runs had.
LATER_KEYS = dict(teacher_drop=0.0, layer_align=0.0)


def full_recipe(recipe: dict) -> dict:
    """``recipe`` with the keys it was stored without (``LATER_KEYS``)."""
    return dict(LATER_KEYS, **recipe)


def find_run(results: dict, policy: str, seed: int, recipe: dict):
    """The stored run of this policy, seed and recipe, or None."""
    recipe = full_recipe(recipe)
    for run in results['runs']:
        if (run['policy'], run['seed'],
                full_recipe(run['recipe'])) == (policy, seed, recipe):
            return run
    return None


def merge_results(results: dict, others: list) -> int:
    """Add the runs (and FP models) of the files ``others`` that
    ``results`` does not hold, or that replace the one it holds
    (``merge_run``: a rerun of a random policy with independent draws);
    the number of runs added or replaced."""
    from mmacs.utils import load_results, merge_run
    added = 0
    for path in others:
        other = load_results(path)
        for key, fp in other.get('fp', {}).items():
            results.setdefault('fp', {}).setdefault(key, fp)
        for run in other['runs']:
            stored = find_run(results, run['policy'], run['seed'],
                              run['recipe'])
            added += merge_run(results['runs'], stored, run)
    return added


def label(run: dict) -> str:
    """``policy`` plus what sets its recipe apart (the fraction, a
    selection rule other than top-k, the noise)."""
    recipe = run['recipe']
    parts = [run['policy']]
    if recipe['fraction'] is not None:
        parts.append(f"f={recipe['fraction']}")
    if recipe['selection'] is not None and recipe['selection'] != 'topk':
        sel = recipe['selection']
        parts.append('selection=' + (','.join(
            f'{k}:{v}' for k, v in sel.items()) if isinstance(sel, dict)
            else str(sel)))
    if recipe.get('teacher_drop'):
        parts.append(f"teacher_drop={recipe['teacher_drop']}")
    if recipe.get('layer_align'):
        parts.append(f"layer_align={recipe['layer_align']}")
    if recipe['noise']:
        parts.append(f"noise={recipe['noise']}")
    return ' '.join(parts)


#: The recipe keys a run shares with the ``full`` runs of its ``kept``.
FULL_KEYS = ('noise', 'epochs', 'fp_epochs', 'num_train', 'num_val',
             'layer_align')


def kept_of(runs: list):
    """``kept(mean, run)``: the bbox mAP ``mean`` of ``run``'s variant over
    the mean of the ``full`` runs among ``runs`` that share its
    ``FULL_KEYS``, or None when there are none."""
    def key(run):
        recipe = full_recipe(run['recipe'])
        return tuple(recipe[k] for k in FULL_KEYS)

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
    """``{label: stats}`` over the seeds of ``runs``; ``kept`` is the mean
    bbox_mAP over the mean of ``full`` at the same noise, epochs, layer
    alignment and FP."""
    from mmacs.utils import seed_stats
    groups = {}
    for run in runs:
        groups.setdefault(label(run), []).append(run)
    out = {}
    for name, rs in groups.items():
        noisy = [f for r in rs for f in r['noisy_fraction']]
        out[name] = dict(
            {m: seed_stats(r[m] for r in rs) for m in METRICS},
            seeds=sorted(r['seed'] for r in rs),
            by_seed={r['seed']: r['bbox_mAP'] for r in rs},
            wall_seconds_mean=sum(r['wall_seconds'] for r in rs) / len(rs),
            score_seconds_mean=sum(r['score_seconds'] for r in rs) / len(rs),
            noisy_fraction_mean=sum(noisy) / len(noisy) if noisy else None,
            noisy_fraction_all=rs[0]['noisy_fraction_all'])
    kept = kept_of(runs)
    for name, rs in groups.items():
        out[name]['kept'] = kept(out[name]['bbox_mAP']['mean'], rs[0])
    return out


def print_table(summary: dict, fp: dict) -> None:
    for key, metrics in sorted(fp.items()):
        print(f"FP RetinaNet ({key}): bbox_mAP {metrics['bbox_mAP']:.3f}, "
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
ACS_KEYS = ('selection', 'teacher_drop')


def variant_name(run: dict) -> str:
    """The policy and, for ``acs``, its selection rule and teacher drop,
    e.g. ``acs stratified + teacher drop 0.2``."""
    recipe = full_recipe(run['recipe'])
    if run['policy'] != 'acs':
        return run['policy']
    sel = recipe['selection'] or 'topk'
    if isinstance(sel, dict):
        rest = ', '.join(f'{k} {v}' for k, v in sel.items() if k != 'type')
        sel = sel.get('type', 'topk') + (f' ({rest})' if rest else '')
    name = f'acs {sel}' + (' (the paper)' if sel == 'topk' else '')
    if recipe['teacher_drop']:
        name += f" + teacher drop {recipe['teacher_drop']:g}"
    return name


def verdict_rows(runs: list, pair: str = 'random_dynamic') -> list:
    """A row per variant (``variant_name``) and condition (fraction,
    noise, layer alignment and the rest of the recipe but ``ACS_KEYS``):
    its bbox mAP over the seeds, ``kept`` (``kept_of``: the mean over the
    mean of ``full`` on the same ``FULL_KEYS``), the noisy share of its
    coresets (min, max), and, where ``pair`` ran the same condition, the
    seed-by-seed comparison with it and the ratio of the mean wall times.
    ``runs`` holds each run once (``merge_results`` makes it so)."""
    from mmacs.utils import paired_stats, random_draws, seed_stats
    groups = {}
    for run in runs:
        recipe = full_recipe(run['recipe'])
        cond = json.dumps({k: v for k, v in recipe.items()
                           if k not in ACS_KEYS}, sort_keys=True)
        groups.setdefault(cond, {}).setdefault(variant_name(run),
                                               {})[run['seed']] = run
    kept = kept_of(runs)
    rows = []
    for cond, variants in groups.items():
        recipe = json.loads(cond)
        base = variants.get(pair)
        for name, by_seed in variants.items():
            mean_ap = {s: r['bbox_mAP'] for s, r in by_seed.items()}
            stats = seed_stats(mean_ap.values())
            noisy = [f for r in by_seed.values()
                     for f in r.get('noisy_fraction') or []]
            row = dict(
                fraction=recipe['fraction'], noise=recipe['noise'],
                layer_align=recipe['layer_align'], variant=name,
                map=stats, seeds=len(by_seed),
                per_seed=[mean_ap[s] for s in sorted(mean_ap)],
                kept=kept(stats['mean'], by_seed[min(by_seed)]),
                noisy=(min(noisy), max(noisy)) if noisy else None,
                vs=None, wall_ratio=None,
                draws=sorted({str(r.get('random_draws') or 'shared')
                              for r in by_seed.values()})
                if random_draws(by_seed[min(by_seed)]['policy']) else [])
            if base is not None and name != pair and (set(by_seed) &
                                                      set(base)):
                row['vs'] = paired_stats(
                    mean_ap, {s: r['bbox_mAP'] for s, r in base.items()})
                row['wall_ratio'] = statistics.fmean(
                    r['wall_seconds'] for r in by_seed.values()
                ) / statistics.fmean(r['wall_seconds'] for r in base.values())
            rows.append(row)
    # Per condition: the pair, the other baselines, then the acs variants.
    order = [pair] + [p for p in POLICIES[1:] if p != pair] + ['acs']
    rows.sort(key=lambda r: (r['noise'], r['layer_align'],
                             -(r['fraction'] or 1.0),
                             order.index(r['variant'].split()[0]),
                             r['variant']))
    return rows


def verdict_table(rows: list, pair: str = 'random_dynamic') -> str:
    """``verdict_rows`` as a markdown table."""
    lines = [
        '| boxes | f | variant | bbox mAP | per seed | kept | diff vs '
        f'{pair} (min, max) | above | beats | wall / {pair} | noisy share '
        '| random draws |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- '
        '| --- |'
    ]
    for r in rows:
        boxes = f"{r['noise']:.0%} noisy" if r['noise'] else 'clean'
        if r['layer_align']:
            boxes += f", align {r['layer_align']:g}"
        m, vs = r['map'], r['vs']
        cells = [
            boxes, 'all' if r['fraction'] is None else f"{r['fraction']:g}",
            r['variant'], f"{m['mean']:.3f} ± {m['std']:.3f} ({r['seeds']})",
            ' / '.join(f'{v:.3f}' for v in r['per_seed']),
            '-' if r['kept'] is None else f"{r['kept']:.2f}"
        ]
        if vs is None:
            cells += ['-'] * 4
        else:
            cells += [
                f"{vs['diff_mean']:+.3f} ({vs['diff_min']:+.3f}, "
                f"{vs['diff_max']:+.3f})", f"{vs['above']}/{len(vs['seeds'])}",
                '**yes**' if vs['beats'] else 'no', f"{r['wall_ratio']:.2f}"
            ]
        cells += [
            '-' if r['noisy'] is None else
            f"{r['noisy'][0]:.3f}–{r['noisy'][1]:.3f}",
            '/'.join(r['draws']) or '-'
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.verdict:
        held = dict(runs=[])
        merge_results(held, args.verdict)
        rows = verdict_rows(held['runs'], args.pair)
        print(verdict_table(rows, args.pair))
        print(json.dumps(dict(verdict=rows)))
        return dict(verdict=rows)
    import torch

    import mmacs  # noqa: F401  (registers the components)
    from mmacs.utils import (benchmark_work_dir, compare_with_baseline,
                             device_name, finish_benchmark, load_results,
                             save_results, select_device)

    # The device the Runner will train on (select_device checks it).
    args.device_name = (f'{device_name(select_device(args.device))}, '
                        f'{torch.get_num_threads()} threads')
    start = time.perf_counter()
    tmp = benchmark_work_dir(args, 'mmacs_detection_')
    args.data_root = osp.join(args.work_dir, 'data')
    out = args.out or osp.join(args.work_dir, 'detection.json')
    results = load_results(out)
    if args.merge:
        print(f'merged {merge_results(results, args.merge)} runs into '
              f'{out}', flush=True)
        save_results(out, results)
    if args.report:
        summary = summarize(results['runs'])
        print_table(summary, results.get('fp', {}))
        if args.baseline is not None:
            compare_with_baseline(summary, args.baseline,
                                  'W4A4 RetinaNet, bbox mAP', digits=3)
        return finish_benchmark(dict(summary=summary), tmp, start)
    fp_ckpt = fp_model(args, results)
    save_results(out, results)
    mine = []
    # Seeds outermost: an interrupted study still has every policy.
    for seed in args.seeds:
        for fraction in args.fractions:
            for policy in args.policies:
                if policy == 'full' and fraction != args.fractions[0]:
                    continue  # independent of the fraction
                recipe = recipe_of(args, policy, fraction)
                run = find_run(results, policy, seed, recipe)
                if run is None:
                    run = run_one(policy, fraction, seed, args, fp_ckpt)
                    results['runs'].append(run)
                    save_results(out, results)
                else:
                    print(f'[{label(run)} seed {seed}] from {out}: '
                          f"bbox_mAP {run['bbox_mAP']:.3f}", flush=True)
                mine.append(run)
    summary = summarize(mine)
    print_table(summary, results.get('fp', {}))
    return finish_benchmark(
        dict(summary=summary, runs=mine, fp=results.get('fp', {}),
             device=args.device_name,
             results_file=None if tmp is not None else osp.abspath(out)),
        tmp, start)


if __name__ == '__main__':
    main()
