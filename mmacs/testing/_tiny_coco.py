# Copyright (c) mmacs contributors. All rights reserved.
"""Small CPU configs on the shared tiny COCO set (128 px, nothing
downloaded)."""
from ._paths import REPO, TINY_COCO, need_shared


def small_det_pipelines(scale=(128, 128)):
    """Train and test pipelines at a small fixed scale."""
    train = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')
    ]
    test = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor'))
    ]
    return train, test


def tiny_coco_cfg(config: str, work_dir: str, max_epochs: int = 2,
                  batch_size: int = 4):
    """`config` (a repo path) on ../shared/data/tiny_coco at 128 px, CPU,
    nothing downloaded."""
    from mmengine.config import Config
    need_shared(TINY_COCO)
    cfg = Config.fromfile(str(REPO / config))
    train, test = small_det_pipelines()
    root = str(TINY_COCO) + '/'
    for key, split in (('train_dataloader', 'train'),
                       ('val_dataloader', 'val'),
                       ('test_dataloader', 'val')):
        dl = cfg[key]
        dl.batch_size = batch_size
        dl.num_workers = 0
        dl.persistent_workers = False
        dl.dataset.data_root = root
        dl.dataset.ann_file = f'annotations/instances_{split}2017.json'
        dl.dataset.data_prefix = dict(img=f'{split}2017/')
        dl.dataset.pipeline = train if split == 'train' else test
    cfg.val_evaluator.ann_file = root + 'annotations/instances_val2017.json'
    cfg.test_evaluator.ann_file = cfg.val_evaluator.ann_file
    model = cfg.model.model if cfg.model.type == 'QATModel' else cfg.model
    model.backbone.init_cfg = None
    # Briefly trained weights score low: keep boxes so COCO eval has some.
    model.test_cfg.score_thr = 0.0
    model.test_cfg.max_per_img = 20
    if cfg.model.type == 'QATModel':
        cfg.model.float_checkpoint = None
    cfg.train_cfg.max_epochs = max_epochs
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=5)
    ]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.work_dir = work_dir
    # One visualizer per name per process (mmengine): a run of its own logs
    # to its own work dir.
    cfg.visualizer.name = f'visualizer_{work_dir}'
    cfg.randomness = dict(seed=0)
    cfg.env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
    return cfg
