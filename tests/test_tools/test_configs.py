# Copyright (c) mmacs contributors. All rights reserved.
"""Every shipped config parses, and its name says what it trains.

The file names follow ``lsq-w{W}a{A}_{policy}[-paper][-f{fraction}]_...``:
the bit widths, the coreset policy and the fraction in a name are the ones
in the config, so a user picking a config by its name gets that recipe.
"""
import re
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2] / 'configs'
CONFIGS = sorted(
    p for p in ROOT.rglob('*.py') if '_base_' not in p.relative_to(ROOT).parts)
NAME = re.compile(r'^lsq-w(?P<w>\d+)a(?P<a>\d+)_'
                  r'(?P<policy>acs|full-steps|full|random-static|'
                  r'random-dynamic)'
                  r'(?P<paper>-paper)?(-f(?P<f>[\d.]+))?_')


def test_every_config_is_found():
    names = [p.name for p in CONFIGS]
    assert len(names) >= 40, names
    assert 'lsq-w4a4_full_resnet20_cifar10.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_config_matches_its_name(path):
    cfg = Config.fromfile(str(path))
    match = NAME.match(path.name)
    if match is None:  # the FP configs (teacher training / fine-tuning)
        assert not path.name.startswith('lsq-'), path.name
        assert cfg.model.type != 'QATModel'
        return
    assert cfg.model.type == 'QATModel'
    assert cfg.model.weight_quant.bits == int(match['w'])
    act_bits = int(match['a'])
    if act_bits == 32:
        assert cfg.model.act_quant is None
    else:
        assert cfg.model.act_quant.bits == act_bits
    coreset = cfg.get('coreset')
    if match['policy'] == 'full-steps':
        # All the data for the steps of the coreset config of its name.
        assert coreset is None or coreset.get('policy') == 'full', coreset
        twin = Config.fromfile(str(path).replace('_full-steps-', '_acs-'))
        epochs = cfg.train_cfg.max_epochs
        assert epochs == round(float(match['f']) *
                               twin.train_cfg.max_epochs)
        assert cfg.param_scheduler[-1].T_max == epochs
        return
    if match['policy'] == 'full':
        assert coreset is None or coreset.get('policy') == 'full', coreset
        return
    assert coreset.policy == match['policy'].replace('-', '_')
    assert coreset.fraction == float(match['f'])
    if match['paper']:  # the paper's exact selection, one switch away
        assert coreset.selection == 'topk'
        assert coreset.get('teacher_filter') is None


@pytest.mark.parametrize('bits', [2, 4])
def test_low_bit_cifar_configs_calibrate_with_the_least_error_step(bits):
    """At W2A2 and W4A4 the CIFAR configs use ``init='mse'`` (README, "The
    recipe check"); the W2A32 and image-folder configs keep LSQ's."""
    paths = [p for p in CONFIGS
             if p.name.startswith(f'lsq-w{bits}a{bits}_')
             and p.name.endswith(('resnet20_cifar10.py',
                                  'resnet20_cifar10_noisy-sym-0.2.py'))]
    assert len(paths) >= 10, paths
    for path in paths:
        model = Config.fromfile(str(path)).model
        assert model.weight_quant.init == 'mse', path.name
        assert model.act_quant.init == 'mse', path.name


def test_w2a2_cifar_configs_align_the_stages_but_the_paper_preset():
    """The W2A2 CIFAR configs align the three ResNet stages to the teacher
    (README, "QuaRC at W2A2"); the paper's preset has no alignment."""
    paths = [p for p in CONFIGS if p.name.startswith('lsq-w2a2_')
             and 'resnet20_cifar10' in p.name]
    assert len(paths) >= 12, paths
    for path in paths:
        align = Config.fromfile(str(path)).model.get('layer_align')
        if '-paper' in path.name:
            assert align is None, path.name
        else:
            assert align == dict(layers=[f'backbone.layer{i}'
                                         for i in (1, 2, 3)],
                                 loss_weight=1.0), path.name


def test_cifar_configs_reselect_every_5_epochs_but_the_paper_preset():
    """The W2A2 and W4A4 CIFAR configs re-select every R = 5 epochs, the
    score-based and the random_dynamic ones alike, so each pair compares
    at one R (README, "Selection interval R = 5 at W2A2" and "W4A4"); the
    paper's preset keeps the R = 10 it was measured with."""
    for bits in ('w2a2', 'w4a4'):
        paths = [p for p in CONFIGS if p.name.startswith(f'lsq-{bits}_')
                 and 'resnet20_cifar10' in p.name
                 and ('_acs' in p.name or '_random-dynamic' in p.name)]
        assert len(paths) >= 6, paths
        for path in paths:
            coreset = Config.fromfile(str(path)).coreset
            expected = 10 if '-paper' in path.name else 5
            assert coreset.interval == expected, path.name
