"""torch.func transforms (vmap, grad, jacrev, jacfwd, hessian, per-sample gradients), torch.compile with a
changing Python-float k, and the straight-through modes, on the autograd Function every op shares."""

from __future__ import annotations

import numpy as np
import pytest

import smoothround as sr

torch = pytest.importorskip("torch")
from torch.func import grad, hessian, jacfwd, jacrev, vmap  # noqa: E402

METHODS = ["window", "density", "tanh"]


@pytest.mark.parametrize("method", METHODS)
def test_vmap_of_grad_is_the_closed_form_derivative(method: str) -> None:
    x = torch.linspace(-2.3, 3.1, 24, dtype=torch.float64).reshape(4, 6)
    per_row = vmap(grad(lambda v: sr.round(v, 7.0, method=method).sum()))(x)
    want = sr.derivative(sr.round, x.numpy(), 7.0, method=method)
    np.testing.assert_allclose(per_row.numpy(), want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("method", METHODS)
def test_jacrev_jacfwd_and_hessian_agree_with_finite_differences(method: str) -> None:
    x = torch.tensor([0.13, 0.49, -1.7, 2.6], dtype=torch.float64)
    fn = lambda v: sr.floor(v, 6.0, method=method)  # noqa: E731
    j_rev, j_fwd = jacrev(fn)(x), jacfwd(fn)(x)
    np.testing.assert_allclose(j_rev.numpy(), j_fwd.numpy(), rtol=1e-14)
    np.testing.assert_allclose(
        torch.diagonal(j_rev).numpy(), sr.derivative(sr.floor, x.numpy(), 6.0, method=method), rtol=1e-14
    )
    h = torch.diagonal(hessian(lambda v: fn(v).sum())(x)).numpy()
    step = 1e-6
    slope = lambda v: sr.derivative(sr.floor, v, 6.0, method=method)  # noqa: E731
    numeric = (slope(x.numpy() + step) - slope(x.numpy() - step)) / (2 * step)
    np.testing.assert_allclose(h, numeric, rtol=1e-6, atol=1e-7)


def test_per_sample_gradients_through_quantize_with_learned_step_and_k() -> None:
    """The pattern of differentially private training: one gradient per sample, for shared parameters."""
    x = torch.randn(8, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    params = {"step": torch.tensor(0.3, dtype=torch.float64), "k": torch.tensor(6.0, dtype=torch.float64)}

    def loss(p: dict, sample: torch.Tensor) -> torch.Tensor:
        return (sr.quantize(sample, p["k"], step=p["step"], qmin=-4, qmax=3) ** 2).sum()

    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, x)
    for i in range(x.shape[0]):
        p = {name: value.clone().requires_grad_() for name, value in params.items()}
        loss(p, x[i]).backward()
        for name in params:
            torch.testing.assert_close(per_sample[name][i], p[name].grad, rtol=1e-12, atol=1e-14)


def test_compile_fullgraph_with_a_changing_python_float_k() -> None:
    """A new float k recompiles (dynamo guards on its value) instead of failing; a 0-d tensor k compiles once."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()

    @torch.compile(fullgraph=True)
    def f(v: torch.Tensor, k: object) -> torch.Tensor:
        return sr.round(v, k).sum() + sr.quantize(v, k, step=0.25, qmin=-3, qmax=3).sum()

    x = torch.linspace(-2.0, 2.0, 33, requires_grad=True)
    for k in (5.0, 6.0, 9.0):
        f(x, k).backward()
        eager = x.detach().requires_grad_()
        (sr.round(eager, k).sum() + sr.quantize(eager, k, step=0.25, qmin=-3, qmax=3).sum()).backward()
        torch.testing.assert_close(x.grad, eager.grad, rtol=1e-5, atol=1e-6)
        x.grad = None
    k = torch.tensor(5.0)
    torch._dynamo.reset()
    counters.clear()
    for value in (5.0, 6.0, 9.0):
        k.fill_(value)  # updated in place: the pattern for annealing schedules
        want = sr.round(x.detach(), value).sum() + sr.quantize(x.detach(), value, step=0.25, qmin=-3, qmax=3).sum()
        torch.testing.assert_close(f(x, k), want, rtol=1e-5, atol=1e-5)
    assert counters["stats"]["unique_graphs"] == 1


@pytest.mark.parametrize("fn", [sr.round, sr.floor, sr.ceil])
def test_straight_through_identity_is_the_classic_estimator(fn: object) -> None:
    x = torch.tensor([-1.7, -0.5, 0.2, 0.5, 2.49, 3.0], requires_grad=True)
    out = fn(x, 30.0, straight_through="identity")
    torch.testing.assert_close(out, {sr.round: torch.round, sr.floor: torch.floor, sr.ceil: torch.ceil}[fn](x))
    out.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))  # never 0, unlike the smooth derivative at large k


def test_straight_through_smooth_and_true_are_the_same() -> None:
    x = np.array([-1.7, 0.2, 0.45, 2.49])
    for mode in (True, "smooth"):
        np.testing.assert_array_equal(sr.round(x, 8.0, straight_through=mode), np.round(x))
        np.testing.assert_array_equal(
            sr.derivative(sr.round, x, 8.0, straight_through=mode), sr.derivative(sr.round, x, 8.0)
        )


def test_straight_through_identity_quantize_is_lsq() -> None:
    """Hard fake quantization forward; backward: 1 inside the range for x, round(y) - y inside and qmin/qmax
    outside for the step (the LSQ gradient), nothing for k."""
    x = torch.tensor([-3.0, -0.62, 0.1, 0.37, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    step = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    k = torch.tensor(8.0, dtype=torch.float64, requires_grad=True)
    out = sr.quantize(x, k, step=step, qmin=-4, qmax=2, straight_through="identity")
    y = x.detach() / 0.25
    torch.testing.assert_close(out, torch.clamp(torch.round(y), -4, 2) * 0.25)
    out.sum().backward()
    inside = (y >= -4) & (y <= 2)
    torch.testing.assert_close(x.grad, inside.double())
    lsq = torch.where(inside, torch.round(y) - y, torch.clamp(torch.round(y), -4, 2))
    torch.testing.assert_close(step.grad, lsq.sum())
    assert k.grad == 0.0


def test_straight_through_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"`straight_through` must be False, 'identity' or 'smooth'; got 'yes'"):
        sr.round(1.0, 5.0, straight_through="yes")
    with pytest.raises(TypeError, match=r"`straight_through` must be False, 'identity' or 'smooth'; got 1"):
        sr.round(1.0, 5.0, straight_through=1)
