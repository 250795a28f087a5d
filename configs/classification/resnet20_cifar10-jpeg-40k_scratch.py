# The clean CIFAR teacher: FP ResNet-20 trained from scratch on the seeded
# 40k training split only. Neither the 5k hold-out ('val', where recipes
# are tuned) nor the 5k 'final' split (untouched until defaults are
# judged) is ever seen, so both measure students on unseen images. The
# QAT protocol uses its checkpoint as teacher and starting point.
#   python tools/train.py configs/classification/resnet20_cifar10-jpeg-40k_scratch.py
#   python tools/test.py CONFIG CKPT --cfg-options test_dataloader.dataset.split=final
_base_ = './_base_/resnet20_cifar10-jpeg.py'
split = dict(val_size=5000, final_size=5000, split_seed=0)
train_dataloader = dict(dataset=split)
val_dataloader = dict(dataset=split)
test_dataloader = val_dataloader

max_epochs = 25
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4,
                   nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=300),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='accuracy/top1'))
