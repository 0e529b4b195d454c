"""Smooth quantization onto a grid: against the defining finite sums (docs/mathematics.md §7), saturation, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import smoothround as sr

torch = pytest.importorskip("torch")


def window_levels(y: np.ndarray, k: float, qmin: int, qmax: int) -> np.ndarray:
    """The definition: qmin + sum_{n=qmin+1..qmax} sigmoid(k(y - n + 1/2))."""
    n = np.arange(qmin + 1, qmax + 1)
    return qmin + expit(k * (y[:, None] - n[None, :] + 0.5)).sum(axis=1)


def density_levels(y: np.ndarray, k: float, qmin: int, qmax: int) -> np.ndarray:
    """The definition: sum_n clamp(n, qmin, qmax) p_n(y), over a window wide enough for float64."""
    n = np.arange(qmin - 200, qmax + 201)
    t = k * (y[:, None] - n[None, :])
    logw = -np.abs(t) - 2 * np.log1p(np.exp(-np.abs(t)))
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    return (w * np.clip(n, qmin, qmax)).sum(axis=1) / w.sum(axis=1)


@pytest.mark.parametrize("k", [0.5, 2.0, 5.0, 12.0, 80.0])
def test_window_clamped_equals_its_finite_sum(k: float) -> None:
    x = np.linspace(-3.0, 5.0, 801)
    got = sr.quantize(x, k, step=0.5, offset=0.25, qmin=-2, qmax=6, saturation="smooth")
    want = 0.25 + 0.5 * window_levels((x - 0.25) / 0.5, k, -2, 6)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


@pytest.mark.parametrize("k", [1.0, 3.0, 8.0, 40.0])
def test_density_clamped_equals_its_definition_and_saturates_exactly(k: float) -> None:
    y = np.linspace(-6.0, 9.0, 751)
    got = sr.quantize(y, k, qmin=-1, qmax=4, method="density", saturation="smooth")
    np.testing.assert_allclose(got, density_levels(y, k, -1, 4), rtol=0, atol=1e-13)
    far = sr.quantize(
        np.array([-1e6, 1e6, -np.inf, np.inf]), k, qmin=-1, qmax=4, method="density", saturation="smooth"
    )
    np.testing.assert_array_equal(far, [-1.0, 4.0, -1.0, 4.0])


def test_unclamped_is_round_in_code_units() -> None:
    x = np.linspace(-2, 2, 401)
    for method in ("window", "density", "tanh"):
        got = sr.quantize(x, 9.0, step=0.25, offset=0.1, method=method)
        np.testing.assert_allclose(got, 0.1 + 0.25 * sr.round((x - 0.1) / 0.25, 9.0, method=method), atol=1e-15)


def test_window_saturation_and_end_bias() -> None:
    k = 10.0
    got = sr.quantize(np.array([-50.0, 0.0, 3.0, 50.0, np.inf]), k, qmin=0, qmax=3, saturation="smooth")
    # a finite sum of sigmoids: within 1e-15 of the ends (the exact Q1(-50) is about 1e-215), never beyond them
    assert 0.0 <= got[0] < 1e-15 and got[3] == 3.0 and got[4] == 3.0
    # at the end level the value sits about sigmoid(-k/2) inside (docs/mathematics.md §7)
    assert abs((3.0 - got[2]) - expit(-k / 2)) < 1e-4
    # far outside, the slope is the last level's sigmoid' (about 5e-206 here), not a frozen 0
    slope = sr.derivative(sr.quantize, np.array([50.0]), k, qmin=0, qmax=3, saturation="smooth")[0]
    assert slope == pytest.approx(k * expit(-k * 47.5) * expit(k * 47.5), rel=1e-12)


def test_smooth_saturation_does_not_freeze_far_outside_at_small_k() -> None:
    """The staircase keeps its exact value and gradient far beyond the range: Q1(-10) = sigmoid(-10.5) at k=1."""
    x = np.array([-10.0, -40.0, 12.0])
    got = sr.quantize(x, 1.0, qmin=0, qmax=1, saturation="smooth")
    np.testing.assert_allclose(got, [expit(-10.5), expit(-40.5), 1.0 - expit(-11.5)], rtol=1e-14)
    slope = sr.derivative(sr.quantize, x, 1.0, qmin=0, qmax=1, saturation="smooth")
    np.testing.assert_allclose(slope, expit(got * 0 + [-10.5, -40.5, -11.5]) * expit([10.5, 40.5, 11.5]), rtol=1e-13)


@pytest.mark.parametrize("method", ["window", "density", "tanh"])
def test_clamp_saturation_is_round_of_the_clamp(method: str) -> None:
    """Q(y) = r_k(clamp(y, qmin, qmax)): the identity inside the range as k -> 0, hard quantization as k -> inf."""
    y = np.array([-5.0, -2.0, -1.3, -0.3, 0.0, 0.4, 1.0, 1.6, 7.0])
    got = sr.quantize(y, 3.0, qmin=-2, qmax=1, method=method)
    np.testing.assert_array_equal(got, sr.round(np.clip(y, -2, 1), 3.0, method=method))
    np.testing.assert_allclose(sr.quantize(y, 1e-4, qmin=-2, qmax=1, method=method), np.clip(y, -2, 1), atol=1e-9)
    np.testing.assert_array_equal(sr.quantize(y, 1e4, qmin=-2, qmax=1, method=method), np.clip(np.round(y), -2, 1))


@pytest.mark.parametrize("method", ["window", "density", "tanh"])
def test_clamp_saturation_gradients_follow_the_clamp_and_step_keeps_learning(method: str) -> None:
    x = np.array([-3.0, -0.8, 0.0, 0.3, 0.5, 2.0])  # step 0.5, levels -2..1: x in [-1, 0.5] is inside
    kwargs = {"step": 0.5, "qmin": -2, "qmax": 1, "method": method}
    dx = sr.derivative(sr.quantize, x, 4.0, **kwargs)
    inside = sr.derivative(sr.round, x / 0.5, 4.0, method=method)
    # the bound 0.5 passes; inside, the slope is r' (to 1 ulp: it is formed as 1 + (r' - 1))
    np.testing.assert_allclose(dx, np.where((x >= -1.0) & (x <= 0.5), inside, 0.0), rtol=4e-16, atol=0)
    dstep = sr.derivative(sr.quantize, x, 4.0, wrt="step", **kwargs)
    assert dstep[0] == -2.0 and dstep[-1] == 1.0  # outside: qmin and qmax, as in LSQ


def test_tanh_quantize_clamps_hard() -> None:
    got = sr.quantize(np.array([-3.0, 1.2, 9.0]), 5.0, qmin=0, qmax=3, method="tanh")
    assert got[0] == 0.0 and got[2] == 3.0 and 1.0 < got[1] < 1.5


@pytest.mark.parametrize("method", ["window", "density", "tanh"])
@pytest.mark.parametrize("bounds", [(None, None), (-2, 3)])
@pytest.mark.parametrize("wrt", ["x", "k", "step", "offset"])
def test_partials_match_finite_differences(method: str, bounds: tuple, wrt: str) -> None:
    qmin, qmax = bounds
    x = np.linspace(-1.3, 2.1, 23) + 0.011
    base = {"x": x, "k": 6.0, "step": 0.4, "offset": 0.05}

    def f(**changes: object) -> np.ndarray:
        a = {**base, **changes}
        return sr.quantize(a["x"], a["k"], step=a["step"], offset=a["offset"], qmin=qmin, qmax=qmax, method=method)

    h = 1e-6
    numeric = (f(**{wrt: base[wrt] + h}) - f(**{wrt: base[wrt] - h})) / (2 * h)
    analytic = sr.derivative(sr.quantize, x, 6.0, wrt=wrt, step=0.4, offset=0.05, qmin=qmin, qmax=qmax, method=method)
    np.testing.assert_allclose(analytic, numeric, rtol=2e-6, atol=2e-7)


@pytest.mark.parametrize("method", ["window", "density"])
def test_torch_gradcheck_in_x_k_step_offset(method: str) -> None:
    x = torch.linspace(-1.3, 2.1, 19, dtype=torch.float64).add(0.011).requires_grad_()
    k = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)
    step = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    offset = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)
    for qmin, qmax in ((None, None), (-2, 3)):

        def fn(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor, lo=qmin, hi=qmax) -> torch.Tensor:
            return sr.quantize(a, b, step=c, offset=d, qmin=lo, qmax=hi, method=method)

        assert torch.autograd.gradcheck(fn, (x, k, step, offset))


def test_straight_through_quantize() -> None:
    x = torch.linspace(-1, 2, 13, requires_grad=True)
    out = sr.quantize(x, 4.0, step=0.5, qmin=-1, qmax=3, straight_through=True)
    torch.testing.assert_close(out, torch.clamp(torch.round(x.detach() / 0.5), -1, 3) * 0.5)
    out.sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), sr.derivative(sr.quantize, x.detach().numpy(), 4.0, step=0.5, qmin=-1, qmax=3), rtol=1e-6
    )


def test_smooth_saturation_with_a_traced_k_under_jax_jit() -> None:
    """A traced k cannot size an infinite staircase: density and one-sided window refuse it with a clear error;
    the finite window staircase (both bounds) and tanh (nothing to sum) work under jit."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    y = jnp.array([-3.2, -0.4, 0.6, 2.7], dtype=jnp.float32)
    k = jnp.float32(6.0)
    for method, bounds in (("window", (-2, 2)), ("tanh", (-2, None))):
        f = jax.jit(lambda v, kk, m=method, b=bounds: sr.quantize(v, kk, qmin=b[0], qmax=b[1], method=m,
                                                                    saturation="smooth"))
        want = sr.quantize(np.asarray(y), 6.0, qmin=bounds[0], qmax=bounds[1], method=method, saturation="smooth")
        np.testing.assert_allclose(np.asarray(f(y, k)), want, rtol=1e-6, atol=1e-6)
    for method, bounds in (("density", (-2, 2)), ("window", (-2, None))):
        f = jax.jit(lambda v, kk, m=method, b=bounds: sr.quantize(v, kk, qmin=b[0], qmax=b[1], method=m,
                                                                    saturation="smooth"))
        with pytest.raises(ValueError, match=r"a traced array `k` with saturation='smooth' needs method='window'"):
            f(y, k)
