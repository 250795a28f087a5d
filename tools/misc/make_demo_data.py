# Copyright (c) mmacs contributors. All rights reserved.
"""Generate the synthetic shapes detection dataset (COCO format).

Usage: python tools/misc/make_demo_data.py [OUT_DIR] [--num-train 400]
       [--num-val 100] [--size 128] [--seed 0] [--hard-ratio 0.25]
"""
import argparse

from mmacs.datasets.synthetic_shapes import make_synthetic_shapes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the mmacs synthetic shapes dataset')
    parser.add_argument(
        'out_dir',
        nargs='?',
        default='data/mmacs_shapes',
        help='dataset root; defaults to data/mmacs_shapes, the data_root '
        'of configs/demo')
    parser.add_argument(
        '--num-train', type=int, default=400, help='training images')
    parser.add_argument(
        '--num-val', type=int, default=100, help='validation images')
    parser.add_argument(
        '--size', type=int, default=128, help='image side in pixels')
    parser.add_argument(
        '--seed', type=int, default=0, help='the same seed gives the same '
        'files')
    parser.add_argument(
        '--hard-ratio',
        type=float,
        default=0.25,
        help='fraction of hard images (small, low-contrast, occluded '
        'objects)')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    files = make_synthetic_shapes(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        size=args.size,
        seed=args.seed,
        hard_ratio=args.hard_ratio)
    for split, path in files.items():
        print(f'{split}: {path}')
    return files


if __name__ == '__main__':
    main()
