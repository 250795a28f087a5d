# Copyright (c) mmacs contributors. All rights reserved.
"""The device a benchmark runs on, and its name for the results."""
import os
import platform
from typing import Union

import torch


def select_device(name: str) -> str:
    """Check that runs will train on ``name`` (``'auto'``: CUDA when
    present, else the CPU) and return the device type they will use.

    mmengine's runner puts the model on CUDA whenever a CUDA device is
    visible, so ``'cpu'`` hides the devices (``CUDA_VISIBLE_DEVICES=''``)
    if CUDA has not been queried yet, and is refused otherwise.
    """
    if name not in ('auto', 'cpu', 'cuda'):
        raise ValueError(
            f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    if name == 'cpu' and not torch.cuda.is_initialized():
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    available = torch.cuda.is_available()
    if name == 'cuda' and not available:
        raise RuntimeError("--device cuda was asked for, but torch sees no "
                           f'CUDA device (torch {torch.__version__})')
    if name == 'cpu' and available:
        raise RuntimeError(
            '--device cpu: CUDA was already initialised in this process; '
            "run with CUDA_VISIBLE_DEVICES='' to train on the CPU")
    return 'cuda' if available else 'cpu'


def device_name(device: Union[str, torch.device]) -> str:
    """The GPU's name, or the CPU model (``/proc/cpuinfo``)."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
