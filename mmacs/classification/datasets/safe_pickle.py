# Copyright (c) mmacs contributors. All rights reserved.
"""Read the CIFAR python batches without running code from them.

A pickle names the functions it calls while it is read (``GLOBAL``
opcodes), so ``pickle.load`` on a crafted batch file runs whatever the file
names (``os.system`` ...). The CIFAR batches hold only dicts, lists, strings,
ints and uint8 numpy arrays, which need a few numpy globals to rebuild; the
unpickler here resolves those and refuses every other global before
anything is called.
"""
import codecs
import io
import pickle
from typing import Any, Dict, Tuple

import _compat_pickle
import numpy as np


def _numpy_globals() -> Dict[Tuple[str, str], Any]:
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
        from numpy._core.numeric import _frombuffer
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
        from numpy.core.numeric import _frombuffer
    allowed = {}
    for core in ('numpy.core', 'numpy._core'):
        allowed[(f'{core}.multiarray', '_reconstruct')] = _reconstruct
        allowed[(f'{core}.multiarray', 'scalar')] = scalar
        # Arrays written with pickle protocol 5.
        allowed[(f'{core}.numeric', '_frombuffer')] = _frombuffer
    allowed[('numpy', 'ndarray')] = np.ndarray
    allowed[('numpy', 'dtype')] = np.dtype
    return allowed


#: (module, name) of every global a CIFAR batch may name, after Python 2
#: names are mapped to Python 3 ones: numpy's array, dtype and scalar
#: rebuilders, and ``_codecs.encode``, with which Python 3 writes ``bytes``
#: at protocol 2.
SAFE_GLOBALS = dict(_numpy_globals())
SAFE_GLOBALS[('_codecs', 'encode')] = codecs.encode


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only :data:`SAFE_GLOBALS`
    and raises :class:`pickle.UnpicklingError` naming any other global."""

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        # Python 2 pickles (the CIFAR originals) name Python 2 modules.
        if key in _compat_pickle.NAME_MAPPING:
            key = _compat_pickle.NAME_MAPPING[key]
        elif module in _compat_pickle.IMPORT_MAPPING:
            key = (_compat_pickle.IMPORT_MAPPING[module], name)
        if key in SAFE_GLOBALS:
            return SAFE_GLOBALS[key]
        raise pickle.UnpicklingError(
            f'refusing to load global {module}.{name}: a CIFAR batch holds '
            'only lists, dicts, strings, numbers and numpy arrays')


def safe_load(file: io.BufferedIOBase, encoding: str = 'latin1') -> Any:
    """``pickle.load(file, encoding=encoding)`` restricted to
    :data:`SAFE_GLOBALS`.

    Args:
        file (io.BufferedIOBase): A binary file object.
        encoding (str): How Python 2 ``str`` objects are decoded. Defaults
            to 'latin1' (the CIFAR batches' byte strings).

    Returns:
        The unpickled object.
    """
    return RestrictedUnpickler(file, encoding=encoding).load()
