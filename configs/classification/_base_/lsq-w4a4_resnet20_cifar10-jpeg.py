# W4A4 LSQ QAT of ResNet-20 on the CIFAR-10 images, calibrated with
# init='mse' (the least-error step), a better start than LSQ's
# 2 mean|x| / sqrt(Qp) (docs/studies.md, "The recipe check").
_base_ = './lsq_resnet20_cifar10-jpeg.py'
model = dict(
    weight_quant=dict(bits=4, init='mse'),
    act_quant=dict(bits=4, init='mse'))
