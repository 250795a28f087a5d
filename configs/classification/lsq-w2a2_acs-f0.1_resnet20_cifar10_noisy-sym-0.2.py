# As lsq-w2a2_acs-f0.1_resnet20_cifar10.py with 20% symmetric label noise in
# the training split; the hook logs the noisy fraction of every coreset.
_base_ = './lsq-w2a2_acs-f0.1_resnet20_cifar10.py'
train_dataloader = dict(
    dataset=dict(label_noise=dict(mode='symmetric', rate=0.2, seed=0)))
