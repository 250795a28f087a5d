# Copyright (c) mmacs contributors. All rights reserved.
"""onnxruntime (CPU) latency of the exported W4A4 RetinaNet-R18 against the
FP export of the same network, side by side in one process.

Usage: python tools/deploy/benchmark_onnx.py [--config CONFIG]
       [--size H W] [--runs N] [--threads N] [--out-json FILE]

Builds the QAT model of ``--config`` (default: the W4A4 RetinaNet-R18-FPN
COCO config; random weights, nothing downloaded: latency does not depend
on the values), calibrates its steps on two random batches, exports the
student (QuantizeLinear / DequantizeLinear) and the teacher (float), and
times both with onnxruntime on the same input, alternating the two models
run by run. Prints the median latencies and their ratio.
"""
import argparse
import json
import os.path as osp
import statistics
import time

import torch

import mmacs  # noqa: F401  (registers modules)
from mmacs.deploy import (export_float_onnx, export_qat_model, graph_summary,
                          load_qat_config, onnx_session, require_onnx)
from mmacs.utils import REPO_ROOT, repo_path

DEFAULT_CONFIG = repo_path('configs', 'retinanet',
                           'lsq-w4a4_full_retinanet_r18_fpn_1x_coco.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='onnxruntime latency: quantized vs float export')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument(
        '--size', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'))
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--threads', type=int, default=0,
        help='onnxruntime intra-op threads (0: its default, all cores)')
    parser.add_argument('--out-json')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error('--runs must be >= 1 and --warmup >= 0')
    return args


def build_model(config: str, size):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = load_qat_config(config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    cfg.model.float_checkpoint = None
    cfg.model.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    batches = [
        dict(inputs=[torch.randint(0, 255, (3, *size), dtype=torch.uint8)])
        for _ in range(2)
    ]
    model.calibrate(batches)
    return model.eval(), model.data_preprocessor(batches[0], False)['inputs']


def main(argv=None) -> dict:
    args = parse_args(argv)
    _, ort = require_onnx()
    model, inputs = build_model(args.config, args.size)
    quant, lowered = export_qat_model(model, inputs)
    fp = export_float_onnx(model.teacher, model.task, inputs)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if args.threads:
        options.intra_op_num_threads = args.threads
    sessions = {
        name: onnx_session(m, options)
        for name, m in (('w4a4', quant), ('fp', fp))
    }
    feed = {'inputs': inputs.numpy()}
    for _ in range(args.warmup):
        for s in sessions.values():
            s.run(None, feed)
    times = {name: [] for name in sessions}
    for _ in range(args.runs):
        for name, s in sessions.items():
            start = time.perf_counter()
            s.run(None, feed)
            times[name].append(time.perf_counter() - start)
    median = {k: statistics.median(v) for k, v in times.items()}
    result = dict(
        config=osp.relpath(args.config, REPO_ROOT),
        size=list(args.size),
        runs=args.runs,
        threads=args.threads or 'default',
        onnxruntime=ort.__version__,
        median_ms={k: 1000 * v for k, v in median.items()},
        ratio_w4a4_over_fp=median['w4a4'] / median['fp'],
        quantizers=len(lowered),
        nodes=dict(w4a4=graph_summary(quant), fp=graph_summary(fp)))
    print(f"RetinaNet {args.size[0]}x{args.size[1]}, onnxruntime "
          f"{ort.__version__} CPU, median of {args.runs} runs: W4A4 "
          f"{result['median_ms']['w4a4']:.1f} ms, FP "
          f"{result['median_ms']['fp']:.1f} ms, ratio W4A4 / FP "
          f"{result['ratio_w4a4_over_fp']:.2f}")
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
