# Copyright (c) mmacs contributors. All rights reserved.
"""LSQ: learned step size quantization (Esser et al., ICLR 2020).

A tensor ``x`` is fake-quantized as ``round(clamp(x / s, Qn, Qp)) * s``
with a learnable step ``s``. Rounding passes the gradient straight through,
and the step's gradient is scaled by ``g = 1 / sqrt(N * Qp)``, where ``N``
is the number of elements one step covers: the weights of a layer (or of one
output channel when quantizing per channel), or the features of one sample
for activations (the paper's ``N_W`` and ``N_F``).

Steps are initialised from data by a calibration pass
(:func:`mmacs.quantization.calibration.calibrate`): ``s = 2 mean(|x|) /
sqrt(Qp)``, averaged over the calibration batches (and ranks). A persistent
``initialized`` buffer marks a calibrated quantizer, so a model restored from
a checkpoint is never initialised twice. Using an uninitialised quantizer
outside calibration is an error rather than a silent guess.

The step a quantizer uses is ``max(|s|, MIN_STEP)`` (:meth:`LSQQuantizer.
effective_step`), never the raw parameter: an optimizer update larger than
a tiny step (a channel whose folded BatchNorm gamma decayed to ~0 has a
step of ~1e-8, and AdamW moves a parameter by ~lr) would otherwise make it
negative, and a negative scale quantizes nothing and cannot be exported.
For a positive step this is the identity, with the same gradient, so
stored checkpoints load and train as before; past zero the step is
mirrored, and its gradient with it, so training continues from ``|s|``.

The training-time computation is chosen per device (``impl``): on the CPU
the fused autograd function (:class:`_LSQFunction`: no compiler and no
compile time needed); on CUDA, where a step is bound by kernel launches
rather than arithmetic, the same values and gradients compiled by
``torch.compile`` into few generated kernels. ``impl='compiled'`` also
works on the CPU (with a C++ compiler). All paths give the same outputs and
gradients, and none reads a tensor value on the host, so a training step
never waits for the device.
"""
import functools
import math
from typing import Optional, Union

import torch
import torch.nn as nn
from torch import Tensor


def round_pass(x: Tensor) -> Tensor:
    """Round to nearest with a straight-through gradient."""
    return (x.round() - x).detach() + x


def grad_scale(x: Tensor, scale: float) -> Tensor:
    """Identity in the forward pass; multiplies the gradient by ``scale``."""
    return (x - x * scale).detach() + x * scale


class _LSQFunction(torch.autograd.Function):
    """``round(clamp(x / s, qn, qp)) * s`` with LSQ's gradients, in few
    passes over memory.

    With ``v = x / s``, ``q = round(clamp(v))`` and ``m = [qn <= v <= qp]``
    (straight-through rounding; the clamp masks the input gradient):
    ``dx = g_out * m`` and ``ds = grad_factor * sum(g_out * (q - m v))``,
    computed as ``(sum(g_out * out) - sum(dx * x)) / s`` so that only the
    mask is kept besides ``x`` and the output, which the neighbouring
    layers keep anyway. Equal to differentiating
    :func:`lsq_quantize_reference`.
    """

    @staticmethod
    def forward(ctx, x, step, qn, qp, grad_factor):
        v = x / step
        out = torch.clamp(v, qn, qp)
        inside = out == v
        del v
        out.round_().mul_(step)
        ctx.save_for_backward(x, inside, out, step)
        ctx.grad_factor = grad_factor
        return out

    @staticmethod
    def backward(ctx, grad):
        x, inside, out, step = ctx.saved_tensors
        grad_x = torch.where(inside, grad, 0.)
        grad_step = None
        if ctx.needs_input_grad[1]:
            # sum(g * q) - sum(g * m * v) = (sum(g * out) - sum(dx * x)) / s
            if step.dim() == 0:
                grad_step = (torch.dot(grad.reshape(-1), out.reshape(-1)) -
                             torch.dot(grad_x.reshape(-1), x.reshape(-1)))
            else:
                dims = [d for d in range(grad.dim()) if step.shape[d] == 1]
                grad_step = (grad * out - grad_x * x).sum(dims, keepdim=True)
            grad_step = grad_step * (ctx.grad_factor / step)
        return grad_x if ctx.needs_input_grad[0] else None, grad_step, \
            None, None, None


#: The ways :func:`lsq_quantize` can compute LSQ with autograd: ``'auto'``
#: (``'compiled'`` on CUDA when ``torch.compile`` can generate GPU kernels,
#: else ``'fused'``), ``'fused'`` (:class:`_LSQFunction`), ``'compiled'``
#: (:func:`compiled_lsq`) and ``'reference'`` (:func:`lsq_quantize_reference`).
LSQ_IMPLS = ('auto', 'fused', 'compiled', 'reference')


def check_impl(impl: str) -> str:
    """Return ``impl`` if it is one of :data:`LSQ_IMPLS`, else raise."""
    if impl not in LSQ_IMPLS:
        raise ValueError(f'impl must be one of {LSQ_IMPLS}, got {impl!r}')
    return impl


@functools.lru_cache(maxsize=None)
def _can_compile_for_cuda() -> bool:
    try:
        from torch.utils._triton import has_triton
    except ImportError:  # pragma: no cover - very old torch
        return False
    return bool(has_triton())


def resolve_impl(impl: str, x: Tensor) -> str:
    """The implementation ``impl`` stands for with input ``x``: ``'auto'``
    becomes ``'compiled'`` for a CUDA input when Triton is available (what
    ``torch.compile`` generates GPU kernels with), else ``'fused'``."""
    check_impl(impl)
    if impl != 'auto':
        return impl
    return 'compiled' if x.is_cuda and _can_compile_for_cuda() else 'fused'


def lsq_quantize_reference(x: Tensor, step: Tensor, qn: int, qp: int,
                           grad_factor: float) -> Tensor:
    """LSQ written with :func:`round_pass` and :func:`grad_scale`, as in the
    paper; autograd differentiates it. Slower than :func:`lsq_quantize` in
    eager mode, kept as the reference its gradients are tested against."""
    s = grad_scale(step, grad_factor)
    return round_pass(torch.clamp(x / s, qn, qp)) * s


def _lsq_straight_through(x: Tensor, step: Tensor, qn: int, qp: int,
                          grad_factor: float) -> Tensor:
    """LSQ in differentiable ops whose forward values are exactly those of
    :class:`_LSQFunction` (``step`` and ``round`` pass through unchanged,
    where :func:`grad_scale` and :func:`round_pass` may move a value by a
    rounding error); the gradients are LSQ's. What :func:`compiled_lsq`
    compiles."""
    scaled = step * grad_factor
    s = step.detach() + (scaled - scaled.detach())  # = step; ds = g
    c = torch.clamp(x / s, qn, qp)
    return (c.round().detach() + (c - c.detach())) * s


@functools.lru_cache(maxsize=None)
def compiled_lsq(backend: str = 'inductor'):
    """LSQ compiled by ``torch.compile`` (``fullgraph``: the compiled
    function has no graph break, so it cannot read a tensor value on the
    host or branch on one).

    With the default ``inductor`` backend, the forward pass and the
    backward pass (input gradient and step-gradient reduction) are each
    generated as a few fused kernels, Triton ones on CUDA. Shapes are
    dynamic, so
    the layers of a network share a few compiled graphs instead of one per
    tensor shape. Compiled once per process and backend, on first use.

    Args:
        backend (str): The ``torch.compile`` backend; ``'aot_eager'``
            traces the same forward and backward graphs without generating
            code. Defaults to ``'inductor'``.

    Returns:
        Callable: ``fn(x, step, qn, qp, grad_factor) -> Tensor``.
    """
    return torch.compile(
        _lsq_straight_through, backend=backend, dynamic=True,
        fullgraph=True)


def lsq_quantize(x: Tensor,
                 step: Tensor,
                 qn: int,
                 qp: int,
                 grad_factor: float,
                 impl: str = 'auto') -> Tensor:
    """Fake-quantize ``x`` with step ``step`` on the grid ``[qn, qp]``.

    Without autograd (scoring, evaluation) it runs three in-place passes
    after one division; with autograd, the implementation ``impl`` (see
    :data:`LSQ_IMPLS`), all with the gradients of
    :func:`lsq_quantize_reference`.

    Args:
        x (Tensor): The input.
        step (Tensor): The step, broadcastable to ``x``; per-channel steps
            have ``x``'s number of dimensions.
        qn (int): The lowest integer level.
        qp (int): The highest integer level.
        grad_factor (float): The step-gradient scale ``g``.
        impl (str): One of :data:`LSQ_IMPLS`. Defaults to ``'auto'``.

    Returns:
        Tensor: ``round(clamp(x / s, qn, qp)) * s``.
    """
    if torch.is_grad_enabled() and (x.requires_grad or step.requires_grad):
        if impl == 'auto':  # resolve_impl, inlined: this runs every call
            impl = 'compiled' if x.is_cuda and _can_compile_for_cuda() \
                else 'fused'
        if impl == 'fused':
            return _LSQFunction.apply(x, step, qn, qp, grad_factor)
        if impl == 'compiled':
            return compiled_lsq()(x, step, qn, qp, grad_factor)
        if impl == 'reference':
            return lsq_quantize_reference(x, step, qn, qp, grad_factor)
        check_impl(impl)
    return torch.clamp(x / step, qn, qp).round_().mul_(step)


#: The smallest step a quantizer uses (also the floor of a calibrated step).
MIN_STEP = 1e-8

#: How calibration initialises a step (``LSQQuantizer(init=...)``).
STEP_INITS = ('lsq', 'mse')
#: The fractions of ``max|x|`` (over the grid's largest level) that the
#: 'mse' initialisation tries.
MSE_GRID = torch.linspace(0.01, 1.0, 100)
#: At most this many values per step are searched (an even stride).
MSE_MAX_VALUES = 1 << 18


@torch.no_grad()
def mse_step(x: Tensor, qn: int, qp: int,
             reduce_dims: Optional[tuple] = None) -> Tensor:
    """The step on the grid ``[qn, qp]`` with the least mean squared
    quantization error of ``x``: per tensor (``reduce_dims`` None, a 0-d
    tensor) or one per slice kept by ``reduce_dims``; candidates are
    :data:`MSE_GRID` times ``max|x| / max(-qn, qp)``."""
    if reduce_dims is None:
        values = x.reshape(1, -1)
    else:
        keep = [d for d in range(x.dim()) if d not in reduce_dims]
        values = x.permute(*keep, *reduce_dims).reshape(
            math.prod(x.shape[d] for d in keep), -1)
    if values.size(1) > MSE_MAX_VALUES:
        values = values[:, ::-(-values.size(1) // MSE_MAX_VALUES)]
    top = values.abs().amax(dim=1, keepdim=True).clamp(min=1e-8)
    best_err = best = None
    for alpha in MSE_GRID.tolist():
        step = top * (alpha / max(-qn, qp))
        err = (torch.clamp(torch.round(values / step), qn, qp) * step -
               values).pow(2).mean(dim=1)
        if best is None:
            best_err, best = err, step.flatten()
        else:
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best = torch.where(better, step.flatten(), best)
    return best if reduce_dims is not None else best.reshape(())


class LSQQuantizer(nn.Module):
    """Learned step size quantizer for a weight or an activation.

    Args:
        bits (int): Bit width, from 2 to 8. Defaults to 4.
        signed (bool | str): Whether the grid holds negative levels. ``True``
            gives ``[-2^(b-1), 2^(b-1) - 1]``, ``False`` gives
            ``[0, 2^b - 1]``; ``'auto'`` decides at calibration: unsigned when
            no calibration input is negative (e.g. after a ReLU), else
            signed. Defaults to True.
        per_channel (bool): One step per slice along ``ch_axis`` instead of
            one per tensor. Defaults to False.
        ch_axis (int): The channel axis for ``per_channel``. Defaults to 0.
        is_weight (bool): Whether this quantizer sees a weight (``N`` is the
            element count per step) or an activation (``N`` is the feature
            count of one sample). Defaults to False.
        num_channels (int, optional): The number of channels, needed for
            ``per_channel``. Defaults to None.
        impl (str): How the quantizer is computed in training, one of
            :data:`LSQ_IMPLS` (the same values and gradients; ``'auto'``
            picks per device). Defaults to ``'auto'``.
        init (str): How calibration sets the step: ``'lsq'`` (LSQ's
            ``2 mean|x| / sqrt(Qp)``) or ``'mse'`` (in each calibration
            batch the step of least squared quantization error, searched
            on :data:`MSE_GRID` fractions of ``max|x|``, averaged over
            the batches). Defaults to ``'lsq'``.
    """

    def __init__(self,
                 bits: int = 4,
                 signed: Union[bool, str] = True,
                 per_channel: bool = False,
                 ch_axis: int = 0,
                 is_weight: bool = False,
                 num_channels: Optional[int] = None,
                 impl: str = 'auto',
                 init: str = 'lsq') -> None:
        super().__init__()
        check_impl(impl)
        if init not in STEP_INITS:
            raise ValueError(f'init must be one of {STEP_INITS}, got '
                             f'{init!r}')
        self.init = init
        if not isinstance(bits, int) or not 2 <= bits <= 8:
            raise ValueError(f'bits must be an int in [2, 8], got {bits!r}')
        if signed not in (True, False, 'auto'):
            raise ValueError(
                f"signed must be True, False or 'auto', got {signed!r}")
        if per_channel and (num_channels is None or num_channels < 1):
            raise ValueError('per_channel quantization needs num_channels, '
                             f'got {num_channels!r}')
        self.bits = bits
        self.signed_mode = signed
        self.per_channel = per_channel
        self.ch_axis = ch_axis
        self.is_weight = is_weight
        self.impl = impl
        shape = (num_channels, ) if per_channel else ()
        self.step = nn.Parameter(torch.ones(shape))
        # Persistent state: 1 once calibrated; the grid sign chosen then.
        self.register_buffer('initialized', torch.zeros((), dtype=torch.uint8))
        self.register_buffer('signed',
                             torch.tensor(1 if signed is True else 0,
                                          dtype=torch.uint8))
        self.calibrating = False
        self._calib_sum: Optional[Tensor] = None
        self._calib_count = 0
        self._calib_negative = False
        self.name = ''  # set by quantize_model, used in error messages
        # Python mirrors of the buffers: no device sync in forward.
        self._is_signed = signed is True
        self._is_initialized = False

    def levels(self, signed: bool) -> tuple:
        """The integer grid ``(Qn, Qp)`` for the given sign mode."""
        if signed:
            return -(2**(self.bits - 1)), 2**(self.bits - 1) - 1
        return 0, 2**self.bits - 1

    @property
    def qn(self) -> int:
        return self.levels(self._is_signed)[0]

    @property
    def qp(self) -> int:
        return self.levels(self._is_signed)[1]

    @property
    def is_initialized(self) -> bool:
        return self._is_initialized

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._is_signed = bool(self.signed.item())
        self._is_initialized = bool(self.initialized.item())

    def _reduce_dims(self, x: Tensor) -> tuple:
        axis = self.ch_axis % x.dim()
        return tuple(d for d in range(x.dim()) if d != axis)

    def _broadcast(self, step: Tensor, x: Tensor) -> Tensor:
        if not self.per_channel:
            return step
        shape = [1] * x.dim()
        shape[self.ch_axis % x.dim()] = -1
        return step.view(shape)

    def _grad_factor(self, x: Tensor) -> float:
        if self.is_weight:
            n = x.numel() // (self.step.numel() if self.per_channel else 1)
        else:
            n = x[0].numel() if x.dim() > 1 else x.numel()
            if self.per_channel:
                n //= self.step.numel()
        return 1.0 / math.sqrt(max(n, 1) * self.qp)

    @torch.no_grad()
    def _observe(self, x: Tensor) -> None:
        """Accumulate one calibration batch."""
        self._calib_negative |= bool((x < 0).any())
        dims = self._reduce_dims(x) if self.per_channel else None
        if self.init == 'mse':
            signed = self._calib_negative if self.signed_mode == 'auto' \
                else self._is_signed
            mean_abs = mse_step(x.detach().float(), *self.levels(signed),
                                dims)
        else:
            absx = x.detach().abs().float()
            mean_abs = absx.mean() if dims is None else absx.mean(dim=dims)
        self._calib_sum = mean_abs if self._calib_sum is None else \
            self._calib_sum + mean_abs
        self._calib_count += 1

    def calibration_state(self) -> Optional[tuple]:
        """(sum of per-batch mean |x|, batch count, saw negative input)."""
        if self._calib_count == 0:
            return None
        return self._calib_sum, self._calib_count, self._calib_negative

    def _calib_estimate(self, mean_abs: Tensor, negative: bool) -> tuple:
        """(signed, step) from averaged statistics (``mean_abs`` is the
        averaged best step itself for ``init='mse'``)."""
        signed = negative if self.signed_mode == 'auto' else self._is_signed
        step = mean_abs if self.init == 'mse' else \
            2 * mean_abs / math.sqrt(self.levels(signed)[1])
        # A layer that only ever saw zeros keeps a usable, tiny step.
        return signed, torch.clamp(step, min=MIN_STEP)

    @torch.no_grad()
    def finish_calibration(self, mean_abs: Tensor, negative: bool) -> None:
        """Set the sign mode and the step from the averaged statistics."""
        signed, step = self._calib_estimate(mean_abs, negative)
        if self.signed_mode == 'auto':
            self.signed.fill_(1 if signed else 0)
            self._is_signed = bool(signed)
        self.step.data.copy_(step.to(self.step).reshape(self.step.shape))
        self.initialized.fill_(1)
        self._is_initialized = True
        self.reset_calibration()

    def uncalibrate(self, init: Optional[str] = None) -> None:
        """Forget the step: the quantizer must be calibrated again before
        use, with ``init`` (one of :data:`STEP_INITS`) when given."""
        if init is not None:
            if init not in STEP_INITS:
                raise ValueError(f'init must be one of {STEP_INITS}, got '
                                 f'{init!r}')
            self.init = init
        self.initialized.fill_(0)
        self._is_initialized = False
        self.reset_calibration()

    def reset_calibration(self) -> None:
        self.calibrating = False
        self._calib_sum = None
        self._calib_count = 0
        self._calib_negative = False

    def effective_step(self) -> Tensor:
        """The step the quantizer uses: ``max(|step|, MIN_STEP)``, positive
        whatever an optimizer did to the parameter (see the module
        docstring); what export and any reader of the scale must use."""
        return self.step.abs().clamp(min=MIN_STEP)

    def forward(self, x: Tensor) -> Tensor:
        if self.calibrating:
            # Observe, then quantize with the running estimate, so that
            # each layer is calibrated on what its quantized upstream
            # layers produce (as LSQ's own first-batch initialisation).
            self._observe(x)
            signed, step = self._calib_estimate(
                self._calib_sum / self._calib_count, self._calib_negative)
            qn, qp = self.levels(signed)
            return lsq_quantize(x, self._broadcast(step.to(x), x), qn, qp,
                                1.0)
        if not self._is_initialized:
            raise RuntimeError(
                f'LSQ quantizer {self.name or "<unnamed>"!r} is used before '
                'its step was initialised: run the QAT calibration first '
                '(QATCalibrationHook in a Runner, or '
                'mmacs.quantization.calibrate).')
        step = self._broadcast(self.effective_step(), x)
        return lsq_quantize(x, step, self.qn, self.qp, self._grad_factor(x),
                            self.impl)

    def extra_repr(self) -> str:
        return (f'bits={self.bits}, signed={self.signed_mode}, '
                f'per_channel={self.per_channel}, '
                f'is_weight={self.is_weight}'
                + ('' if self.init == 'lsq' else f', init={self.init}'))
