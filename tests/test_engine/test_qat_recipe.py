# Copyright (c) mmacs contributors. All rights reserved.
"""The training-recipe switches of a QAT config: the LSQ steps' learning
rate and weight decay (``qat.step_lr_mult`` / ``qat.step_decay_mult``)."""
import pytest

from mmacs.engine import QATRunner
from mmacs.testing.toy import toy_cfg


def groups_by_kind(runner):
    wrapper = runner.build_optim_wrapper(runner.cfg.optim_wrapper)
    names = {id(p): n for n, p in runner.model.named_parameters()}
    kinds = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            name = names[id(p)]
            assert not name.startswith('teacher.')  # never optimized
            kind = 'step' if name.endswith('.step') else 'weight'
            kinds.setdefault(kind, set()).add(
                (group['lr'], group['weight_decay']))
    return kinds


@pytest.mark.parametrize('lr_mult, decay_mult', [(1.0, 0.0), (0.1, 0.5)])
def test_step_lr_and_decay_multipliers(tmp_path, lr_mult, decay_mult):
    cfg = toy_cfg(tmp_path)
    cfg.optim_wrapper.optimizer.update(lr=0.2, weight_decay=1e-3)
    cfg.qat.update(step_lr_mult=lr_mult, step_decay_mult=decay_mult)
    kinds = groups_by_kind(QATRunner.from_cfg(cfg))
    assert kinds['weight'] == {(0.2, 1e-3)}
    assert len(kinds['step']) == 1
    lr, decay = kinds['step'].pop()
    assert lr == pytest.approx(0.2 * lr_mult)
    assert decay == pytest.approx(1e-3 * decay_mult)


def test_unknown_qat_key_is_named(tmp_path):
    cfg = toy_cfg(tmp_path)
    cfg.qat.step_lr = 0.1
    with pytest.raises(KeyError, match='step_lr'):
        QATRunner.from_cfg(cfg)
