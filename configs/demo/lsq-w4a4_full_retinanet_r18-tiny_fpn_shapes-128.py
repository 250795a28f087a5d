# W4A4 LSQ QAT of the demo RetinaNet on all the synthetic shapes (the
# `full` baseline), from the FP checkpoint of
# retinanet_r18-tiny_fpn_shapes-128.py (tools/train.py's default work dir;
# tools/demo.py passes its own).
_base_ = [
    './retinanet_r18-tiny_fpn_shapes-128.py', '../_base_/qat/lsq_runtime.py'
]
float_checkpoint = 'work_dirs/retinanet_r18-tiny_fpn_shapes-128/epoch_20.pth'
model = dict(
    _delete_=True,
    type='QATModel',
    model={{_base_.model}},
    float_checkpoint=float_checkpoint,
    weight_quant=dict(bits=4, per_channel=False),
    act_quant=dict(bits=4, signed='auto'),
    fp_layers=('backbone.conv1', 'bbox_head.retina_cls',
               'bbox_head.retina_reg'),
    distill=None)
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.0001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=10),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=max_epochs))
