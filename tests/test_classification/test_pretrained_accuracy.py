# Copyright (c) mmacs contributors. All rights reserved.
"""End to end: the real pipeline, classifier, metric and runner."""
import os

import mmcv
import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import DataLoader

from mmacs.classification import ImageClassifier, ImageFolderDataset
from mmacs.testing import CIFAR_JPEG, WEIGHTS, need_shared

RESNET20 = WEIGHTS / 'resnet20-12fca82f.th'

#: ImageNet statistics in the 0-255 scale, as the CIFAR ResNets were
#: trained with.
PREPROCESSOR = dict(
    type='ImgDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])
TEST_PIPELINE = [dict(type='LoadClsImage'), dict(type='PackClsInputs')]


def test_resnet20_accuracy_on_held_out_cifar10_jpeg():
    need_shared(CIFAR_JPEG)
    need_shared(RESNET20)
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = ImageFolderDataset(
            str(CIFAR_JPEG),
            split='val',
            val_size=5000,
            split_seed=0,
            pipeline=TEST_PIPELINE)
        evaluator = Evaluator(dict(type='Accuracy'))
    assert len(dataset) == 5000
    model = ImageClassifier(
        backbone=dict(type='CifarResNet', depth=20, num_classes=10),
        data_preprocessor=PREPROCESSOR)
    load_checkpoint(
        model,
        str(RESNET20),
        map_location='cpu',
        strict=True,
        revise_keys=[(r'^module\.', 'backbone.')])
    model.eval()
    loader = DataLoader(
        dataset, batch_size=250, num_workers=0, collate_fn=pseudo_collate)
    with torch.no_grad():
        for data in loader:
            evaluator.process(model.test_step(data), data)
    metrics = evaluator.evaluate(len(dataset))
    assert metrics['accuracy/top1'] >= 85.0, metrics
    assert metrics['accuracy/top5'] >= 99.0, metrics


def make_folder(root, classes=3, per_class=4):
    rng = np.random.RandomState(0)
    for c in range(classes):
        os.makedirs(root / f'c{c}')
        for j in range(per_class):
            img = rng.randint(0, 255, (32, 32, 3), dtype=np.uint8)
            mmcv.imwrite(img, str(root / f'c{c}' / f'{j}.jpg'))
    return str(root)


def test_runner_train_val(tmp_path):
    """A config as mmacs configs write it (default_scope='mmdet'),
    trained and validated by mmengine's Runner."""
    root = make_folder(tmp_path / 'imgs')
    train_pipeline = [
        dict(type='LoadClsImage'),
        dict(type='RandomCropPad', padding=4),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackClsInputs')
    ]

    def loader(split, pipeline):
        return dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=split == 'train'),
            dataset=dict(
                type='ImageFolderDataset',
                data_root=root,
                split=split,
                val_size=4,
                label_noise=dict(mode='symmetric', rate=0.25)
                if split == 'train' else None,
                pipeline=pipeline))

    runner = Runner(
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='CifarResNet', depth=20, num_classes=3),
            data_preprocessor=PREPROCESSOR),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=loader('train', train_pipeline),
        val_dataloader=loader('val', TEST_PIPELINE),
        val_evaluator=dict(type='Accuracy', topk=(1, )),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmdet',
        randomness=dict(seed=0),
        experiment_name='test_runner_train_val')
    runner.train()
    dataset = runner.train_dataloader.dataset
    assert len(dataset) == 8 and len(dataset.noisy_indices) == 2
    metrics = runner.val_loop.run()
    assert set(metrics) == {'accuracy/top1'}
    # The checkpoint loads back (weights-only) into a fresh classifier.
    model = ImageClassifier(
        backbone=dict(type='CifarResNet', depth=20, num_classes=3))
    load_checkpoint(model, str(tmp_path / 'work' / 'epoch_2.pth'), strict=True)
    assert torch.equal(model.backbone.linear.weight,
                       runner.model.backbone.linear.weight)
