# Copyright (c) mmacs contributors. All rights reserved.
"""The per-image view of a dense detection head.

mmdet's heads reduce their losses over the batch. Scoring needs one value
per image, so a :class:`DenseHead` runs the head's *own* target assignment
and its own losses with ``reduction_override='none'`` and sums them per
image; nothing of the assignment is re-implemented. One file per family of
heads subclasses it and registers it in :data:`mmacs.registry.DENSE_HEADS`
under the mmdet class it covers (subclasses are found through their bases).
The DS score of the detection scorers and the distillation loss share
:func:`teacher_distance`.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmacs.registry import DENSE_HEADS


class DenseHead:
    """A dense head, seen per image.

    Outputs (:meth:`outputs`) are ``dict(cls=[B, A, C], reg=[B, A, R],
    featmap_sizes=[(H, W), ...])`` plus any other per-point output of the
    head, rows over all points (anchors) of all levels in the order of the
    head's targets. Targets (:meth:`targets`) are at least ``labels``
    ``[B, A]`` (``num_classes`` = background), ``label_weights`` ``[B, A]``,
    ``bbox_targets`` / ``bbox_weights`` ``[B, A, R]`` and ``num_pos`` ``[B]``,
    each image's own normaliser.

    Args:
        head (nn.Module): The mmdet head.
    """

    #: The head's last layers, kept in full precision by default (names
    #: under ``bbox_head``).
    fp_layers: Tuple[str, ...] = ()

    def __init__(self, head: nn.Module) -> None:
        self.head = head

    @classmethod
    def supports(cls, head: nn.Module) -> bool:
        """Whether this family covers ``head`` (a subclass of the
        registered class may have changed what this view relies on)."""
        return True

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def outputs(self, feats: Sequence[Tensor]) -> dict:
        """The per-point outputs of the head on the neck's ``feats``."""
        return self.flatten(self.head(feats))

    def flatten(self, maps: tuple) -> dict:
        """The head's per-level maps (its forward's output) as
        :meth:`outputs`."""
        raise NotImplementedError

    def targets(self, out: dict, data_samples: list) -> dict:
        """The head's own training targets of ``out``, per image."""
        raise NotImplementedError

    def image_losses(self, out: dict, targets: dict,
                     norm_floor: float = 1.0) -> Tensor:
        """``[B]``: each image's head loss, as the head computes it for a
        batch of that image alone (normalisers at least ``norm_floor``)."""
        raise NotImplementedError

    def loss_and_targets(self, maps: tuple,
                         data_samples: list) -> Tuple[dict, dict, dict]:
        """The head's training loss on its per-level ``maps``
        (``loss_by_feat``), the per-image targets and the outputs
        (:meth:`flatten`); a family may share one target assignment."""
        gts, gts_ignore, metas = self.unpack(data_samples)
        losses = self.head.loss_by_feat(*maps, gts, metas, gts_ignore)
        out = self.flatten(maps)
        return losses, self.targets(out, data_samples), out

    def unpack(self, data_samples: list) -> tuple:
        """``(gt_instances, gt_instances_ignore, img_metas)``."""
        from mmdet.models.utils import unpack_gt_instances
        return unpack_gt_instances(data_samples)


def find_dense_head(head: Optional[nn.Module]) -> Optional[type]:
    """The registered :class:`DenseHead` family of ``head`` (through its
    class's bases), or None."""
    if head is None:
        return None
    for cls in type(head).__mro__:
        family = DENSE_HEADS.get(cls.__name__)
        if family is not None:
            return family if family.supports(head) else None
    return None


def flatten_levels(maps: Sequence[Tensor], channels: int) -> Tensor:
    """Per-level maps ``[B, P_l * channels, H, W]`` as rows ``[B, P,
    channels]`` (levels, then locations, then the ``P_l`` points of a
    location: the order of the heads' targets)."""
    b = maps[0].size(0)
    return torch.cat(
        [m.permute(0, 2, 3, 1).reshape(b, -1, channels) for m in maps], 1)


def centerness_outputs(maps: tuple, num_classes: int) -> dict:
    """The outputs of a head with a centerness branch (its forward gives
    per-level class, box and centerness maps, one point per location):
    ``cls`` ``[B, A, C]``, ``reg`` ``[B, A, 4]``, ``ctr`` ``[B, A]``."""
    cls_scores, bbox_preds, centernesses = maps[:3]
    return dict(
        cls=flatten_levels(cls_scores, num_classes),
        reg=flatten_levels(bbox_preds, 4),
        ctr=flatten_levels(centernesses, 1)[..., 0],
        featmap_sizes=[tuple(s.shape[-2:]) for s in cls_scores])


def centerness_targets(targets: dict, num_classes: int, fn) -> dict:
    """``targets`` with ``centerness`` ``[B, A]``: ``fn(priors, box
    targets)`` of the positives, 0 elsewhere, and ``num_pos`` ``[B]``, each
    image's positives."""
    pos = targets['labels'] < num_classes
    centerness = targets['bbox_targets'].new_zeros(pos.shape)
    centerness[pos] = fn(targets['priors'][pos], targets['bbox_targets'][pos])
    return dict(targets, centerness=centerness,
                num_pos=pos.sum(1).to(centerness.dtype))


def per_image(values: Tensor, image: Tensor, num_images: int) -> Tensor:
    """``[num_images]``: the sum of ``values`` of each image (``image`` the
    image index of each value)."""
    return values.new_zeros(num_images).index_add_(0, image, values)


def centerness_losses(head: nn.Module, out: dict, targets: dict,
                      norm_floor: float, ctr_floor: float,
                      decode_targets: bool) -> Tensor:
    """``[B]``: each image's loss of a head with a centerness branch (FCOS,
    ATSS)::

        sum_a w_a FL(s_a, y_a) / n + sum_{a pos} c_a L_box(b_a, t_a)
            / max(sum_{a pos} c_a, ctr_floor) + sum_{a pos} BCE(o_a, c_a) / n

    with ``n = max(positives, norm_floor)``, ``c`` the centerness targets
    (``targets['centerness']``) and ``o`` the predicted centerness
    (``out['ctr']``). Boxes ``b`` are decoded from ``targets['priors']``
    ``[B, A, k]``, the box targets ``t`` too when ``decode_targets``."""
    cls, labels = out['cls'], targets['labels']
    b, _, c = cls.shape
    norm = targets['num_pos'].clamp(min=norm_floor)
    loss_cls = head.loss_cls(
        cls.reshape(-1, c), labels.reshape(-1),
        targets['label_weights'].reshape(-1),
        reduction_override='none').reshape(b, -1).sum(1)
    image, point = (labels < head.num_classes).nonzero(as_tuple=True)
    priors, ctr_t = targets['priors'][image, point], targets['centerness'][
        image, point]
    box_t = targets['bbox_targets'][image, point]
    if decode_targets:
        box_t = head.bbox_coder.decode(priors, box_t)
    # GIoULoss gives a scalar 0 when no weight is positive.
    loss_bbox = head.loss_bbox(
        head.bbox_coder.decode(priors, out['reg'][image, point]),
        box_t,
        weight=ctr_t,
        reduction_override='none').expand_as(ctr_t)
    loss_ctr = head.loss_centerness(
        out['ctr'][image, point], ctr_t, reduction_override='none')
    return loss_cls / norm + per_image(loss_bbox, image, b) / per_image(
        ctr_t, image, b).clamp(min=ctr_floor) + per_image(loss_ctr, image,
                                                          b) / norm


def soft_focal_distance(student_logits: Tensor,
                        teacher_logits: Tensor,
                        gamma: float = 2.0) -> Tensor:
    """Element-wise focal distance between two sets of sigmoid logits.

    ``BCE(sigmoid(s), q) * |sigmoid(s) - q|^gamma`` with ``q =
    sigmoid(t)``: the focal loss with the teacher's probabilities as soft
    targets. It is 0 exactly where the two agree, and like the focal loss it
    down-weights the many anchors both call background.

    Args:
        student_logits (Tensor): Any shape.
        teacher_logits (Tensor): Same shape.
        gamma (float): Focusing exponent. Defaults to 2.0.

    Returns:
        Tensor: Same shape as the inputs.
    """
    s = student_logits.float()
    q = teacher_logits.float().sigmoid()
    bce = F.binary_cross_entropy_with_logits(s, q, reduction='none')
    return bce * (s.sigmoid() - q).abs().pow(gamma)


def teacher_distance(student_cls: Tensor, teacher_cls: Tensor,
                     label_weights: Tensor, gamma: float = 2.0) -> Tensor:
    """Per image, the :func:`soft_focal_distance` of the student's class
    logits to the teacher's, summed over the points the head trains on
    (``label_weights > 0``) and the classes; not normalised.

    Args:
        student_cls (Tensor): ``[B, A, C]`` logits.
        teacher_cls (Tensor): ``[B, A, C]`` logits.
        label_weights (Tensor): ``[B, A]`` from :meth:`DenseHead.targets`.
        gamma (float): Focusing exponent. Defaults to 2.0.

    Returns:
        Tensor: ``[B]``.
    """
    valid = (label_weights > 0).unsqueeze(-1)
    return (soft_focal_distance(student_cls, teacher_cls, gamma) *
            valid).sum((1, 2))
