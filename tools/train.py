# Copyright (c) mmacs contributors. All rights reserved.
"""Train a detector or classifier (float or QAT, with or without ACS).

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]
       [--amp] [--auto-scale-lr] [--cfg-options k=v ...]
       [--launcher pytorch]
"""
import torch

import mmacs  # noqa: F401  (registers modules, safe checkpoint loading)
from mmacs.engine.cli import base_parser, build_runner, load_cfg, parse
from mmacs.engine.runner import release_process_group


def parse_args(argv=None):
    parser = base_parser('Train a model with mmacs')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training (CUDA only)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the real batch size (all '
        "processes) over the config's auto_scale_lr.base_batch_size")
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or from the latest one in the '
        'work dir when no path is given')
    return parse(parser, argv)


def apply_train_args(cfg, args):
    """What ``--amp``, ``--auto-scale-lr`` and ``--resume`` change in
    ``cfg`` (as mmdet's tools/train.py does); a ValueError saying why when
    the config or the machine cannot do what was asked."""
    if args.amp:
        if not torch.cuda.is_available():
            raise ValueError(
                "--amp needs CUDA: mmengine's AmpOptimWrapper (float16 "
                'autocast with a loss scaler) does not run on the CPU, and '
                'this machine has no CUDA device; train without --amp')
        if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        scale = cfg.get('auto_scale_lr') or {}
        if 'base_batch_size' not in scale:
            raise ValueError(
                '--auto-scale-lr needs auto_scale_lr.base_batch_size in the '
                f'config (the batch size its learning rate is for), got '
                f'auto_scale_lr={scale!r}; e.g. --cfg-options '
                'auto_scale_lr.base_batch_size=16')
        cfg.auto_scale_lr = dict(scale, enable=True)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = apply_train_args(load_cfg(args), args)
    runner = build_runner(cfg)
    runner.train()
    release_process_group(runner)
    return runner


if __name__ == '__main__':
    main()
