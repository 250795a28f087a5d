# W4A4 LSQ QAT of the HIT-UAV RetinaNet, each epoch on 10% of the training
# images chosen by `random_dynamic`, re-selected every R = 5 epochs.
_base_ = [
    './lsq-w4a4_full_retinanet_r18-slim_fpn_crop256_hit-uav.py',
    '../_base_/coreset/acs.py'
]
coreset = dict(fraction=0.1, interval=5, policy='random_dynamic')
