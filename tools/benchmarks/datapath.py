# Copyright (c) mmacs contributors. All rights reserved.
"""What the data path costs in CIFAR QAT: the per-sample JPEG path against
the in-memory path, measured side by side in one run.

For each path the W2A2 ResNet-20 QAT config (shared CIFAR-10 images and FP
checkpoint) is built and

- ``--iters`` training iterations are timed, split into *data* (waiting
  for the next batch, plus the data preprocessor, where the in-memory path
  does its batch augmentation) and *step* (forward, backward, SGD);
- the scoring pass of :class:`~mmacs.engine.CoresetSelectionHook` scores
  ``--score-samples`` training images (EVS only, as at the first
  selection), and the bare student's no-grad forward runs over the same
  batches, already preprocessed and in memory: the ratio of their
  throughputs is what loading and scoring add to the network.

Paths: ``per_sample`` (the JPEGs decoded and augmented per sample in 2
worker processes, the scoring pass loading in the main process) and
``in_memory`` (one decoded ``uint8`` array, batch augmentation in the data
preprocessor, scoring batches read straight from the array). Targets: data
< 10% of the step; scoring >= 0.8 x the bare forward. The last printed line
is one JSON object.

Usage: python tools/benchmarks/datapath.py [--iters 30]
       [--score-samples 5000] [--quick] [--work-dir DIR]
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from itertools import islice

if __package__ in (None, ''):  # a script: import the package beside it
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmarks import common  # noqa: E402

CONFIG = osp.join('configs', 'classification',
                  'lsq-w2a2_acs-f0.1_resnet20_cifar10.py')
PATHS = ('per_sample', 'in_memory')


def build_cfg(path: str, args, work_dir: str):
    from mmengine.config import Config

    from mmacs.utils import repo_path
    cfg = Config.fromfile(repo_path(CONFIG))
    cifar, weights = common.shared_cifar(args.shared, 'the benchmark')
    common.quiet_epochs(cfg, 1)
    cfg.model.float_checkpoint = weights
    # The stored tables time QAT without the W2A2 configs' layer alignment
    # (it adds a teacher forward to every step, whatever the policy).
    cfg.model.layer_align = None
    cfg.work_dir = work_dir
    cfg.coreset.update(fraction=0.1, policy='acs', score_num_workers=0)
    loader = cfg.train_dataloader
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = cifar
        cfg[key].dataset.cache_dir = osp.join(args.work_dir, 'data_cache')
    if args.num_samples < 45000:
        loader.dataset.indices = list(range(0, 45000,
                                            45000 // args.num_samples))
    if path == 'per_sample':
        pre = cfg.model.model.data_preprocessor
        pre.type = 'ImgDataPreprocessor'
        pre.pop('batch_augments')
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[key].dataset.in_memory = False
            cfg[key].num_workers = 2
            cfg[key].persistent_workers = True
        loader.dataset.pipeline = [
            dict(type='LoadClsImage'),
            dict(type='RandomCropPad', padding=4),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackClsInputs')
        ]
    return cfg


def bench_path(path: str, args) -> dict:
    import torch
    from mmengine.registry import RUNNERS

    from mmacs.engine import CoresetSelectionHook
    from mmacs.quantization import frozen_quantized_weights
    work_dir = osp.join(args.work_dir, path)
    t0 = time.perf_counter()
    runner = RUNNERS.build(build_cfg(path, args, work_dir))
    model = runner.model
    loader = runner.train_dataloader
    setup_seconds = time.perf_counter() - t0  # dataset (decode / cache)
    model.calibrate(islice(iter(loader), 2))
    params = [p for p in model.student.parameters() if p.requires_grad]
    optim = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    model.train()
    data_times, step_times = [], []
    it = iter(loader)
    sync = (torch.cuda.synchronize if next(model.parameters()).is_cuda
            else (lambda: None))
    for i in range(args.iters + args.warmup):
        sync()
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        data = model.data_preprocessor(batch, True)
        sync()
        t1 = time.perf_counter()
        losses = model(**data, mode='loss')
        sum(losses.values()).backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        sync()
        t2 = time.perf_counter()
        if i >= args.warmup:
            data_times.append(t1 - t0)
            step_times.append(t2 - t1)
    del it
    hook = [h for h in runner.hooks
            if isinstance(h, CoresetSelectionHook)][0]
    hook.before_train(runner)
    pool = torch.arange(min(args.score_samples, hook.selector.num_samples))
    model.eval()
    # The same batches, preprocessed beforehand, for the bare forward.
    hook.scoring.loader.sampler.set_indices(pool.tolist())
    batches = [model.data_preprocessor(b, False)['inputs']
               for b in hook.scoring.loader]
    sync()
    t0 = time.perf_counter()
    hook.scoring.score(pool, with_teacher=False)
    sync()
    score_seconds = time.perf_counter() - t0
    with torch.inference_mode(), frozen_quantized_weights(model.student):
        sync()
        t0 = time.perf_counter()
        for inputs in batches:
            model.student(inputs, mode='tensor')
        sync()
        bare_seconds = time.perf_counter() - t0
    data_ms = statistics.fmean(data_times) * 1e3
    step_ms = statistics.fmean(step_times) * 1e3
    result = dict(
        setup_seconds=setup_seconds,
        data_ms=data_ms,
        step_ms=step_ms,
        data_over_step=data_ms / step_ms,
        data_ms_median=statistics.median(data_times) * 1e3,
        step_ms_median=statistics.median(step_times) * 1e3,
        score_images_per_s=pool.numel() / score_seconds,
        bare_forward_images_per_s=pool.numel() / bare_seconds,
        score_over_bare=bare_seconds / score_seconds)
    common.release_workers(loader)  # the persistent workers
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--paths', nargs='+', default=list(PATHS),
                        choices=PATHS)
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--score-samples', type=int, default=5000)
    parser.add_argument('--num-samples', type=int, default=45000)
    common.add_benchmark_args(parser)
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 600 images, 2 iterations')
    args = parser.parse_args(argv)
    if args.quick:
        args.iters, args.warmup = 2, 1
        args.score_samples, args.num_samples = 256, 600
    import torch

    import mmacs  # noqa: F401
    from mmacs.utils import device_name, select_device, shared_root
    device = device_name(select_device(args.device))
    args.shared = shared_root(args.shared)
    tmp = common.benchmark_work_dir(args, 'mmacs_datapath_')
    start = time.perf_counter()
    paths = {p: bench_path(p, args) for p in args.paths}
    print(f"\n{'path':<12}{'data ms':>9}{'step ms':>9}{'data/step':>11}"
          f"{'score img/s':>13}{'bare img/s':>12}{'score/bare':>12}")
    for name, r in paths.items():
        print(f"{name:<12}{r['data_ms']:>9.1f}{r['step_ms']:>9.1f}"
              f"{r['data_over_step']:>11.3f}"
              f"{r['score_images_per_s']:>13.0f}"
              f"{r['bare_forward_images_per_s']:>12.0f}"
              f"{r['score_over_bare']:>12.3f}")
    result = dict(
        paths=paths,
        targets=dict(data_over_step=0.10, score_over_bare=0.8),
        iters=args.iters,
        score_samples=args.score_samples,
        device=device,
        threads=torch.get_num_threads())
    return common.finish_benchmark(result, tmp, start)


if __name__ == '__main__':
    main()
