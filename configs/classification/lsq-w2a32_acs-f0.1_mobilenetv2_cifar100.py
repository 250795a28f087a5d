# MobileNetV2 (CIFAR variant) on CIFAR-100, 2-bit weights and FP activations
# (W2A32, the paper's plot setting), ACS at f = 0.1, R = 10. Expects the
# standard python batches in data/cifar-100-python and an FP checkpoint of
# the same model (`float_checkpoint`), e.g. from a float run of this model.
_base_ = [
    './_base_/default_runtime.py', '../_base_/qat/lsq_runtime.py', './_base_/coreset_cifar.py'
]
data_root = 'data/cifar-100-python'
float_model = dict(
    type='ImageClassifier',
    backbone=dict(type='MobileNetV2Cifar', num_classes=100),
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[129.3, 124.1, 112.4],
        std=[68.2, 65.4, 70.4],
        batch_augments=[
            dict(type='BatchRandomCropPad', padding=4),
            dict(type='BatchRandomFlip', prob=0.5)
        ]))
model = dict(
    type='QATModel',
    model=float_model,
    float_checkpoint='checkpoints/mobilenetv2_cifar100_fp.pth',
    weight_quant=dict(bits=2),
    act_quant=None,
    fp_layers=('backbone.conv1', 'backbone.linear'))
coreset = dict(fraction=0.1, interval=10, policy='acs')
# In memory: the augmentation runs on whole batches in the preprocessor.
train_pipeline = [dict(type='PackClsInputs')]
test_pipeline = [dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CIFARDataset', data_root=data_root, split='train',
                 val_size=5000, split_seed=0, pipeline=train_pipeline,
                 in_memory=True))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CIFARDataset', data_root=data_root, split='test',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
max_epochs = 200
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True)
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2))
