# W4A4 LSQ QAT of RetinaNet R18-FPN on COCO, trained every epoch on
# 50% of train2017 chosen by `random_dynamic`, re-selected every R = 2
# epochs, 12 epochs (as the full baseline).
_base_ = [
    './lsq-w4a4_full_retinanet_r18_fpn_1x_coco.py',
    '../_base_/coreset/acs.py'
]
coreset = dict(fraction=0.5, interval=2, policy='random_dynamic')
