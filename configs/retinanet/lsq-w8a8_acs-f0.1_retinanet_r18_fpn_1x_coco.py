# The W8A8 recipe (lsq-w8a8_full_...) trained every epoch on 10% of
# train2017 chosen by `acs`, re-selected every R = 2 epochs.
_base_ = [
    './lsq-w8a8_full_retinanet_r18_fpn_1x_coco.py',
    '../_base_/coreset/acs.py'
]
coreset = dict(fraction=0.1, interval=2, policy='acs')
