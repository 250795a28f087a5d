# Copyright (c) mmacs contributors. All rights reserved.
"""BatchNorm folded into the quantized convolution: the same function as
Conv + BN, the folded weight quantized, gradients to gamma / beta, frozen
statistics (also across ``--resume``), unchanged checkpoint keys."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModel

from mmacs.engine import QATRunner
from mmacs.quantization import (FoldedBatchNorm2d, QConv2d, QConvBn2d,
                                calibrate, dequantize_model, fold_bn,
                                folded_convs, freeze_bn_stats,
                                frozen_quantized_weights, quantize_model,
                                unfold_bn)
from mmacs.testing.toy import toy_cfg


class Block(nn.Module):
    """mmdet's naming: ``conv<k>`` -> ``bn<k>``, and a Sequential
    ``downsample``."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(8)
        self.downsample = nn.Sequential(
            nn.Conv2d(3, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.gn_conv3 = nn.Conv2d(8, 8, 1)  # no partner: stays as it is

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + self.downsample(x)
        return self.gn_conv3(F.relu(out))


def block(seed=0):
    torch.manual_seed(seed)
    net = Block()
    with torch.no_grad():  # non-trivial statistics and affine parameters
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    return net


def quantized_block(seed=0, weight_quant=None, act_quant=None, fold=True):
    net = block(seed)
    quantize_model(net, weight_quant, act_quant)
    if fold:
        assert fold_bn(net) == ['conv1', 'conv2', 'downsample.0']
    return net


def test_without_quantizers_folding_is_the_same_function():
    ref = block()
    net = quantized_block()
    assert isinstance(net.bn1, FoldedBatchNorm2d)
    assert type(net.gn_conv3) is QConv2d
    x = torch.randn(4, 3, 16, 16)
    ref.eval(), net.eval()
    assert torch.allclose(net(x), ref(x), atol=1e-5)
    # Training (batch statistics): the same output and the same update of
    # the running statistics.
    ref.train(), net.train()
    assert torch.allclose(net(x), ref(x), atol=1e-5)
    for name in ('bn1', 'bn2', 'downsample.1'):
        a, b = net.get_submodule(name), ref.get_submodule(name)
        assert torch.allclose(a.running_mean, b.running_mean, atol=1e-6)
        assert torch.allclose(a.running_var, b.running_var, atol=1e-5)
        assert int(a.num_batches_tracked) == 1


def test_folded_weight_is_quantized_and_export_form_agrees():
    net = quantized_block(weight_quant=dict(bits=4, per_channel=True),
                          act_quant=dict(bits=4, signed='auto'))
    x = torch.randn(4, 3, 16, 16)
    calibrate(net.eval(), [x], net)
    conv, bn = net.conv1, net.bn1
    seen = {}
    conv.weight_quant.register_forward_hook(
        lambda m, i, o: seen.setdefault('w', i[0].detach()))
    out = net.eval()(x)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded_w = conv.weight * scale.reshape(-1, 1, 1, 1)
    assert torch.allclose(seen['w'], folded_w)
    # Eval: one conv with the quantized folded weight and a bias, then
    # nothing for the BN (the deployed graph).
    with torch.no_grad():
        y = F.conv2d(conv.act_quant(x), conv.weight_quant(folded_w),
                     bn.bias - bn.running_mean * scale, padding=1)
        assert torch.allclose(conv(x), y, atol=1e-5)
        assert torch.equal(bn(y), y)
        # The inference passes' cached weights are the folded ones.
        with frozen_quantized_weights(net):
            assert torch.equal(net(x), out)
    # Unfolded, the quantizer sees w itself: a different model.
    plain = quantized_block(weight_quant=dict(bits=4, per_channel=True),
                            act_quant=dict(bits=4, signed='auto'),
                            fold=False)
    calibrate(plain.eval(), [x], plain)
    assert not torch.allclose(plain(x), out, atol=1e-3)


def test_gradients_reach_gamma_and_beta_and_freezing_stops_updates():
    net = quantized_block(weight_quant=dict(bits=8, per_channel=True),
                          act_quant=dict(bits=8, signed='auto'))
    x = torch.randn(4, 3, 16, 16)
    calibrate(net.eval(), [x], net)
    for frozen in (False, True):
        freeze_bn_stats(net, frozen)
        net.train().zero_grad()
        before = net.bn1.running_mean.clone()
        net(x).square().mean().backward()
        for name in ('bn1', 'bn2', 'downsample.1'):
            bn = net.get_submodule(name)
            assert bn.weight.grad.abs().sum() > 0, (name, frozen)
            assert bn.bias.grad.abs().sum() > 0, (name, frozen)
        assert net.conv1.weight_quant.step.grad.abs().sum() > 0
        changed = not torch.equal(net.bn1.running_mean, before)
        assert changed != frozen
    # Frozen: training computes what eval computes (running statistics).
    with torch.no_grad():
        assert torch.allclose(net.train()(x), net.eval()(x), atol=1e-6)
    assert folded_convs(net)[0].stats_frozen


def test_keys_stay_and_unfold_restores():
    ref = block()
    net = quantized_block(weight_quant=dict(bits=4), act_quant=None)
    unquantized = block()
    quantize_model(unquantized, dict(bits=4), None)
    assert list(net.state_dict()) == list(unquantized.state_dict())
    assert net.bn1.weight is net.conv1.bn.weight  # the same Parameter
    assert unfold_bn(net) == ['conv1', 'conv2', 'downsample.0']
    assert type(net.bn1) is nn.BatchNorm2d and type(net.conv1) is QConv2d
    assert not hasattr(net.conv1, 'bn') or not isinstance(
        getattr(net.conv1, 'bn', None), nn.Module)
    fold_bn(net)
    dequantize_model(net)
    assert type(net.conv1) is nn.Conv2d and type(net.bn1) is nn.BatchNorm2d
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(net.eval()(x), ref.eval()(x), atol=1e-6)


def test_unmatched_norms_are_left_alone():
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.GroupNorm(2, 4),
                        nn.Conv2d(4, 6, 1), nn.BatchNorm2d(5),
                        nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4, affine=False))
    quantize_model(net, dict(bits=4), None)
    assert fold_bn(net) == []


@MODELS.register_module(force=True)
class ToyConvBNClassifier(BaseModel):
    """The toy points task through a 1x1 conv + BN (4-channel features)."""

    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.conv1 = nn.Conv2d(2, 16, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 3)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if isinstance(inputs, list):
            inputs = torch.stack(inputs)
        x = F.relu(self.bn1(self.conv1(inputs[:, :, None, None])))
        logits = self.fc(x.flatten(1))
        if mode == 'tensor':
            return logits
        labels = torch.cat([s.gt_label for s in data_samples])
        return dict(loss=F.cross_entropy(logits, labels))


def bn_cfg(work_dir, max_epochs, freeze_after):
    cfg = toy_cfg(work_dir, max_epochs=max_epochs)
    cfg.pop('coreset')
    cfg.model.model = dict(type='ToyConvBNClassifier')
    cfg.model.fold_bn = dict(freeze_stats_after=freeze_after)
    return cfg


def running_mean(path):
    return torch.load(path)['state_dict']['student.bn1.running_mean']


@pytest.mark.parametrize('freeze_after', [1, None])
def test_statistics_freeze_after_n_epochs_and_stay_frozen_on_resume(
        tmp_path, freeze_after):
    QATRunner.from_cfg(bn_cfg(tmp_path, 1, freeze_after)).train()
    cfg = bn_cfg(tmp_path, 3, freeze_after)
    cfg.resume = True
    runner = QATRunner.from_cfg(cfg)
    assert [h for h in runner.hooks if type(h).__name__ == 'BNFreezeHook']
    runner.train()
    conv = runner.model.student.conv1
    assert isinstance(conv, QConvBn2d)
    assert conv.stats_frozen == (freeze_after is not None)
    first, last = (running_mean(tmp_path / f'epoch_{e}.pth') for e in (1, 3))
    assert torch.equal(first, last) == (freeze_after is not None)
    # The weights kept training either way.
    a, b = (torch.load(tmp_path / f'epoch_{e}.pth')['state_dict']
            ['student.conv1.weight'] for e in (1, 3))
    assert not torch.equal(a, b)


def test_qat_model_checks_fold_bn():
    model = dict(type='ToyConvBNClassifier')
    with pytest.raises(ValueError, match='freeze_stats_after'):
        MODELS.build(dict(type='QATModel', model=model, task='classification',
                          fp_layers=(), fold_bn=dict(freeze_stats_after=-1)))
    with pytest.raises(ValueError, match='no quantized convolution'):
        MODELS.build(dict(type='QATModel', model=model, task='classification',
                          fp_layers=('conv1', ), fold_bn=dict()))
