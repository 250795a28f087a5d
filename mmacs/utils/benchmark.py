# Copyright (c) mmacs contributors. All rights reserved.
"""What the benchmark scripts share: the work dir, loader workers, the
resumable results file, the per-seed statistics, and the result printed as
one JSON object on the last line."""
import gc
import json
import os
import os.path as osp
import statistics
import tempfile
import time
from typing import Optional, Sequence


def add_benchmark_args(parser) -> None:
    """Add the options the benchmarks share to the argparse ``parser``:
    ``--work-dir``, ``--shared`` and ``--device``."""
    parser.add_argument('--work-dir', help='defaults to a temporary dir')
    parser.add_argument('--shared', help='the shared data folder (default '
                        '$MMACS_SHARED or ../shared)')
    parser.add_argument('--device', default='auto',
                        choices=['auto', 'cpu', 'cuda'])


def add_results_args(parser, default_name: str, report_help: str) -> None:
    """Add the options of a resumable benchmark's results file to
    ``parser``: ``--report`` (``report_help``), ``--baseline`` (with it,
    the variant every other is compared with, seed by seed), ``--out``
    (default ``<work-dir>/<default_name>``) and ``--merge``."""
    parser.add_argument('--report', action='store_true', help=report_help)
    parser.add_argument('--baseline', metavar='VARIANT',
                        help='with --report: compare every variant with '
                        'this one, a name as the report prints it (e.g. '
                        '"random_dynamic"), seed by seed')
    parser.add_argument('--out', help='results JSON (read and extended); '
                        f'default: <work-dir>/{default_name}')
    parser.add_argument('--merge', nargs='+', default=[], metavar='FILE',
                        help='results files of other invocations (e.g. '
                        'seeds run in parallel) whose runs are added to '
                        '--out first')


def json_option(parser, option: str, value: Optional[str]):
    """The JSON ``value`` of the command-line ``option`` (None stays None);
    ``parser.error`` names the option and the value when it is not JSON."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        parser.error(f'{option} is not JSON: {value!r} ({e})')


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


def load_results(path: str) -> dict:
    """The results file ``path`` of a resumable benchmark (a JSON object
    with a ``runs`` list), or an empty one when it does not exist."""
    if not osp.isfile(path):
        return dict(runs=[])
    with open(path) as f:
        results = json.load(f)
    if not isinstance(results, dict) or not isinstance(
            results.get('runs'), list):
        raise ValueError(f'{path} is not a results file of this benchmark '
                         "(a JSON object with a 'runs' list)")
    return results


def save_results(path: str, results: dict) -> None:
    """Write ``results`` to ``path`` atomically (a crash mid-write leaves
    the previous file)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, path)


def random_draws(policy: str) -> Optional[str]:
    """What a run of ``policy`` trained now records as its
    ``random_draws``: how its random draws were seeded (None for a
    policy that draws no random coreset)."""
    from mmacs.coreset.policies import RANDOM_DRAWS
    return RANDOM_DRAWS if policy.startswith('random') else None


def merge_run(runs: list, stored: Optional[dict], run: dict) -> bool:
    """Put ``run`` into the stored ``runs``, where ``stored`` is the same
    run (policy, seed and recipe) held already, or None: a new run is
    appended, and a random run with independent draws replaces one stored
    with shared draws (or before runs recorded them); any other is left
    out. Whether ``runs`` changed."""
    from mmacs.coreset.policies import RANDOM_DRAWS
    if stored is None:
        runs.append(run)
    elif (run.get('random_draws') == RANDOM_DRAWS
          and stored.get('random_draws') != RANDOM_DRAWS):
        runs[runs.index(stored)] = run
    else:
        return False
    return True


def seed_stats(values: Sequence[float]) -> dict:
    """Mean, sample std (0 for one value), min and max of ``values``."""
    values = list(values)
    if not values:
        raise ValueError('seed_stats needs at least one value')
    return dict(mean=statistics.fmean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.0,
                min=min(values),
                max=max(values))


def paired_stats(values: dict, base: dict) -> dict:
    """How the per-seed results ``values`` (``{seed: value}``) compare with
    the baseline's ``base`` on the seeds both have: the per-seed
    differences (their mean, min and max), on how many seeds ``values``
    is above, and ``beats``: whether the mean difference exceeds both
    standard deviations over those seeds (the bar a default must pass)."""
    seeds = sorted(set(values) & set(base))
    if not seeds:
        raise ValueError(f'no common seed: {sorted(values)} against the '
                         f'baseline\'s {sorted(base)}')
    diffs = [values[s] - base[s] for s in seeds]
    spread = max(seed_stats(values[s] for s in seeds)['std'],
                 seed_stats(base[s] for s in seeds)['std'])
    mean = statistics.fmean(diffs)
    return dict(seeds=seeds, diff_mean=mean, diff_min=min(diffs),
                diff_max=max(diffs), above=sum(d > 0 for d in diffs),
                spread=spread, beats=len(seeds) > 1 and mean > spread)


def compare_with_baseline(summary: dict, baseline, title: str,
                          digits: int = 2) -> None:
    """Compare every variant of ``summary`` (``{variant: stats}``, each
    with ``by_seed``: ``{seed: value}``) that shares a seed with its
    baseline: its ``paired_stats`` go to its ``vs_baseline`` (with the
    baseline's name) and into a printed table. ``baseline`` is one
    variant's name, the baseline of all the others, or a dict
    ``{variant: baseline name}`` pairing each variant with its own (a
    variant not in it, or mapped to None, is not compared). A baseline
    that is not there is an error naming the variants."""
    per_variant = isinstance(baseline, dict)
    pairs = baseline if per_variant else {
        name: baseline
        for name in summary if name != baseline
    }
    for name in {b for b in pairs.values() if b is not None}:
        if name not in summary:
            raise ValueError(f'the baseline {name!r} is not a variant here; '
                             f'the variants: {sorted(summary)}')
    width = max([16] + [len(name) + 2 for name in summary])
    num = 6 + digits
    against = '' if per_variant else f', against {baseline}'
    print(f'\n{title}{against}, seed by seed (beats: the mean difference '
          'exceeds both stds)')
    print(f"{'variant':<{width}}{'diff':>{num}}{'min':>{num}}{'max':>{num}}"
          f"{'above':>7}{'beats':>7}" +
          ('  baseline' if per_variant else ''))
    for name, stats in summary.items():
        base_name = pairs.get(name)
        if base_name is None:
            continue
        base = summary[base_name]['by_seed']
        if not set(stats['by_seed']) & set(base):
            continue
        vs = paired_stats(stats['by_seed'], base)
        stats['vs_baseline'] = dict(vs, baseline=base_name)
        print(f'{name:<{width}}' + ''.join(
            f'{vs[k]:>+{num}.{digits}f}'
            for k in ('diff_mean', 'diff_min', 'diff_max')) +
              f"{vs['above']:>4}/{len(vs['seeds'])}"
              f"{'yes' if vs['beats'] else 'no':>7}" +
              (f'  {base_name}' if per_variant else ''))
