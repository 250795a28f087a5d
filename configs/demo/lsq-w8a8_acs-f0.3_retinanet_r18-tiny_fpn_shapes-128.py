# The demo's W8A8 recipe (lsq-w8a8_full_...) trained every epoch on 30% of
# the synthetic shapes chosen by `acs`, re-selected every epoch (R = 1).
_base_ = [
    './lsq-w8a8_full_retinanet_r18-tiny_fpn_shapes-128.py',
    '../_base_/coreset/acs.py'
]
coreset = dict(fraction=0.3, interval=1, policy='acs')
