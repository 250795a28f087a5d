# Copyright (c) mmacs contributors. All rights reserved.
"""Helpers the package and the tools share: argument checks, config edits,
the repository and shared-data locations, the benchmarks' common parts and
device."""
from .benchmark import (add_benchmark_args, add_results_args,
                        benchmark_work_dir, compare_with_baseline,
                        finish_benchmark, json_option, load_results, merge_run,
                        paired_stats, random_draws, release_workers,
                        save_results, seed_stats)
from .checks import check_fraction, check_int, check_number, is_int, is_number
from .config import (REPO_ROOT, quiet_epochs, repo_path, seeded_subset,
                     set_coco_data_root, set_epochs, shared_cifar, shared_root)
from .device import device_name, select_device

__all__ = [
    'check_fraction', 'check_int', 'check_number', 'is_int', 'is_number',
    'add_benchmark_args', 'add_results_args', 'benchmark_work_dir',
    'compare_with_baseline',
    'finish_benchmark',
    'json_option', 'load_results', 'merge_run', 'paired_stats',
    'random_draws', 'release_workers', 'save_results', 'seed_stats',
    'REPO_ROOT',
    'quiet_epochs', 'repo_path', 'seeded_subset', 'set_coco_data_root',
    'set_epochs', 'shared_cifar', 'shared_root', 'device_name',
    'select_device'
]
