# W2A2 LSQ QAT of ResNet-20 on CIFAR-10 (45k seeded split of the
# shared JPEGs; teacher: the shared FP checkpoint), 10% of the
# training set per epoch chosen by `acs`, re-selected every R = 10 epochs.
_base_ = [
    './_base_/lsq_resnet20_cifar10-jpeg.py', './_base_/coreset_cifar.py'
]
# At 2 bits LSQ's step initialisation (2 mean|x| / sqrt(Qp)) is far from
# the least-error step; init='mse' starts from the latter (README, "The
# recipe check": 76-77% against 32-34% after one epoch on all the data).
model = dict(
    weight_quant=dict(bits=2, init='mse'),
    act_quant=dict(bits=2, init='mse'))
coreset = dict(fraction=0.1, interval=10, policy='acs')
