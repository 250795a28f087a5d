# W4A4 LSQ QAT of RetinaNet R18-FPN on all of COCO train2017 (the `full`
# baseline), from mmdet's FP checkpoint, 12 epochs, cosine LR.
_base_ = [
    'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
    '../_base_/qat/lsq_runtime.py'
]
custom_imports = dict(imports=['mmacs'], allow_failed_imports=False)
float_checkpoint = 'https://download.openmmlab.com/mmdetection/v3.0/retinanet/retinanet_r18_fpn_1x_coco/retinanet_r18_fpn_1x_coco_20220407_171055-614fd399.pth'  # noqa: E501
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
# Student and teacher start from `float_checkpoint` (QATModel then skips the
# backbone's ImageNet init); QAT fine-tunes with a smaller LR.
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=200),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1))
