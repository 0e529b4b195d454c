"""Regressions at the edges of the toolbox's domain: cancellation in the pairwise max/min, infinite inputs (the
hard function's limit out, never NaN), NaN-free gradients at huge and infinite inputs, and overflow in the soft
one-hot. Warnings are errors (pyproject), so each test also checks that nothing warns."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import torch

import smoothround as sr

INF = math.inf
PAIRWISE = ("logsumexp", "boltzmann", "acon", "erf", "sqrt")


def _reference_max(method: str, a: float, b: float, k: float) -> float:
    """The textbook definition at 400 digits (enough for |d| up to 1e300): what the float result rounds to."""
    with mpmath.workdps(400):
        a_, b_, k_ = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(k)
        d = a_ - b_
        if method == "erf":
            return float((a_ + b_ + d * mpmath.erf(k_ * d)) / 2)
        return float((a_ + b_ + mpmath.sqrt(d * d + 1 / (k_ * k_))) / 2)


@pytest.mark.parametrize("method", ["erf", "sqrt"])
def test_pairwise_erf_sqrt_without_cancellation(method: str) -> None:
    # the reproducers: (a + b + |d| ...)/2 lost every digit below ulp(|d|)
    out32 = sr.smooth_maximum(np.float32([-1000.0]), np.float32([0.001]), 1e6, method=method)
    assert abs(float(out32[0]) - 0.001) <= float(np.spacing(np.float32(0.001)))
    assert sr.smooth_maximum(np.array([-1e16]), np.array([1.0]), 10.0, method=method)[0] == 1.0
    assert sr.smooth_minimum(np.array([1e16]), np.array([1.0]), 10.0, method=method)[0] == 1.0
    # against 400-digit references over separations from 0 to 1e300, relative error of a few ulp
    rng = np.random.default_rng(7)
    a = np.concatenate([-(10.0 ** rng.uniform(-3, 300, 40)), rng.normal(size=20)])
    b = np.concatenate([rng.uniform(0.5, 2.0, 40), rng.normal(size=20)])
    for k in (0.3, 10.0, 1e6):
        out = sr.smooth_maximum(a, b, k, method=method)
        ref = np.array([_reference_max(method, x, y, k) for x, y in zip(a, b, strict=True)])
        np.testing.assert_allclose(out, ref, rtol=8e-16, atol=0)
        np.testing.assert_allclose(sr.smooth_minimum(-a, -b, k, method=method), -ref, rtol=8e-16, atol=0)


@pytest.mark.parametrize("method", PAIRWISE)
def test_pairwise_gradients_over_a_wide_grid(method: str) -> None:
    # both partials, on separations from 0 to far in each tail, by float64 gradcheck and in JAX
    d = np.concatenate([-np.logspace(-3, 1.5, 9), [0.0], np.logspace(-3, 1.5, 9)])
    a = torch.tensor(d + 0.25, dtype=torch.float64, requires_grad=True)
    b = torch.full_like(a, 0.25).requires_grad_(True)
    for f in (sr.smooth_maximum, sr.smooth_minimum):
        assert torch.autograd.gradcheck(lambda u, v, f=f: f(u, v, 3.0, method=method), (a, b))
        with jax.enable_x64(True):
            ga, gb = jax.grad(lambda u, v, f=f: jnp.sum(f(u, v, 3.0, method=method)), argnums=(0, 1))(
                jnp.asarray(d + 0.25), jnp.full(d.shape, 0.25)
            )
        ta, tb = torch.autograd.grad(f(a, b, 3.0, method=method).sum(), (a, b))
        np.testing.assert_allclose(np.asarray(ga), ta.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.asarray(gb), tb.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", PAIRWISE)
def test_pairwise_infinite_and_huge_operands(method: str) -> None:
    a = np.array([-INF, INF, INF, -INF, 1e308, -1e308, 2.0])
    b = np.array([1.0, 1.0, INF, -INF, -1e308, 1e308, -INF])
    np.testing.assert_array_equal(sr.smooth_maximum(a, b, 10.0, method=method), np.maximum(a, b))
    np.testing.assert_array_equal(sr.smooth_minimum(a, b, 10.0, method=method), np.minimum(a, b))
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    for f in (sr.smooth_maximum, sr.smooth_minimum):
        ga, gb = torch.autograd.grad(f(ta, tb, 10.0, method=method).sum(), (ta, tb))
        assert torch.isfinite(ga).all()
        assert torch.isfinite(gb).all()
    # the hard function's derivative where one operand is far above the other (index 2, 3: ties, 1/2 each)
    ga, gb = torch.autograd.grad(sr.smooth_maximum(ta, tb, 10.0, method=method).sum(), (ta, tb))
    np.testing.assert_array_equal(ga.numpy()[[0, 1, 4, 5, 6]], [0, 1, 1, 0, 1])
    np.testing.assert_array_equal(gb.numpy()[[0, 1, 4, 5, 6]], [1, 0, 0, 1, 0])
    np.testing.assert_allclose(ga.numpy()[[2, 3]], 0.5)
    g = jax.grad(lambda v: jnp.sum(sr.smooth_maximum(v, 1.0, 10.0, method=method)))(
        jnp.asarray([3e38, -3e38, INF, -INF], dtype=jnp.float32)
    )
    np.testing.assert_array_equal(np.asarray(g), [1, 0, 1, 0])


@pytest.mark.parametrize("method", ["logsumexp", "boltzmann"])
def test_reductions_with_infinite_entries(method: str) -> None:
    x = np.array([[-INF, 1.0, 2.0], [INF, 1.0, -INF], [-INF, -INF, -INF], [INF, INF, 0.0]])
    out = sr.smooth_max(x, 10.0, method=method)
    assert np.all(np.isfinite(out[0]))
    assert out[0] == pytest.approx(sr.smooth_max(np.array([1.0, 2.0]), 10.0, method=method), rel=1e-15)
    np.testing.assert_array_equal(out[1:], [INF, -INF, INF])
    np.testing.assert_array_equal(sr.smooth_min(-x, 10.0, method=method)[1:], [-INF, INF, -INF])
    t = torch.tensor(x[:2], requires_grad=True)
    (g,) = torch.autograd.grad(sr.smooth_max(t, 10.0, method=method)[0], t)
    assert torch.isfinite(g).all()
    assert float(g[0, 0]) == 0.0  # -inf is masked out


def test_softmax_argmax_onehot_with_infinite_entries() -> None:
    x = np.array([[INF, 1.0, 0.0], [INF, 1.0, INF], [-INF, 1.0, -INF], [-INF, -INF, -INF]])
    third = 1.0 / 3.0
    expected = [[1, 0, 0], [0.5, 0, 0.5], [0, 1, 0], [third, third, third]]
    for k in (10.0, INF):
        np.testing.assert_allclose(sr.softmax(x, k), expected, rtol=1e-15)
        np.testing.assert_allclose(sr.soft_argmax(x, k), [0.0, 1.0, 1.0, 1.0], rtol=1e-15)
        assert np.all(np.isfinite(np.asarray(sr.softmax(torch.tensor(x), k))))
    # the reproducer: dist * dist overflowed float32 and every weight was NaN
    index = np.float32([1e20, -1e20, INF, -INF, 3e38])
    for k in (1.0, 1e-3, 1e6, INF):
        out = sr.soft_onehot(index, n=3, k=k)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1]])
    t = torch.tensor([1e20, -INF, 0.7], dtype=torch.float32, requires_grad=True)
    (g,) = torch.autograd.grad(sr.soft_onehot(t, n=3, k=2.0)[:, 1].sum(), t)
    assert torch.isfinite(g).all()
    assert float(g[2]) != 0.0


def test_soft_onehot_unchanged_inside_the_clip() -> None:
    # the clip at max(1, 400/k) beyond the ends changes no value: compare with the definition, unclipped
    idx = np.linspace(-6.0, 9.0, 31)
    for k in (0.05, 1.0, 30.0):
        logits = -k * (idx[:, None] - np.arange(4)) ** 2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(sr.soft_onehot(idx, n=4, k=k), e / e.sum(axis=1, keepdims=True), atol=1e-15)


@pytest.mark.parametrize(
    ("fn", "limit"),
    [
        (lambda v: sr.smooth_abs(v, 10.0, method="erf"), (-1.0, 1.0)),
        (lambda v: sr.smooth_abs(v, 10.0, method="sqrt"), (-1.0, 1.0)),
        (lambda v: sr.smooth_abs(v, 10.0), (-1.0, 1.0)),
        (lambda v: sr.mollifier(v, kernel="gaussian"), (0.0, 0.0)),
        (lambda v: sr.mollifier(v, kernel="cauchy"), (0.0, 0.0)),
        (lambda v: sr.mollifier(v, kernel="logistic"), (0.0, 0.0)),
    ],
)
def test_gradient_limit_at_infinity(fn, limit) -> None:
    for dtype in (torch.float64, torch.float32):
        t = torch.tensor([-INF, INF], dtype=dtype, requires_grad=True)
        (g,) = torch.autograd.grad(fn(t).sum(), t)
        np.testing.assert_array_equal(g.numpy(), limit)
    g_j = jax.grad(lambda v: jnp.sum(fn(v)))(jnp.asarray([-INF, INF], dtype=jnp.float32))
    np.testing.assert_array_equal(np.asarray(g_j), limit)
    assert not np.any(np.isnan(fn(np.array([-INF, INF]))))


def test_edge_case_handling_compiles_fullgraph() -> None:
    # the NumPy-only overflow guard and the caps must not break torch.compile's full-graph capture
    def fn(v: torch.Tensor) -> torch.Tensor:
        out = sr.smooth_abs(v, 3.0, method="erf") + sr.mollifier(v) + sr.soft_onehot(v, n=3, k=2.0).sum(-1)
        for method in PAIRWISE:
            out = out + sr.smooth_maximum(v, 0.5 * v, 3.0, method=method)
        return out

    x = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64)
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    np.testing.assert_allclose(compiled(x).numpy(), fn(x).numpy(), rtol=1e-12)


def test_nan_input_gives_nan_quietly() -> None:
    x = np.array([[np.nan, 1.0, -INF], [0.5, 1.0, 2.0]])
    for out in (
        sr.smooth_max(x, 10.0),
        sr.smooth_max(x, 10.0, method="boltzmann"),
        sr.soft_argmax(x, 10.0),
        sr.softmax(x, 10.0)[:, 0],
    ):
        assert np.isnan(out[0])
        assert np.isfinite(out[1])
    for method in PAIRWISE:
        out = sr.smooth_maximum(np.array([np.nan, 1.0]), np.array([1.0, np.nan]), 10.0, method=method)
        assert np.all(np.isnan(out))
