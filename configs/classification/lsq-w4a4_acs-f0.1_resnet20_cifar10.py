# W4A4 LSQ QAT of ResNet-20 on CIFAR-10 (45k seeded split of the
# shared JPEGs; teacher: the shared FP checkpoint), 10% of the
# training set per epoch chosen by `acs`, re-selected every
# R = 5 epochs (the interval that scored best in the CIFAR study,
# docs/studies.md, "What ACS buys").
# On the clean protocol (docs/results/quality_clean_w4a4.md) its lead
# over `random_dynamic` is within the seed spread at 1.60x the wall time,
# and `full_steps` beats it on average at 0.59x: we recommend
# ./lsq-w4a4_full-steps-f0.1_resnet20_cifar10.py.
_base_ = [
    './_base_/lsq-w4a4_resnet20_cifar10-jpeg.py', './_base_/coreset_cifar.py'
]
coreset = dict(fraction=0.1, interval=5, policy='acs')
