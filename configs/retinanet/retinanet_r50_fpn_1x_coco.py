# Full-precision RetinaNet R50-FPN on COCO, as mmdet ships it.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmacs'], allow_failed_imports=False)
