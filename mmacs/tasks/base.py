# Copyright (c) mmacs contributors. All rights reserved.
"""The task interface: everything mmacs knows about a task, in one class.

A task module registers one :class:`Task` subclass in
:data:`mmacs.registry.TASKS`. The QAT model asks it for the student's and
the teacher's outputs and the (distilled) training loss, the scorers and
the selector for the default scorer, how well the teacher fits a sample and
whether samples carry a single label, the model for the layers it keeps in
full precision, and the ONNX export for its outputs and their names.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmacs.registry import TASKS, get_registered


class Task:
    """What one task needs of a model (built per model: a detection task
    knows its head).

    Attributes:
        task (str): The registered name.
        default_scorer (str): The scorer of a ``coreset`` config without
            ``scorer``.
        teacher_fit_key (str): The scorer output a teacher filter reads.
        single_label (bool): Every sample carries exactly one label (class
            balance and ``teacher_filter=dict(min_prob=p)`` need it).
        fp_layers (tuple[str]): The layers ``QATModel`` keeps in full
            precision by default (fnmatch patterns).
    """

    task: str = ''
    default_scorer: str = ''
    teacher_fit_key: str = ''
    single_label: bool = False
    fp_layers: Tuple[str, ...] = ()

    def __init__(self, model: Optional[nn.Module] = None) -> None:
        self.model = model

    def outputs(self, model: nn.Module, inputs: Tensor) -> dict:
        """The raw outputs scoring and distillation read, each with the
        batch as its first dimension (so they split per sample and cache).
        """
        raise NotImplementedError

    def loss(self, student: nn.Module, inputs: Tensor, data_samples: list,
             teacher_fn, distill: Optional[dict]) -> Dict[str, Tensor]:
        """The training loss, with distillation to ``teacher_fn()``'s
        outputs when ``distill`` is set."""
        raise NotImplementedError

    def teacher_fit(self, scores: dict) -> Tensor:
        """Per sample, how well the FP teacher fits its annotation (higher:
        better), from the scorer's outputs ``scores``."""
        raise NotImplementedError

    def _fit_value(self, scores: dict) -> Tensor:
        if self.teacher_fit_key not in scores:
            raise ValueError(
                f'a teacher filter reads the scorer\'s '
                f'{self.teacher_fit_key!r} ({self.task}); the scorer gives '
                f'{sorted(scores)}')
        return scores[self.teacher_fit_key]

    @staticmethod
    def export_outputs(model: nn.Module, inputs: Tensor) -> Tuple[Tensor]:
        """The student's ``tensor``-mode outputs as a flat tuple (what the
        ONNX graph returns)."""
        raise NotImplementedError

    @classmethod
    def output_names(cls, num_outputs: int) -> List[str]:
        """The names of the ONNX graph's outputs."""
        raise NotImplementedError

    @classmethod
    def output_axes(cls, name: str) -> dict:
        """The dynamic axes of the ONNX output ``name``."""
        raise NotImplementedError


def get_task(name: str) -> type:
    """The :class:`Task` registered as ``name``; an error names a bad
    one."""
    return get_registered(TASKS, name, 'task')


def build_task(task: str, model: nn.Module) -> Task:
    """The task of ``model``: a registered name ('detection',
    'classification') or 'auto' (detection for a model with a ``bbox_head``
    or ``rpn_head``, else classification)."""
    if task == 'auto':
        task = 'detection' if hasattr(model, 'bbox_head') or hasattr(
            model, 'rpn_head') else 'classification'
    found = TASKS.get(task) if isinstance(task, str) else None
    if found is None:
        raise ValueError("task must be 'auto' or one of "
                         f'{sorted(TASKS.module_dict)}, got {task!r}')
    return found(model)


def sample_indices(data_samples: list) -> Tensor:
    """The dataset index of each sample (``sample_idx`` in its metainfo)."""
    try:
        return torch.tensor([int(s.metainfo['sample_idx'])
                             for s in data_samples])
    except KeyError:
        raise KeyError(
            "data samples carry no 'sample_idx': add 'sample_idx' to the "
            "meta_keys of the scoring pipeline's packing transform") from None
