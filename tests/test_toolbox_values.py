"""Toolbox values against independent references and hard limits, on NumPy, PyTorch and JAX, with gradients,
dtypes and stability at extreme sharpness."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from jax.test_util import check_grads
from scipy.special import erf as sp_erf
from scipy.special import erfc as sp_erfc
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax

import smoothround as sr

X = np.linspace(-3.0, 3.0, 61)

# every function as x -> smooth(x, k) on a 1-D or 2-D float input; used for backends, dtypes and stability
FUNCTIONS = {
    **{f"abs:{m}": (lambda x, k, m=m: sr.smooth_abs(x, k=k, method=m)) for m in ("logcosh", "erf", "sqrt")},
    "relu": lambda x, k: sr.smooth_relu(x, k=k),
    "clamp": lambda x, k: sr.smooth_clamp(x, lo=-1.0, hi=2.0, k=k),
    **{
        f"sign:{m}": (lambda x, k, m=m: sr.smooth_sign(x, k=k, method=m))
        for m in ("logistic", "erf", "arctan")
    },
    **{
        f"step:{m}": (lambda x, k, m=m: sr.smooth_step(x, k=k, method=m))
        for m in ("logistic", "erf", "arctan")
    },
    **{
        f"maximum:{m}": (lambda x, k, m=m: sr.smooth_maximum(x, 0.5 * x + 0.25, k=k, method=m))
        for m in ("logsumexp", "boltzmann", "acon", "erf", "sqrt")
    },
    **{
        f"minimum:{m}": (lambda x, k, m=m: sr.smooth_minimum(x, 0.5 * x + 0.25, k=k, method=m))
        for m in ("logsumexp", "boltzmann", "acon", "erf", "sqrt")
    },
    "max:logsumexp": lambda x, k: sr.smooth_max(x, k=k),
    "max:boltzmann": lambda x, k: sr.smooth_max(x, k=k, method="boltzmann"),
    "min:logsumexp": lambda x, k: sr.smooth_min(x, k=k),
    "min:boltzmann": lambda x, k: sr.smooth_min(x, k=k, method="boltzmann"),
    "softmax": lambda x, k: sr.softmax(x, k=k),
    "soft_argmax": lambda x, k: sr.soft_argmax(x, k=k),
    "soft_onehot": lambda x, k: sr.soft_onehot(x, n=4, k=k),
    **{
        f"steps:{m}": (
            lambda x, k, m=m: sr.smooth_steps(
                x, [-1.0, 0.0, 2.0], [0.0, 1.0, -1.0, 3.0], kernel=m, width=1.0 / k
            )
        )
        for m in ("logistic", "gaussian", "cauchy")
    },
    **{
        f"mollifier:{m}": (lambda x, k, m=m: sr.mollifier(x, kernel=m, width=1.0 / k))
        for m in ("logistic", "gaussian", "cauchy")
    },
}
# the same function with k = inf (hard) for the limit test, as a NumPy reference
HARD = {
    "abs": np.abs,
    "relu": lambda x: np.maximum(x, 0),
    "clamp": lambda x: np.clip(x, -1.0, 2.0),
    "sign": np.sign,
    "step": lambda x: 0.5 + 0.5 * np.sign(x),
    "maximum": lambda x: np.maximum(x, 0.5 * x + 0.25),
    "minimum": lambda x: np.minimum(x, 0.5 * x + 0.25),
}


def test_logsumexp_softmax_against_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 7)) * 10
    for k in (0.1, 1.0, 13.0):
        for axis in (0, 1, -1):
            np.testing.assert_allclose(
                sr.smooth_max(x, k=k, axis=axis), sp_logsumexp(k * x, axis=axis) / k, rtol=1e-13
            )
            np.testing.assert_allclose(
                sr.smooth_min(x, k=k, axis=axis), -sp_logsumexp(-k * x, axis=axis) / k, rtol=1e-13
            )
            np.testing.assert_allclose(
                sr.softmax(x, k=k, axis=axis), sp_softmax(k * x, axis=axis), rtol=1e-12
            )
            w = sp_softmax(k * x, axis=axis)
            np.testing.assert_allclose(
                sr.smooth_max(x, k=k, axis=axis, method="boltzmann"), np.sum(w * x, axis=axis), rtol=1e-12
            )
            idx = np.arange(x.shape[axis]).reshape([-1 if a == axis % 2 else 1 for a in range(2)])
            np.testing.assert_allclose(
                sr.soft_argmax(x, k=k, axis=axis), np.sum(w * idx, axis=axis), rtol=1e-12
            )
    np.testing.assert_allclose(sr.smooth_max(x, k=2.0, axis=None), sp_logsumexp(2 * x) / 2, rtol=1e-13)
    assert sr.smooth_max(x, k=2.0, axis=None, keepdims=True).shape == (1, 1)
    assert sr.smooth_max(x, k=2.0, axis=0, keepdims=True).shape == (1, 7)


def test_pairwise_closed_forms() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=200) * 3, rng.normal(size=200) * 3
    k = 1.7
    d = a - b
    exp = {
        "logsumexp": np.logaddexp(k * a, k * b) / k,
        "boltzmann": (a * np.exp(k * a) + b * np.exp(k * b)) / (np.exp(k * a) + np.exp(k * b)),
        "acon": d / (1 + np.exp(-k * d)) + b,
        "erf": (a + b + d * sp_erf(k * d)) / 2,
        "sqrt": (a + b + np.sqrt(d**2 + 1 / k**2)) / 2,
    }
    for method, expected in exp.items():
        np.testing.assert_allclose(
            sr.smooth_maximum(a, b, k=k, method=method), expected, rtol=1e-12, atol=1e-13
        )
        np.testing.assert_allclose(
            sr.smooth_minimum(a, b, k=k, method=method),
            -sr.smooth_maximum(-a, -b, k=k, method=method),
            rtol=1e-14,
        )
    pa, pb = np.abs(a), np.abs(b)
    np.testing.assert_allclose(
        sr.smooth_maximum(pa, pb, k=3.0, method="power"), (pa**3 + pb**3) ** (1 / 3), rtol=1e-13
    )
    np.testing.assert_allclose(
        sr.smooth_minimum(pa, pb, k=3.0, method="power"), (pa**-3.0 + pb**-3.0) ** (-1 / 3), rtol=1e-13
    )
    assert sr.smooth_minimum(np.array([0.0, 0.0]), np.array([0.0, 2.0]), k=2.0, method="power").tolist() == [
        0,
        0,
    ]
    np.testing.assert_allclose(
        sr.smooth_maximum(np.zeros(2), np.array([0.0, 2.0]), k=2.0, method="power"), [0, 2]
    )


def test_elementwise_closed_forms() -> None:
    k = 2.5
    np.testing.assert_allclose(sr.smooth_abs(X, k=k), np.log(np.exp(k * X) + np.exp(-k * X)) / k, rtol=1e-13)
    np.testing.assert_allclose(sr.smooth_abs(X, k=k, method="erf"), X * sp_erf(k * X), rtol=1e-13)
    np.testing.assert_allclose(sr.smooth_abs(X, k=k, method="sqrt"), np.sqrt(X**2 + 1 / k**2), rtol=1e-13)
    np.testing.assert_allclose(sr.smooth_relu(X, k=k), np.log1p(np.exp(k * X)) / k, rtol=1e-12)
    sp = lambda z: np.log1p(np.exp(k * z)) / k  # noqa: E731
    np.testing.assert_allclose(
        sr.smooth_clamp(X, lo=-1.0, hi=0.5, k=k), -1.0 + sp(X + 1) - sp(X - 0.5), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(sr.smooth_step(X, k=k), 1 / (1 + np.exp(-k * X)), rtol=1e-13)
    # the tails to full relative precision: erfc(-kx)/2 and atan(1/|kx|)/pi, not 1/2 + (cancelling) terms
    np.testing.assert_allclose(sr.smooth_step(X, k=k, method="erf"), sp_erfc(-k * X) / 2, rtol=1e-13)
    arctan_step = np.where(X < 0, np.arctan2(1.0, -k * X) / np.pi, 0.5 + np.arctan(k * X) / np.pi)
    np.testing.assert_allclose(sr.smooth_step(X, k=k, method="arctan"), arctan_step, rtol=1e-13)
    np.testing.assert_allclose(sr.smooth_sign(X, k=k), 2 / (1 + np.exp(-k * X)) - 1, atol=1e-14)


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n.split(":")[0] in HARD])
def test_hard_limit(name: str) -> None:
    hard = HARD[name.split(":")[0]]
    x = X[np.abs(X - 0.5) > 1e-9]  # away from the maximum's kink at x = 0.5 only for the tie-free comparison
    errs = [float(np.max(np.abs(FUNCTIONS[name](x, k) - hard(x))[np.abs(x) > 0.2])) for k in (10.0, 1e3, 1e6)]
    assert errs[2] < 1e-5
    assert errs[2] <= errs[1] <= errs[0]
    np.testing.assert_array_equal(FUNCTIONS[name](x, math.inf), hard(x))


def test_argmax_limits() -> None:
    x = np.array([[0.3, 2.0, 1.0], [5.0, -1.0, 5.0]])
    np.testing.assert_allclose(sr.softmax(x, k=1e6), [[0, 1, 0], [0.5, 0, 0.5]])
    np.testing.assert_array_equal(sr.softmax(x, k=math.inf), [[0, 1, 0], [0.5, 0, 0.5]])
    np.testing.assert_allclose(sr.soft_argmax(x, k=1e6), [1.0, 1.0])
    np.testing.assert_allclose(
        sr.soft_onehot(np.array([0.4, 2.6, 7.0, -3.0]), n=3, k=1e6),
        [[1, 0, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0]],
    )
    np.testing.assert_allclose(np.sum(sr.soft_onehot(np.linspace(-1, 4, 11), n=4, k=0.3), axis=-1), 1.0)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_backends_agree(name: str) -> None:
    fn = FUNCTIONS[name]
    x = np.linspace(-2.0, 2.0, 9).reshape(3, 3)
    ref = fn(x, 3.0)
    out_t = fn(torch.tensor(x), 3.0)
    assert isinstance(out_t, torch.Tensor)
    assert out_t.dtype == torch.float64
    np.testing.assert_allclose(out_t.numpy(), ref, rtol=1e-12, atol=1e-14)
    with jax.enable_x64(True):
        out_j = fn(jnp.asarray(x), 3.0)
        assert isinstance(out_j, jax.Array)
        np.testing.assert_allclose(np.asarray(out_j), ref, rtol=1e-12, atol=1e-14)
        out_jit = jax.jit(lambda v: fn(v, 3.0))(jnp.asarray(x))
        np.testing.assert_allclose(np.asarray(out_jit), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_gradients_torch_and_jax(name: str) -> None:
    fn = FUNCTIONS[name]
    x = np.array([[-1.3, -0.2, 0.0], [0.1, 0.7, 2.4]])
    t = torch.tensor(x, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: fn(v, 2.0), (t,))
    with jax.enable_x64(True):
        check_grads(lambda v: fn(v, 2.0), (jnp.asarray(x),), order=1, modes=("fwd", "rev"))
    (g_t,) = torch.autograd.grad(fn(t, 2.0).sum(), t)
    with jax.enable_x64(True):
        g_j = jax.grad(lambda v: jnp.sum(fn(v, 2.0)))(jnp.asarray(x))
    np.testing.assert_allclose(g_t.numpy(), np.asarray(g_j), rtol=1e-10, atol=1e-12)


def test_pairwise_gradients_in_both_operands() -> None:
    for method in ("logsumexp", "boltzmann", "erf", "sqrt", "power"):
        for f in (sr.smooth_maximum, sr.smooth_minimum):
            a = torch.tensor([0.2, 1.0, 3.0, 0.5], dtype=torch.float64, requires_grad=True)
            b = torch.tensor([[0.7], [1.0]], dtype=torch.float64, requires_grad=True)
            assert torch.autograd.gradcheck(lambda u, v, f=f, m=method: f(u, v, k=2.0, method=m), (a, b))
            with jax.enable_x64(True):
                check_grads(
                    lambda u, v, f=f, m=method: f(u, v, k=2.0, method=m),
                    (jnp.asarray(a.detach().numpy()), jnp.asarray(b.detach().numpy())),
                    order=1,
                )
    # at a tie each operand gets 1/2, and autodiff of the stable form would not
    a = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    sr.smooth_maximum(a, b, k=5.0).backward()
    assert (a.grad, b.grad) == (0.5, 0.5)


def test_kink_derivatives() -> None:
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    for fn, expected in [
        (lambda v: sr.smooth_abs(v, k=3.0), 0.0),
        (lambda v: sr.smooth_relu(v, k=3.0), 0.5),
        (lambda v: sr.smooth_step(v, k=4.0), 1.0),
        (lambda v: sr.smooth_sign(v, k=4.0), 2.0),
    ]:
        (g,) = torch.autograd.grad(fn(z).sum(), z)
        assert float(g) == expected
    assert float(jax.grad(lambda v: sr.smooth_relu(v, k=3.0))(0.0)) == 0.5


def test_double_backward() -> None:
    t = torch.tensor([0.3, -0.1], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda v: sr.smooth_abs(v, k=2.0, method="erf"), (t,))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_stable_at_extreme_sharpness(name: str) -> None:
    fn = FUNCTIONS[name]
    x = np.array([[-1e3, -1.0, 0.0], [1e-3, 1.0, 1e3]])
    for dtype in (torch.float64, torch.float32):
        t = torch.tensor(x, dtype=dtype, requires_grad=True)
        out = fn(t, 1e6)
        (g,) = torch.autograd.grad(out.sum(), t)
        assert torch.isfinite(out).all()
        assert torch.isfinite(g).all()
    g_j = jax.grad(lambda v: jnp.sum(fn(v, 1e6)))(jnp.asarray(x, dtype=jnp.float32))
    assert np.isfinite(np.asarray(g_j)).all()
    assert np.isfinite(fn(x, 1e6)).all()
    assert np.isfinite(fn(x, 1e-6)).all()


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_dtype_kept(name: str) -> None:
    fn = FUNCTIONS[name]
    x = np.array([[-1.0, 0.0, 0.5], [1.0, 2.0, 3.0]])
    ref = fn(x, 2.0)
    for dtype, tol in ((torch.float16, 5e-3), (torch.bfloat16, 3e-2), (torch.float32, 1e-6)):
        out = fn(torch.tensor(x, dtype=dtype), 2.0)
        assert out.dtype == dtype
        np.testing.assert_allclose(out.float().numpy(), ref, rtol=tol, atol=tol)
    for dtype in (jnp.float16, jnp.bfloat16, jnp.float32):
        assert fn(jnp.asarray(x, dtype=dtype), 2.0).dtype == dtype
    assert fn(x.astype(np.float16), 2.0).dtype == np.float16
    assert fn(x.astype(np.float32), 2.0).dtype == np.float32
    assert fn(np.array([[-1, 0, 1], [1, 2, 3]]), 2.0).dtype == np.float64
    t16 = torch.tensor(x, dtype=torch.float16, requires_grad=True)
    fn(t16, 2.0).float().sum().backward()
    assert t16.grad is not None
    assert t16.grad.dtype == torch.float16


@settings(max_examples=40, deadline=None)
@given(
    x=arrays(
        np.float64,
        array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements=st.floats(-50, 50, allow_nan=False),
    ),
    k=st.floats(1e-3, 1e4),
)
def test_properties_hypothesis(x: np.ndarray, k: float) -> None:
    lse = sr.smooth_max(x, k=k, axis=-1)
    hard = np.max(x, axis=-1)
    n = x.shape[-1]
    assert np.all(lse >= hard - 1e-9 * (1 + np.abs(hard)))
    assert np.all(lse <= hard + math.log(n) / k + 1e-9 * (1 + np.abs(hard)))
    boltz = sr.smooth_max(x, k=k, axis=-1, method="boltzmann")
    assert np.all(boltz <= hard + 1e-9 * (1 + np.abs(hard)))
    assert np.all(
        boltz
        >= hard - sr.bounds("smooth_max:boltzmann", k, n=max(n, 2)).sup_error - 1e-9 * (1 + np.abs(hard))
    )
    s = sr.softmax(x, k=k)
    np.testing.assert_allclose(np.sum(s, axis=-1), 1.0, rtol=1e-12)
    c = sr.smooth_clamp(x, lo=-1.0, hi=1.0, k=k)
    assert np.all((c >= -1.0) & (c <= 1.0))
    assert np.all(np.abs(c - np.clip(x, -1, 1)) <= math.log(2) / k + 1e-12)
    with jax.enable_x64(True):
        out = jax.jit(lambda v: sr.smooth_abs(v, k=k))(jnp.asarray(x))
        np.testing.assert_allclose(np.asarray(out), sr.smooth_abs(x, k=k), rtol=1e-12)


def test_torch_compile_fullgraph() -> None:
    # fullgraph capture is the point; aot_eager avoids inductor (its C++ toolchain, deprecation warnings)
    fn = torch.compile(
        lambda v: sr.smooth_max(v, k=3.0) + sr.softmax(v, k=2.0).sum(-1), fullgraph=True, backend="aot_eager"
    )
    x = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64).reshape(2, 3)
    np.testing.assert_allclose(fn(x).numpy(), (sr.smooth_max(x, k=3.0) + 1.0).numpy(), rtol=1e-12)


def test_import_pulls_no_framework() -> None:
    import subprocess
    import sys

    code = "import sys, smoothround; assert 'torch' not in sys.modules and 'jax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
