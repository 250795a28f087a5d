# Copyright (c) mmacs contributors. All rights reserved.
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmacs.quantization import folded_convs, freeze_bn_stats


@HOOKS.register_module()
class BNFreezeHook(Hook):
    """Freeze the statistics of the BatchNorms folded into the student's
    quantized convolutions once ``QATModel.fold_bn['freeze_stats_after']``
    epochs are done (Jacob et al., 2018).

    The state follows from the epoch alone, so a resumed run freezes again
    in its first ``before_train_epoch`` (as mmdet's mode-switch hooks do)
    and the checkpoint needs no key of its own. :class:`QATRunner` adds the
    hook when the model folds BN.
    """

    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        after = (getattr(model, 'fold_bn', None) or {}).get(
            'freeze_stats_after')
        convs = folded_convs(getattr(model, 'student', model))
        if after is None or runner.epoch < after or not convs or \
                all(m.stats_frozen for m in convs):
            return
        num = freeze_bn_stats(model.student)
        runner.logger.info(f'epoch {runner.epoch}: froze the running '
                           f'statistics of {num} folded BatchNorms')
