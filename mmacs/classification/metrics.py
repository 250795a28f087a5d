# Copyright (c) mmacs contributors. All rights reserved.
"""Top-k accuracy of single-label classification."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric

from mmacs.utils.checks import is_int


def _field(sample, name: str):
    return sample[name] if isinstance(sample, dict) else getattr(sample, name)


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy in percent.

    Reads ``pred_score`` (``[C]``) and ``gt_label`` from each data sample
    and reports ``accuracy/top{k}`` for every ``k`` in ``topk`` that is at
    most the number of classes ``C`` (so 'top5' is left out when ``C < 5``).
    A sample is correct at ``k`` when its label is among its ``k`` highest
    scores (ties broken by ``torch.topk``).

    Args:
        topk (int | Sequence[int]): The ``k`` values. Defaults to (1, 5).
        collect_device (str): 'cpu' or 'gpu', where results are gathered
            across ranks. Defaults to 'cpu'.
        prefix (str, optional): Defaults to 'accuracy'.
    """

    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 topk: Union[int, Sequence[int]] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not topk or any(
                not is_int(k) or k < 1 for k in topk):
            raise ValueError(f'topk must be ints >= 1, got {topk!r}')
        self.topk = topk

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            self.results.append(
                dict(
                    pred_score=_field(sample, 'pred_score').detach().cpu(),
                    gt_label=int(_field(sample, 'gt_label').flatten()[0])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            return {}
        scores = torch.stack([r['pred_score'] for r in results]).float()
        labels = torch.tensor([r['gt_label'] for r in results])
        num_classes = scores.size(1)
        ranks = scores.topk(min(max(self.topk), num_classes), dim=1).indices
        hits = ranks == labels[:, None]
        return {
            f'top{k}': hits[:, :k].any(1).sum().item() * 100.0 / len(hits)
            for k in self.topk if k <= num_classes
        }
