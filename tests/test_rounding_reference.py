"""Values and derivatives against the 50-digit references, for every method, dtype and backend."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpmath import mp, mpf
from tests.conftest import load_reference

import smoothround as sr

ROWS = load_reference()
# method in the CSV -> (function, method keyword)
FUNCTIONS = {
    "round_window": (sr.round, "window"),
    "round_density": (sr.round, "density"),
    "floor_sigmoid": (sr.floor, "window"),
    "soft_round": (sr.round, "tanh"),
}
KS = sorted({float(r["k"]) for r in ROWS})


def _rows(method: str, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chosen = [r for r in ROWS if r["method"] == method and float(r["k"]) == k]
    assert len(chosen) == 20
    x = np.array([float(r["x"]) for r in chosen])
    value = np.array([float(mpf(r["value"])) for r in chosen])
    deriv = np.array([float(mpf(r["derivative"])) for r in chosen])
    return x, value, deriv


def _ulp_error(got: np.ndarray, want: np.ndarray, dtype: type) -> np.ndarray:
    return np.abs(got.astype(np.float64) - want) / np.spacing(
        np.maximum(np.abs(want), 1.0).astype(dtype)
    ).astype(np.float64)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("method", sorted(FUNCTIONS))
def test_float64_values_within_two_ulp(method: str, k: float) -> None:
    fn, kw = FUNCTIONS[method]
    x, value, _ = _rows(method, k)
    got = fn(x, k, method=kw)
    assert got.dtype == np.float64
    # error measured in ulps of max(|value|, 1): values near 0 are held to an absolute 2^-52 scale
    assert np.max(_ulp_error(got, value, np.float64)) <= 2.0


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("method", sorted(FUNCTIONS))
def test_float64_derivatives_relative(method: str, k: float) -> None:
    fn, kw = FUNCTIONS[method]
    x, _, deriv = _rows(method, k)
    got = sr.derivative(fn, x, k, method=kw)
    np.testing.assert_allclose(got, deriv, rtol=5e-14, atol=0)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("method", sorted(FUNCTIONS))
def test_float32_values_within_1e_6(method: str, k: float) -> None:
    """float32 within 1e-6 (relative to max(|value|, 1): at |x| = 1000 a float32 ulp is 6e-5) for |x| < 1e4,
    allowing for the float32 input being another number (|r'| |x32 - x64|)."""
    fn, kw = FUNCTIONS[method]
    x, value, deriv = _rows(method, k)
    small = np.abs(x) < 1e4
    x32 = x.astype(np.float32)
    got = fn(x32, k, method=kw)
    assert got.dtype == np.float32
    shift = np.abs(deriv) * np.abs(x32.astype(np.float64) - x)
    err = (np.abs(got.astype(np.float64) - value) - shift) / np.maximum(np.abs(value), 1.0)
    assert np.max(err[small]) <= 1e-6
    # beyond 1e4, float32 still keeps the offset precision: within one float32 ulp of the value
    assert np.all(
        np.abs(got[~small].astype(np.float64) - value[~small]) - shift[~small]
        <= np.spacing(np.abs(value[~small]).astype(np.float32))
    )


def test_soft_round_inverse_is_not_part_of_the_api_but_soft_round_matches_its_reference() -> None:
    # soft_round_inverse rows exist in the CSV; the library's tanh method is the forward map, and
    # round(inverse(z)) == z is the relation the reference was built on.
    rows = [r for r in ROWS if r["method"] == "soft_round_inverse" and float(r["k"]) == 5.0]
    z = np.array([float(r["x"]) for r in rows])
    inverse = np.array([float(mpf(r["value"])) for r in rows])
    mask = np.abs(z) < 1e3
    np.testing.assert_allclose(sr.round(inverse[mask], 5.0, method="tanh"), z[mask], rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [0.5, 2.0, 10.0, 200.0])
def test_ceil_is_floor_plus_one(k: float) -> None:
    x = np.linspace(-3, 3, 601)
    np.testing.assert_allclose(sr.ceil(x, k), sr.floor(x, k) + 1.0, rtol=0, atol=4e-15)
    np.testing.assert_allclose(
        sr.derivative(sr.ceil, x, k), sr.derivative(sr.floor, x, k), rtol=1e-12, atol=1e-300
    )


def test_mpmath_is_independent_check_of_the_pair_form() -> None:
    """An independent evaluation (mpmath, untruncated telescoped sum) at points the CSV lacks."""
    mp.dps = 40
    k = 3.3
    for x in (0.123, -0.377, 7.49):
        exact = sum(
            mp.mpf(1) / (1 + mp.exp(-k * (mp.mpf(x) - n + mp.mpf("0.5")))) - (1 if n <= 0 else 0)
            for n in range(-80, 90)
        )
        assert math.isclose(float(sr.round(x, k)), float(exact), rel_tol=0, abs_tol=4e-15)


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("method", sorted(FUNCTIONS))
def test_torch_and_jax_against_the_references(backend: str, method: str) -> None:
    """Each backend on its own: float64 values within 2 ulp and autodiff derivatives within 5e-14 relative,
    float32 within 1e-6 relative (|x| < 1e4), at every k of the reference table."""
    fn, kw = FUNCTIONS[method]
    if backend == "torch":
        torch = pytest.importorskip("torch")

        def value_and_grad(x: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
            t = torch.tensor(x, requires_grad=True)
            out = fn(t, k, method=kw)
            (g,) = torch.autograd.grad(out.sum(), t)
            return out.detach().numpy(), g.numpy()

        def value32(x: np.ndarray, k: float) -> np.ndarray:
            return fn(torch.tensor(x, dtype=torch.float32), k, method=kw).numpy()
    else:
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy

        def value_and_grad(x: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
            v = jnp.asarray(x, dtype=jnp.float64)
            out = fn(v, k, method=kw)
            g = jax.grad(lambda a: fn(a, k, method=kw).sum())(v)
            return np.asarray(out), np.asarray(g)

        def value32(x: np.ndarray, k: float) -> np.ndarray:
            return np.asarray(fn(jnp.asarray(x, dtype=jnp.float32), k, method=kw))

    for k in KS:
        x, value, deriv = _rows(method, k)
        got, grad = value_and_grad(x, k)
        assert got.dtype == np.float64
        assert np.max(_ulp_error(got, value, np.float64)) <= 2.0
        np.testing.assert_allclose(grad, deriv, rtol=5e-14, atol=0)
        x32 = x.astype(np.float32)
        small = np.abs(x) < 1e4
        got32 = value32(x32, k)
        assert got32.dtype == np.float32
        shift = np.abs(deriv) * np.abs(x32.astype(np.float64) - x)
        err = (np.abs(got32.astype(np.float64) - value) - shift) / np.maximum(np.abs(value), 1.0)
        assert np.max(err[small]) <= 1e-6
