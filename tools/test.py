# Copyright (c) mmacs contributors. All rights reserved.
"""Evaluate a checkpoint (e.g. COCO bbox mAP through mmdet's CocoMetric).

Usage: python tools/test.py CONFIG {CHECKPOINT | --ptq} [--work-dir DIR]
       [--out FILE.pkl] [--show-dir DIR] [--out-json FILE]
       [--cfg-options k=v ...] [--launcher pytorch]

``--ptq`` evaluates a QAT config without training: post-training
quantization of its ``float_checkpoint``, the LSQ steps calibrated on
``qat.calibration_batches`` training batches (with the config's step
``init``, e.g. 'mse'), the baseline a QAT recipe has to beat.
"""
import json

import mmacs  # noqa: F401  (registers modules, safe checkpoint loading)
from mmacs.engine.cli import base_parser, build_runner, load_cfg, parse
from mmacs.engine.runner import release_process_group


def parse_args(argv=None):
    parser = base_parser('Test a model with mmacs')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--ptq', action='store_true',
        help='no checkpoint: quantize the QAT config\'s float model after '
        'training, calibrated on training batches, and evaluate it')
    parser.add_argument(
        '--out',
        help="dump the predictions to this pickle file (mmdet's "
        'DumpDetResults) for offline evaluation')
    parser.add_argument(
        '--show-dir',
        help='draw the predictions on the test images into this directory '
        "(relative to the run's work_dir/timestamp), through the config's "
        'default_hooks.visualization')
    parser.add_argument(
        '--out-json', help='write the evaluation metrics to this JSON file')
    args = parse(parser, argv)
    if (args.checkpoint is None) != args.ptq:
        parser.error('give a CHECKPOINT or --ptq (a QAT config calibrated '
                     'from its float model), not both, got '
                     f'checkpoint={args.checkpoint!r} ptq={args.ptq}')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must name a .pkl or .pickle file, got '
                     f'{args.out!r}')
    return args


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


def show_predictions(cfg, show_dir: str):
    """Turn on the config's visualization hook (mmdet's
    ``DetVisualizationHook``) to draw into ``show_dir``; a ValueError when
    the config has none (classification configs)."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise ValueError(
            '--show-dir needs default_hooks.visualization in the config '
            "(mmdet's DetVisualizationHook, as in mmdet's default_runtime); "
            f'{cfg.filename} has none')
    hook.update(draw=True, test_out_dir=show_dir)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = load_cfg(args)
    if args.ptq and cfg.model.get('type') != 'QATModel':
        raise ValueError(f'--ptq needs a QAT config (model type QATModel), '
                         f"{cfg.filename} has {cfg.model.get('type')!r}")
    cfg.load_from = args.checkpoint
    if args.show_dir:
        show_predictions(cfg, args.show_dir)
    runner = build_runner(cfg)
    if args.out is not None:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))
    metrics = runner.test()
    release_process_group(runner)
    if args.out_json:
        out = metrics_json(metrics, runner.test_evaluator)
        if 'note' in out:
            runner.logger.warning(out['note'])
        with open(args.out_json, 'w') as f:
            json.dump(out, f, indent=2)
    return metrics


if __name__ == '__main__':
    main()
