# Copyright (c) mmacs contributors. All rights reserved.
# isort: skip_file
"""Evaluate a checkpoint (e.g. COCO bbox mAP through mmdet's CocoMetric).

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
       [--out-json FILE] [--cfg-options k=v ...] [--launcher pytorch]
"""
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmacs  # noqa: E402,F401  (registers modules, safe checkpoint loading)
from mmacs.engine.cli import base_parser, build_runner, load_cfg, parse  # noqa: E402,E501
from mmacs.engine.runner import release_process_group  # noqa: E402


def parse_args(argv=None):
    parser = base_parser('Test a model with mmacs')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-json', help='write the evaluation metrics to this JSON file')
    return parse(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_cfg(args)
    cfg.load_from = args.checkpoint
    metrics = build_runner(cfg).test()
    release_process_group()
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
    return metrics


if __name__ == '__main__':
    main()
