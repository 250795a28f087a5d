# W4A4 LSQ QAT of ResNet-20 on all of the CIFAR-10 training split.
_base_ = './_base_/lsq-w4a4_resnet20_cifar10-jpeg.py'
