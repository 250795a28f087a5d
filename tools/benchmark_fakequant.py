# Copyright (c) mmacs contributors. All rights reserved.
# isort: skip_file
"""What fake quantization costs per training step, measured side by side.

1. A QAT training step (forward + backward + SGD step of the LSQ student)
   over the float step of the same model, for ResNet-20 (CIFAR, batch 128)
   and RetinaNet-R18-FPN (128 px, batch 8). Target: <= 1.5x.
2. The LSQ quantizer (forward + backward) against torch's learnable
   fake-quant op ``torch._fake_quantize_learnable_per_tensor_affine``.

Runs interleave the variants (A, B, A, B, ...) and report medians. The last
printed line is one JSON object.

Usage: python tools/benchmark_fakequant.py [--repeats 10] [--quick]
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmacs  # noqa: E402,F401
from mmacs.quantization import LSQQuantizer, calibrate, quantize_model  # noqa: E402,E501

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _time(fn, repeats):
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _interleaved(fns: dict, repeats: int) -> dict:
    times = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def _step_fn(model, loss_fn):
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model).backward()
        opt.step()

    return step


def bench_resnet20(repeats, batch):
    init_default_scope('mmdet')
    net_cfg = dict(type='CifarResNet', depth=20, num_classes=10)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch, ))

    def loss(m):
        return torch.nn.functional.cross_entropy(m(x), y)

    fp = MODELS.build(net_cfg).train()
    q = MODELS.build(net_cfg).train()
    q.load_state_dict(fp.state_dict())
    quantize_model(q, dict(bits=4), dict(bits=4, signed='auto'),
                   skip=('conv1', 'linear'))
    calibrate(q, [x], lambda b: q(b))
    return _interleaved(
        dict(fp=_step_fn(fp, loss), qat=_step_fn(q, loss)), repeats)


def bench_retinanet(repeats, batch):
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'retinanet',
                 'retinanet_r18_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg = None
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    inputs = torch.randn(batch, 3, 128, 128)
    samples = []
    for _ in range(batch):
        s = DetDataSample(metainfo=dict(
            img_shape=(128, 128), batch_input_shape=(128, 128),
            pad_shape=(128, 128), scale_factor=(1., 1.)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 70., 90.]]),
            labels=torch.tensor([1]))
        samples.append(s)

    def loss(m):
        losses = m.loss(inputs, samples)
        return sum(sum(v) if isinstance(v, list) else v
                   for v in losses.values())

    fp = MODELS.build(cfg.model).train()
    q = MODELS.build(cfg.model).train()
    q.load_state_dict(fp.state_dict())
    quantize_model(q, dict(bits=4), dict(bits=4, signed='auto'),
                   skip=mmacs.models.DEFAULT_FP_LAYERS)
    calibrate(q, [inputs], lambda b: q._forward(b))
    return _interleaved(
        dict(fp=_step_fn(fp, loss), qat=_step_fn(q, loss)), repeats)


def bench_quantizer(repeats, shape=(64, 64, 32, 32)):
    x = torch.randn(*shape, requires_grad=True)
    lsq = LSQQuantizer(bits=4, signed=True)
    calibrate(lsq, [x.detach()], lsq)
    scale = torch.tensor([lsq.step.item()], requires_grad=True)
    zero = torch.tensor([0.0], requires_grad=True)

    def ours():
        lsq(x).sum().backward()

    def torch_op():
        torch._fake_quantize_learnable_per_tensor_affine(
            x, scale, zero, -8, 7, 1.0).sum().backward()

    return _interleaved(dict(lsq=ours, torch=torch_op), repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--quick', action='store_true',
                        help='3 repeats, small batches (a smoke run)')
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    torch.manual_seed(0)
    r20 = bench_resnet20(repeats, 32 if args.quick else 128)
    ret = bench_retinanet(repeats, 2 if args.quick else 8)
    fq = bench_quantizer(repeats)
    result = dict(
        threads=torch.get_num_threads(),
        repeats=repeats,
        resnet20_fp_step_s=r20['fp'],
        resnet20_qat_step_s=r20['qat'],
        resnet20_qat_over_fp=r20['qat'] / r20['fp'],
        retinanet_r18_fp_step_s=ret['fp'],
        retinanet_r18_qat_step_s=ret['qat'],
        retinanet_r18_qat_over_fp=ret['qat'] / ret['fp'],
        lsq_fwd_bwd_s=fq['lsq'],
        torch_learnable_fq_fwd_bwd_s=fq['torch'],
        lsq_over_torch_op=fq['lsq'] / fq['torch'])
    print(f"ResNet-20 step: FP {r20['fp'] * 1e3:.1f} ms, QAT "
          f"{r20['qat'] * 1e3:.1f} ms ({result['resnet20_qat_over_fp']:.2f}x)")
    print(f"RetinaNet-R18 step: FP {ret['fp']:.3f} s, QAT {ret['qat']:.3f} s "
          f"({result['retinanet_r18_qat_over_fp']:.2f}x)")
    print(f"quantizer fwd+bwd: LSQ {fq['lsq'] * 1e3:.2f} ms, torch op "
          f"{fq['torch'] * 1e3:.2f} ms ({result['lsq_over_torch_op']:.2f}x)")
    print(json.dumps(result))
    return result


if __name__ == '__main__':
    main()
