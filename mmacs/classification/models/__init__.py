# Copyright (c) mmacs contributors. All rights reserved.
from .cifar_resnet import BasicBlock, CifarResNet, ResNet18Cifar
from .image_classifier import ImageClassifier
from .mobilenet_v2_cifar import MobileNetV2Cifar

__all__ = [
    'BasicBlock', 'CifarResNet', 'ResNet18Cifar', 'MobileNetV2Cifar',
    'ImageClassifier'
]
