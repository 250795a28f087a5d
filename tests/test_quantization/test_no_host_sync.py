# Copyright (c) mmacs contributors. All rights reserved.
"""A QAT training step and a scoring step never read a tensor value on the
host, so on a GPU they never wait for the device.

On any machine, the steps run under a ``TorchDispatchMode`` that records
every ATen op they dispatch (forward, backward and optimizer alike), and no
op may be a host read (``.item()``, ``bool(t)``, ``float(t)``) or an op
whose output shape depends on values (``nonzero``, boolean indexing). With
CUDA, the same steps also run under ``torch.cuda.set_sync_debug_mode(
'error')``, which raises at any synchronising call.
"""
import pytest
import torch
from mmengine.optim import OptimWrapper
from torch.utils._python_dispatch import TorchDispatchMode

from mmacs.classification import ClsDataSample
from mmacs.models import QATModel
from mmacs.quantization import LSQQuantizer, calibrate, named_quantizers

aten = torch.ops.aten

#: Ops that copy a value to the host or whose output shape depends on
#: values: on CUDA each one waits for the device.
HOST_READS = {
    aten._local_scalar_dense.default, aten.is_nonzero.default,
    aten.equal.default, aten.nonzero.default, aten.masked_select.default,
    aten._unique.default, aten._unique2.default, aten.unique_dim.default,
    aten.unique_consecutive.default
}


class OpRecorder(TorchDispatchMode):
    """Records the ATen ops dispatched inside the block; ``host_reads``
    lists those in :data:`HOST_READS`, boolean-mask indexing and copies
    between devices."""

    def __init__(self):
        super().__init__()
        self.ops = []
        self.host_reads = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.ops.append(func)
        if func in HOST_READS or self._masked_index(func, args) or \
                self._cross_device(func, args, kwargs):
            self.host_reads.append(func)
        return func(*args, **kwargs)

    @staticmethod
    def _masked_index(func, args) -> bool:
        if func not in (aten.index.Tensor, aten.index_put.default,
                        aten.index_put_.default):
            return False
        return any(i is not None and i.dtype in (torch.bool, torch.uint8)
                   for i in args[1])

    @staticmethod
    def _cross_device(func, args, kwargs) -> bool:
        if func is aten.copy_.default:
            return args[0].device != args[1].device
        if func is aten._to_copy.default and 'device' in kwargs:
            return torch.device(kwargs['device']) != args[0].device
        return False

    def names(self) -> set:
        return {str(f) for f in self.ops}


def _quantizer(per_channel, signed, impl='fused', shape=(8, 4, 3, 3)):
    q = LSQQuantizer(
        bits=4, signed=signed, per_channel=per_channel,
        num_channels=shape[0] if per_channel else None,
        is_weight=per_channel, impl=impl)
    x = torch.randn(*shape)
    calibrate(q, [x if signed else x.abs()], q)
    return q, x if signed else x.abs()


def test_the_recorder_catches_host_reads():
    # The detector itself: each of these must be caught.
    x = torch.randn(6)
    reads = [
        lambda: x.sum().item(),
        lambda: bool(x.sum() > 0),
        lambda: float(x.max()),
        lambda: x[x > 0],
        lambda: x.nonzero(),
        lambda: torch.equal(x, x),
    ]
    for read in reads:
        with OpRecorder() as rec:
            read()
        assert rec.host_reads, read
    with OpRecorder() as rec:
        torch.where(x > 0, x, 0.).sum()
    assert not rec.host_reads and rec.ops


@pytest.mark.parametrize('impl', ['fused', 'reference'])
@pytest.mark.parametrize('per_channel,signed', [(False, True),
                                                (False, False),
                                                (True, True)])
def test_quantizer_forward_backward_reads_nothing_on_the_host(
        impl, per_channel, signed):
    q, x = _quantizer(per_channel, signed, impl)
    x.requires_grad_()
    with OpRecorder() as forward:
        out = q(x)
    with OpRecorder() as backward:
        out.backward(torch.randn_like(out))
    assert forward.host_reads == backward.host_reads == []
    assert forward.ops and backward.ops  # both passes were recorded
    assert x.grad is not None and q.step.grad is not None


def _qat_resnet20(act_bits=4, weight_bits=4, impl='fused', device='cpu'):
    model = QATModel(
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='CifarResNet', depth=20, num_classes=10),
            data_preprocessor=dict(
                type='ImgDataPreprocessor', mean=[128] * 3, std=[64] * 3)),
        weight_quant=dict(bits=weight_bits, impl=impl),
        act_quant=dict(bits=act_bits, signed='auto', impl=impl),
        task='classification').to(device)
    return model


def _cls_batch(n=8, seed=0, stacked=False):
    """A batch as a loader gives it: a list of images (``pseudo_collate``)
    or, ``stacked``, one tensor (``default_collate``; mmengine's
    preprocessor then pads without reading the CPU tensor of image sizes
    it builds for a list)."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        s = ClsDataSample(metainfo=dict(sample_idx=i))
        s.gt_label = torch.tensor([i % 10])
        samples.append(s)
    inputs = [
        torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8, generator=g)
        for _ in range(n)
    ]
    return dict(
        inputs=torch.stack(inputs) if stacked else inputs,
        data_samples=samples)


def _train_step(model):
    """mmengine's training step after the data preprocessor: forward,
    losses, backward and the optimizer step. (The preprocessor reads a CPU
    tensor of image sizes when it pads a list of images, see
    :func:`_cls_batch`: not a device sync; the CUDA test runs it too.)"""
    optim = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))

    def step(data):
        losses = model(**data, mode='loss')
        loss, log_vars = model.parse_losses(losses)
        optim.update_params(loss)
        return log_vars

    return step


def test_resnet20_qat_training_step_reads_nothing_on_the_host():
    torch.manual_seed(0)
    model = _qat_resnet20()
    assert len(model.quantized_layers) == 18
    assert model.calibrate([_cls_batch()]) == 36
    model.train()
    step = _train_step(model)
    step(model.data_preprocessor(_cls_batch(seed=1), True))  # SGD state
    params = dict(model.student.named_parameters())
    got_grad = set()
    for name, p in params.items():
        p.register_post_accumulate_grad_hook(
            lambda p, name=name: got_grad.add(name))
    before = {n: p.detach().clone() for n, p in params.items()}
    data = model.data_preprocessor(_cls_batch(seed=2), True)
    with OpRecorder() as rec:
        log_vars = step(data)
    assert rec.host_reads == []
    names = rec.names()
    # Forward, backward and the optimizer step were all traced.
    assert 'aten.convolution.default' in names
    assert 'aten.convolution_backward.default' in names
    assert any('add_' in n for n in names)  # SGD's in-place update
    assert got_grad == set(params)  # every student parameter, steps too
    assert not torch.equal(params['backbone.layer1.0.conv1.weight'],
                           before['backbone.layer1.0.conv1.weight'])
    assert set(log_vars) == {'loss', 'loss_cls'}


def test_classification_scoring_step_reads_nothing_on_the_host():
    from mmacs.coreset.scorers import build_scorer
    from mmacs.coreset.scoring import ScoringPass
    from mmacs.quantization import frozen_quantized_weights
    torch.manual_seed(0)
    model = _qat_resnet20(act_bits=2, weight_bits=2)
    model.calibrate([_cls_batch()])
    model.eval()
    scorer = build_scorer(None, 'classification')
    with torch.inference_mode(), frozen_quantized_weights(model.student):
        with OpRecorder() as rec:
            idx, scores, _ = ScoringPass(model, scorer).score_batch(
                _cls_batch(seed=3, stacked=True))
    assert rec.host_reads == []
    assert idx.tolist() == list(range(8))
    assert scores['evs'].shape == scores['ds'].shape == (8, )
    assert any('conv' in n for n in rec.names())  # the network ran


need_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs CUDA')


@need_cuda
@pytest.mark.parametrize('impl', ['fused', 'auto'])
def test_cuda_qat_step_and_scoring_do_not_synchronise(impl):
    from mmacs.coreset.scorers import build_scorer
    from mmacs.coreset.scoring import ScoringPass
    from mmacs.quantization import frozen_quantized_weights
    torch.manual_seed(0)
    model = _qat_resnet20(impl=impl, device='cuda')
    model.calibrate([_cls_batch()])
    model.train()
    optim = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    data = model.data_preprocessor(_cls_batch(seed=2), True)
    # Inputs already on the device: the step itself must not synchronise.
    batch = dict(inputs=data['inputs'], data_samples=data['data_samples'])
    for _ in range(2):  # warm-up: optimizer state, cuDNN, compiling
        model.train_step(batch, optim)
    scorer = build_scorer(None, 'classification')
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        model.train_step(batch, optim)
        model.eval()
        with torch.inference_mode(), frozen_quantized_weights(
                model.student):
            ScoringPass(model, scorer).score_batch(batch)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    torch.cuda.synchronize()
    for name, q in named_quantizers(model.student):
        assert torch.isfinite(q.step).all(), name
