# W2A2 LSQ QAT of ResNet-20 on the CIFAR-10 images. At 2 bits LSQ's step
# initialisation (2 mean|x| / sqrt(Qp)) is far from the least-error step;
# init='mse' starts from the latter (README, "The recipe check": 76-77%
# against 32-34% after one epoch on all the data).
#
# The student's outputs of the three ResNet stages are aligned to the FP
# teacher's (mean squared error, weight 1; our form of QuaRC's layer
# correction). README, "QuaRC at W2A2", f = 0.1, 3 seeds: the default
# selection 81.98 -> 84.07, random_dynamic 81.15 -> 83.66, for +25%
# training time. `model.layer_align=None` turns it off (the paper's preset
# does).
_base_ = './lsq_resnet20_cifar10-jpeg.py'
model = dict(
    weight_quant=dict(bits=2, init='mse'),
    act_quant=dict(bits=2, init='mse'),
    layer_align=dict(
        layers=['backbone.layer1', 'backbone.layer2', 'backbone.layer3'],
        loss_weight=1.0))
