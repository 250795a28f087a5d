# W4A4 LSQ QAT of ResNet-20 on all of the CIFAR-10 training split.
_base_ = './_base_/lsq_resnet20_cifar10-jpeg.py'
model = dict(weight_quant=dict(bits=4), act_quant=dict(bits=4))
