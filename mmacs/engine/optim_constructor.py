# Copyright (c) mmacs contributors. All rights reserved.
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.optim import DefaultOptimWrapperConstructor


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class QATOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, without the frozen teacher.

    The teacher of a :class:`~mmacs.models.QATModel` never trains; leaving
    its parameters out keeps them out of the optimizer state (and out of
    the per-parameter warnings of ``paramwise_cfg``).
    """

    def add_params(self, params, module, prefix='', is_dcn_module=None):
        if prefix == 'teacher' or prefix.endswith('.teacher'):
            return
        super().add_params(params, module, prefix, is_dcn_module)

    def __call__(self, model):
        if not self.paramwise_cfg:
            # The default path hands over model.parameters() whole; go
            # through add_params so that the teacher is left out.
            self.paramwise_cfg = dict(custom_keys={})
        return super().__call__(model)
