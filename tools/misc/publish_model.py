# Copyright (c) mmacs contributors. All rights reserved.
"""Keep what a teacher or a deployed model needs of a training checkpoint:
its ``state_dict`` and ``meta`` (no optimizer, no message hub), so that it
loads with ``torch.load(..., weights_only=True)`` anywhere.

Usage: python tools/misc/publish_model.py CKPT OUT
  e.g. the clean CIFAR teacher the study protocol reads:
  python tools/misc/publish_model.py \\
      WORK_DIR/best_accuracy_top1_epoch_25.pth \\
      ~/.cache/mmacs/teachers/resnet20_cifar10-jpeg-40k.pth
"""
import argparse
import os
import os.path as osp

import torch

import mmacs  # noqa: F401  (allow-lists mmengine's checkpoint globals)


def publish(src: str, dst: str) -> dict:
    """Write ``state_dict`` and ``meta`` of the checkpoint ``src`` to
    ``dst`` (folders made as needed); the written dict."""
    if not osp.isfile(src):
        raise FileNotFoundError(f'no checkpoint at {src!r}')
    ckpt = torch.load(src, map_location='cpu', weights_only=True)
    if not isinstance(ckpt, dict) or 'state_dict' not in ckpt:
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt)
        raise ValueError(f'{src!r} holds no state_dict (found: {found})')
    meta = {k: v for k, v in ckpt.get('meta', {}).items()
            if isinstance(v, (int, float, str))}
    out = dict(state_dict=ckpt['state_dict'], meta=dict(meta, source=src))
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(out, dst)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='a training checkpoint')
    parser.add_argument('out', help='where to write the published one')
    args = parser.parse_args(argv)
    out = publish(args.checkpoint, osp.expanduser(args.out))
    print(f'{args.out}: {len(out["state_dict"])} tensors')


if __name__ == '__main__':
    main()
