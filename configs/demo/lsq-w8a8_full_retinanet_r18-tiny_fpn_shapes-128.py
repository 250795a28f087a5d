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
# The 8-bit steps stay as calibrated (TensorRT's QAT recipe keeps its
# ranges fixed too): a channel whose BatchNorm gamma has decayed to ~0 has a
# folded weight of ~0 and a step of ~1e-8, which any optimizer update (AdamW
# moves a parameter by ~lr) turns negative.
qat = dict(step_lr_mult=0.0)
