# W2A2 LSQ QAT of ResNet-20 on the CIFAR-10 images. At 2 bits LSQ's step
# initialisation (2 mean|x| / sqrt(Qp)) is far from the least-error step;
# init='mse' starts from the latter (README, "The recipe check": 76-77%
# against 32-34% after one epoch on all the data).
_base_ = './lsq_resnet20_cifar10-jpeg.py'
model = dict(
    weight_quant=dict(bits=2, init='mse'),
    act_quant=dict(bits=2, init='mse'))
