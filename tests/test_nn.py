"""smoothround.nn: the Quantizer and SmoothRound layers (LSQ initialisation, train/eval, gradients, fixed /
scheduled / learned k), weight parametrization, state_dict round trips and torch.compile(fullgraph=True)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

import smoothround as sr
from smoothround import qat, schedules

torch = pytest.importorskip("torch")
from torch.nn.utils import parametrize  # noqa: E402

from smoothround.nn import Quantizer, SmoothRound, advance, quantize_weights, set_step  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _hard(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | float, qmin: int, qmax: int) -> torch.Tensor:
    return (torch.clamp(torch.round(x / scale + zero_point), qmin, qmax) - zero_point) * scale


# ---------------------------------------------------------------------------------------------- Quantizer


def test_scale_is_initialised_from_the_first_batch_only() -> None:
    q = Quantizer(bits=4, k=10.0)
    assert int(q.initialized) == 0
    first = torch.randn(32, 5, generator=torch.Generator().manual_seed(0))
    q(first)
    want = 2 * first.abs().mean() / math.sqrt(7)
    torch.testing.assert_close(q.scale.detach(), want, rtol=1e-6, atol=0)
    assert int(q.initialized) == 1
    q(first * 10)
    torch.testing.assert_close(q.scale.detach(), want, rtol=1e-6, atol=0)
    # per channel along the feature axis of an activation
    per_channel = Quantizer(bits=4, signed=False, axis=1, zero_point=True)
    per_channel(first.abs())
    assert per_channel.scale.shape == (1, 5) and per_channel.zero_point is not None
    assert per_channel.zero_point.shape == (1, 5)
    torch.testing.assert_close(per_channel.scale.detach(), 2 * first.abs().mean(0, keepdim=True) / math.sqrt(15))


def test_train_is_smooth_and_eval_is_the_integer_grid() -> None:
    x = torch.linspace(-3, 3, 301, dtype=torch.float64)
    q = Quantizer(bits=3, zero_point=True, k=25.0).double()
    q(x)
    with torch.no_grad():
        q.scale.fill_(0.4)
        q.zero_point.fill_(0.3)
    smooth = q(x)
    want = qat.fake_quantize(q.qat_params(), x, k=25.0, bits=3, grad_scale="lsq")
    torch.testing.assert_close(smooth, want, rtol=0, atol=0)
    q.eval()
    hard = q(x)
    torch.testing.assert_close(hard, _hard(x, q.scale, q.zero_point, -4, 3), rtol=1e-15, atol=1e-15)
    codes = hard / q.scale + q.zero_point
    torch.testing.assert_close(codes, codes.round(), rtol=0, atol=1e-12)
    assert codes.min() == -4 and codes.max() == 3
    assert (smooth - hard).abs().max() > 0.05  # training really is the smooth function


def test_module_gradients_to_scale_zero_point_and_log_k_match_finite_differences() -> None:
    q = Quantizer(bits=3, zero_point=True, k=4.0, learn_k=True, grad_scale=None).double()
    x = torch.rand(4, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3.4 - 1.8
    q(x)
    scale = torch.tensor([0.41], dtype=torch.float64, requires_grad=True).reshape(())
    zero_point = torch.tensor(0.23, dtype=torch.float64, requires_grad=True)
    log_k = torch.tensor(math.log(4.0), dtype=torch.float64, requires_grad=True)

    def f(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, log_k: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(q, {"scale": scale, "zero_point": zero_point, "log_k": log_k}, (x,))

    assert torch.autograd.gradcheck(
        f, (x.requires_grad_(), scale, zero_point, log_k), eps=1e-6, atol=1e-7, rtol=1e-6
    )
    # and backward reaches the module's own parameters
    q(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs() > 0 for p in (q.scale, q.zero_point, q.log_k))


def test_lsq_grad_scale_is_the_default() -> None:
    x = torch.randn(8, 10, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grads = {}
    for grad_scale in ("lsq", None):
        q = Quantizer(bits=4, axis=0, k=6.0, grad_scale=grad_scale).double()
        q(x).pow(2).sum().backward()
        grads[grad_scale] = q.scale.grad
    torch.testing.assert_close(grads["lsq"], grads[None] / math.sqrt(10 * 7), rtol=1e-13, atol=0)
    assert Quantizer(bits=4).grad_scale == "lsq"


def test_scheduled_k_is_a_buffer_updated_in_place() -> None:
    schedule = schedules.geometric(1.0, 100.0, steps=10)
    q = Quantizer(bits=4, k=schedule)
    buffer = q.k
    assert float(q.k) == 1.0 and int(q.schedule_step) == 0 and q.k_mode == "scheduled"
    set_step(torch.nn.Sequential(q), 5)
    assert q.k is buffer and float(q.k) == pytest.approx(10.0, rel=1e-6) and int(q.schedule_step) == 5
    advance(q, 3)
    assert float(q.k) == pytest.approx(schedule(8), rel=1e-6) and int(q.schedule_step) == 8
    advance(q, 10)
    assert float(q.k) == 100.0 and int(q.schedule_step) == 18
    assert {"k", "schedule_step", "initialized", "scale"} == set(q.state_dict())
    x = torch.randn(20)
    torch.testing.assert_close(q(x), qat.fake_quantize(q.qat_params(), x, k=100.0, bits=4, grad_scale="lsq"))
    # fixed and learned k are not affected by steps
    fixed, learned = Quantizer(bits=4, k=7.0), Quantizer(bits=4, k=7.0, learn_k=True)
    set_step(torch.nn.Sequential(fixed, learned), 4)
    assert fixed.current_k() == 7.0 and float(learned.current_k().detach()) == pytest.approx(7.0)
    assert fixed.k_mode == "fixed" and learned.k_mode == "learned" and "k" not in fixed.state_dict()


def test_smooth_round_layer() -> None:
    x = torch.linspace(-2, 2, 41, dtype=torch.float64)
    layer = SmoothRound(8.0, method="density")
    torch.testing.assert_close(layer(x), sr.round(x, 8.0, method="density"), rtol=0, atol=0)
    torch.testing.assert_close(layer.eval()(x), torch.round(x), rtol=0, atol=0)
    keep = SmoothRound(8.0, hard_in_eval=False).eval()
    torch.testing.assert_close(keep(x), sr.round(x, 8.0), rtol=0, atol=0)
    learned = SmoothRound(3.0, learn_k=True).double()
    learned(x + 0.2).sum().backward()
    assert learned.log_k is not None and learned.log_k.grad is not None and learned.log_k.grad != 0
    scheduled = SmoothRound(schedules.linear(2.0, 12.0, steps=5))
    advance(scheduled, 2)
    torch.testing.assert_close(scheduled(x.float()), sr.round(x.float(), 6.0), rtol=1e-6, atol=1e-6)


def test_constructor_errors_name_the_argument() -> None:
    with pytest.raises(TypeError, match=r"`k` must be a positive number or a schedule .* with learn_k=True; got k = .learnable."):
        Quantizer(bits=4, k="learnable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`k` must be positive and finite; got k = -1\.0"):
        Quantizer(bits=4, k=-1.0, learn_k=True)
    with pytest.raises(ValueError, match="`k` must be positive"):
        SmoothRound(0.0)
    with pytest.raises(ValueError, match=r"`k` must be a number \(the initial value\) with learn_k=True"):
        Quantizer(bits=4, k=schedules.constant(3.0), learn_k=True)
    with pytest.raises(ValueError, match="`k` must be positive and finite; got the schedule's value at step 0 = 0"):
        Quantizer(bits=4, k=lambda step: step)
    with pytest.raises(TypeError, match="the quantization range is missing"):
        Quantizer()
    with pytest.raises(ValueError, match=r"`bits` must be an integer in \[1, 16\]; got 0"):
        Quantizer(0)
    with pytest.raises(ValueError, match="`method` must be one of"):
        Quantizer(bits=4, method="nearest")
    with pytest.raises(ValueError, match="`saturation` must be one of"):
        Quantizer(bits=4, saturation="hard")
    with pytest.raises(ValueError, match="`grad_scale` must be None, 'lsq' or a positive number"):
        Quantizer(bits=4, grad_scale="LSQ")
    with pytest.raises(TypeError, match="`axis` must be an integer or None"):
        Quantizer(bits=4, axis=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`learn_k` must be True or False"):
        Quantizer(bits=4, learn_k=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`step` must be an integer; got '3'"):
        Quantizer(bits=4, k=schedules.constant(2.0)).set_step("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"`model` must be a torch\.nn\.Module"):
        quantize_weights([torch.nn.Linear(2, 2)], bits=4)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- weights


def test_weight_parametrization_per_output_channel() -> None:
    torch.manual_seed(3)
    layer = torch.nn.Linear(6, 4)
    float_weight = layer.weight.detach().clone()
    parametrize.register_parametrization(layer, "weight", Quantizer(bits=3, axis=0, k=30.0))
    quantizer = layer.parametrizations.weight[0]
    # initialised from the weight at registration (parametrize evaluates it once)
    torch.testing.assert_close(quantizer.scale.detach(), 2 * float_weight.abs().mean(1, keepdim=True) / math.sqrt(3))
    torch.testing.assert_close(layer.parametrizations.weight.original, float_weight, rtol=0, atol=0)
    layer.eval()
    torch.testing.assert_close(layer.weight, _hard(float_weight, quantizer.scale, 0.0, -4, 3), rtol=0, atol=0)
    layer.train()
    layer(torch.randn(3, 6)).sum().backward()
    assert layer.parametrizations.weight.original.grad is not None and quantizer.scale.grad is not None
    assert quantizer.scale.grad.abs().min() > 0


def test_quantize_weights_covers_linear_and_conv_layers() -> None:
    model = torch.nn.Sequential(
        torch.nn.Conv1d(2, 3, 3), torch.nn.Conv2d(3, 4, 3), torch.nn.Conv3d(4, 2, 1), torch.nn.Flatten(),
        torch.nn.Linear(8, 5), torch.nn.ConvTranspose2d(2, 2, 3), torch.nn.Embedding(4, 3),
    ).double()
    assert quantize_weights(model, bits=4, k=schedules.linear(1.0, 9.0, steps=4)) is model
    quantized = [name for name, m in model.named_children() if parametrize.is_parametrized(m, "weight")]
    assert quantized == ["0", "1", "2", "4"]
    for index, channels in ((0, 3), (1, 4), (2, 2), (4, 5)):
        quantizer = model[index].parametrizations.weight[0]
        assert quantizer.axis == 0 and quantizer.scale.shape[0] == channels and quantizer.scale.numel() == channels
        assert quantizer.scale.dtype == torch.float64 and quantizer.k.dtype == torch.float64
    set_step(model, 2)
    assert all(float(model[i].parametrizations.weight[0].k) == 5.0 for i in (0, 1, 2, 4))
    with pytest.raises(ValueError, match="already has a weight Quantizer on '0'"):
        quantize_weights(model, bits=4)
    with pytest.raises(ValueError, match="uninitialised lazy module '0'"):
        quantize_weights(torch.nn.Sequential(torch.nn.LazyLinear(3)), bits=4)


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    k = schedules.geometric(2.0, 50.0, steps=6)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 7), torch.nn.ReLU(),
        Quantizer(bits=4, signed=False, axis=1, zero_point=True, k=k),
        torch.nn.Linear(7, 3), Quantizer(bits=6, k=8.0, learn_k=True),
    )
    return quantize_weights(model, bits=3, k=k)


def test_state_dict_round_trips_into_a_fresh_model() -> None:
    model = _model(seed=4)
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(5))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(3):
        set_step(model, step)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    fresh = _model(seed=99)  # other weights; its activation quantizers are not initialised yet
    assert fresh[2].scale.shape == () and not fresh[2]._ready
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer))
    assert fresh[2].scale.shape == (1, 7) and fresh[2]._ready and int(fresh[2].schedule_step) == 2
    for mode in (True, False):
        model.train(mode)
        fresh.train(mode)
        torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    # the loaded scale is kept (no re-initialisation from the next batch) and the schedule continues
    torch.testing.assert_close(fresh[2].scale, model[2].scale, rtol=0, atol=0)
    advance(fresh)
    set_step(model, 3)
    torch.testing.assert_close(fresh[2].k, model[2].k, rtol=0, atol=0)


def test_torch_compile_fullgraph_compiles_once_across_scheduled_steps() -> None:
    from torch._dynamo.testing import CompileCounterWithBackend

    def train(compiled: bool) -> tuple[list[float], torch.nn.Module, int]:
        model = _model(seed=6)
        x = torch.randn(32, 5, generator=torch.Generator().manual_seed(7))
        model(x)  # calibration: initialises the activation quantizers eagerly
        counter = CompileCounterWithBackend("aot_eager")
        forward = torch.compile(model, fullgraph=True, backend=counter) if compiled else model
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        losses = []
        for step in range(4):
            set_step(model, step)  # k changes at every step, in place
            loss = forward(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, model, counter.frame_count

    torch._dynamo.reset()
    eager, eager_model, _ = train(compiled=False)
    compiled, compiled_model, frames = train(compiled=True)
    assert frames == 1
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    assert eager[-1] < eager[0]
    for (name, a), b in zip(eager_model.state_dict().items(), compiled_model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_compiling_before_a_per_channel_quantizer_is_initialised_says_what_to_do() -> None:
    torch._dynamo.reset()
    q = torch.compile(Quantizer(bits=4, axis=1), fullgraph=True, backend="eager")
    with pytest.raises(Exception, match="run one eager forward pass"):
        q(torch.randn(3, 4))
