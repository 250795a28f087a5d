# W2A2 LSQ QAT of ResNet-20 on CIFAR-10 (45k seeded split of the
# shared JPEGs; teacher: the shared FP checkpoint), 30% of the
# training set per epoch chosen by `acs`, re-selected every
# R = 5 epochs (the interval that scored best in the CIFAR study,
# docs/studies.md, "What ACS buys").
_base_ = [
    './_base_/lsq-w2a2_resnet20_cifar10-jpeg.py', './_base_/coreset_cifar.py'
]
coreset = dict(fraction=0.3, interval=5, policy='acs')
