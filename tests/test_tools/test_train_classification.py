# Copyright (c) mmacs contributors. All rights reserved.
"""The paper's setting end to end on a few hundred real CIFAR-10 images:
W2A2 ResNet-20 QAT with ACS (and 20% symmetric label noise) through
tools/train.py, from the shared FP checkpoint, top-1 accuracy logged."""
import json

from mmengine.config import Config

from mmacs.testing import CIFAR_JPEG, REPO, WEIGHTS, load_tool, need_shared

train_tool = load_tool('train')

CONFIG = REPO / 'configs' / 'classification' / \
    'lsq-w2a2_acs-f0.1_resnet20_cifar10_noisy-sym-0.2.py'


def test_one_epoch_acs_qat_on_real_images(tmp_path):
    need_shared(CIFAR_JPEG)
    ckpt = need_shared(WEIGHTS / 'resnet20-12fca82f.th')
    opts = [
        f'train_dataloader.dataset.data_root={CIFAR_JPEG}',
        f'val_dataloader.dataset.data_root={CIFAR_JPEG}',
        f'test_dataloader.dataset.data_root={CIFAR_JPEG}',
        f'model.float_checkpoint={ckpt}',
        'train_dataloader.batch_size=32', 'val_dataloader.batch_size=100',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=1', 'qat.calibration_batches=2',
        'default_hooks.logger.interval=1',
        f'train_dataloader.dataset.cache_dir={tmp_path}/cache',
        f'val_dataloader.dataset.cache_dir={tmp_path}/cache',
        f'test_dataloader.dataset.cache_dir={tmp_path}/cache'
    ]
    # A few hundred images spread over all classes (files are sorted by
    # class): every 150th of the 45k training split, every 25th of the 5k.
    cfg = Config.fromfile(str(CONFIG))
    cfg.train_dataloader.dataset.indices = list(range(0, 45000, 150))
    cfg.val_dataloader.dataset.indices = list(range(0, 5000, 25))
    cfg_file = tmp_path / 'cfg.py'
    cfg.dump(str(cfg_file))
    work = tmp_path / 'work'
    runner = train_tool.main(
        [str(cfg_file), '--work-dir', str(work), '--cfg-options'] + opts)
    log = [json.loads(line) for line in open(work / 'coreset_log.jsonl')]
    assert len(log) == 1 and log[0]['num_selected'] == 30
    assert log[0]['noisy_fraction'] is not None
    assert 0.1 < log[0]['noisy_fraction_all'] < 0.3
    # The config's teacher filter (the CIFAR default) drops mostly noisy
    # labels, so the coreset holds fewer of them than the set.
    dropped = log[0]['teacher_filter']['dropped_noisy_fraction']
    assert dropped > 2 * log[0]['noisy_fraction_all']
    assert log[0]['noisy_fraction'] < log[0]['noisy_fraction_all']
    # Class balanced: the 30 samples split over the 10 classes.
    assert sum(log[0]['class_counts'].values()) == 30
    assert len(log[0]['class_counts']) == 10
    # Top-1 is logged by the validation after the epoch.
    scalars = [json.loads(line) for line in open(
        next(work.glob('*/vis_data/scalars.json')))]
    top1 = [s['accuracy/top1'] for s in scalars if 'accuracy/top1' in s]
    assert len(top1) == 1 and 0.0 <= top1[0] <= 100.0
    assert runner.train_loop.epoch == 1
