# W4A4 LSQ QAT of the demo RetinaNet, trained every epoch on a fresh random
# 30% of the synthetic shapes (`random_dynamic`, R = 1): the baseline of
# the ACS config at the same fraction.
_base_ = [
    './lsq-w4a4_full_retinanet_r18-tiny_fpn_shapes-128.py',
    '../_base_/coreset/acs.py'
]
coreset = dict(fraction=0.3, interval=1, policy='random_dynamic')
