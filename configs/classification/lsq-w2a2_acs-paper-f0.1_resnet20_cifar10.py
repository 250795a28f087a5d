# As lsq-w2a2_acs-f0.1_resnet20_cifar10.py with the paper's exact ACS
# (top-k of d(t) per class, no teacher filter) instead of mmacs's default
# selection (stratified among the samples the teacher does not contradict),
# and without the layer alignment to the teacher, which the paper does not
# have. The step initialisation stays init='mse' (LSQ's fails at 2 bits).
_base_ = [
    './_base_/lsq-w2a2_resnet20_cifar10-jpeg.py',
    './_base_/coreset_cifar_paper.py'
]
model = dict(layer_align=None)
coreset = dict(fraction=0.1, interval=10, policy='acs')
