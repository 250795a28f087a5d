# Copyright (c) mmacs contributors. All rights reserved.
"""Tasks: one module per task holds what mmacs knows about it (outputs,
loss, targets, default scorer, teacher fit, labels, full-precision layers,
export outputs); :mod:`mmacs.tasks.heads` holds one file per family of
dense detection heads."""
from .base import Task, build_task, get_task, sample_indices
from .classification import ClassificationTask
from .detection import DetectionTask, dense_head
from .heads import DenseHead, soft_focal_distance, teacher_distance


def _all_fp_layers() -> tuple:
    from mmacs.registry import DENSE_HEADS
    heads = tuple(f'bbox_head.{name}'
                  for family in DENSE_HEADS.module_dict.values()
                  for name in family.fp_layers)
    return tuple(dict.fromkeys(DetectionTask.stem_fp_layers + heads +
                               ClassificationTask.fp_layers))


#: Every task's default full-precision layers, for a model quantized
#: outside :class:`~mmacs.models.QATModel` (which keeps its task's).
DEFAULT_FP_LAYERS = _all_fp_layers()

__all__ = [
    'Task', 'build_task', 'get_task', 'sample_indices', 'ClassificationTask',
    'DetectionTask', 'dense_head', 'DenseHead', 'soft_focal_distance',
    'teacher_distance', 'DEFAULT_FP_LAYERS'
]
