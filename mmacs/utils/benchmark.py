# Copyright (c) mmacs contributors. All rights reserved.
"""What the benchmark scripts share: the work dir, loader workers, and the
result printed as one JSON object on the last line."""
import gc
import json
import tempfile
import time
from typing import Optional


def add_benchmark_args(parser) -> None:
    """Add the options the benchmarks share to the argparse ``parser``:
    ``--work-dir``, ``--shared`` and ``--device``."""
    parser.add_argument('--work-dir', help='defaults to a temporary dir')
    parser.add_argument('--shared', help='the shared data folder (default '
                        '$MMACS_SHARED or ../shared)')
    parser.add_argument('--device', default='auto',
                        choices=['auto', 'cpu', 'cuda'])


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
