# W2A2 LSQ QAT of ResNet-20 on CIFAR-10 (45k seeded split of the
# shared JPEGs; teacher: the shared FP checkpoint), 10% of the
# training set per epoch chosen by `acs`, re-selected every
# R = 5 epochs (the interval that scored best in the CIFAR study,
# docs/studies.md, "What ACS buys").
# On the clean protocol (docs/results/quality_clean_w2a2.md) it ties
# `random_dynamic` and `full_steps` on both splits at 1.36x and 1.46x
# their wall time: we recommend ./lsq-w2a2_full-steps-f0.1_resnet20_cifar10.py.
_base_ = [
    './_base_/lsq-w2a2_resnet20_cifar10-jpeg.py', './_base_/coreset_cifar.py'
]
coreset = dict(fraction=0.1, interval=5, policy='acs')
