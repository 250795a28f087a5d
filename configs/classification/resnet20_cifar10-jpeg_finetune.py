# Fine-tune the FP ResNet-20 teacher on the data it will teach on (here the
# JPEG re-encoded CIFAR-10 split), as a user with their own data would
# before QAT. Starts from the shared FP checkpoint.
_base_ = './_base_/resnet20_cifar10-jpeg.py'
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint={{_base_.teacher_checkpoint}})))
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True)
]
