# Copyright (c) mmacs contributors. All rights reserved.
# isort: skip_file
"""What Adaptive Coreset Selection buys over the baselines on real
CIFAR-10 images, with several seeds.

W2A2 LSQ QAT of ResNet-20 from the shared full-precision checkpoint (which
is also the teacher), on the shared CIFAR-10 training images (the seeded
45k split), every policy with the same fraction ``f``, interval ``R`` and
epoch budget:

- ``acs``: the paper's method (every sample scored every R epochs);
- ``acs_pool``: the approximate fast mode (a random pool of
  ``--score-pool`` of the set scored every R epochs), to measure its
  quality cost against ``acs``;
- ``random_static``: one random coreset for the whole run;
- ``random_dynamic``: a fresh random coreset every R epochs;
- ``full``: all the data every epoch (f = 1).

Top-1 accuracy on the seeded 5k hold-out of the shared training images
(never trained on), mean and spread per policy. The default takes about an
hour on 2 CPU cores; ``--quick`` is a smoke run of a few minutes. The last
printed line is one JSON object.

Usage: python tools/benchmark_quality.py [--seeds 0 1 2] [--epochs 4]
       [--interval 2] [--fraction 0.1] [--quick] [--work-dir DIR]
"""
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from benchmark_overhead import (cifar_cfg, coreset_parser,  # noqa: E402
                                finish, prepare, quiet_training)
from mmengine.registry import RUNNERS  # noqa: E402

import mmacs  # noqa: E402,F401

POLICIES = ('acs', 'acs_pool', 'random_static', 'random_dynamic', 'full')


def run_policy(policy: str, seed: int, args) -> dict:
    """Train one policy with one seed; top-1 on the hold-out and seconds."""
    cfg = cifar_cfg(args.num_samples, args.val_samples)
    quiet_training(cfg, args.epochs)
    coreset = dict(policy=policy, fraction=args.fraction,
                   interval=args.interval, seed=seed)
    if policy == 'acs_pool':
        coreset.update(policy='acs', score_pool=args.score_pool)
    elif policy == 'full':
        coreset.update(fraction=1.0)
    cfg.coreset.update(coreset)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = osp.join(args.work_dir, f'{policy}_seed{seed}')
    cfg.experiment_name = f'{policy}_seed{seed}'
    start = time.perf_counter()
    runner = RUNNERS.build(cfg)
    runner.train()
    train_seconds = time.perf_counter() - start
    metrics = runner.val_loop.run()
    top1 = float(metrics['accuracy/top1'])
    print(f'[{policy} seed {seed}] top-1 {top1:.2f}%, trained in '
          f'{train_seconds:.0f} s', flush=True)
    return dict(top1=top1, train_seconds=train_seconds)


def summarize(runs: dict) -> dict:
    out = {}
    for policy, by_seed in runs.items():
        accs = [r['top1'] for r in by_seed.values()]
        out[policy] = dict(
            mean=statistics.fmean(accs),
            std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
            min=min(accs),
            max=max(accs),
            seeds=len(accs),
            train_seconds_mean=statistics.fmean(
                r['train_seconds'] for r in by_seed.values()))
    return out


def main(argv=None) -> dict:
    parser = coreset_parser(__doc__, epochs=4, interval=2)
    parser.add_argument('--policies', nargs='+', default=list(POLICIES),
                        choices=POLICIES)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--val-samples', type=int, default=5000,
                        help='hold-out images (of the 5k split)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 1000 images, 2 epochs, 2 seeds')
    args = parser.parse_args(argv)
    if args.quick:
        args.num_samples, args.val_samples = 1000, 500
        args.epochs, args.interval, args.seeds = 2, 1, args.seeds[:2]
    tmp = prepare(args, True, 'mmacs_quality_')
    start = time.perf_counter()
    runs = {p: {} for p in args.policies}
    # Seeds outermost: an interrupted run still has every policy.
    for seed in args.seeds:
        for policy in args.policies:
            runs[policy][seed] = run_policy(policy, seed, args)
    summary = summarize(runs)
    print(f"\nResNet-20 W2A2, f = {args.fraction}, R = {args.interval}, "
          f"{args.epochs} epochs, {args.num_samples} training images, "
          f"top-1 on {args.val_samples} hold-out images, seeds "
          f"{args.seeds}")
    print(f"{'policy':<16}{'mean':>8}{'std':>8}{'min':>8}{'max':>8}"
          f"{'train_s':>10}")
    for policy, s in summary.items():
        print(f"{policy:<16}{s['mean']:>8.2f}{s['std']:>8.2f}"
              f"{s['min']:>8.2f}{s['max']:>8.2f}"
              f"{s['train_seconds_mean']:>10.0f}")
    result = dict(
        summary=summary,
        runs={p: {str(k): v for k, v in r.items()} for p, r in runs.items()},
        val_samples=args.val_samples,
        seeds=args.seeds)
    return finish(result, args, tmp, start)


if __name__ == '__main__':
    main()
