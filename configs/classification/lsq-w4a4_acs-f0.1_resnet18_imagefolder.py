# ResNet-18 (CIFAR stem), W4A4, ACS at f = 0.1 (the paper's headline
# setting, on an ImageNet-style folder `data/imagefolder/<class>/*.jpg`,
# 32 px images; use a full ImageNet ResNet-18 for ImageNet itself). Expects
# an FP checkpoint of the same model.
_base_ = [
    './_base_/default_runtime.py', '../_base_/qat/lsq_runtime.py', '../_base_/coreset/acs.py'
]
data_root = 'data/imagefolder'
num_classes = 10
model = dict(
    type='QATModel',
    model=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet18Cifar', num_classes=num_classes),
        data_preprocessor=dict(
            type='ImgDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375])),
    float_checkpoint='checkpoints/resnet18_imagefolder_fp.pth',
    weight_quant=dict(bits=4),
    act_quant=dict(bits=4),
    fp_layers=('backbone.conv1', 'backbone.linear'))
coreset = dict(fraction=0.1, interval=10, policy='acs')
train_pipeline = [
    dict(type='LoadClsImage'),
    dict(type='RandomCropPad', padding=4),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackClsInputs')
]
test_pipeline = [dict(type='LoadClsImage'), dict(type='PackClsInputs')]
split = dict(val_size=0.1, split_seed=0)
train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageFolderDataset', data_root=data_root,
                 split='train', pipeline=train_pipeline, **split))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageFolderDataset', data_root=data_root,
                 split='val', pipeline=test_pipeline, **split))
test_dataloader = val_dataloader
max_epochs = 120
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True)
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2))
