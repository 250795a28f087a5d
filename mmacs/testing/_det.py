# Copyright (c) mmacs contributors. All rights reserved.
"""Small RetinaNet-R18 QAT models and batches for tests (128 px, CPU)."""
import copy

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmacs.utils import repo_path


def retinanet_cfg():
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        repo_path('configs', 'retinanet', 'retinanet_r18_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg = None
    # Untrained weights: keep every detection so predict returns boxes.
    cfg.model.test_cfg.score_thr = 0.0
    cfg.model.test_cfg.max_per_img = 10
    return cfg.model


def build_qat(distill=None, float_checkpoint=None, seed=0,
              layer_align=None):
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            type='QATModel',
            model=retinanet_cfg(),
            distill=distill,
            layer_align=layer_align,
            float_checkpoint=float_checkpoint))
    model.init_weights()
    return model


def det_batch(boxes_per_image=((1, ), (0, 2)), size=128, seed=0):
    """Raw batch as a dataloader yields it; () = an image without boxes."""
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i, labels in enumerate(boxes_per_image):
        inputs.append(
            torch.randint(0, 255, (3, size, size), dtype=torch.uint8,
                          generator=g))
        meta = dict(
            img_shape=(size, size),
            ori_shape=(size, size),
            scale_factor=(1.0, 1.0),
            sample_idx=i,
            img_id=i)
        sample = DetDataSample(metainfo=meta)
        boxes = []
        for j, _ in enumerate(labels):
            x0 = 8 + 30 * j
            boxes.append([x0, 10.0 + 5 * j, x0 + 40.0, 70.0 + 5 * j])
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float).reshape(-1, 4),
            labels=torch.tensor(list(labels), dtype=torch.long))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def copy_batch(batch):
    return copy.deepcopy(batch)
