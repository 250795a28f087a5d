# W2A2 LSQ QAT of ResNet-20 on all of the CIFAR-10 training split for 3
# epochs: the training steps of a 10% coreset over 30 epochs
# (`full_steps`), the cosine schedule over those 3 epochs. On the clean
# protocol it ties the `acs` default and `random_dynamic` on both splits at
# 0.68x and 0.93x their wall time with one clean teacher, and beats both
# on every seed of both splits with a second: the W2A2 recipe we recommend
# on clean labels (docs/results/quality_clean_w2a2.md). With noisy labels
# the `acs` default beats it (..._acs-f0.1_resnet20_cifar10_noisy-sym-0.2.py).
_base_ = './_base_/lsq-w2a2_resnet20_cifar10-jpeg.py'
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True)
]
