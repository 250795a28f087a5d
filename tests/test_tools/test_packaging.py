# Copyright (c) mmacs contributors. All rights reserved.
"""Packaging: `pip install -e .` into an environment that already holds
torch + mmcv + mmdet installs none of them; the ranges of setup.cfg hold
the tested set of requirements/constraints.txt; the wheel ships the
configs behind the ``mmacs::`` scope and the licence.

Why a dry run and not a fresh environment: a new venv needs mmcv compiled
from source (~20 minutes), and ``python -m venv --system-site-packages``
would see the system's packages, not this environment's. ``pip install
--dry-run --report`` runs pip's real resolver against this environment's
real stack with the real setup.cfg and writes what it would install;
only the writing of files is left out."""
import configparser
import json
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from mmacs.testing import REPO

STACK = ('torch', 'mmengine', 'mmcv', 'mmdet')


def install_requires():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / 'setup.cfg')
    reqs = [Requirement(line) for line in
            cfg['options']['install_requires'].split('\n') if line.strip()]
    return {r.name: r for r in reqs}


def constraints():
    pins = {}
    for line in (REPO / 'requirements' / 'constraints.txt').read_text() \
            .splitlines():
        line = line.split('#')[0].strip()
        if line:
            name, _, pinned = line.partition('==')
            assert pinned, f'{line!r} in constraints.txt is not an exact pin'
            pins[name.lower()] = pinned
    return pins


def pip(*args, timeout=600):
    proc = subprocess.run([sys.executable, '-m', 'pip', *args],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=str(REPO))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_stack_requirements_are_ranges_holding_the_tested_set():
    reqs, pins = install_requires(), constraints()
    for name in STACK:
        spec = reqs[name].specifier
        ops = {s.operator for s in spec}
        assert '==' not in ops and {'>=', '<'} <= ops, (name, str(spec))
        assert Version(pins[name]) in spec, (name, pins[name], str(spec))
        # mmacs runs on what is installed here (the tested set in CI).
        assert Version(version(name)) in spec, (name, version(name))


def test_install_into_the_existing_stack_installs_none_of_it(tmp_path):
    report = tmp_path / 'report.json'
    pip('install', '--dry-run', '--no-build-isolation', '--report',
        str(report), '-e', str(REPO))
    planned = {item['metadata']['name'].lower(): item['metadata']['version']
               for item in json.loads(report.read_text())['install']}
    assert set(planned) == {'mmacs'}, planned


def test_the_wheel_ships_configs_and_licence(tmp_path):
    # Built from a copy: setuptools reuses an in-tree build/ folder, whose
    # stale files would ship. The copy keeps mmacs/.mim/configs a link.
    src = tmp_path / 'src'
    ignore = shutil.ignore_patterns('__pycache__', '*.egg-info')
    src.mkdir()
    for name in ('setup.cfg', 'pyproject.toml', 'README.md', 'LICENSE',
                 'MANIFEST.in'):
        shutil.copy(REPO / name, src / name)
    for name in ('mmacs', 'configs'):
        shutil.copytree(REPO / name, src / name, symlinks=True,
                        ignore=ignore)
    assert (src / 'mmacs' / '.mim' / 'configs').is_symlink()
    pip('wheel', '--no-deps', '--no-build-isolation', '-w',
        str(tmp_path / 'dist'), str(src))
    wheel, = (tmp_path / 'dist').glob('mmacs-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ('mmacs/.mim/model-index.yml',
                 'mmacs/.mim/configs/_base_/coreset/acs.py',
                 'mmacs/.mim/configs/_base_/qat/lsq_runtime.py',
                 'mmacs/.mim/configs/retinanet/'
                 'lsq-w4a4_acs-f0.1_retinanet_r18_fpn_1x_coco.py'):
        assert path in names, path
    assert any(n.endswith('.dist-info/licenses/LICENSE') or
               n.endswith('.dist-info/LICENSE') for n in names)
    assert not any(n.startswith(('tests/', 'tools/')) for n in names)
    configs = {n for n in names if n.startswith('mmacs/.mim/configs/')
               and n.endswith('.py')}
    repo_configs = {f'mmacs/.mim/configs/{p.relative_to(REPO / "configs")}'
                    for p in (REPO / 'configs').rglob('*.py')}
    assert configs == repo_configs


@pytest.mark.parametrize('field', ['python_requires', 'classifiers'])
def test_python_versions_say_what_is_tested(field):
    cfg = configparser.ConfigParser()
    cfg.read(REPO / 'setup.cfg')
    tested = f'{sys.version_info.major}.{sys.version_info.minor}'
    if field == 'python_requires':
        from packaging.specifiers import SpecifierSet
        assert tested in SpecifierSet(cfg['options']['python_requires'])
    else:
        assert f'Programming Language :: Python :: {tested}' in \
            cfg['metadata']['classifiers']
