# W8A8 LSQ QAT of RetinaNet R18-FPN on all of COCO train2017, for integer
# runtimes (docs/deploy.md): INT8 weights, symmetric and per output channel;
# 8-bit activations per tensor, zero point 0 (UINT8 after a ReLU, INT8
# elsewhere); every BatchNorm after a quantized conv folded into it, so the
# weight grid QAT learns is the one deployed. Only the stem stays float:
# quantizing the inputs of retina_cls / retina_reg lets onnxruntime run the
# head's last stacked convs on integer kernels too. The backbone keeps
# mmdet's norm_eval (frozen statistics); otherwise as the W4A4 baseline.
_base_ = './lsq-w4a4_full_retinanet_r18_fpn_1x_coco.py'
model = dict(
    weight_quant=dict(bits=8, per_channel=True),
    act_quant=dict(bits=8, signed='auto'),
    fp_layers=('backbone.conv1', ),
    fold_bn=dict(freeze_stats_after=None))
# The 8-bit steps stay as calibrated (as TensorRT's QAT recipe keeps its
# ranges): see configs/demo/lsq-w8a8_full_... for why.
qat = dict(step_lr_mult=0.0)
