# Copyright (c) mmacs contributors. All rights reserved.
"""Plot the coreset selections of a run from its ``coreset_log.jsonl``.

Usage: python tools/analysis_tools/plot_selection.py WORK_DIR [--out PNG]

The panels are those of :func:`mmacs.visualization.plot_selection`.
"""
import argparse
import os.path as osp

from mmacs.visualization import load_log, plot_selection


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(
        description='Plot the coreset selections logged in a work dir')
    parser.add_argument(
        'work_dir', help='work dir holding coreset_log.jsonl (or the log)')
    parser.add_argument(
        '--out',
        help='output PNG; defaults to WORK_DIR/coreset_selection.png')
    args = parser.parse_args(argv)
    records = load_log(args.work_dir)
    out = args.out
    if out is None:
        base = args.work_dir if osp.isdir(args.work_dir) else osp.dirname(
            args.work_dir)
        out = osp.join(base, 'coreset_selection.png')
    plot_selection(records, out)
    print(f'wrote {out} ({len(records)} selections)')
    return out


if __name__ == '__main__':
    main()
