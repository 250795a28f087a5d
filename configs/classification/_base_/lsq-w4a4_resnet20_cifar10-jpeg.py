# W4A4 LSQ QAT of ResNet-20 on the CIFAR-10 images, calibrated with
# init='mse' (the least-error step), a better start than LSQ's
# 2 mean|x| / sqrt(Qp) (docs/studies.md, "The recipe check").
# No layer alignment (the W2A2 configs align): on the clean protocol it
# gains at W4A4 on the sealed split only, at about 1.3x the wall time
# (docs/studies.md, "Layer alignment at W4A4").
_base_ = './lsq_resnet20_cifar10-jpeg.py'
model = dict(
    weight_quant=dict(bits=4, init='mse'),
    act_quant=dict(bits=4, init='mse'))
