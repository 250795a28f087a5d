# Copyright (c) mmacs contributors. All rights reserved.
"""Train a detector or classifier (float or QAT, with or without ACS).

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]
       [--amp] [--cfg-options k=v ...] [--launcher pytorch]
"""

import mmacs  # noqa: F401  (registers modules, safe checkpoint loading)
from mmacs.engine.cli import base_parser, build_runner, load_cfg, parse
from mmacs.engine.runner import release_process_group


def parse_args(argv=None):
    parser = base_parser('Train a model with mmacs')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or from the latest one in the '
        'work dir when no path is given')
    return parse(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_cfg(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    runner = build_runner(cfg)
    runner.train()
    release_process_group()
    return runner


if __name__ == '__main__':
    main()
