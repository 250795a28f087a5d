# Copyright (c) mmacs contributors. All rights reserved.
"""Build a :class:`QATModel` from its config and load a QAT checkpoint, for
export and evaluation outside the Runner."""
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint

from mmacs.models import QATModel


def load_qat_config(config: Union[str, Config],
                    cfg_options: Optional[dict] = None) -> Config:
    """The config, checked to build a :class:`QATModel`."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_type = cfg.get('model', {}).get('type')
    if model_type != 'QATModel':
        raise TypeError(
            f'config {getattr(cfg, "filename", config)!r} builds a '
            f'{model_type!r} model, not a QATModel: export the QAT config '
            'that trained the checkpoint')
    return cfg


def load_qat_model(config: Union[str, Config],
                   checkpoint: str,
                   cfg_options: Optional[dict] = None,
                   device: Union[str, torch.device] = 'cpu') -> QATModel:
    """A :class:`QATModel` holding a QAT checkpoint, in eval mode.

    Args:
        config (str | Config): The QAT config.
        checkpoint (str): A checkpoint the QAT run saved (student, teacher,
            LSQ steps).
        cfg_options (dict, optional): Config overrides. Defaults to None.
        device (str | torch.device): Where to put the model. Defaults to
            'cpu'.

    Returns:
        QATModel: The model with the checkpoint's weights and steps.
    """
    from mmdet.registry import MODELS
    cfg = load_qat_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    # The checkpoint holds every weight: nothing else is loaded.
    cfg.model.float_checkpoint = None
    model = MODELS.build(cfg.model)
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict) or not any(
            k.startswith('student.') and k.endswith('.step') for k in state):
        raise ValueError(
            f'checkpoint {checkpoint!r} is not a QATModel checkpoint: it '
            'holds no LSQ steps (student.*.step); a float model checkpoint '
            'cannot be exported as a quantized model')
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise KeyError(
            f'checkpoint {checkpoint!r} does not match the QAT model of '
            f'the config: missing {result.missing_keys[:10]}, unexpected '
            f'{result.unexpected_keys[:10]}')
    return model.to(device).eval()
