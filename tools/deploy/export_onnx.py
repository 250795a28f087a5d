# Copyright (c) mmacs contributors. All rights reserved.
"""Export the quantized student of a QAT checkpoint to ONNX.

Usage: python tools/deploy/export_onnx.py CONFIG CHECKPOINT --out FILE
       [--input-shape H W] [--opset N] [--verify] [--verify-batches N]
       [--tolerance T] [--end2end] [--report FILE] [--cfg-options k=v ...]

The graph holds the student's ``tensor``-mode forward (a detector's
per-level class and box maps, a classifier's logits) on the preprocessed
batch, every LSQ quantizer as QuantizeLinear -> DequantizeLinear with its
learned step (see mmacs/deploy/onnx_export.py for the integer types).
``--verify`` runs it with onnxruntime (CPU) on batches of the config's test
set and compares with the PyTorch fake-quant student. ``--end2end`` adds box
decoding, score threshold and NMS to a detector's graph
(mmacs/deploy/end2end.py): one image of ``--input-shape`` in, ``boxes``,
``scores`` and ``labels`` out.
"""
import argparse
import json

import torch

import mmacs  # noqa: F401  (registers modules, safe checkpoint loading)
from mmacs.deploy import (DEFAULT_OPSET, VERIFY_TOLERANCE, export_end2end,
                          export_qat_model, graph_summary, load_qat_config,
                          load_qat_model, verify_onnx)
from mmacs.engine.cli import add_cfg_options

DEFAULT_SHAPE = (256, 256)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a QAT checkpoint to ONNX (QuantizeLinear / '
        'DequantizeLinear)')
    parser.add_argument('config', help='the QAT config')
    parser.add_argument('checkpoint', help='the QAT checkpoint')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument(
        '--input-shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='example input size for tracing (height and width stay '
        'dynamic, except with --end2end); defaults to '
        f'{DEFAULT_SHAPE[0]} {DEFAULT_SHAPE[1]}, or the first test batch '
        'with --verify')
    parser.add_argument(
        '--opset',
        type=int,
        default=DEFAULT_OPSET,
        help='ONNX opset (>= 13; >= 21 stores 4-bit grids as INT4/UINT4)')
    parser.add_argument(
        '--verify',
        action='store_true',
        help='compare onnxruntime with PyTorch on test batches')
    parser.add_argument(
        '--verify-batches',
        type=int,
        default=2,
        help='test batches for --verify')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=VERIFY_TOLERANCE,
        help='largest max abs output difference --verify accepts, '
        'relative to the largest output')
    parser.add_argument(
        '--end2end',
        action='store_true',
        help='box decoding, score threshold and NMS inside the graph '
        '(boxes, scores, labels out; one image of a static size)')
    parser.add_argument('--report', help='write a JSON report here')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    if args.verify_batches < 1:
        parser.error(f'--verify-batches must be >= 1, got '
                     f'{args.verify_batches}')
    if args.end2end and args.verify:
        parser.error('--verify compares the dense export; test an --end2end '
                     'graph with tools/deploy/test_onnx.py')
    if args.input_shape and min(args.input_shape) < 1:
        parser.error(f'--input-shape must be positive, got '
                     f'{args.input_shape}')
    return args


def test_batches(cfg, num: int) -> list:
    """The first ``num`` batches of the config's test dataloader."""
    from mmengine.runner import Runner
    loader = Runner.build_dataloader(cfg.test_dataloader)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == num:
            break
    return batches


def main(argv=None) -> dict:
    args = parse_args(argv)
    model = load_qat_model(args.config, args.checkpoint, args.cfg_options)
    batches = []
    if args.verify:
        cfg = load_qat_config(args.config, args.cfg_options)
        batches = test_batches(cfg, args.verify_batches)
    if args.input_shape:
        example = torch.randn(1, 3, *args.input_shape)
    elif batches:
        example = model.data_preprocessor(batches[0], False)['inputs']
    else:
        example = torch.randn(1, 3, *DEFAULT_SHAPE)
    if args.end2end:
        onnx_model, lowered = export_end2end(
            model, example[:1], args.out, opset=args.opset)
    else:
        onnx_model, lowered = export_qat_model(
            model, example, args.out, opset=args.opset)
    report = dict(
        onnx=args.out,
        opset=args.opset,
        task=model.task,
        nodes=graph_summary(onnx_model),
        quantizers=lowered)
    print(f'wrote {args.out} ({model.task}, opset {args.opset}): '
          f'{len(lowered)} LSQ quantizers as QuantizeLinear/'
          'DequantizeLinear')
    kinds = {}
    for q in lowered.values():
        key = f"{q['bits']}-bit {'signed' if q['qn'] < 0 else 'unsigned'}" \
            f" -> {q['type']}{' + Clip' if q['clip'] else ''}"
        kinds[key] = kinds.get(key, 0) + 1
    for key, n in sorted(kinds.items()):
        print(f'  {n:4d} x {key}')
    print('nodes: ' + ', '.join(f'{k} {v}'
                                for k, v in report['nodes'].items()))
    if args.verify:
        result = verify_onnx(onnx_model, model, batches, args.tolerance)
        report['verify'] = result
        print(f"verify on {result['num_batches']} test batch(es): every "
              'Q/DQ pair against its quantizer: max difference '
              f"{result['max_quantizer_diff']:.3g} steps; outputs: max abs "
              f"difference {result['max_abs_diff']:.3g} (largest output "
              f"{result['max_abs_ref']:.3g}, relative "
              f"{result['rel_diff']:.3g}; tolerance {args.tolerance:g})")
    if args.report:
        with open(args.report, 'w') as f:
            json.dump(report, f, indent=2)
    if args.verify and not report['verify']['passed']:
        result = report['verify']
        raise SystemExit(
            'onnxruntime differs from PyTorch: outputs by '
            f"{result['rel_diff']:.3g} of the largest output (tolerance "
            f"{args.tolerance:g}), quantizer {result['worst_quantizer']!r} "
            f"by {result['max_quantizer_diff']:.3g} steps")
    return report


if __name__ == '__main__':
    main()
