# Copyright (c) mmacs contributors. All rights reserved.
"""What the benchmark scripts share: their options, the work dir, the
shared CIFAR-10 data, quiet training, loader workers and the result printed
as one JSON object on the last line."""
import gc
import hashlib
import json
import os
import os.path as osp
import random
import tempfile
import time
from typing import List, Optional, Tuple

from mmacs.utils import check_int, set_epochs


def add_benchmark_args(parser) -> None:
    """Add the options the benchmarks share to the argparse ``parser``:
    ``--work-dir``, ``--shared`` and ``--device``."""
    parser.add_argument('--work-dir', help='defaults to a temporary dir')
    parser.add_argument('--shared', help='the shared data folder (default '
                        '$MMACS_SHARED or ../shared)')
    parser.add_argument('--device', default='auto',
                        choices=['auto', 'cpu', 'cuda'])


def json_option(parser, option: str, value: Optional[str]):
    """The JSON ``value`` of the command-line ``option`` (None stays None);
    ``parser.error`` names the option and the value when it is not JSON."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        parser.error(f'{option} is not JSON: {value!r} ({e})')


def check_shares(parser, args, *options: str) -> None:
    """``parser.error`` naming the option and its value where one of the
    ``options`` (e.g. ``'--label-noise'``) is not a share in [0, 1)."""
    for option in options:
        value = getattr(args, option.lstrip('-').replace('-', '_'))
        if not 0 <= value < 1:
            parser.error(f'{option} must be in [0, 1), got {value}')


def device_label(device: str) -> str:
    """The name of the device the runs train on (``select_device`` checks
    ``device``) and torch's thread count, as a run records it."""
    import torch

    from mmacs.utils import device_name, select_device
    return (f'{device_name(select_device(device))}, '
            f'{torch.get_num_threads()} threads')


def benchmark_work_dir(args, prefix: str):
    """A temporary work dir (returned, to clean up) when ``args.work_dir``
    is None, which is then set to it; None otherwise."""
    if args.work_dir is not None:
        return None
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    args.work_dir = tmp.name
    return tmp


def release_workers(loader) -> None:
    """Stop the persistent worker processes of ``loader`` (a torch
    DataLoader), so that they do not linger beside the next runs."""
    iterator = getattr(loader, '_iterator', None)
    if iterator is not None and hasattr(iterator, '_shutdown_workers'):
        iterator._shutdown_workers()
        loader._iterator = None
    gc.collect()


def finish_benchmark(result: dict, tmp: Optional[tempfile.TemporaryDirectory],
                     start: float) -> dict:
    """Add ``total_seconds`` (since ``start``) to ``result``, remove the
    temporary work dir, print ``result`` as the last line (JSON) and
    return it."""
    result['total_seconds'] = time.perf_counter() - start
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(result))
    return result


def quiet_epochs(cfg, epochs: int, validate: bool = False) -> None:
    """``set_epochs`` with no checkpoint during training and (unless
    ``validate``) no validation before the end; INFO logs muted."""
    set_epochs(cfg, epochs, 1 if validate else epochs + 1)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=epochs + 1, save_last=False)
    cfg.log_level = 'WARNING'


def shared_cifar(shared: str, what: str) -> Tuple[str, str]:
    """The shared CIFAR-10 training images and FP ResNet-20 weights below
    ``shared``; a FileNotFoundError says what (``what``) needs a missing
    one."""
    cifar = osp.join(shared, 'data', 'cifar10-jpeg', 'train')
    weights = osp.join(shared, 'weights', 'resnet20-12fca82f.th')
    for path in (cifar, weights):
        if not osp.exists(path):
            raise FileNotFoundError(f'{what} needs {path} (set --shared or '
                                    '$MMACS_SHARED)')
    return cifar, weights


def seeded_subset(total: int, num: int) -> Optional[List[int]]:
    """A seeded subset of ``range(total)`` of ``num`` indices (sorted), or
    None for all."""
    check_int(num, 'num', 1)
    return None if num >= total else sorted(
        random.Random(0).sample(range(total), num))


#: The environment variable naming the study's cache folder.
CACHE_ENV = 'MMACS_CACHE'


def cache_root() -> str:
    """The folder where the study keeps what it builds once and reuses
    (e.g. the clean CIFAR teacher): ``$MMACS_CACHE``, else
    ``~/.cache/mmacs``."""
    return os.environ.get(CACHE_ENV) or osp.join(
        osp.expanduser('~'), '.cache', 'mmacs')


def file_digest(path: str) -> str:
    """The first 12 hex digits of the SHA-256 of the file ``path``: what a
    run records of its teacher checkpoint, so that runs from a retrained
    teacher of the same name are told apart."""
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            sha.update(block)
    return sha.hexdigest()[:12]
