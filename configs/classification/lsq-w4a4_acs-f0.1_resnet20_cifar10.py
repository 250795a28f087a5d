# W4A4 LSQ QAT of ResNet-20 on CIFAR-10 (45k seeded split of the
# shared JPEGs; teacher: the shared FP checkpoint), 10% of the
# training set per epoch chosen by `acs`, re-selected every
# R = 5 epochs (the interval that scored best in the CIFAR study,
# docs/studies.md, "What ACS buys").
_base_ = [
    './_base_/lsq-w4a4_resnet20_cifar10-jpeg.py', './_base_/coreset_cifar.py'
]
coreset = dict(fraction=0.1, interval=5, policy='acs')
