# Copyright (c) mmacs contributors. All rights reserved.
"""What fake quantization costs per training step, measured side by side.

1. A QAT training step (forward + backward + SGD step of the LSQ student)
   over the float step of the same model, for ResNet-20 (CIFAR, batch 128)
   and RetinaNet-R18-FPN (128 px, batch 8). Target: <= 1.5x.
2. The LSQ quantizer (forward + backward) against torch's learnable
   fake-quant op ``torch._fake_quantize_learnable_per_tensor_affine``.

Runs interleave the variants (A, B, A, B, ...) and report medians. On CUDA
each timed call is bracketed by ``torch.cuda.synchronize()``, and one QAT
step per LSQ implementation is also run under
``torch.cuda.set_sync_debug_mode('warn')`` (the host-device synchronisations
it makes are counted) and under the profiler (the CUDA kernels it launches
are counted). The JSON records the device's name. The last printed line is
one JSON object.

Usage: python tools/benchmarks/fakequant.py [--repeats 10] [--quick]
       [--device {auto,cpu,cuda}] [--impls auto fused compiled]
       [--tasks resnet20 retinanet quantizer] [--compile-model]
"""
import argparse
import json
import statistics
import time
import warnings

import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmacs.classification  # noqa: F401  (detection and the CIFAR ResNet)
from mmacs.quantization import (LSQ_IMPLS, LSQQuantizer, calibrate,
                                named_quantizers, quantize_model)
from mmacs.utils import device_name, repo_path


def resolve_device(name: str) -> torch.device:
    """``'auto'`` is CUDA when present, else the CPU; ``'cuda'`` without
    CUDA is an error."""
    if name not in ('auto', 'cpu', 'cuda'):
        raise ValueError(
            f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no "
                           f'CUDA device (torch {torch.__version__})')
    return torch.device(name)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _interleaved(fns: dict, repeats: int,
                 device: torch.device = torch.device('cpu')) -> dict:
    times = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up (and compilation)
        fn()
    for _ in range(repeats):
        for key, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def count_syncs(fn, device: torch.device):
    """Host-device synchronisations made by one call of ``fn`` (None off
    CUDA), from ``torch.cuda.set_sync_debug_mode('warn')``."""
    if device.type != 'cuda':
        return None
    _sync(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    _sync(device)
    return sum('synchroniz' in str(w.message) for w in caught)


def count_kernels(fn, device: torch.device):
    """CUDA kernels (and copies) launched by one call of ``fn`` (None off
    CUDA), from the profiler."""
    if device.type != 'cuda':
        return None
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    _sync(device)
    with profile(activities=[ProfilerActivity.CPU,
                             ProfilerActivity.CUDA]) as prof:
        fn()
        _sync(device)
    return sum(1 for e in prof.events() if e.device_type == DeviceType.CUDA)


def set_impl(model: torch.nn.Module, impl: str) -> None:
    """Make every LSQ quantizer of ``model`` use ``impl``."""
    for _, q in named_quantizers(model):
        q.impl = impl


def _step_fn(model, loss_fn):
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model).backward()
        opt.step()

    return step


def bench_resnet20(repeats, batch, device=torch.device('cpu'),
                   impls=('auto', ), compile_model=False):
    """ResNet-20 W4A4: the float step, the QAT step for each LSQ
    implementation in ``impls`` (and, with ``compile_model``, both models
    under ``torch.compile``); seconds, and syncs and kernels per QAT step.
    """
    init_default_scope('mmdet')
    net_cfg = dict(type='CifarResNet', depth=20, num_classes=10)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch, ), device=device)

    def loss(m):
        return torch.nn.functional.cross_entropy(m(x), y)

    fp = MODELS.build(net_cfg).train()
    q = MODELS.build(net_cfg).train()
    q.load_state_dict(fp.state_dict())
    quantize_model(q, dict(bits=4), dict(bits=4, signed='auto'),
                   skip=('conv1', 'linear'))
    fp.to(device)
    q.to(device)
    calibrate(q, [x], lambda b: q(b))
    fns = dict(fp=_step_fn(fp, loss))
    for impl in impls:
        step = _step_fn(q, loss)

        def qat(step=step, impl=impl):
            set_impl(q, impl)
            step()

        fns[f'qat_{impl}'] = qat
    if compile_model:
        fns['fp_compiled_model'] = _step_fn(torch.compile(fp), loss)
        compiled_step = _step_fn(torch.compile(q), loss)

        def qat_compiled_model():
            set_impl(q, 'fused')  # traced into the model's graph
            compiled_step()

        fns['qat_compiled_model'] = qat_compiled_model
    times = _interleaved(fns, repeats, device)
    syncs = {k: count_syncs(fn, device) for k, fn in fns.items()}
    kernels = {k: count_kernels(fn, device) for k, fn in fns.items()}
    return times, syncs, kernels


def bench_retinanet(repeats, batch, device=torch.device('cpu')):
    """RetinaNet-R18-FPN W4A4: the float and the QAT step (on CUDA this
    needs mmcv built with its CUDA ops: the focal loss is one)."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        repo_path('configs', 'retinanet', 'retinanet_r18_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg = None
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    inputs = torch.randn(batch, 3, 128, 128, device=device)
    samples = []
    for _ in range(batch):
        s = DetDataSample(metainfo=dict(
            img_shape=(128, 128), batch_input_shape=(128, 128),
            pad_shape=(128, 128), scale_factor=(1., 1.)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 70., 90.]], device=device),
            labels=torch.tensor([1], device=device))
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
    fp.to(device)
    q.to(device)
    calibrate(q, [inputs], lambda b: q._forward(b))
    return _interleaved(
        dict(fp=_step_fn(fp, loss), qat=_step_fn(q, loss)), repeats, device)


def bench_quantizer(repeats, shape=(64, 64, 32, 32),
                    device=torch.device('cpu'), impls=('auto', )):
    """The quantizer's forward + backward per implementation, and torch's
    learnable fake-quant op on the same tensor."""
    x = torch.randn(*shape, device=device, requires_grad=True)
    lsq = LSQQuantizer(bits=4, signed=True).to(device)
    calibrate(lsq, [x.detach()], lsq)
    scale = lsq.step.detach().reshape(1).clone().requires_grad_()
    zero = torch.zeros(1, device=device, requires_grad=True)
    fns = {}
    for impl in impls:

        def ours(impl=impl):
            lsq.impl = impl
            lsq(x).sum().backward()

        fns[f'lsq_{impl}'] = ours

    def torch_op():
        torch._fake_quantize_learnable_per_tensor_affine(
            x, scale, zero, -8, 7, 1.0).sum().backward()

    fns['torch'] = torch_op
    times = _interleaved(fns, repeats, device)
    syncs = {k: count_syncs(fn, device) for k, fn in fns.items()}
    return times, syncs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--quick', action='store_true',
                        help='3 repeats, small batches (a smoke run)')
    parser.add_argument('--device', default='auto',
                        help="'auto' (CUDA when present), 'cpu' or 'cuda'")
    parser.add_argument('--impls', nargs='+', default=['auto'],
                        choices=LSQ_IMPLS,
                        help='LSQ implementations timed (the first gives '
                        'the headline ratios)')
    parser.add_argument('--tasks', nargs='+',
                        default=['resnet20', 'retinanet', 'quantizer'],
                        choices=['resnet20', 'retinanet', 'quantizer'])
    parser.add_argument('--compile-model', action='store_true',
                        help='also time the ResNet-20 steps of both models '
                        'under torch.compile')
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    repeats = 3 if args.quick else args.repeats
    torch.manual_seed(0)
    first = args.impls[0]
    result = dict(
        device=device.type,
        device_name=device_name(device),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        repeats=repeats,
        impls=args.impls)
    if 'resnet20' in args.tasks:
        r20, syncs, kernels = bench_resnet20(
            repeats, 32 if args.quick else 128, device, args.impls,
            args.compile_model)
        result.update(
            resnet20_fp_step_s=r20['fp'],
            resnet20_qat_step_s=r20[f'qat_{first}'],
            resnet20_qat_over_fp=r20[f'qat_{first}'] / r20['fp'],
            resnet20_step_s=r20,
            resnet20_over_fp={k: v / r20['fp']
                              for k, v in r20.items()},
            resnet20_syncs_per_step=syncs,
            resnet20_cuda_kernels_per_step=kernels)
        for key, sec in r20.items():
            extra = '' if device.type != 'cuda' else (
                f', {syncs[key]} syncs, {kernels[key]} kernels')
            print(f'ResNet-20 step {key}: {sec * 1e3:.2f} ms '
                  f"({sec / r20['fp']:.2f}x FP{extra})")
    if 'retinanet' in args.tasks:
        ret = bench_retinanet(repeats, 2 if args.quick else 8, device)
        result.update(
            retinanet_r18_fp_step_s=ret['fp'],
            retinanet_r18_qat_step_s=ret['qat'],
            retinanet_r18_qat_over_fp=ret['qat'] / ret['fp'])
        print(f"RetinaNet-R18 step: FP {ret['fp']:.3f} s, QAT "
              f"{ret['qat']:.3f} s ({result['retinanet_r18_qat_over_fp']:.2f}"
              'x)')
    if 'quantizer' in args.tasks:
        fq, syncs = bench_quantizer(repeats, device=device, impls=args.impls)
        result.update(
            lsq_fwd_bwd_s=fq[f'lsq_{first}'],
            torch_learnable_fq_fwd_bwd_s=fq['torch'],
            lsq_over_torch_op=fq[f'lsq_{first}'] / fq['torch'],
            quantizer_fwd_bwd_s=fq,
            quantizer_syncs=syncs)
        for key, sec in fq.items():
            extra = '' if syncs[key] is None else f', {syncs[key]} syncs'
            print(f'quantizer fwd+bwd {key}: {sec * 1e3:.3f} ms{extra}')
    print(json.dumps(result))
    return result


if __name__ == '__main__':
    main()
