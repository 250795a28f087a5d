# Copyright (c) mmacs contributors. All rights reserved.
"""The repository, its tools and the shared data folder
(:func:`mmacs.utils.shared_root`: ``$MMACS_SHARED`` or ``../shared``)."""
import importlib.util
from pathlib import Path

import pytest

from mmacs.utils import REPO_ROOT, shared_root

REPO = Path(REPO_ROOT)
SHARED = Path(shared_root())
TINY_COCO = SHARED / 'data' / 'tiny_coco'
CIFAR_JPEG = SHARED / 'data' / 'cifar10-jpeg' / 'train'
WEIGHTS = SHARED / 'weights'


def need_shared(path: Path) -> Path:
    """Skip the calling test, with the reason, when `path` is absent."""
    if not path.exists():
        pytest.skip(f'{path} is absent: this test needs the shared data '
                    '(../shared beside the repository, or $MMACS_SHARED)')
    return path


def load_tool(name: str):
    """Import ``tools/<name>.py`` (``name`` may hold a folder, e.g.
    'benchmarks/quality') as a module."""
    module_name = 'mmacs_tool_' + name.replace('/', '_')
    spec = importlib.util.spec_from_file_location(
        module_name, REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
