# Copyright (c) mmacs contributors. All rights reserved.
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint

from mmacs.classification import (CifarResNet, ClsDataSample, ImageClassifier,
                                  MobileNetV2Cifar, ResNet18Cifar)
from mmacs.testing import WEIGHTS, need_shared

RESNET20 = WEIGHTS / 'resnet20-12fca82f.th'


@pytest.mark.parametrize('depth, params', [(20, 0.27), (56, 0.85)])
def test_cifar_resnet(depth, params):
    net = CifarResNet(depth=depth, num_classes=7)
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 7)
    num = sum(p.numel() for p in net.parameters()) / 1e6
    assert num == pytest.approx(params, abs=0.01)
    # Option-A shortcuts hold no parameters.
    assert not any('shortcut' in k for k in net.state_dict())
    with pytest.raises(ValueError, match='18'):
        CifarResNet(depth=18)
    with pytest.raises(ValueError, match='0'):
        CifarResNet(num_classes=0)


def test_cifar_resnet_names_match_checkpoint():
    ckpt = torch.load(
        need_shared(RESNET20), map_location='cpu', weights_only=True)
    names = {k[len('module.'):] for k in ckpt['state_dict']}
    own = {
        k
        for k in CifarResNet(20).state_dict()
        if not k.endswith('num_batches_tracked')
    }
    assert own == names


@torch.no_grad()
def test_resnet18_and_mobilenet_v2():
    x = torch.rand(2, 3, 16, 16)  # any size: the pooling is global
    r18 = ResNet18Cifar(num_classes=100)
    assert r18(x).shape == (2, 100)
    assert 'layer2.0.shortcut.0.weight' in r18.state_dict()
    assert sum(p.numel() for p in r18.parameters()) == pytest.approx(
        11.22e6, rel=0.01)
    mbv2 = MobileNetV2Cifar(num_classes=100)
    assert mbv2(x).shape == (2, 100)
    assert sum(p.numel() for p in mbv2.parameters()) == pytest.approx(
        2.35e6, rel=0.01)
    assert MobileNetV2Cifar(widen_factor=0.5)(x).shape == (2, 10)
    with pytest.raises(ValueError, match='-1'):
        MobileNetV2Cifar(widen_factor=-1)


def make_samples(labels):
    samples = []
    for i, label in enumerate(labels):
        s = ClsDataSample(metainfo=dict(sample_idx=i))
        s.gt_label = label
        samples.append(s)
    return samples


def test_image_classifier_modes():
    torch.manual_seed(0)
    model = ImageClassifier(
        backbone=dict(type='CifarResNet', depth=20, num_classes=10),
        label_smoothing=0.1)
    assert 'backbone.conv1.weight' in model.state_dict()
    x = torch.rand(3, 3, 32, 32)
    logits = model(x)
    assert logits.shape == (3, 10)
    assert torch.equal(logits, model.extract_logits(x))

    losses = model(x, make_samples([1, 2, 3]), mode='loss')
    expected = torch.nn.functional.cross_entropy(
        logits, torch.tensor([1, 2, 3]), label_smoothing=0.1)
    assert losses['loss_cls'].item() == pytest.approx(expected.item())
    losses['loss_cls'].backward()
    assert model.backbone.conv1.weight.grad is not None

    model.eval()
    preds = model(x, make_samples([1, 2, 3]), mode='predict')
    assert [p.sample_idx for p in preds] == [0, 1, 2]
    for p, row in zip(preds, model(x)):
        assert p.pred_score.shape == (10, )
        assert p.pred_score.sum().item() == pytest.approx(1.0)
        assert p.pred_label.tolist() == [row.argmax().item()]
    assert len(model(x, mode='predict')) == 3
    with pytest.raises(RuntimeError, match='feat'):
        model(x, mode='feat')
    with pytest.raises(ValueError, match='1.0'):
        ImageClassifier(backbone=dict(type='CifarResNet'), label_smoothing=1.0)


def test_image_classifier_train_step():
    model = ImageClassifier(
        backbone=dict(type='CifarResNet', depth=20, num_classes=4),
        data_preprocessor=dict(
            type='ImgDataPreprocessor', mean=[128] * 3, std=[64] * 3))
    data = dict(
        inputs=[
            torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
            for _ in range(4)
        ],
        data_samples=make_samples([0, 1, 2, 3]))
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    log_vars = model.train_step(data, OptimWrapper(optim))
    assert set(log_vars) == {'loss', 'loss_cls'}
    preds = model.val_step(data)
    assert [p.gt_label.item() for p in preds] == [0, 1, 2, 3]


def test_load_shared_checkpoint_into_classifier():
    model = ImageClassifier(backbone=dict(type='CifarResNet', depth=20))
    ckpt = load_checkpoint(
        model,
        str(need_shared(RESNET20)),
        map_location='cpu',
        strict=True,
        revise_keys=[(r'^module\.', 'backbone.')])
    assert torch.equal(model.backbone.linear.weight,
                       ckpt['state_dict']['module.linear.weight'])
