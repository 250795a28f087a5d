# Full-precision ResNet-20 on CIFAR-10 images in ImageFolder layout
# (`data_root/<class>/*.jpg`), with a seeded 45k/5k train/val split.
_base_ = ['./default_runtime.py']
data_root = '../shared/data/cifar10-jpeg/train'
split = dict(val_size=5000, split_seed=0)
teacher_checkpoint = '../shared/weights/resnet20-12fca82f.th'

model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', depth=20, num_classes=10),
    # Training augmentation (pad-4 random crop, horizontal flip) is done on
    # the whole batch here, not per sample in worker processes.
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        batch_augments=[
            dict(type='BatchRandomCropPad', padding=4),
            dict(type='BatchRandomFlip', prob=0.5)
        ]))

# In-memory path: every image decoded once into one uint8 array (cached as
# .npy under `cache_dir`, keyed by the file list); a sample is a view into
# it, so loading runs in the main process. For large images use
# `in_memory=False` with the per-sample pipeline
#   [LoadClsImage, RandomCropPad(padding=4), RandomFlip(prob=0.5),
#    PackClsInputs], no batch_augments, and num_workers > 0.
memory = dict(in_memory=True, cache_dir='work_dirs/data_cache')
train_pipeline = [dict(type='LoadClsImage'), dict(type='PackClsInputs')]
test_pipeline = [dict(type='LoadClsImage'), dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ImageFolderDataset',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline,
        **split,
        **memory))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ImageFolderDataset',
        data_root=data_root,
        split='val',
        pipeline=test_pipeline,
        **split,
        **memory))
test_dataloader = val_dataloader

max_epochs = 30
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True)
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='accuracy/top1'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
