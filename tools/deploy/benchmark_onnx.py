# Copyright (c) mmacs contributors. All rights reserved.
"""onnxruntime (CPU) latency of quantized RetinaNet-R18 exports against the
FP export of the same network, side by side in one process.

Usage: python tools/deploy/benchmark_onnx.py [--configs CONFIG ...]
       [--size H W] [--runs N] [--warmup N] [--threads N] [--out-json FILE]

Builds the QAT model of each ``--configs`` entry (default: the W8A8 and
the W4A4 RetinaNet-R18-FPN COCO configs; random weights, nothing
downloaded: latency does not depend on the values), calibrates its steps on
two random batches, exports the student (QuantizeLinear / DequantizeLinear)
and, once, the FP teacher, and times every graph with onnxruntime on the
same input, interleaved run by run (the machine's load hits all of them
alike). Prints the median latencies, their ratios to FP and the kernels
onnxruntime runs (integer / float convolutions after its graph fusions).
"""
import argparse
import json
import os.path as osp
import statistics
import time

import torch

import mmacs  # noqa: F401  (registers modules)
from mmacs.deploy import (conv_kernels, export_float_onnx, export_qat_model,
                          graph_summary, load_qat_config, onnx_session,
                          optimized_summary, require_onnx)
from mmacs.utils import REPO_ROOT, repo_path

DEFAULT_CONFIGS = [
    repo_path('configs', 'retinanet', name) for name in (
        'lsq-w8a8_full_retinanet_r18_fpn_1x_coco.py',
        'lsq-w4a4_full_retinanet_r18_fpn_1x_coco.py')
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='onnxruntime latency: quantized vs float export')
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS)
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


def recipe_name(model) -> str:
    """``W8A8``, ``W4A4``, ... from the student's quantizers."""
    from mmacs.quantization import named_quantizers
    bits = {'w': set(), 'a': set()}
    for _, q in named_quantizers(model.student):
        bits['w' if q.is_weight else 'a'].add(q.bits)
    return 'W{}A{}'.format(*('/'.join(map(str, sorted(bits[k]))) or '32'
                             for k in ('w', 'a')))


def interleaved_medians(sessions: dict, feed: dict, runs: int,
                        warmup: int) -> dict:
    """Median seconds per session, the sessions taking turns run by run
    (the starting one rotating)."""
    for _ in range(warmup):
        for s in sessions.values():
            s.run(None, feed)
    names = list(sessions)
    times = {name: [] for name in names}
    for i in range(runs):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            sessions[name].run(None, feed)
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> dict:
    args = parse_args(argv)
    _, ort = require_onnx()
    graphs, exported, teacher = {}, {}, None
    for config in args.configs:
        model, inputs = build_model(config, args.size)
        name = recipe_name(model)
        if name in graphs:
            name = osp.basename(config)
        graphs[name], lowered = export_qat_model(model, inputs)
        exported[name] = dict(
            config=osp.relpath(config, REPO_ROOT),
            quantizers=len(lowered),
            folded_bn=len(getattr(model, 'folded_layers', [])))
        if teacher is None:
            teacher = export_float_onnx(model.teacher, model.task, inputs)
    graphs = dict(FP=teacher, **graphs)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if args.threads:
        options.intra_op_num_threads = args.threads
    sessions = {name: onnx_session(m, options) for name, m in graphs.items()}
    median = interleaved_medians(sessions, {'inputs': inputs.numpy()},
                                 args.runs, args.warmup)
    result = dict(
        size=list(args.size),
        runs=args.runs,
        threads=args.threads or 'default',
        onnxruntime=ort.__version__,
        models={})
    for name, graph in graphs.items():
        nodes = graph_summary(graph)
        runtime = optimized_summary(graph, args.threads or 0)
        result['models'][name] = dict(
            exported.get(name, {}),
            median_ms=1000 * median[name],
            ratio_to_fp=median[name] / median['FP'],
            batch_norm_nodes=nodes.get('BatchNormalization', 0),
            qdq_pairs=nodes.get('QuantizeLinear', 0),
            conv_kernels=conv_kernels(runtime),
            nodes=nodes,
            runtime_nodes=runtime)
    print(f'RetinaNet R18-FPN {args.size[0]}x{args.size[1]}, onnxruntime '
          f'{ort.__version__} CPU ({result["threads"]} threads), median of '
          f'{args.runs} interleaved runs:')
    for name, info in result['models'].items():
        kernels = info['conv_kernels']
        print(f'  {name:8s} {info["median_ms"]:8.1f} ms  '
              f'x{info["ratio_to_fp"]:.2f} of FP  convs: '
              f'{kernels["integer"]} integer / {kernels["float"]} float, '
              f'BatchNormalization {info["batch_norm_nodes"]}')
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
