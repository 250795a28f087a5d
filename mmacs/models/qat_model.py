# Copyright (c) mmacs contributors. All rights reserved.
"""QATModel: an LSQ-quantized student beside a frozen full-precision teacher.
"""
import copy
import re
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.runner.checkpoint import _load_checkpoint

from mmacs.quantization import calibrate, quantize_model
from mmacs.quantization.fold_bn import fold_bn as fold_bn_layers
from mmacs.tasks import DEFAULT_FP_LAYERS, build_task  # noqa: F401
from .layer_align import capture_outputs, check_layer_align, layer_align_loss


@MODELS.register_module()
class QATModel(BaseModel):
    """A quantization-aware-training student with a frozen FP teacher.

    The student and the teacher are built from the same model config. The
    student's convolutions and linear layers are swapped for LSQ-quantized
    ones (except ``fp_layers``); the teacher stays in full precision, never
    receives gradients and stays in eval mode. ``float_checkpoint`` is
    loaded into both once the runner has initialised the weights.

    Args:
        model (dict): The config of the float model (any mmdet detector, or
            a classifier whose ``tensor`` mode gives logits).
        float_checkpoint (str, optional): Path or URL of the full-precision
            weights for student and teacher. Defaults to None.
        float_checkpoint_revise_keys (Sequence[tuple]): ``(pattern,
            replacement)`` pairs applied to checkpoint keys. Defaults to
            ``((r'^module\\.', ''), )``.
        weight_quant (dict, optional): Weight quantizer config. Defaults to
            ``dict(bits=4)``.
        act_quant (dict, optional): Activation quantizer config. Defaults to
            ``dict(bits=4, signed='auto')``.
        quant_layers (Sequence[str]): fnmatch patterns of layers to
            quantize. Defaults to ``('*', )``.
        fp_layers (Sequence[str], optional): Patterns of layers kept in
            full precision. Defaults to None: the task's (the stem and the
            head's last layers, see :mod:`mmacs.tasks`).
        distill (dict, optional): Knowledge distillation to the teacher,
            e.g. ``dict(loss_weight=1.0)``; None turns it off. Defaults to
            None.
        layer_align (dict, optional): Align intermediate outputs of the
            student with the teacher's: ``dict(layers=['backbone.layer1',
            ...], loss_weight=1.0)`` adds ``loss_align``, the summed mean
            squared error of those modules' outputs (see
            :mod:`mmacs.models.layer_align`); None turns it off. Defaults to
            None.
        task (str): 'auto', 'detection' or 'classification'. Defaults to
            'auto'.
        fold_bn (dict, optional): Fold each BatchNorm that follows a
            quantized convolution into it, so that the weight quantizer sees
            the folded weight an integer runtime deploys (see
            :mod:`mmacs.quantization.fold_bn`): ``dict(freeze_stats_after=N)``
            freezes the running statistics after ``N`` epochs
            (:class:`BNFreezeHook`; None never does). None keeps BatchNorm
            unfolded. Defaults to None.
        data_preprocessor (dict, optional): Defaults to the float model's.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 model: dict,
                 float_checkpoint: Optional[str] = None,
                 float_checkpoint_revise_keys: Sequence[tuple] = (
                     (r'^module\.', ''), ),
                 weight_quant: Optional[dict] = dict(bits=4),
                 act_quant: Optional[dict] = dict(bits=4, signed='auto'),
                 quant_layers: Sequence[str] = ('*', ),
                 fp_layers: Optional[Sequence[str]] = None,
                 distill: Optional[dict] = None,
                 layer_align: Optional[dict] = None,
                 task: str = 'auto',
                 fold_bn: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        model = copy.deepcopy(dict(model))
        if data_preprocessor is None:
            data_preprocessor = model.get('data_preprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if distill is not None and not isinstance(distill, dict):
            raise TypeError(f'distill must be a dict or None, got {distill!r}')
        if distill and distill.get('loss_weight', 1.0) < 0:
            raise ValueError('distill.loss_weight must be >= 0, got '
                             f"{distill['loss_weight']!r}")
        self.student = MODELS.build(copy.deepcopy(model))
        self.teacher = MODELS.build(copy.deepcopy(model))
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        # Set by CoresetSelectionHook (score_reuse) for the epochs whose
        # training outputs are scored: a ScoreRecorder, else None.
        self.score_recorder = None
        self.adapter = build_task(task, self.student)
        if fp_layers is None:
            fp_layers = self.adapter.fp_layers
        self.distill = distill
        self.layer_align = None if layer_align is None else \
            check_layer_align(layer_align, self.student)
        self.float_checkpoint = float_checkpoint
        self.float_checkpoint_revise_keys = [
            tuple(k) for k in float_checkpoint_revise_keys
        ]
        self.quantized_layers = quantize_model(
            self.student,
            weight_quant,
            act_quant,
            include=quant_layers,
            skip=fp_layers)
        if not self.quantized_layers:
            raise ValueError('no layer matched quant_layers='
                             f'{list(quant_layers)} outside fp_layers='
                             f'{list(fp_layers)}')
        self.fold_bn = _check_fold_bn(fold_bn)
        self.folded_layers = [] if fold_bn is None else \
            fold_bn_layers(self.student)
        if fold_bn is not None and not self.folded_layers:
            raise ValueError('fold_bn is set but no quantized convolution '
                             'is followed by a BatchNorm2d in the student')
        # The detector freezes its frozen stages in train() (ResNet's
        # frozen_stages); apply that to the new LSQ steps now. DDP wraps
        # the model before the runner first calls train() and expects a
        # gradient for every parameter that requires one at wrap time.
        self.student.train(self.student.training)

    @property
    def task(self) -> str:
        return self.adapter.task

    def train(self, mode: bool = True) -> 'QATModel':
        super().train(mode)
        self.teacher.eval()
        return self

    def init_weights(self) -> None:
        if self.float_checkpoint:
            # Every float weight comes from the checkpoint: the sub-models'
            # own initialisation (e.g. an ImageNet backbone) is skipped.
            self.load_float_checkpoint(self.float_checkpoint)
            self._is_init = True
        else:
            super().init_weights()
            # No float weights: the teacher is the float twin of the
            # student's initial weights, never an unrelated random net.
            MMLogger.get_current_instance().warning(
                'QATModel has no float_checkpoint: the teacher copies the '
                "student's initial (untrained) weights")
            _load_state(self.teacher, self.student.state_dict(), [],
                        strict=False)

    def load_float_checkpoint(self, filename: str) -> None:
        """Load full-precision weights into the student and the teacher.

        The student may miss only its quantizer steps; anything else
        missing or unexpected is an error naming the keys.
        """
        logger = MMLogger.get_current_instance()
        ckpt = _load_checkpoint(filename, map_location='cpu', logger=logger)
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) \
            else ckpt
        problems = []
        for name, net in (('student', self.student),
                          ('teacher', self.teacher)):
            result = _load_state(net, state, self.float_checkpoint_revise_keys)
            missing = [
                k for k in result.missing_keys
                if '.weight_quant.' not in k and '.act_quant.' not in k
            ]
            if missing or result.unexpected_keys:
                problems.append(f'{name}: missing {missing[:10]}, '
                                f'unexpected {result.unexpected_keys[:10]}')
        if problems:
            raise KeyError(f'float checkpoint {filename!r} does not match '
                           f'the model: {"; ".join(problems)}')
        logger.info(f'loaded float checkpoint {filename} into student and '
                    'teacher')

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[Dict, list, tuple]:
        if mode == 'loss':
            teacher = {}

            def teacher_fn():  # once per step, whoever asks first
                if 'out' not in teacher:
                    teacher['out'] = self.teacher_outputs(inputs)
                return teacher['out']

            kwargs = {} if self.score_recorder is None else dict(
                on_outputs=self.score_recorder)
            if self.layer_align:
                return self._loss_with_alignment(inputs, data_samples,
                                                 teacher_fn, kwargs)
            return self.adapter.loss(self.student, inputs, data_samples,
                                     teacher_fn, self.distill, **kwargs)
        if mode == 'predict':
            return self.student(inputs, data_samples, mode='predict')
        if mode == 'tensor':
            return self.student(inputs, data_samples, mode='tensor')
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def _loss_with_alignment(self, inputs, data_samples, teacher_fn,
                             kwargs: dict) -> dict:
        names = self.layer_align['layers']
        with capture_outputs(self.student, names) as s_feats, \
                capture_outputs(self.teacher, names) as t_feats:
            losses = self.adapter.loss(self.student, inputs, data_samples,
                                       teacher_fn, self.distill, **kwargs)
            teacher_fn()  # once, shared with distillation
        losses['loss_align'] = self.layer_align['loss_weight'] * \
            layer_align_loss(s_feats, t_feats, names)
        return losses

    @torch.no_grad()
    def teacher_outputs(self, inputs: torch.Tensor) -> dict:
        """The teacher's outputs (no gradient, eval mode)."""
        return self.adapter.outputs(self.teacher, inputs)

    @torch.no_grad()
    def calibrate(self, batches) -> int:
        """Initialise the student's LSQ steps on ``batches`` (raw data
        batches, as the dataloader yields them).

        The student runs in eval mode so BN statistics are left untouched.
        Returns the number of quantizers initialised.
        """
        was_training = self.student.training
        self.student.eval()

        def step(batch):
            data = self.data_preprocessor(batch, False)
            self.student(data['inputs'], data['data_samples'], mode='tensor')

        try:
            return calibrate(self.student, batches, step)
        finally:
            self.student.train(was_training)


def find_qat_model(runner, needed_by: str) -> QATModel:
    """The runner's :class:`QATModel`, unwrapped from a DDP wrapper; a
    TypeError says that ``needed_by`` (a hook) needs one."""
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    if not isinstance(model, QATModel):
        raise TypeError(f'{needed_by} needs a QATModel (student and '
                        f'teacher), got {type(model).__name__}')
    return model


def _check_fold_bn(cfg: Optional[dict]) -> Optional[dict]:
    if cfg is None:
        return None
    if not isinstance(cfg, dict) or set(cfg) - {'freeze_stats_after'}:
        raise ValueError('fold_bn must be None or dict(freeze_stats_after='
                         f'N or None), got {cfg!r}')
    after = cfg.get('freeze_stats_after')
    if after is not None and (not isinstance(after, int) or after < 0):
        raise ValueError('fold_bn.freeze_stats_after must be an int >= 0 or '
                         f'None, got {after!r}')
    return dict(freeze_stats_after=after)


def _load_state(net: nn.Module,
                state: dict,
                revise_keys,
                strict: bool = False) -> object:
    revised = OrderedDict()
    for key, value in state.items():
        for pattern, repl in revise_keys:
            key = re.sub(pattern, repl, key)
        if '.weight_quant.' not in key and '.act_quant.' not in key:
            revised[key] = value
    return net.load_state_dict(revised, strict=strict)
