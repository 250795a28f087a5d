# Copyright (c) mmacs contributors. All rights reserved.
"""``import mmacs``: the ``mmacs::`` config scope from a project outside the
repository, and what it registers (detection, not classification)."""
import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config

import mmacs  # noqa: F401  (registers the mmacs:: scope)
from mmacs.config_scope import CONFIG_DIR, config_path
from mmacs.testing import REPO


def test_a_config_outside_the_repository_bases_on_mmacs_fragments(
        tmp_path):
    project = tmp_path / 'my_project' / 'configs'
    project.mkdir(parents=True)
    (project / 'my_qat.py').write_text(textwrap.dedent("""\
        _base_ = ['mmacs::_base_/qat/lsq_runtime.py',
                  'mmacs::_base_/coreset/acs.py']
        coreset = dict(fraction=0.3, policy='random_dynamic')
        """))
    cfg = Config.fromfile(str(project / 'my_qat.py'))
    shipped = Config.fromfile(str(REPO / 'configs/_base_/coreset/acs.py'))
    assert cfg.runner_type == 'QATRunner'
    assert cfg.coreset.fraction == 0.3  # the project's own value wins
    assert cfg.coreset.policy == 'random_dynamic'
    assert cfg.coreset.interval == shipped.coreset.interval  # the base's
    assert cfg.coreset.selection == shipped.coreset.selection


def test_the_packaged_configs_are_the_repository_configs():
    assert config_path('mmacs::_base_/coreset/acs.py') == \
        f'{CONFIG_DIR}/_base_/coreset/acs.py'
    with open(config_path('_base_/coreset/acs.py')) as f, \
            open(REPO / 'configs/_base_/coreset/acs.py') as g:
        assert f.read() == g.read()
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        config_path('mmacs::_base_/no_such.py')


def test_an_unknown_mmacs_config_names_the_path(tmp_path):
    cfg_file = tmp_path / 'bad.py'
    cfg_file.write_text("_base_ = ['mmacs::_base_/coreset/no_such.py']\n")
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        Config.fromfile(str(cfg_file))


def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300,
                          cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_import_mmacs_registers_detection_only():
    """A fresh interpreter: ``import mmacs`` registers the QAT model and
    friends in mmdet's registries, not the classification parts, which
    ``custom_imports=['mmacs.classification']`` adds."""
    out = run_python("""
        import sys
        import mmacs
        from mmdet.registry import DATASETS, HOOKS, METRICS, MODELS
        print('cls_module', 'mmacs.classification' in sys.modules)
        print('detection', all([MODELS.get('QATModel'),
                                HOOKS.get('CoresetSelectionHook'),
                                DATASETS.get('NoisyDetDataset')]))
        print('cls_before', 'ImageClassifier' in MODELS.module_dict,
              'Accuracy' in METRICS.module_dict)
        from mmengine.config import Config
        cfg = Config.fromfile(
            'configs/classification/lsq-w2a2_acs-f0.1_resnet20_cifar10.py')
        print('cls_after', 'ImageClassifier' in MODELS.module_dict,
              'Accuracy' in METRICS.module_dict)
        """)
    assert 'cls_module False' in out
    assert 'detection True' in out
    assert 'cls_before False False' in out
    assert 'cls_after True True' in out


def test_checkpoint_allow_list_is_exactly_mmacs_own():
    """``import mmacs`` adds its explicit list to torch's weights-only
    allow-list, nothing else, and importing classification adds nothing.
    (torch adds its DTensor classes when the stack imports
    ``torch.distributed.tensor``: imported first.)"""
    out = run_python("""
        import mmdet.models, mmengine.runner, torch
        import torch.distributed.tensor
        def allowed():
            return set(map(repr, torch.serialization.get_safe_globals()))
        before = allowed()
        import mmacs
        from mmacs.engine.checkpoint_safety import checkpoint_globals
        added = allowed() - before
        print(added == set(map(repr, checkpoint_globals())), len(added))
        import mmacs.classification
        print(allowed() - before == added)
        """)
    same, count, unchanged = out.split()
    assert same == 'True' and int(count) > 0
    assert unchanged == 'True'
