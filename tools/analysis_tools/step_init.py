# Copyright (c) mmacs contributors. All rights reserved.
"""Compare LSQ step initialisations of a QAT config's student.

Calibrates the student once with LSQ's ``2 mean|x| / sqrt(Qp)``
(``init='lsq'``) and once with the least-squared-error step
(``init='mse'``) on the same training batches and prints, per quantizer,
both steps, their ratio and the relative squared quantization error of
what the quantizer sees in a forward of the first batch. Last line: one
JSON object.

Usage: python tools/analysis_tools/step_init.py CONFIG [--batches 2]
       [--cfg-options key=value ...]
"""
import argparse
import json
from itertools import islice


def parse_args(argv=None):
    from mmacs.engine.cli import add_cfg_options
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a QAT config')
    parser.add_argument('--batches', type=int, default=2,
                        help='calibration batches (of the training loader)')
    parser.add_argument('--work-dir', default='work_dirs/step_init')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error(f'--batches must be >= 1, got {args.batches}')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    from mmengine.config import Config

    import mmacs  # noqa: F401  (registers the components)
    from mmacs.engine.cli import build_runner
    from mmacs.quantization import compare_step_inits
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir
    if not hasattr(cfg, 'model') or cfg.model.get('type') != 'QATModel':
        raise SystemExit(f'{args.config} is not a QAT config (its model is '
                         f"not a QATModel)")
    runner = build_runner(cfg)
    model = runner.model
    batches = list(islice(iter(runner.train_dataloader), args.batches))
    model.student.eval()

    def forward(batch):
        data = model.data_preprocessor(batch, False)
        model.student(data['inputs'], data['data_samples'], mode='tensor')

    with torch.no_grad():
        result = compare_step_inits(model.student, batches, forward)
    lsq, mse = result['lsq'], result['mse']
    width = max(len(n) for n in lsq) + 2
    print(f"{'quantizer':<{width}}{'lsq step':>10}{'mse step':>10}"
          f"{'ratio':>7}{'lsq err':>9}{'mse err':>9}")
    for name in lsq:
        a, b = lsq[name], mse[name]
        print(f"{name:<{width}}{a['step']:>10.4f}{b['step']:>10.4f}"
              f"{b['step'] / a['step']:>7.2f}{a['rel_error']:>9.3f}"
              f"{b['rel_error']:>9.3f}")
    out = dict(config=args.config, batches=args.batches, steps=result)
    print(json.dumps(out))
    return out


if __name__ == '__main__':
    main()
