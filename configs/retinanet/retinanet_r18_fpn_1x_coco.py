# Full-precision RetinaNet R18-FPN on COCO, as mmdet ships it: the teacher
# and starting point of the QAT configs (mmdet's model zoo has its weights).
_base_ = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
custom_imports = dict(imports=['mmacs'], allow_failed_imports=False)
