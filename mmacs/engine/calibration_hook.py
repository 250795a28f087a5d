# Copyright (c) mmacs contributors. All rights reserved.
from typing import Optional

import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from torch.utils.data import DataLoader

from mmacs.datasets.coreset_sampler import IndexSampler
from mmacs.models import find_qat_model
from mmacs.quantization import quantizer_summary
from mmacs.quantization.calibration import uninitialized_quantizers


@HOOKS.register_module()
class QATCalibrationHook(Hook):
    """Initialise LSQ steps from training data before the first step.

    Runs in ``before_train``, i.e. after the runner has initialised or
    loaded the weights (``load_from``, ``--resume``) and before any epoch
    begins, so neither training nor a coreset scoring pass ever sees an
    uninitialised step. A resumed model, whose steps are marked initialised
    in its checkpoint, is left as it is. A model validated or tested
    without training is calibrated before its loop (:meth:`before_val`).

    The batches come from a loader of the hook's own over the training
    dataset (its pipeline, batch size and collate function; a seeded random
    subset split over the ranks), so the training dataloader is never
    iterated part-way: a batch sampler that keeps state between passes
    (mmdet's ``AspectRatioBatchSampler`` keeps the rest of an unfinished
    pass in its buckets) starts the first epoch clean.

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
        self.calibrate(runner)

    def before_val(self, runner) -> None:
        """A model evaluated before any training (post-training
        quantization: ``tools/test.py --ptq``) is calibrated first; during
        training and from a QAT checkpoint this does nothing.

        The runner initialises weights only when it trains: when it has
        loaded no checkpoint, the model's weights are initialised here
        first, as training would (from ``float_checkpoint``, the same on
        every rank), or the model would be evaluated at its random
        initialisation.
        """
        model = find_qat_model(runner, 'QATCalibrationHook')
        if not uninitialized_quantizers(model.student):
            return
        if not runner._has_loaded and not model.is_init:
            runner._init_model_weights()
        self.calibrate(runner)

    before_test = before_val

    def calibrate(self, runner) -> None:
        """Initialise the steps not initialised yet from training data."""
        model = find_qat_model(runner, 'QATCalibrationHook')
        loader = []
        if uninitialized_quantizers(model.student):
            loader = calibration_loader(runner.train_dataloader,
                                        self.num_batches, runner.seed)
        num = model.calibrate(loader)
        summary = quantizer_summary(model.student)
        if num:
            runner.logger.info(
                f'QAT calibration: initialised {num} LSQ quantizers from '
                f'{len(loader)} batches ({summary})')
        else:
            runner.logger.info(
                f'QAT calibration: all steps already initialised ({summary})')


def calibration_loader(train_loader: DataLoader, num_batches: int,
                       seed: Optional[int] = None) -> DataLoader:
    """A loader of ``num_batches`` batches per rank drawn from the dataset
    of ``train_loader``, independent of its sampler.

    Args:
        train_loader (DataLoader): The training dataloader; its dataset,
            batch size (or its batch sampler's), collate function and
            workers are reused.
        num_batches (int): Batches per rank.
        seed (int, optional): Seed of the random subset. Defaults to None
            (0).

    Returns:
        DataLoader: Iterates ``min(num_batches, ...)`` batches of a seeded
        random subset, each rank its own share.
    """
    dataset = train_loader.dataset
    batch_size = train_loader.batch_size or getattr(
        train_loader.batch_sampler, 'batch_size', None) or 1
    num = min(len(dataset), num_batches * batch_size * get_world_size())
    g = torch.Generator().manual_seed(0 if seed is None else int(seed))
    indices = torch.randperm(len(dataset), generator=g)[:num].tolist()
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=IndexSampler(dataset, indices),
        num_workers=train_loader.num_workers,
        collate_fn=train_loader.collate_fn,
        worker_init_fn=train_loader.worker_init_fn,
        multiprocessing_context=train_loader.multiprocessing_context)
