# W4A4 LSQ QAT of the HIT-UAV RetinaNet on all training images for 10
# epochs (the `full` baseline), student and teacher from the FP checkpoint of
# retinanet_r18-slim_fpn_crop256-24e_hit-uav.py (tools/train.py's default
# work dir). Per-channel weights, first conv and the head's output convs in
# full precision; step sizes from least squared error (init='mse').
_base_ = [
    './retinanet_r18-slim_fpn_crop256-24e_hit-uav.py',
    '../_base_/qat/lsq_runtime.py'
]
float_checkpoint = \
    'work_dirs/retinanet_r18-slim_fpn_crop256-24e_hit-uav/epoch_24.pth'
model = dict(
    _delete_=True,
    type='QATModel',
    model={{_base_.model}},
    float_checkpoint=float_checkpoint,
    weight_quant=dict(bits=4, per_channel=True, init='mse'),
    act_quant=dict(bits=4, signed='auto', init='mse'),
    fp_layers=('backbone.conv1', 'bbox_head.retina_cls',
               'bbox_head.retina_reg'),
    distill=None)
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.0002))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
