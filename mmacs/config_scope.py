# Copyright (c) mmacs contributors. All rights reserved.
"""The ``mmacs::`` config scope: ``_base_ = ['mmacs::_base_/coreset/acs.py']``
in a config of any project.

mmengine resolves ``pkg::path`` as it does for mim-installed OpenMMLab
packages: ``pkg`` must be in ``MODULE2PACKAGE``, and ``path`` is read from
``<package dir>/.mim/configs``. mmacs ships its configs there (a link to the
repository's ``configs/`` in a checkout, the files in a wheel). mmengine
finds the package directory through the installed distribution, which for
an editable install, or a checkout on ``PYTHONPATH`` that shadows an
installed copy, is not the directory of the ``mmacs`` that is imported; the
lookup therefore answers for ``mmacs`` with the imported package's own
directory and leaves every other package to mmengine.
"""
import os.path as osp

import mmengine.config.config as mmengine_config
from mmengine.config.utils import MODULE2PACKAGE

PACKAGE_DIR = osp.dirname(osp.abspath(__file__))
CONFIG_DIR = osp.join(PACKAGE_DIR, '.mim', 'configs')


def config_path(name: str) -> str:
    """The file of the packaged config ``name`` (``'_base_/coreset/acs.py'``
    or ``'mmacs::_base_/coreset/acs.py'``); FileNotFoundError naming it
    when mmacs ships no such config."""
    path = osp.join(CONFIG_DIR, name.split('::', 1)[-1])
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mmacs ships no config {name!r} (looked for {path})')
    return path


def register_config_scope() -> None:
    """Let ``Config.fromfile`` resolve ``mmacs::`` paths (idempotent)."""
    MODULE2PACKAGE.setdefault('mmacs', 'mmacs')
    lookup = mmengine_config.get_installed_path
    if getattr(lookup, 'answers_for_mmacs', False):
        return

    def get_installed_path(package: str) -> str:
        return PACKAGE_DIR if package == 'mmacs' else lookup(package)

    get_installed_path.answers_for_mmacs = True
    mmengine_config.get_installed_path = get_installed_path
