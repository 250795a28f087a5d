# Copyright (c) mmacs contributors. All rights reserved.
"""The statistics, tables and result pages of the studies.

Seed statistics and the paired (seed-by-seed) comparison a default must
win, the summaries and verdict rows of ``quality`` and ``detection``, and
the markdown they are printed as. As a script it writes the result pages,
one per results file plus the studies' verdicts, from ``results/*.json``::

    python tools/benchmarks/report.py --write docs/results

(``--check DIR`` writes nothing and fails when a page in DIR differs from
what the results files give.)
"""
import argparse
import glob
import os
import os.path as osp
import statistics
import sys
from typing import Callable, Optional, Sequence

if __package__ in (None, ''):  # a script: import the package beside it
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


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


def summarize(runs: list, name: Callable[[dict], str], metric: str) -> dict:
    """``{name(run): stats}`` over the seeds of ``runs``: the seed
    statistics of ``metric``, the seeds, ``by_seed`` (``{seed: metric}``),
    the mean wall and scoring seconds, and the mean noisy share of the
    coresets (None without label noise)."""
    groups = {}
    for run in runs:
        groups.setdefault(name(run), []).append(run)
    out = {}
    for key, rs in groups.items():
        noisy = [f for r in rs for f in r.get('noisy_fraction') or []]
        out[key] = dict(
            seed_stats(r[metric] for r in rs),
            seeds=sorted(r['seed'] for r in rs),
            by_seed={r['seed']: r[metric]
                     for r in rs},
            wall_seconds_mean=statistics.fmean(r['wall_seconds']
                                               for r in rs),
            score_seconds_mean=statistics.fmean(r['score_seconds']
                                                for r in rs),
            noisy_fraction_mean=statistics.fmean(noisy) if noisy else None)
    return out


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


def paired_rows(runs: list, condition: Callable[[dict], str],
                variant: Callable[[dict], Optional[str]], metric: str,
                pair: str) -> list:
    """The rows of a verdict: for every condition (``condition(run)``, a
    string) and variant (``variant(run)``; None leaves the run out), the
    seed statistics of ``metric``, its per-seed values, how its random
    draws were seeded, and, where the variant ``pair`` ran the same
    condition on a common seed, the seed-by-seed comparison with it
    (``vs``, ``paired_stats``), the pair's own statistics and the ratio of
    the mean wall times. ``runs`` holds each run once."""
    from benchmarks.protocol import random_draws
    groups = {}
    for run in runs:
        name = variant(run)
        if name is not None:
            groups.setdefault(condition(run), {}).setdefault(
                name, {})[run['seed']] = run
    rows = []
    for cond, variants in groups.items():
        base = variants.get(pair)
        for name, by_seed in variants.items():
            values = {s: r[metric] for s, r in by_seed.items()}
            row = dict(condition=cond, variant=name,
                       stats=seed_stats(values.values()),
                       seeds=len(by_seed),
                       per_seed=[values[s] for s in sorted(values)],
                       first=by_seed[min(by_seed)],
                       vs=None, pair_stats=None, pair_seeds=None,
                       wall_ratio=None,
                       draws=sorted({str(r.get('random_draws') or 'shared')
                                     for r in by_seed.values()})
                       if random_draws(by_seed[min(by_seed)]['policy'])
                       else [])
            if base is not None and name != pair and set(by_seed) & set(
                    base):
                row.update(
                    vs=paired_stats(values,
                                    {s: r[metric]
                                     for s, r in base.items()}),
                    pair_stats=seed_stats(r[metric] for r in base.values()),
                    pair_seeds=len(base),
                    pair_draws=sorted({
                        str(r.get('random_draws') or 'shared')
                        for r in base.values()
                    }) if random_draws(pair) else [],
                    wall_ratio=statistics.fmean(
                        r['wall_seconds'] for r in by_seed.values()) /
                    statistics.fmean(r['wall_seconds']
                                     for r in base.values()))
            rows.append(row)
    return rows


def mean_std(stats: dict, digits: int, seeds: Optional[int] = None) -> str:
    """``mean ± std`` (and ``(seeds)``) of ``seed_stats``."""
    text = f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"
    return text if seeds is None else f'{text} ({seeds})'


def paired_cells(vs: Optional[dict], digits: int) -> list:
    """The cells of a paired comparison: the mean difference (min, max),
    on how many seeds above, and beats (three ``-`` without one)."""
    if vs is None:
        return ['-'] * 3
    return [
        f"{vs['diff_mean']:+.{digits}f} ({vs['diff_min']:+.{digits}f}, "
        f"{vs['diff_max']:+.{digits}f})", f"{vs['above']}/{len(vs['seeds'])}",
        '**yes**' if vs['beats'] else 'no'
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A markdown table of ``header`` and ``rows`` (cells as strings)."""
    lines = ['| ' + ' | '.join(header) + ' |',
             '| ' + ' | '.join(['---'] * len(header)) + ' |']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


#: The studies whose results files have pages, each with the patterns of
#: its files below ``results/``.
STUDIES = dict(quality=('quality_*.json', 'noise_*.json'),
               detection=('detection_*.json', ),
               overhead=('overhead_*.json', ))


def pages(results_dir: str) -> dict:
    """``{file name: markdown}``: the result pages of every results file in
    ``results_dir`` and an index. A results file no study claims is an
    error (it would have no page)."""
    import importlib
    claimed, out, index = set(), {}, []
    for name, patterns in STUDIES.items():
        study = importlib.import_module(f'benchmarks.{name}')
        files = sorted({
            path
            for pattern in patterns
            for path in glob.glob(osp.join(results_dir, pattern))
        })
        claimed.update(files)
        if not files:
            continue
        for page, (title, text) in study.pages(files).items():
            out[page] = text
            index.append((page, title))
    unclaimed = sorted(set(glob.glob(osp.join(results_dir, '*.json'))) -
                       claimed)
    if unclaimed:
        raise ValueError(f'no study reads {unclaimed}: add its pattern to '
                         'STUDIES in tools/benchmarks/report.py')
    out['README.md'] = '\n'.join([
        '# Results', '',
        'Generated from `results/*.json` by `python '
        'tools/benchmarks/report.py --write docs/results`; do not edit by '
        'hand (a test regenerates the pages and compares).', ''
    ] + [f'- [{title}]({page})' for page, title in sorted(index)]) + '\n'
    return out


def main(argv=None) -> dict:
    from mmacs.utils import repo_path
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--write', metavar='DIR',
                       help='write the pages to DIR (e.g. docs/results)')
    group.add_argument('--check', metavar='DIR',
                       help='write nothing; exit 1 when a page in DIR is '
                       'missing, stale or not generated')
    parser.add_argument('--results', default=repo_path('results'),
                        help='the folder of the results files')
    args = parser.parse_args(argv)
    written = pages(args.results)
    if args.write:
        os.makedirs(args.write, exist_ok=True)
        for name, text in written.items():
            with open(osp.join(args.write, name), 'w') as f:
                f.write(text)
        print(f'wrote {len(written)} pages to {args.write}')
        return written
    stale = []
    for name, text in written.items():
        path = osp.join(args.check, name)
        if not osp.isfile(path) or open(path).read() != text:
            stale.append(name)
    stale += sorted(
        osp.basename(p) for p in glob.glob(osp.join(args.check, '*.md'))
        if osp.basename(p) not in written)
    if stale:
        print(f'{args.check}: out of date: {stale} (run python '
              f'tools/benchmarks/report.py --write {args.check})')
        sys.exit(1)
    print(f'{args.check}: {len(written)} pages up to date')
    return written


if __name__ == '__main__':
    main()
