# Copyright (c) mmacs contributors. All rights reserved.
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmacs.models import DEFAULT_FP_LAYERS
from mmacs.quantization import (QConv2d, QLinear, calibrate, dequantize_model,
                                frozen_quantized_weights, named_quantizers,
                                quantize_model)
from mmacs.testing import repo_path


def retinanet_r18():
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        repo_path('configs', 'retinanet', 'retinanet_r18_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model)


def test_swap_quantizes_expected_layers_and_skips_fp_ones():
    model = retinanet_r18()
    convs = {
        n: m.weight
        for n, m in model.named_modules() if type(m) is nn.Conv2d
    }
    names = quantize_model(
        model, dict(bits=4), dict(bits=4), skip=DEFAULT_FP_LAYERS)
    kept = {'backbone.conv1', 'bbox_head.retina_cls', 'bbox_head.retina_reg'}
    assert set(names) == set(convs) - kept
    for name in kept:
        assert type(model.get_submodule(name)) is nn.Conv2d
    for name in names:
        mod = model.get_submodule(name)
        assert isinstance(mod, QConv2d)
        # The very Parameter objects of the float model are reused.
        assert mod.weight is convs[name]
    assert len(list(named_quantizers(model))) == 2 * len(names)
    # Parameter names are unchanged, quantizers only add entries.
    keys = set(model.state_dict())
    assert {f'{n}.weight' for n in convs} <= keys


def test_include_patterns_and_round_trip():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    ref = [p for p in net.parameters()]
    names = quantize_model(net, dict(bits=4), None, include=('3', ))
    assert names == ['3'] and isinstance(net[3], QLinear)
    assert type(net[0]) is nn.Conv2d and net[3].act_quant is None
    assert dequantize_model(net) == ['3']
    assert type(net[3]) is nn.Linear
    assert all(a is b for a, b in zip(ref, net.parameters()))
    x = torch.randn(2, 3, 8, 8)
    assert net(x).shape == (2, 5)


def test_frozen_quantized_weights_give_the_same_outputs_once():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    quantize_model(net, dict(bits=4), dict(bits=4, signed='auto'))
    x = torch.randn(4, 3, 6, 6)
    calibrate(net, [x], net)
    expected = net(x)
    calls = []
    for m in net.modules():
        if isinstance(m, (QConv2d, QLinear)):
            m.weight_quant.register_forward_hook(lambda *args: calls.append(1))
    with torch.inference_mode(), frozen_quantized_weights(net):
        outs = [net(x) for _ in range(3)]
    assert len(calls) == 2  # each weight quantized once, not per batch
    assert all(torch.equal(o, expected) for o in outs)
    # Outside the block the weights are quantized (and trained) again.
    assert all(m.frozen_weight is None for m in net.modules()
               if isinstance(m, (QConv2d, QLinear)))
    net(x).sum().backward()
    assert net[0].weight.grad is not None and len(calls) == 4
