# W2A2 LSQ QAT of ResNet-20 on CIFAR-10 (45k seeded split of the
# shared JPEGs; teacher: the shared FP checkpoint), 10% of the
# training set, one seeded random draw kept for every epoch
# (`random_static`: the interval changes nothing). On the clean protocol
# (f = 0.1, 3 seeds) it is the worst policy measured, below
# `random_dynamic` on every seed (docs/studies.md).
_base_ = [
    './_base_/lsq-w2a2_resnet20_cifar10-jpeg.py', './_base_/coreset_cifar.py'
]
coreset = dict(fraction=0.1, interval=10, policy='random_static')
