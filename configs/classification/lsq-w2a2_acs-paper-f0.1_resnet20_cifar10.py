# As lsq-w2a2_acs-f0.1_resnet20_cifar10.py with the paper's exact ACS
# (top-k of d(t) per class, no teacher filter) instead of mmacs's default
# selection (stratified among the samples the teacher does not contradict).
_base_ = [
    './_base_/lsq_resnet20_cifar10-jpeg.py',
    './_base_/coreset_cifar_paper.py'
]
model = dict(
    weight_quant=dict(bits=2, init='mse'),
    act_quant=dict(bits=2, init='mse'))
coreset = dict(fraction=0.1, interval=10, policy='acs')
