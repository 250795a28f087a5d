# Copyright (c) mmacs contributors. All rights reserved.
from itertools import islice
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmacs.quantization import quantizer_summary


@HOOKS.register_module()
class QATCalibrationHook(Hook):
    """Initialise LSQ steps from training data before the first step.

    Runs in ``before_train``, i.e. after the runner has initialised or
    loaded the weights (``load_from``, ``--resume``) and before any epoch
    begins, so neither training nor a coreset scoring pass ever sees an
    uninitialised step. A resumed model, whose steps are marked initialised
    in its checkpoint, is left as it is.

    Args:
        num_batches (int): Training batches used for calibration. Defaults
            to 8.
    """

    priority = 'VERY_HIGH'

    def __init__(self, num_batches: int = 8) -> None:
        if not isinstance(num_batches, int) or num_batches < 1:
            raise ValueError(
                f'num_batches must be an int >= 1, got {num_batches!r}')
        self.num_batches = num_batches

    def before_train(self, runner) -> None:
        self._calibrate(runner, runner.train_dataloader)

    def _calibrate(self, runner, dataloader: Optional[object]) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not hasattr(model, 'calibrate'):
            raise TypeError('QATCalibrationHook needs a QATModel, got '
                            f'{type(model).__name__}')
        num = model.calibrate(islice(dataloader, self.num_batches))
        summary = quantizer_summary(model.student)
        if num:
            runner.logger.info(
                f'QAT calibration: initialised {num} LSQ quantizers from '
                f'{self.num_batches} batches ({summary})')
        else:
            runner.logger.info(
                f'QAT calibration: all steps already initialised ({summary})')
