# Copyright (c) mmacs contributors. All rights reserved.
"""Evaluate a checkpoint (e.g. COCO bbox mAP through mmdet's CocoMetric).

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
       [--out-json FILE] [--cfg-options k=v ...] [--launcher pytorch]
"""
import json

import mmacs  # noqa: F401  (registers modules, safe checkpoint loading)
from mmacs.engine.cli import base_parser, build_runner, load_cfg, parse
from mmacs.engine.runner import release_process_group


def parse_args(argv=None):
    parser = base_parser('Test a model with mmacs')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-json', help='write the evaluation metrics to this JSON file')
    return parse(parser, argv)


#: The keys mmdet's CocoMetric reports per metric when nothing is missing.
COCO_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


def expected_metric_keys(evaluator) -> list:
    """The keys the COCO metrics of ``evaluator`` report ('bbox' / 'segm'
    of each ``CocoMetric``)."""
    keys = []
    for metric in getattr(evaluator, 'metrics', []):
        if type(metric).__name__ != 'CocoMetric':
            continue
        for name in metric.metrics:
            if name in ('bbox', 'segm'):
                keys += [f'{metric.prefix}/{name}_{item}'
                         for item in metric.metric_items or COCO_ITEMS]
    return keys


def metrics_json(metrics: dict, evaluator) -> dict:
    """What ``--out-json`` writes: the metrics as floats. COCO keys that are
    missing because the model predicted no box on the test set (mmdet's
    CocoMetric then logs an error and returns nothing) are 0 and ``note``
    says why."""
    out = {k: float(v) for k, v in metrics.items()}
    missing = [k for k in expected_metric_keys(evaluator) if k not in out]
    if missing:
        out.update({k: 0.0 for k in missing})
        out['note'] = ('the model predicted no box on the test set, so '
                       'mmdet\'s CocoMetric computed nothing; these '
                       f'metrics are 0: {", ".join(missing)}')
    return out


def main(argv=None):
    args = parse_args(argv)
    cfg = load_cfg(args)
    cfg.load_from = args.checkpoint
    runner = build_runner(cfg)
    metrics = runner.test()
    release_process_group()
    if args.out_json:
        out = metrics_json(metrics, runner.test_evaluator)
        if 'note' in out:
            runner.logger.warning(out['note'])
        with open(args.out_json, 'w') as f:
            json.dump(out, f, indent=2)
    return metrics


if __name__ == '__main__':
    main()
