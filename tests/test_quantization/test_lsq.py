# Copyright (c) mmacs contributors. All rights reserved.
import functools
import math

import pytest
import torch

from mmacs.quantization import (LSQ_IMPLS, LSQQuantizer, calibrate,
                                compiled_lsq, grad_scale, lsq_quantize,
                                lsq_quantize_reference, round_pass)
from mmacs.quantization.lsq import _LSQFunction, resolve_impl


def _calibrated(x, **kwargs):
    q = LSQQuantizer(**kwargs)
    calibrate(q, [x], q)
    return q


def test_round_pass_and_grad_scale_are_identities_forward():
    x = torch.tensor([0.4, 1.6, -2.5], requires_grad=True)
    y = round_pass(x)
    assert y.tolist() == [0.0, 2.0, -2.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    s = torch.tensor(2.0, requires_grad=True)
    out = grad_scale(s, 0.25)
    assert out.item() == 2.0
    out.backward()
    assert s.grad.item() == pytest.approx(0.25)


@pytest.mark.parametrize('shape,step_shape,qn,qp', [
    ((8, 16, 9, 9), (), -8, 7),
    ((16, 8, 3, 3), (16, 1, 1, 1), -2, 1),
    ((4, 32), (), 0, 15),
    ((4, 32), (4, 1), -2, 1),
])
def test_fused_lsq_matches_the_autograd_reference(shape, step_shape, qn, qp):
    torch.manual_seed(0)
    # Many values outside the grid, and some exactly on its bounds.
    x = torch.randn(*shape) * 2
    step = torch.rand(step_shape) + 0.3
    x.view(-1)[:3] = qp * step.reshape(-1)[0]
    x.view(-1)[3:6] = qn * step.reshape(-1)[0]
    grad = torch.randn(*shape)
    results = []
    for fn in (lsq_quantize, lsq_quantize_reference):
        xx = x.clone().requires_grad_()
        ss = step.clone().requires_grad_()
        out = fn(xx, ss, qn, qp, 0.1)
        out.backward(grad)
        results.append((out.detach(), xx.grad, ss.grad))
    (out, gx, gs), (ref_out, ref_gx, ref_gs) = results
    assert torch.allclose(out, ref_out, atol=1e-6)
    assert torch.allclose(gx, ref_gx, atol=1e-6)
    assert gs.shape == ref_gs.shape == step.shape
    assert torch.allclose(gs, ref_gs, rtol=1e-5, atol=1e-5)
    # The no-grad path (scoring, evaluation) gives the same values.
    with torch.no_grad():
        assert torch.equal(lsq_quantize(x, step, qn, qp, 0.1), out)


#: Per tensor and per channel, signed and unsigned, 2 and 4 bits.
GRID_CASES = [
    ((8, 16, 9, 9), (), -8, 7),
    ((8, 16, 9, 9), (), 0, 15),
    ((16, 8, 3, 3), (16, 1, 1, 1), -2, 1),
    ((16, 8, 3, 3), (16, 1, 1, 1), 0, 3),
    ((4, 32), (), 0, 3),
    ((4, 32), (4, 1), -8, 7),
]


def _grid_input(shape, step_shape, qn, qp):
    """Values inside, outside, exactly on the grid bounds, and within half
    a step outside them (where clamp-then-round and round-then-clamp
    disagree on the gradient)."""
    torch.manual_seed(0)
    x = torch.randn(*shape) * (qp - qn) / 4
    step = torch.rand(step_shape) + 0.3
    s0 = step.reshape(-1)[0]
    flat = x.view(-1)
    for i, level in enumerate((qp, qn, qp + 0.3, qn - 0.3, 0.0)):
        flat[3 * i:3 * i + 3] = level * s0
    return x, step


def _run(fn, x, step, qn, qp, grad):
    xx = x.clone().requires_grad_()
    ss = step.clone().requires_grad_()
    out = fn(xx, ss, qn, qp, 0.1)
    out.backward(grad)
    return out.detach(), xx.grad, ss.grad


@pytest.mark.parametrize('shape,step_shape,qn,qp', GRID_CASES)
def test_every_impl_gives_the_same_values_and_gradients(
        shape, step_shape, qn, qp):
    x, step = _grid_input(shape, step_shape, qn, qp)
    grad = torch.randn(*shape)
    fused = _run(_LSQFunction.apply, x, step, qn, qp, grad)
    paths = dict(
        reference=lsq_quantize_reference,
        # The forward and backward graphs torch.compile builds, run by
        # autograd (the same graphs inductor generates kernels for).
        compiled_graphs=compiled_lsq('aot_eager'))
    for impl in ('fused', 'reference'):
        paths[f'lsq_quantize:{impl}'] = functools.partial(
            lsq_quantize, impl=impl)
    for name, fn in paths.items():
        out, gx, gs = _run(fn, x, step, qn, qp, grad)
        exact = 'reference' not in name  # grad_scale moves s a little
        assert (torch.equal(out, fused[0]) if exact else torch.allclose(
            out, fused[0], atol=1e-6)), name
        # Same clamp mask everywhere (a mask difference would be |grad|).
        assert torch.allclose(gx, fused[1], rtol=0, atol=1e-6), name
        assert gs.shape == step.shape, name
        assert torch.allclose(gs, fused[2], rtol=1e-5, atol=1e-5), name
    # The half-step bands outside the grid get no input gradient.
    v = x / step
    band = ((v > qp) & (v < qp + 0.5)) | ((v < qn) & (v > qn - 0.5))
    assert band.any() and (fused[1][band] == 0).all()


def _has_cxx_compiler():
    import shutil
    return any(shutil.which(c) for c in ('g++', 'c++', 'clang++'))


@pytest.mark.skipif(not _has_cxx_compiler(),
                    reason='inductor needs a C++ compiler on the CPU')
def test_compiled_kernels_match_the_fused_function():
    # The generated code itself (C++ here, Triton on CUDA) on a per-tensor
    # and a per-channel case.
    for shape, step_shape, qn, qp in (GRID_CASES[0], GRID_CASES[3]):
        x, step = _grid_input(shape, step_shape, qn, qp)
        grad = torch.randn(*shape)
        fused = _run(_LSQFunction.apply, x, step, qn, qp, grad)
        out, gx, gs = _run(
            functools.partial(lsq_quantize, impl='compiled'), x, step, qn,
            qp, grad)
        assert torch.equal(out, fused[0])
        assert torch.allclose(gx, fused[1], rtol=0, atol=1e-6)
        assert torch.allclose(gs, fused[2], rtol=1e-5, atol=1e-5)


def test_impl_is_chosen_per_device_and_can_be_forced():
    x = torch.randn(4, 8)
    assert resolve_impl('auto', x) == 'fused'  # the CPU path
    for impl in LSQ_IMPLS[1:]:
        assert resolve_impl(impl, x) == impl
    with pytest.raises(ValueError, match="got 'triton'"):
        resolve_impl('triton', x)
    # A quantizer built with an impl uses it in training.
    q = _calibrated(x, bits=4, impl='reference')
    assert q.impl == 'reference'
    xx = x.clone().requires_grad_()
    out = q(xx)
    assert out.grad_fn is not None and 'LSQFunction' not in type(
        out.grad_fn).__name__
    fused = _calibrated(x, bits=4)
    assert 'LSQFunction' in type(fused(xx).grad_fn).__name__
    assert torch.allclose(out, fused(xx), atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('shape,step_shape,qn,qp', GRID_CASES)
def test_cuda_paths_match_the_cpu_function(shape, step_shape, qn, qp):
    x, step = _grid_input(shape, step_shape, qn, qp)
    grad = torch.randn(*shape)
    cpu = _run(_LSQFunction.apply, x, step, qn, qp, grad)
    assert resolve_impl('auto', x.cuda()) in ('compiled', 'fused')
    for impl in ('auto', 'fused', 'compiled'):
        out, gx, gs = (
            t.cpu() for t in _run(
                functools.partial(lsq_quantize, impl=impl), x.cuda(),
                step.cuda(), qn, qp, grad.cuda()))
        assert torch.allclose(out, cpu[0], atol=1e-6), impl
        assert torch.allclose(gx, cpu[1], rtol=0, atol=1e-6), impl
        assert torch.allclose(gs, cpu[2], rtol=1e-4, atol=1e-4), impl


def test_outputs_lie_on_the_grid():
    torch.manual_seed(0)
    x = torch.randn(4, 8, 5, 5)
    for bits in (2, 3, 4, 8):
        for signed in (True, False):
            q = _calibrated(x, bits=bits, signed=signed)
            out = q(x)
            levels = out / q.step
            assert torch.allclose(levels, levels.round(), atol=1e-4)
            qn, qp = q.levels(signed)
            assert levels.min() >= qn - 1e-4 and levels.max() <= qp + 1e-4
            assert (qn, qp) == ((-(2**(bits - 1)), 2**(bits - 1) - 1)
                                if signed else (0, 2**bits - 1))


def test_step_gradient_matches_lsq_formula_by_hand():
    # 2-bit signed: Qn = -2, Qp = 1; s = 0.5; one sample of 4 features.
    q = LSQQuantizer(bits=2, signed=True)
    with torch.no_grad():
        q.step.fill_(0.5)
        q.initialized.fill_(1)
    q._is_initialized = True
    x = torch.tensor([[0.3, -1.2, 2.6, 0.05]], requires_grad=True)
    out = q(x)
    # x/s = [0.6, -2.4, 5.2, 0.1] -> clamp [0.6, -2, 1, 0.1] -> round
    assert out.tolist() == [[0.5, -1.0, 0.5, 0.0]]
    out.sum().backward()
    # d out / d s: round(v) - v inside the range, Qn / Qp when clipped:
    # (1 - 0.6) + (-2) + 1 + (0 - 0.1) = -0.7; times g = 1/sqrt(4 * 1).
    assert q.step.grad.item() == pytest.approx(-0.7 * 0.5, abs=1e-6)
    # The input gradient passes straight through inside the range only.
    assert x.grad.tolist() == [[1.0, 0.0, 0.0, 1.0]]


def test_weight_gradient_scale_uses_elements_per_step():
    w = torch.randn(3, 2, 3, 3)
    per_tensor = _calibrated(w, bits=4, is_weight=True)
    per_channel = _calibrated(
        w, bits=4, is_weight=True, per_channel=True, num_channels=3)
    assert per_tensor._grad_factor(w) == pytest.approx(1 / math.sqrt(54 * 7))
    assert per_channel._grad_factor(w) == pytest.approx(1 / math.sqrt(18 * 7))
    assert per_channel.step.shape == (3, )


def test_calibration_sets_lsq_init_and_auto_sign():
    x = torch.rand(2, 16) * 3  # non-negative, like a ReLU output
    q = _calibrated(x, bits=4, signed='auto')
    assert q.qn == 0 and q.qp == 15  # unsigned chosen
    expected = 2 * x.abs().mean() / math.sqrt(15)
    assert q.step.item() == pytest.approx(expected.item(), rel=1e-5)
    q2 = _calibrated(x - 1, bits=4, signed='auto')
    assert q2.qn == -8 and q2.qp == 7  # a negative input -> signed


def test_initialised_state_survives_state_dict_and_is_not_redone():
    x = torch.rand(2, 16)
    q = _calibrated(x, bits=4, signed='auto')
    state = q.state_dict()
    fresh = LSQQuantizer(bits=4, signed='auto')
    fresh.load_state_dict(state)
    assert fresh.is_initialized and fresh.qn == 0
    assert torch.equal(fresh.step, q.step)
    # A second calibration with other data changes nothing.
    assert calibrate(fresh, [x * 100], fresh) == 0
    assert torch.equal(fresh.step, q.step)
    # Unless the quantizer is told to forget its step (here with the other
    # init), which the saved state then records.
    fresh.uncalibrate('mse')
    assert not fresh.is_initialized and fresh.init == 'mse'
    assert fresh.state_dict()['initialized'] == 0
    with pytest.raises(RuntimeError, match='before its step'):
        fresh(x)
    assert calibrate(fresh, [x * 100], fresh) == 1
    assert fresh.is_initialized and fresh.step > q.step * 10
    with pytest.raises(ValueError, match="got 'minmax'"):
        fresh.uncalibrate('minmax')


def test_uninitialised_use_is_an_error_naming_the_quantizer():
    q = LSQQuantizer(bits=4)
    q.name = 'backbone.layer1.0.conv1.act_quant'
    with pytest.raises(RuntimeError, match='backbone.layer1.0.conv1'):
        q(torch.randn(2, 3))


@pytest.mark.parametrize('kwargs, match', [
    (dict(bits=1), 'got 1'), (dict(bits=9), 'got 9'),
    (dict(bits=4.0), 'got 4.0'), (dict(signed='yes'), "got 'yes'"),
    (dict(per_channel=True), 'needs num_channels, got None'),
    (dict(impl='triton'), "got 'triton'")
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSQQuantizer(**kwargs)


def test_mse_init_has_less_quantization_error_than_lsq_init():
    from mmacs.quantization.lsq import mse_step
    g = torch.Generator().manual_seed(0)
    acts = torch.randn(16, 8, 6, 6, generator=g).relu()
    weights = torch.randn(8, 4, 3, 3, generator=g) * \
        torch.linspace(0.1, 2.0, 8).view(8, 1, 1, 1)
    for x, kwargs in ((acts, dict(bits=2, signed='auto')),
                      (weights, dict(bits=2, signed=True, is_weight=True,
                                     per_channel=True, num_channels=8))):
        errors = {}
        for init in ('lsq', 'mse'):
            q = LSQQuantizer(init=init, **kwargs)
            calibrate(q, [x], q)
            errors[init] = (q(x) - x).pow(2).mean().item()
        assert errors['mse'] < 0.9 * errors['lsq'], errors
    # The per-slice search equals the per-tensor one on each slice.
    per_slice = mse_step(weights, -2, 1, (1, 2, 3))
    assert per_slice.shape == (8, )
    for c in (0, 7):
        assert torch.equal(per_slice[c], mse_step(weights[c], -2, 1))
    with pytest.raises(ValueError, match="'minmax'"):
        LSQQuantizer(init='minmax')


def test_compare_step_inits_calibrates_each_init_on_the_same_data():
    from mmacs.quantization import compare_step_inits, quantize_model
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                              torch.nn.Conv2d(4, 4, 3))
    quantize_model(net, dict(bits=2), dict(bits=2, signed='auto'))
    x = torch.randn(8, 3, 10, 10, generator=g)
    out = compare_step_inits(net, [x], net)
    assert set(out) == {'lsq', 'mse'} and len(out['lsq']) == 4
    for name, q in net.named_modules():
        if isinstance(q, LSQQuantizer):
            # Left calibrated with the last init: its step is the one shown.
            assert q.init == 'mse' and q.is_initialized
            assert out['mse'][name]['step'] == pytest.approx(
                float(q.step.mean()))
            assert out['lsq'][name]['step'] != pytest.approx(
                out['mse'][name]['step'])
    # The first layer sees the same input either way: mse has less error.
    first = [n for n in out['lsq'] if n.startswith('0.')]
    for name in first:
        assert out['mse'][name]['rel_error'] < out['lsq'][name]['rel_error']
    with pytest.raises(ValueError, match="'max'"):
        compare_step_inits(net, [x], net, inits=('lsq', 'max'))


@pytest.mark.parametrize('impl', ['fused', 'reference'])
def test_an_update_past_zero_leaves_a_positive_step(impl):
    # A per-channel weight quantizer whose first channel is ~0 (a folded
    # BatchNorm whose gamma decayed): its step is calibrated to the floor.
    w = torch.randn(3, 4)
    w[0] = 0
    q = _calibrated(w, bits=8, is_weight=True, per_channel=True,
                    num_channels=3, impl=impl)
    assert q.step[0].item() == pytest.approx(1e-8)
    normal = q.step[1:].detach().clone()
    opt = torch.optim.AdamW(q.parameters(), lr=1e-3)
    q(w * torch.tensor([[0.], [1.], [1.]]) + 1e-3).sum().backward()
    opt.step()
    # AdamW moves the step by ~lr, past zero for the tiny step.
    assert q.step[0].item() < 0
    eff = q.effective_step()
    assert bool((eff > 0).all())
    assert eff[0].item() == pytest.approx(-q.step[0].item())
    assert torch.equal(eff[1:], q.step[1:].detach())
    assert not torch.equal(q.step[1:].detach(), normal)
    out = q(w)
    assert torch.isfinite(out).all()
    # The output lies on the grid of the effective (positive) step.
    levels = out / eff[:, None]
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    assert bool((levels.abs() <= 128).all())


def test_effective_step_is_the_step_for_positive_steps():
    # Same values and gradients as the raw parameter: existing checkpoints
    # train exactly as before.
    x = torch.randn(2, 8)
    q = _calibrated(x, bits=4, impl='fused')
    assert torch.equal(q.effective_step(), q.step.detach())
    y = x.clone().requires_grad_()
    q(y).sum().backward()
    got = q.step.grad.clone()
    ref = q.step.detach().clone().requires_grad_()
    lsq_quantize(x, ref, q.qn, q.qp, q._grad_factor(x), 'fused').sum() \
        .backward()
    assert torch.equal(got, ref.grad)
