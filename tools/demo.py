# Copyright (c) mmacs contributors. All rights reserved.
"""The mmacs CPU demo: RetinaNet on synthetic shapes, FP -> W4A4 QAT with
Adaptive Coreset Selection against a random coreset of the same size.

Usage: python tools/demo.py [--work-dir work_dirs/demo] [--fraction 0.3]
       [--fp-epochs N] [--qat-epochs N] [--interval R] [--noisy]

Steps, all in this process with mmengine's Runner / mmacs's QATRunner:

1. generate the seeded synthetic shapes dataset (COCO format) in
   ``WORK_DIR/data``;
2. train the full-precision RetinaNet R18-FPN from scratch
   (configs/demo/retinanet_r18-tiny_fpn_shapes-128.py);
3. W4A4 LSQ QAT from that checkpoint, on a coreset of ``fraction`` of the
   images chosen by ``acs`` and by ``random_dynamic``, re-selected every
   ``interval`` epochs (and, with ``--noisy``, ACS on the data with 20% of
   the images' boxes corrupted);
4. COCO bbox evaluation (mmdet's CocoMetric) of every model on the
   validation images.

Writes ``WORK_DIR/summary.json`` (``bbox_mAP``, ``bbox_mAP_50``,
``bbox_mAP_75`` and ``train_seconds`` of each model), prints a table and
plots the ACS run's selections to ``WORK_DIR/selection.png``. Takes about
6 minutes on 2 idle CPU cores (``--noisy``: 1.5 more); nothing is
downloaded.
"""
import argparse
import copy
import json
import os.path as osp
import time

from mmengine.config import Config

import mmacs  # noqa: F401  (registers modules, safe checkpoint loading)
from mmacs import utils
from mmacs.datasets import make_synthetic_shapes
from mmacs.engine.cli import build_runner
from mmacs.visualization import load_log, plot_selection

CONFIG_DIR = utils.repo_path('configs', 'demo')
FP_CONFIG = 'retinanet_r18-tiny_fpn_shapes-128.py'
QAT_CONFIGS = {
    'acs': 'lsq-w4a4_acs-f0.3_retinanet_r18-tiny_fpn_shapes-128.py',
    'random_dynamic':
    'lsq-w4a4_random-dynamic-f0.3_retinanet_r18-tiny_fpn_shapes-128.py',
    'acs_noisy':
    'lsq-w4a4_acs-f0.3_retinanet_r18-tiny_fpn_shapes-128_noisy-0.2.py',
}
METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75')
#: The bbox_mAP_50 the FP model must reach for the demo to be meaningful.
FP_MIN_MAP50 = 0.3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='mmacs demo: FP -> W4A4 QAT with ACS vs random coresets')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument(
        '--data-root', help='dataset dir; defaults to WORK_DIR/data')
    parser.add_argument(
        '--fraction', type=float, default=0.3, help='coreset fraction f')
    parser.add_argument(
        '--interval', type=int, help='epochs between selections (R); '
        'defaults to the configs\' value')
    parser.add_argument(
        '--fp-epochs', type=int, help='defaults to the FP config\'s')
    parser.add_argument(
        '--qat-epochs', type=int, help='defaults to the QAT configs\'')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--noisy',
        action='store_true',
        help='also run ACS with 20%% of the training images noisy')
    return parser.parse_args(argv)


def load_cfg(name: str, args, work_dir: str) -> Config:
    """A demo config pointed at the generated data and ``work_dir``."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    utils.set_coco_data_root(cfg, args.data_root)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=args.seed)
    # One visualizer per run: a shared name would log to the first run's
    # work dir.
    cfg.visualizer.name = f'visualizer_{osp.basename(work_dir)}'
    return cfg


def set_epochs(cfg: Config, epochs: int) -> None:
    """Train ``epochs`` epochs, validating and saving at the end."""
    utils.set_epochs(cfg, epochs)
    cfg.default_hooks.checkpoint.interval = epochs


def train(cfg: Config) -> tuple:
    """Train (without validation: :func:`evaluate` tests the result);
    returns the final checkpoint and the seconds training took."""
    cfg = copy.deepcopy(cfg)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    start = time.perf_counter()
    runner = build_runner(cfg)
    runner.train()
    seconds = time.perf_counter() - start
    ckpt = osp.join(cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'training wrote no checkpoint {ckpt}')
    return ckpt, seconds


def evaluate(cfg: Config, ckpt: str) -> dict:
    """COCO bbox metrics of ``ckpt`` on the validation set (as
    tools/test.py computes them)."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = osp.join(cfg.work_dir, 'test')
    cfg.visualizer.name += '_test'
    cfg.load_from = ckpt
    metrics = build_runner(cfg).test()
    return {k: float(metrics[f'coco/{k}']) for k in METRICS}


def format_table(summary: dict) -> str:
    rows = [k for k in ('fp', 'acs', 'random_dynamic', 'acs_noisy')
            if k in summary]
    header = f"{'model':<16}" + ''.join(f'{m:>13}' for m in METRICS) + \
        f"{'train_s':>10}"
    lines = [header, '-' * len(header)]
    for key in rows:
        entry = summary[key]
        lines.append(f'{key:<16}' +
                     ''.join(f'{entry[m]:>13.3f}' for m in METRICS) +
                     f"{entry['train_seconds']:>10.1f}")
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not 0 < args.fraction <= 1:
        raise ValueError(
            f'--fraction must lie in (0, 1], got {args.fraction!r}')
    args.data_root = args.data_root or osp.join(args.work_dir, 'data')
    start = time.perf_counter()
    make_synthetic_shapes(args.data_root, seed=args.seed)

    fp_cfg = load_cfg(FP_CONFIG, args, osp.join(args.work_dir, 'fp'))
    if args.fp_epochs:
        set_epochs(fp_cfg, args.fp_epochs)
    fp_ckpt, fp_seconds = train(fp_cfg)

    runs = dict(fp=(fp_cfg, fp_ckpt, fp_seconds))
    names = ['acs', 'random_dynamic'] + (['acs_noisy'] if args.noisy else [])
    for name in names:
        cfg = load_cfg(QAT_CONFIGS[name], args,
                       osp.join(args.work_dir, name))
        cfg.model.float_checkpoint = fp_ckpt
        cfg.coreset.fraction = args.fraction
        cfg.coreset.seed = args.seed
        if args.interval:
            cfg.coreset.interval = args.interval
        if args.qat_epochs:
            set_epochs(cfg, args.qat_epochs)
        runs[name] = (cfg, *train(cfg))

    summary = dict(fraction=args.fraction)
    for name, (cfg, ckpt, seconds) in runs.items():
        summary[name] = dict(evaluate(cfg, ckpt), train_seconds=seconds)
    summary['total_seconds'] = time.perf_counter() - start
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    for name, png in (('acs', 'selection.png'),
                      ('acs_noisy', 'selection_noisy.png')):
        if name in runs:
            records = load_log(osp.join(args.work_dir, name))
            out = plot_selection(records, osp.join(args.work_dir, png))
            print(f'wrote {out} ({len(records)} selections)')
    print(f'\nmmacs demo: RetinaNet R18-FPN on synthetic shapes, W4A4 QAT '
          f'on a coreset of f = {args.fraction}')
    print(format_table(summary))
    print(f"total {summary['total_seconds']:.0f} s; summary in "
          f"{osp.join(args.work_dir, 'summary.json')}")
    if summary['fp']['bbox_mAP_50'] < FP_MIN_MAP50:
        print(f"WARNING: the FP model's bbox_mAP_50 "
              f"{summary['fp']['bbox_mAP_50']:.3f} is below "
              f'{FP_MIN_MAP50}: train it longer (--fp-epochs)')
    return summary


if __name__ == '__main__':
    main()
