# Copyright (c) mmacs contributors. All rights reserved.
"""Small QAT detectors (RetinaNet-R18; FCOS and ATSS with a ResNet-18) and
batches for tests (128 px, CPU)."""
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


def mmdet_model_cfg(config: str):
    """The model of mmdet's own ``config`` (a path under mmdet's configs,
    e.g. 'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py') with a ResNet-18, a
    64-channel neck and a 2-conv head, nothing pretrained."""
    init_default_scope('mmdet')
    model = Config.fromstring(f"_base_ = 'mmdet::{config}'",
                              file_format='.py').model
    model.backbone = dict(
        type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
        frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True, style='pytorch', init_cfg=None)
    model.neck.update(in_channels=[64, 128, 256, 512], out_channels=64)
    model.bbox_head.update(in_channels=64, feat_channels=64,
                           stacked_convs=2)
    return model


def fcos_cfg():
    """A small FCOS (anchor-free) from mmdet's own config."""
    return mmdet_model_cfg('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py')


def atss_cfg():
    """A small ATSS from mmdet's own config."""
    return mmdet_model_cfg('atss/atss_r50_fpn_1x_coco.py')


def build_qat(distill=None, float_checkpoint=None, seed=0,
              layer_align=None, model=None):
    """A QAT model of ``model`` (default: :func:`retinanet_cfg`)."""
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            type='QATModel',
            model=retinanet_cfg() if model is None else model,
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
