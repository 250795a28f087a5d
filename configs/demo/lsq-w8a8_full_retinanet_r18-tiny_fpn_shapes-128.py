# W8A8 LSQ QAT of the demo RetinaNet for integer runtimes (docs/deploy.md):
# INT8 per-channel symmetric weights, 8-bit per-tensor activations with zero
# point 0, only the stem in float, the backbone's BatchNorms folded into the
# quantized convs and their running statistics frozen after 4 of 6 epochs.
_base_ = './lsq-w4a4_full_retinanet_r18-tiny_fpn_shapes-128.py'
model = dict(
    weight_quant=dict(bits=8, per_channel=True),
    act_quant=dict(bits=8, signed='auto'),
    fp_layers=('backbone.conv1', ),
    fold_bn=dict(freeze_stats_after=4))
