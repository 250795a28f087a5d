# LSQ QAT of ResNet-20 on the CIFAR-10 images, student and teacher from the
# FP checkpoint (`module.` keys mapped onto the classifier's `backbone.`).
# First conv and last linear layer stay in full precision.
_base_ = ['./resnet20_cifar10-jpeg.py', '../../_base_/qat/lsq_runtime.py']
model = dict(
    _delete_=True,
    type='QATModel',
    model={{_base_.model}},
    float_checkpoint={{_base_.teacher_checkpoint}},
    float_checkpoint_revise_keys=[(r'^module\.', 'backbone.')],
    weight_quant=dict(bits=4),
    act_quant=dict(bits=4, signed='auto'),
    fp_layers=('backbone.conv1', 'backbone.linear'),
    # Knowledge distillation to the teacher (soft cross-entropy):
    # distill=dict(loss_weight=1.0, temperature=1.0)
    distill=None)
