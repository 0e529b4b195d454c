"""An array (learnable) ``k`` in the toolbox: the values of the Python-number ``k`` path, gradients in ``k`` and
``x`` against finite differences, broadcasting, and errors for what cannot take one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import smoothround as sr

X = np.array([-1.3, -0.2, 0.0, 0.04, 0.4, 2.5])
W = np.linspace(0.5, 1.5, X.size)  # weights for a scalar objective whose k-gradient is not trivially 0

FUNCTIONS: dict[str, Callable[[Any, Any], Any]] = {
    "smooth_abs:logcosh": lambda v, k: sr.smooth_abs(v, k),
    "smooth_abs:erf": lambda v, k: sr.smooth_abs(v, k, method="erf"),
    "smooth_abs:sqrt": lambda v, k: sr.smooth_abs(v, k, method="sqrt"),
    "smooth_relu": lambda v, k: sr.smooth_relu(v, k),
    "smooth_clamp": lambda v, k: sr.smooth_clamp(v, lo=-0.5, hi=1.0, k=k),
    "smooth_sign:logistic": lambda v, k: sr.smooth_sign(v, k),
    "smooth_sign:arctan": lambda v, k: sr.smooth_sign(v, k, method="arctan"),
    "smooth_step:erf": lambda v, k: sr.smooth_step(v, k, method="erf"),
    "smooth_maximum:erf": lambda v, k: sr.smooth_maximum(v, 0.3 - v, k, method="erf"),
    "smooth_maximum:sqrt": lambda v, k: sr.smooth_maximum(v, 0.3 - v, k, method="sqrt"),
    "smooth_minimum:boltzmann": lambda v, k: sr.smooth_minimum(v, 0.3 - v, k, method="boltzmann"),
    "smooth_max:logsumexp": lambda v, k: sr.smooth_max(v, k),
    "smooth_min:boltzmann": lambda v, k: sr.smooth_min(v, k, method="boltzmann"),
    "softmax": lambda v, k: sr.softmax(v, k),
    "soft_argmax": lambda v, k: sr.soft_argmax(v, k),
    "soft_onehot": lambda v, k: sr.soft_onehot(v, n=4, k=k),
}


def _objective(out: Any, xp: Any) -> Any:
    flat = xp.reshape(out, (-1,))
    weights = xp.asarray(np.resize(W, flat.shape[0]), dtype=flat.dtype)
    return xp.sum(flat * weights)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("k", [0.01, 3.7, 250.0])
def test_torch_array_k_matches_the_number_and_its_gradients(name: str, k: float) -> None:
    f = FUNCTIONS[name]
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    kt = torch.tensor(k, dtype=torch.float64, requires_grad=True)
    out = f(x, kt)
    ref = f(torch.tensor(X, dtype=torch.float64), k)
    # the clamp with an array k is lo + softplus_k(x - lo) - softplus_k(x - hi): each term is ~ln(2)/k, so at
    # small k it is exact to eps ln(2)/k absolutely, not to eps (the docstring of smoothround.toolbox._array_k)
    atol = 4e-16 * (1.0 + (8.0 / k if name == "smooth_clamp" else 0.0))
    torch.testing.assert_close(out, ref, rtol=4e-15, atol=atol)
    gx, gk = torch.autograd.grad(_objective(out, torch), (x, kt))
    x0 = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    (gx_ref,) = torch.autograd.grad(_objective(f(x0, k), torch), (x0,))
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)
    h = k * 1e-6
    fd = (_objective(f(torch.tensor(X), k + h), torch) - _objective(f(torch.tensor(X), k - h), torch)) / (2 * h)
    assert float(gk) == pytest.approx(float(fd), rel=1e-6, abs=1e-9 / k)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_jax_array_k_under_jit_and_grad(name: str) -> None:
    f = FUNCTIONS[name]
    x = jnp.asarray(X, dtype=jnp.float32)
    loss = jax.jit(jax.grad(lambda v, k: _objective(f(v, k), jnp), argnums=(0, 1)))
    gx, gk = loss(x, jnp.float32(3.7))
    gx_ref = jax.grad(lambda v: _objective(f(v, 3.7), jnp))(x)
    np.testing.assert_allclose(gx, gx_ref, rtol=2e-5, atol=2e-6)
    h = 1e-3
    fd = (_objective(f(X, 3.7 + h), np) - _objective(f(X, 3.7 - h), np)) / (2 * h)
    assert float(gk) == pytest.approx(float(fd), rel=2e-3, abs=2e-5)
    np.testing.assert_allclose(jax.jit(f)(x, jnp.float32(3.7)), f(X, 3.7), rtol=2e-6, atol=2e-7)


def test_array_k_broadcasts_per_element_and_per_row() -> None:
    ks = np.array([0.5, 2.0, 8.0, 30.0, 100.0, 1e4])
    np.testing.assert_allclose(sr.smooth_abs(X, ks), [float(sr.smooth_abs(np.array([v]), k)[0]) for v, k in zip(X, ks, strict=True)], rtol=1e-15)
    rows = np.stack([X, X[::-1] * 2.0])
    k_rows = np.array([[2.0], [40.0]])
    got = sr.smooth_max(rows, k_rows, axis=-1)
    np.testing.assert_allclose(got, [sr.smooth_max(rows[0], 2.0), sr.smooth_max(rows[1], 40.0)], rtol=1e-15)
    assert sr.smooth_max(rows, k_rows, axis=-1, keepdims=True).shape == (2, 1)
    assert float(sr.smooth_max(rows, np.array(5.0), axis=None)) == pytest.approx(float(sr.smooth_max(rows, 5.0, axis=None)), rel=1e-15)


def test_learnable_k_in_a_torch_module_trains() -> None:
    """A learnable log-k through smooth_abs: the loss pulls k up towards the hard |x| and the gradient flows."""
    log_k = torch.nn.Parameter(torch.tensor(0.0))
    opt = torch.optim.Adam([log_k], lr=0.1)
    x = torch.linspace(-2, 2, 101)
    losses = []
    for _ in range(50):
        loss = ((sr.smooth_abs(x, log_k.exp()) - x.abs()) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert float(log_k.detach()) > 1.5  # k from 1 to beyond e^1.5 in 50 steps of at most 0.1 each
    assert losses[-1] < 0.1 * losses[0]


def test_float16_input_keeps_its_dtype_and_saturates_instead_of_overflowing() -> None:
    x = torch.tensor([-60000.0, -1.0, 0.5, 60000.0], dtype=torch.float16)
    out = sr.smooth_abs(x, torch.tensor(1e30))
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    big = sr.smooth_relu(torch.tensor([3e38, -3e38], dtype=torch.float32), torch.tensor(1e10))
    assert torch.isfinite(big).all()


def test_array_k_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"`k` must be positive and finite where it is an array; got -1.0"):
        sr.smooth_abs(X, np.array([1.0, -1.0, 1.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"`k` must be positive and finite where it is an array; got inf"):
        sr.smooth_relu(torch.tensor(X), torch.tensor(float("inf")))
    with pytest.raises(TypeError, match=r'`k` must be a Python number for method="power"'):
        sr.smooth_maximum(np.array([1.0]), np.array([2.0]), np.array(3.0), method="power")
    with pytest.raises(TypeError, match=r"`k` is a torch array but `x` is a jax array"):
        sr.smooth_step(jnp.asarray(X), torch.tensor(2.0))


# ---------------------------------------------------------------------------------------------- edges


def test_a_k_that_varies_along_the_reduced_axis_is_refused() -> None:
    with pytest.raises(ValueError, match=r"`k` must have size 1 along the reduced axis -1.*k of shape \(2,\)"):
        sr.smooth_max(np.array([1.0, 1.0]), np.array([1.0, 100.0]))
    with pytest.raises(ValueError, match=r"`k` must not have more axes than `x`"):
        sr.smooth_max(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [1.0]]), axis=0)
    with pytest.raises(ValueError, match=r"every axis \(axis=None\)"):
        sr.smooth_min(np.ones((2, 3)), np.ones((2, 1)), axis=None)


def test_infinite_entries_keep_their_meaning_and_give_k_a_finite_gradient() -> None:
    inf = float("inf")
    for f, x in [(lambda v, k: sr.smooth_max(v, k), [-inf, 0.0, 1.0]), (lambda v, k: sr.softmax(v, k)[2], [-inf, 0.0, 1.0]),
                 (lambda v, k: sr.smooth_relu(v, k).sum(), [-inf, 0.5, inf]), (lambda v, k: sr.smooth_abs(v, k).sum(), [-inf, 0.5])]:
        k = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        xt = torch.tensor(x, dtype=torch.float64)
        out = f(xt, k)
        (gk,) = torch.autograd.grad(out, k)
        assert torch.isfinite(gk), (x, gk)
        finite = [v for v in x if np.isfinite(v)]
        if finite != x and f(xt, 2.0).isfinite():  # the masked -inf: the same as leaving the entry out
            h = 1e-6
            fd = (f(xt, 2.0 + h) - f(xt, 2.0 - h)) / (2 * h)
            assert float(gk) == pytest.approx(float(fd), rel=1e-6, abs=1e-12)
    assert sr.smooth_max(np.array([-inf, -inf]), np.array(2.0)) == -inf
    assert sr.smooth_max(np.array([inf, 0.0]), np.array(2.0)) == inf
    assert sr.smooth_relu(np.array([inf]), np.array(2.0))[0] == inf


def test_where_k_x_overflows_the_value_is_the_hard_function_with_its_gradient() -> None:
    np.testing.assert_array_equal(sr.smooth_relu(np.array([1e308, -1e308]), np.array(10.0)), [1e308, 0.0])
    assert sr.smooth_abs(np.array([1e37], np.float32), np.array(1e3))[0] == np.float32(1e37)
    x = torch.tensor([1e37, 2.0], requires_grad=True)
    k = torch.tensor(1e3, requires_grad=True)
    sr.smooth_abs(x, k).sum().backward()
    assert x.grad[0] == 1.0 and torch.isfinite(k.grad)
    assert float(k.grad) == pytest.approx(float(-(torch.log1p(torch.exp(torch.tensor(-4e3)))) / 1e6), abs=1e-12)
    rows = np.array([[1e300, 2e300], [0.0, 1.0]])
    np.testing.assert_allclose(sr.softmax(rows, np.array([[1e10], [1.0]])), [[0.0, 1.0], sr.softmax(rows[1], 1.0)], rtol=1e-15)


def test_the_clamp_does_not_cancel_against_far_bounds() -> None:
    x = torch.tensor([0.3, 1.7, -3e8, 3e8])
    got = sr.smooth_clamp(x, lo=-1e8, hi=1e8, k=torch.tensor(10.0))
    torch.testing.assert_close(got, sr.smooth_clamp(x, lo=-1e8, hi=1e8, k=10.0), rtol=1e-7, atol=0.0)
    with pytest.raises(ValueError, match="`lo` and `hi` must lie within the range of x's dtype"):
        sr.smooth_clamp(torch.tensor([0.3]), lo=-1e300, hi=1.0, k=torch.tensor(1.0))


def test_k_is_checked_in_the_compute_dtype() -> None:
    with pytest.raises(ValueError, match=r"compute dtype float32; got 1e-50, which rounds to 0.0"):
        sr.smooth_relu(np.array([1.0], np.float32), np.array(1e-50))
    with pytest.raises(ValueError, match=r"got 1e\+50, which rounds to inf"):
        sr.smooth_relu(np.array([1.0], np.float32), np.array(1e50))
    with pytest.raises(TypeError, match="`k` must be a real number or array; got an array of dtype bool"):
        sr.smooth_abs(X, np.array(True))


def test_pairwise_with_a_scalar_operand_and_soft_onehot_far_out() -> None:
    torch.testing.assert_close(sr.smooth_maximum(torch.tensor([1.0, -1.0]), 0.0, torch.tensor(2.0)),
                               sr.smooth_maximum(torch.tensor([1.0, -1.0]), 0.0, 2.0))
    index = np.array([1e200, -np.inf, 1.2, np.inf, -3e38])
    np.testing.assert_allclose(sr.soft_onehot(index, n=3, k=np.array(1.0)), sr.soft_onehot(index, n=3, k=1.0), rtol=1e-14, atol=1e-300)


def test_array_k_under_torch_compile_fullgraph() -> None:
    """A learnable k in a compiled model: one graph, the eager values and gradients (saturated elements too)."""
    f = torch.compile(lambda v, k: (sr.smooth_abs(v, k) + sr.softmax(v, k) + sr.smooth_maximum(v, 0.3, k)).sum(),
                      fullgraph=True)
    for x0 in ([1e37, -0.2, 0.3], [-1.3, 0.04, 2.5]):
        x = torch.tensor(x0, requires_grad=True)
        k = torch.tensor(7.0, requires_grad=True)
        xe, ke = x.detach().clone().requires_grad_(), k.detach().clone().requires_grad_()
        eager = (sr.smooth_abs(xe, ke) + sr.softmax(xe, ke) + sr.smooth_maximum(xe, 0.3, ke)).sum()
        compiled = f(x, k)
        torch.testing.assert_close(compiled, eager)
        torch.testing.assert_close(torch.autograd.grad(compiled, (x, k)), torch.autograd.grad(eager, (xe, ke)))
