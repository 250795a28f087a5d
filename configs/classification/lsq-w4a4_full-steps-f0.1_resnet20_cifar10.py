# W4A4 LSQ QAT of ResNet-20 on all of the CIFAR-10 training split for 3
# epochs: the training steps of a 10% coreset over 30 epochs
# (`full_steps`), the cosine schedule over those 3 epochs. On the clean
# protocol it beats `random_dynamic` on every seed of both splits at 0.95x
# its wall time, and the `acs` default on average at 0.59x: the W4A4
# recipe we recommend (docs/results/quality_clean_w4a4.md).
_base_ = './_base_/lsq-w4a4_resnet20_cifar10-jpeg.py'
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True)
]
