"""round_inverse and round_conditional_mean (docs/mathematics.md §11): values against an mpmath oracle that
bisects the defining formulas, round trips on dense grids, the fixed Newton iteration count, gradients,
tensorflow-compression's soft_round_inverse and soft_round_conditional_mean, the conditional mean against a
quadrature of its definition, hard limits, non-finite and bad input.

Accuracy is measured against the conditioning of the inverse: ``dx/dy = 1 / r'(x)`` is huge near the integers
for large k, so the unit of error is ``eps * (|x| + max(|y|, 1) / r'(x))``, the error that one rounding of y
(and of x) causes.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
from mpmath import mp, mpf
from tests.conftest import load_reference

import smoothround as sr
from smoothround import inverse as inv_mod
from smoothround._backends import apply
from smoothround.inverse import round_conditional_mean, round_inverse

METHODS = ["window", "density", "tanh"]
EPS64 = 2.0**-52
EPS32 = 2.0**-23


# ================================================================================ the mpmath oracle
# The defining formulas of docs/mathematics.md §1 in offset form t(u) = r(c + u) - c (exact by r(x+1) = r(x)+1),
# each rewritten without cancellation by exact identities, evaluated at 50 digits: no code of the library.


@functools.lru_cache(maxsize=64)
def _constants(method: str, k: float) -> tuple:
    """Everything of the oracle's sums that depends on k only, at 50 digits (cached per k)."""
    with mp.workdps(50):
        kk = mpf(k)
        if k >= 5:  # direct sums over the nearest integers, terms below 1e-48
            n = int(mp.ceil(110 / kk)) + 2
            if method == "window":
                return tuple(mp.exp(-kk * (j - mpf(1) / 2)) for j in range(1, n + 1))
            return tuple(mp.sinh(kk * j) for j in range(1, n + 1))
        coefficients = []  # Poisson duals: harmonics with z_m = 2 pi^2 m / k below 120
        m = 1
        while (z := 2 * mp.pi**2 * m / kk) < 120:
            sh = mp.sinh(z)
            if method == "window":
                coefficients.append((-1) ** m * (2 * mp.pi / kk) / sh)
            else:
                coefficients.append(((sh - z * mp.cosh(z)) / sh**2, 2 * z / sh))
            m += 1
        return tuple(coefficients)


def _harmonics(u: mpf, count: int) -> list:
    """e^{2 pi i m u}, m = 1..count, by powers of one exponential."""
    first = mp.expjpi(2 * u)
    powers = [first]
    for _ in range(count - 1):
        powers.append(powers[-1] * first)
    return powers


def _offset_window(u: mpf, k: mpf) -> mpf:
    """sum_n n [sigma(k(u-n+1/2)) - sigma(k(u-n-1/2))] telescoped and paired around the centre:
    sum_{j>=1} [sigma(k(u - h_j)) - sigma(-k(u + h_j))], h_j = j - 1/2, each pair written as
    2 e^{-k h_j} sinh(ku) / ((1 + e^{-k h_j} e^{ku})(1 + e^{-k h_j} e^{-ku})), with no cancellation at small u.
    Below k = 5 its Poisson dual u + (2 pi/k) sum (-1)^m sin(2 pi m u) / sinh(2 pi^2 m / k)."""
    constants = _constants("window", float(k))
    if k >= 5:
        up = mp.exp(k * u)
        down = 1 / up
        sinh_ku = mp.sinh(k * u)
        return mp.fsum(2 * e * sinh_ku / ((1 + e * up) * (1 + e * down)) for e in constants)
    if not constants:
        return u
    return u + mp.fsum(a * w.imag for a, w in zip(constants, _harmonics(u, len(constants)), strict=True))


def _offset_density(u: mpf, k: mpf) -> mpf:
    """sum_n n rho(k(u-n)) / sum_n rho(k(u-n)), rho(z) = 1 / (4 cosh^2(z/2)), the numerator paired as
    sum_{n>=1} n [rho(k(n-u)) - rho(k(n+u))] = sum n sinh(kn) sinh(ku) / (4 cosh^2(k(n-u)/2) cosh^2(k(n+u)/2))
    (cosh^2 a - cosh^2 b = sinh(a + b) sinh(a - b)). Below k = 5 its
    Poisson dual u + (2 pi/k) N/D, N = sum h'(z_m) sin(2 pi m u), D = 1 + 2 sum h(z_m) cos(2 pi m u)."""
    constants = _constants("density", float(k))
    if k >= 5:
        ch = mp.cosh(k * u / 2)
        sinh_ku = mp.sinh(k * u)
        num = den = mpf(0)
        for n, sinh_kn in enumerate(constants, start=1):
            minus, plus = mp.cosh(k * (n - u) / 2), mp.cosh(k * (n + u) / 2)
            num += n * sinh_kn * sinh_ku / (4 * minus**2 * plus**2)
            den += 1 / (4 * minus**2) + 1 / (4 * plus**2)
        return num / (den + 1 / (4 * ch**2))
    if not constants:
        return u
    waves = _harmonics(u, len(constants))
    num = mp.fsum(h1 * w.imag for (h1, _), w in zip(constants, waves, strict=True))
    den = 1 + mp.fsum(h0 * w.real for (_, h0), w in zip(constants, waves, strict=True))
    return u + (2 * mp.pi / k) * num / den


def _offset_tanh(u: mpf, k: mpf) -> mpf:
    """soft_round m + 1/2 + tanh(k(y - m - 1/2)) / (2 tanh(k/2)) around the nearest integer, for u >= 0 as
    sinh(ku) / (2 sinh(k/2) cosh(k(1/2 - u))) (tanh a - tanh b = sinh(a - b) / (cosh a cosh b))."""
    s = abs(u)
    t = mp.sinh(k * s) / (2 * mp.sinh(k / 2) * mp.cosh(k * (mpf(1) / 2 - s)))
    return t if u >= 0 else -t


OFFSET = {"window": _offset_window, "density": _offset_density, "tanh": _offset_tanh}


def oracle_round(x: float, k: float, method: str) -> mpf:
    with mp.workdps(50):
        c = mp.nint(mpf(x))
        return c + OFFSET[method](mpf(x) - c, mpf(k))


def oracle_inverse(y: float, k: float, method: str, hint: float) -> tuple[mpf, mpf]:
    """The x with r(x) = y, by bisection of t(u) = y - round(y) on [-1/2, 1/2] to a bracket of 1e-28
    relatively, and r'(x). The hint (the library's answer) only narrows the first bracket, after the definition has confirmed
    that the narrowed bracket holds the root."""
    with mp.workdps(50):
        kk = mpf(k)
        c = mp.nint(mpf(y))
        v = mpf(y) - c
        fn = OFFSET[method]
        if v == 0 or abs(v) == mpf(1) / 2:
            x = mpf(y)
        else:
            lo, hi = mpf(-0.5), mpf(0.5)
            h = mpf(hint) - c
            for relative in (1e-13, 1e-6):
                width = mpf(relative) * max(abs(h), mpf(10) ** -300)
                a, b = max(lo, h - width), min(hi, h + width)
                if fn(a, kk) <= v <= fn(b, kk):
                    lo, hi = a, b
                    break
            while hi - lo > mpf(10) ** -28 * max(abs(lo), abs(hi)):
                mid = (lo + hi) / 2
                if fn(mid, kk) > v:
                    hi = mid
                else:
                    lo = mid
            x = c + (lo + hi) / 2
        return x, mp.diff(lambda u: fn(u, kk), x - c)


# ================================================================================ values


ORACLE_K = [1e-3, 0.5, 2.0, 4.5, 10.0, 50.0, 1e3, 1e5]
ORACLE_Y = [0.0, 1e-12, 0.01, 0.1, 0.3, 0.49, 0.5 - 1e-9, 0.73, -1.3, 2.999, -1000.2]


@pytest.mark.parametrize("method", METHODS)
def test_values_against_mpmath_within_the_conditioning(method: str) -> None:
    """Worst measured: window 0.28, density 0.30, tanh 0.42 units of eps (|x| + max(|y|,1) / r'(x)), over k
    from 1e-3 to 1e5; the torch gradient is 1 / r'(x) to within what the error of x allows."""
    worst = 0.0
    for k in ORACLE_K:
        got = round_inverse(np.array(ORACLE_Y), k, method=method)
        assert got.dtype == np.float64
        y_torch = _torch().tensor(ORACLE_Y, dtype=_torch().float64, requires_grad=True)
        (grad,) = _torch().autograd.grad(round_inverse(y_torch, k, method=method).sum(), y_torch)
        for y, g, dg in zip(ORACLE_Y, got, grad.numpy(), strict=True):
            x, slope = oracle_inverse(y, k, method, float(g))
            unit = EPS64 * (abs(x) + max(abs(y), 1.0) / slope)
            worst = max(worst, float(abs(mpf(g) - x) / unit))
            # 1/r' at the computed x: off by |r''/r'| |x - x*| <= 2k |x - x*| relatively (and clipped to the
            # largest float where it overflows)
            want = min(float(1 / slope), np.finfo(np.float64).max / 2)
            assert math.isclose(float(dg), want, rel_tol=1e-12 + 8 * k * float(unit)), (k, y)
    assert worst <= 2.0


def test_soft_round_inverse_against_the_40_digit_references() -> None:
    """tests/data/reference_values.csv holds soft_round_inverse at 7 k x 20 y with its derivative."""
    rows = [r for r in load_reference() if r["method"] == "soft_round_inverse"]
    assert len(rows) == 140
    y = np.array([float(r["x"]) for r in rows])
    k = np.array([float(r["k"]) for r in rows])
    want = np.array([float(mpf(r["value"])) for r in rows])
    slope = np.array([float(mpf(r["derivative"])) for r in rows])
    torch = _torch()
    yt = torch.tensor(y, requires_grad=True)
    got = round_inverse(yt, torch.tensor(k), method="tanh")
    (grad,) = torch.autograd.grad(got.sum(), yt)
    unit = EPS64 * (np.abs(want) + np.maximum(np.abs(y), 1.0) * slope)
    assert np.max(np.abs(got.detach().numpy() - want) / unit) <= 2.0
    np.testing.assert_allclose(grad.numpy(), slope, rtol=1e-12)


@pytest.mark.parametrize("method", ["window", "density"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiny_y_keep_their_relative_precision(method: str, dtype: type) -> None:
    """Around 0 y is exact and the inverse can be relatively accurate. The direct sums (k >= 4.5) hold t only to
    eps absolutely, so near 0 s t'(s) takes over (docs/mathematics.md §11.2): for k x far below or above the
    switch at 1.5 eps^(1/3) the result is within a few ulp, at the switch within 3e-10 (float64) and 4e-5
    (float32) relatively (measured worst over k from 5 to 300: 2.3e-10 and 3.5e-5)."""
    eps = float(np.finfo(dtype).eps)
    for k in (5.0, 50.0):
        x_true = np.logspace(-9, -0.5, 12) / k  # k x across the switch
        ys = sr.round(x_true, k, method=method).astype(dtype)
        ys = np.concatenate([ys[ys > 0], [1e-300 if dtype == np.float64 else 1e-37]]).astype(dtype)
        got = round_inverse(ys, k, method=method)
        for i, (y, g) in enumerate(zip(ys, got, strict=True)):
            x, _ = oracle_inverse(float(y), k, method, float(g))
            relative = float(abs(mpf(float(g)) - x) / x)
            assert relative <= (4 * eps if i == len(ys) - 1 else (5e-10 if dtype == np.float64 else 1e-4)), (k, y)


# ================================================================================ round trips

RT_K = [1e-3, 0.1, 0.5, 1.0, 2.0, 4.4, 4.5, 7.0, 20.0, 100.0, 1e3, 1e4, 1e5, 1e6]
RT_X = np.concatenate([np.linspace(-3.0, 3.0, 3001), [0.0, 1e-300, 1e-20, 0.5, 0.5 - 1e-12, 1e5 + 0.3, -1e7 + 0.49]])


def _round_trip_errors(method: str, dtype: type, k: float, inverse: object = round_inverse) -> tuple[float, float]:
    """(A) y -> x = r^{-1}(y) -> r(x): |r(x) - y| in units of eps (max(|y|, 1) + r'(x) |x|) (the rounding of
    y, and of x amplified by r'). (B) x -> y = r(x) -> r^{-1}(y): |x' - x| in units of
    eps (|x| + max(|y|, 1) / min r') with min r' over [x, x'] (the mean value theorem: where the rounded y is an
    integer for large k, x' is that integer and the bound is as wide as the inverse is steep). r and r' in
    float64 at the float32 values for float32."""
    eps = float(np.finfo(dtype).eps)
    y = RT_X.astype(dtype)
    x = inverse(y, k, method=method)  # type: ignore[operator]
    assert x.dtype == dtype
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    back = sr.round(x64, k, method=method)
    slope = sr.derivative(sr.round, x64, k, method=method)
    err_a = np.abs(back - y64) / (eps * (np.maximum(np.abs(y64), 1.0) + slope * np.abs(x64)))

    xs = RT_X.astype(dtype)
    ys = sr.round(xs, k, method=method)
    again = inverse(ys, k, method=method).astype(np.float64)  # type: ignore[operator]
    xs64 = xs.astype(np.float64)
    slopes = np.minimum(sr.derivative(sr.round, xs64, k, method=method), sr.derivative(sr.round, again, k, method=method))
    # an integer between x and x' holds the smallest slope of the period (docs/mathematics.md P6)
    between = np.floor(np.maximum(xs64, again)) >= np.minimum(xs64, again)
    slopes = np.where(between, np.minimum(slopes, sr.derivative(sr.round, np.floor(np.maximum(xs64, again)), k, method=method)), slopes)
    with np.errstate(divide="ignore", over="ignore"):
        unit = eps * (np.abs(xs64) + np.maximum(np.abs(ys.astype(np.float64)), 1.0) / slopes)
    err_b = np.abs(again - xs64) / unit
    return float(err_a.max()), float(err_b.max())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trips_on_dense_grids(method: str, dtype: type) -> None:
    """Worst measured (A, B): float64 window 0.58/0.75, density 0.59/0.93, tanh 0.84/0.73; float32 window
    0.50/0.50, density 0.61/0.91, tanh 0.71/0.99."""
    worst = np.array([0.0, 0.0])
    for k in RT_K:
        worst = np.maximum(worst, _round_trip_errors(method, dtype, k))
    assert worst[0] <= 2.0 and worst[1] <= 2.0, worst


@pytest.mark.parametrize("method", METHODS)
def test_conditional_mean_round_trip(method: str) -> None:
    """The conditional mean m(y) satisfies r(m(y) - 1/2) = y - 1/2, to within the rounding of y and of m - 1/2
    (amplified by r'), as in test_round_trips_on_dense_grids (A). Worst measured: 2.4 (density, k = 20) units
    of eps (max(|y|, 1) + r' max(|m|, |m - 1/2|))."""
    y = np.linspace(-2.0, 2.0, 801) + 0.5
    for k in (0.5, 4.5, 20.0, 1e3):
        m = round_conditional_mean(y, k, method=method)
        slope = sr.derivative(sr.round, m - 0.5, k, method=method)
        err = np.abs(sr.round(m - 0.5, k, method=method) - (y - 0.5))
        unit = EPS64 * (np.maximum(np.abs(y), 1.0) + slope * np.maximum(np.abs(m), np.abs(m - 0.5)))
        assert np.max(err / unit) <= 4.0, k


@pytest.mark.parametrize(("backend", "dtype"), [("torch", "float64"), ("torch", "float32"), ("jax", "float32")])
def test_torch_and_jax_agree_with_numpy(backend: str, dtype: str) -> None:
    """Within 2 units of the conditioning of NumPy's result (JAX float64 is exercised by the derivative tests)."""
    y = np.linspace(-2.5, 2.5, 1002).astype(dtype)
    k = np.resize(np.array([2.0, 30.0, 1e6], dtype=dtype), y.shape)  # one array k: every form at once
    for method in METHODS:
        want = round_inverse(y, k, method=method)
        got = _to_numpy(round_inverse(_array(backend, y), _array(backend, k), method=method))
        assert got.dtype == np.dtype(dtype)
        slope = sr.derivative(sr.round, want.astype(np.float64), k.astype(np.float64), method=method)
        with np.errstate(divide="ignore", over="ignore"):
            unit = np.finfo(dtype).eps * (np.abs(want) + 1.0 / slope)
        assert np.all(np.abs(got.astype(np.float64) - want) <= 2 * unit), method


# ================================================================================ the Newton iteration


@pytest.mark.parametrize("method", ["window", "density"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fixed_iteration_count_reaches_the_solution(method: str, dtype: type) -> None:
    """Against 30 steps, over an array of 45 k from 1e-3 to 1e8 and y on [0, 1/2] (both of its ends, tiny and
    near-tie values included): the steps needed to be within one unit of the conditioning are measured, and the
    library keeps two more. Measured: float64 window 4, density 5; float32 window 3, density 4 (the worst k is
    about 4.2, where the Fourier range starts from the identity)."""
    eps = float(np.finfo(dtype).eps)
    rng = np.random.default_rng(0)
    y = np.concatenate(
        [np.linspace(0.0, 0.5, 201), 0.5 * rng.random(200), np.logspace(-30, -1, 30), 0.5 - np.logspace(-30, -1, 30)]
    ).astype(dtype)[None, :]
    k = np.logspace(-3, 8, 45)[:, None]
    op, prepared, params = inv_mod._build("inverse", y, k, method, None)
    name = "float64" if dtype == np.float64 else "float32"
    assert op.iterations == inv_mod.ITERATIONS[name]
    exact = apply(dataclasses.replace(op, iterations=30), prepared, params).astype(np.float64)
    slope = sr.derivative(sr.round, exact, np.broadcast_to(k, exact.shape), method=method)
    with np.errstate(divide="ignore", over="ignore"):
        unit = eps * (np.abs(exact) + 1.0 / slope)

    def error(steps: int) -> float:
        got = apply(dataclasses.replace(op, iterations=steps), prepared, params).astype(np.float64)
        return float(np.max(np.abs(got - exact) / unit))

    needed = next(n for n in range(1, 30) if error(n) <= 1.0)
    assert 2 <= needed <= op.iterations - 2
    assert error(op.iterations) <= 1.0


# ================================================================================ gradients

GRAD_Y = np.linspace(-2.9, 2.9, 13) + 0.013  # off the integers, where the steep inverse defeats finite differences


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [0.7, 3.0, 4.5, 6.0, 20.0])
def test_torch_gradcheck_in_y_and_k(method: str, k: float) -> None:
    torch = _torch()
    y = torch.tensor(GRAD_Y, requires_grad=True)
    kk = torch.tensor(k, dtype=torch.float64, requires_grad=True)
    for fn in (round_inverse, round_conditional_mean):
        assert torch.autograd.gradcheck(lambda a, b, fn=fn: fn(a, b, method=method), (y, kk), eps=1e-7, fast_mode=True)


@pytest.mark.parametrize("method", METHODS)
def test_jax_derivatives_against_finite_differences_and_torch(method: str) -> None:
    """Forward mode (jvp) in y and in an array k against central differences; reverse mode (grad) against torch,
    under jit for the closed-form tanh method (eager JAX compiles every primitive on first use: the Newton
    methods' reverse mode is checked at a Python-number k, where the graph is smallest)."""
    jax, jnp = _jax()
    torch = _torch()
    y = jnp.asarray(GRAD_Y)
    h = 1e-6
    kk = jnp.asarray(np.resize([0.7, 20.0], y.shape))  # an array k: the Fourier and the direct forms at once
    for fn in (round_inverse, round_conditional_mean):
        f = lambda a, b, fn=fn: fn(a, b, method=method)  # noqa: E731
        _, ty = jax.jvp(lambda a, f=f, kk=kk: f(a, kk), (y,), (jnp.ones_like(y),))
        _, tk = jax.jvp(lambda b, f=f: f(y, b), (kk,), (jnp.ones_like(kk),))
        np.testing.assert_allclose(np.asarray(ty), np.asarray(f(y + h, kk) - f(y - h, kk)) / (2 * h), rtol=1e-6)
        fd_k = np.asarray(f(y, kk + h) - f(y, kk - h)) / (2 * h)
        np.testing.assert_allclose(np.asarray(tk), fd_k, rtol=1e-5, atol=1e-9)
    yt = torch.tensor(GRAD_Y, requires_grad=True)
    if method == "tanh":
        grad = jax.jit(jax.grad(lambda a, b: round_conditional_mean(a, b, method=method).sum(), argnums=(0, 1)))
        g = grad(y, jnp.asarray(4.5))
        kt = torch.tensor(4.5, dtype=torch.float64, requires_grad=True)
        round_conditional_mean(yt, kt, method=method).sum().backward()
        np.testing.assert_allclose(float(g[1]), float(kt.grad), rtol=1e-12)
    else:
        g = (jax.grad(lambda a: round_conditional_mean(a, 6.0, method=method).sum())(y),)
        round_conditional_mean(yt, 6.0, method=method).sum().backward()
    np.testing.assert_allclose(np.asarray(g[0]), yt.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("method", METHODS)
def test_gradients_are_the_implicit_function_theorem(method: str) -> None:
    """dx/dy r'(x) = 1 and dx/dk = -(dr/dk) / r'(x), with the forward partials of smoothround.derivative."""
    torch = _torch()
    y = torch.tensor(np.linspace(-1.7, 1.7, 341), requires_grad=True)
    k = torch.full((341,), 12.0, dtype=torch.float64, requires_grad=True)  # one k per y: elementwise dx/dk
    x = round_inverse(y, k, method=method)
    gy, gk = torch.autograd.grad(x.sum(), (y, k))
    xn = x.detach().numpy()
    slope = sr.derivative(sr.round, xn, 12.0, method=method)
    dk = sr.derivative(sr.round, xn, 12.0, method=method, wrt="k")
    np.testing.assert_allclose(gy.numpy() * slope, 1.0, rtol=1e-13)
    # where dr/dk vanishes (x at an integer or a half-integer) both sides are rounding noise, below 1e-12 of the rest
    np.testing.assert_allclose(gk.numpy(), -dk / slope, rtol=1e-12, atol=1e-12 * float(np.max(np.abs(dk / slope))))


def test_torch_compile_and_vmap() -> None:
    torch = _torch()
    from torch.func import grad, vmap

    y = torch.tensor([[0.1, 0.3, 1.7], [-0.2, 0.45, 2.5]], dtype=torch.float64)
    per_row = vmap(grad(lambda v: round_inverse(v, 5.0).sum()))(y)
    t = y.clone().requires_grad_()
    round_inverse(t, 5.0).sum().backward()
    torch.testing.assert_close(per_row, t.grad, rtol=1e-14, atol=0)
    # the whole graph is captured (fullgraph); the Newton methods compile too, but inductor takes about a minute
    # on a 2-core machine for their 7 unrolled steps, so the test compiles the closed-form tanh method
    compiled = torch.compile(lambda v, k: round_conditional_mean(v, k, method="tanh"), fullgraph=True, backend="eager")
    u = y.clone().requires_grad_()
    compiled(u, torch.tensor(5.0, dtype=torch.float64)).sum().backward()
    eager = y.clone().requires_grad_()
    round_conditional_mean(eager, torch.tensor(5.0, dtype=torch.float64), method="tanh").sum().backward()
    torch.testing.assert_close(u.grad, eager.grad, rtol=1e-12, atol=0)


# ================================================================================ tensorflow-compression


def tfc_soft_round_inverse(y: np.ndarray, alpha: float, eps: float = 1e-3) -> np.ndarray:
    """tensorflow_compression/python/ops/round_ops.py, line by line in NumPy (in y's dtype)."""
    y = np.asarray(y)
    dt = y.dtype.type
    alpha_bounded = dt(max(alpha, eps))
    m = np.floor(y) + dt(0.5)
    s = (y - m) * (np.tanh(alpha_bounded / dt(2)) * dt(2))
    with np.errstate(divide="ignore"):
        r = np.arctanh(s) / alpha_bounded
    r = np.clip(r, dt(-0.5), dt(0.5))
    return y if alpha < eps else m + r


def tfc_soft_round_conditional_mean(y: np.ndarray, alpha: float) -> np.ndarray:
    y = np.asarray(y)
    return tfc_soft_round_inverse(y - y.dtype.type(0.5), alpha) + y.dtype.type(0.5)


@pytest.mark.parametrize("alpha", [1e-3, 0.5, 2.0, 5.0, 12.0, 30.0])
def test_tanh_equals_tfc_where_its_formula_is_accurate(alpha: float) -> None:
    """Away from the integers (distance >= 1e-3) tfc's formula loses nothing: the two agree to within the
    conditioning (measured: at most 0.87 units, 1.3e-15 absolutely). (At alpha < 1e-3 tfc returns y itself; the
    exact inverse differs from y by up to 1.6e-8 at alpha = 1e-3.)"""
    y = np.linspace(-3.0, 3.0, 6001)
    y = y[np.abs(y - np.round(y)) >= 1e-3]
    ours = round_inverse(y, alpha, method="tanh")
    slope = sr.derivative(sr.round, ours, alpha, method="tanh")
    unit = EPS64 * (np.abs(ours) + np.maximum(np.abs(y), 1.0) / slope)
    assert np.max(np.abs(ours - tfc_soft_round_inverse(y, alpha)) / unit) <= 8.0
    ours_cm = round_conditional_mean(y, alpha, method="tanh")
    theirs_cm = tfc_soft_round_conditional_mean(y, alpha)
    keep = np.abs(y - 0.5 - np.round(y - 0.5)) >= 1e-3
    slope = sr.derivative(sr.round, ours_cm - 0.5, alpha, method="tanh")
    unit = EPS64 * (np.maximum(np.abs(ours_cm), 1.0) + np.maximum(np.abs(y), 1.0) / slope)
    assert np.max(np.abs(ours_cm - theirs_cm)[keep] / unit[keep]) <= 8.0


def test_tfc_test_cases() -> None:
    """The assertions of tensorflow_compression/python/ops/round_ops_test.py, for our tanh method (and the
    window and density methods at the k of equal sharpness)."""
    x = np.linspace(-2.0, 2.0, 50).astype(np.float32)
    np.testing.assert_array_equal(round_inverse(x, 1e-13, method="tanh"), x)  # small alpha is the identity
    x = np.array([-1.25, -0.75, 0.75, 1.25], dtype=np.float32)
    np.testing.assert_allclose(round_inverse(sr.round(x, 2.0, method="tanh"), 2.0, method="tanh"), x, rtol=1e-6, atol=1e-6)
    for method, alpha in (("tanh", 5000.0), ("density", 5000.0), ("window", 10000.0)):
        for offset in range(-5, 5):
            x = np.linspace(offset + 0.001, offset + 0.999, 100).astype(np.float32)
            np.testing.assert_allclose(round_inverse(x, alpha, method=method), np.ceil(x) - 0.5, rtol=0, atol=1e-3)
            np.testing.assert_allclose(round_conditional_mean(x, alpha, method=method), np.round(x), rtol=0, atol=1e-3)
    torch = _torch()
    for alpha in (1e-6, 1e-2, 5.0, 1e6):  # tfc also tries 0, which is not a sharpness here (k > 0)
        y = torch.linspace(-0.5, 0.5, 11, dtype=torch.float32, requires_grad=True)
        out = round_inverse(y, alpha, method="tanh")
        (g,) = torch.autograd.grad(out.sum(), y)
        # tfc allows a non-finite gradient at 0 for alpha > 15; here it is the largest float32 at worst
        assert torch.isfinite(out).all() and torch.isfinite(g).all()


def test_more_accurate_than_tfc_near_the_integers() -> None:
    """tfc's formula forms 2 r tanh(alpha/2) with r = y - floor(y) - 1/2, which rounds to +-1 near the integers
    once tanh(alpha/2) rounds to 1: the result collapses onto the integer. The stable form of §11 does not.
    The truths are mpmath bisections of the definition. Over y in [1e-30, 0.1] (float64) tfc's largest error is
    0.019 at alpha = 40, 0.11 at 50, 0.31 at 100; over [1e-12, 0.1] in float32 1.3e-4 at alpha = 12, 0.051 at
    20, 0.32 at 50. Ours stays within 3e-15 (float64) and 1.5e-6 (float32) relatively. Near other integers the
    rounding of y itself dominates both."""
    cases = [  # (y, alpha, dtype, the exact inverse)
        (1e-25, 50.0, np.float64, 5.1833619344054505e-06),
        (1e-8, 20.0, np.float32, 0.04416810024871544),
        (3e-10, 12.0, np.float32, 2.0343852078915369e-06),  # at float32(3e-10)
    ]
    for y, alpha, dtype, exact in cases:
        y_arr = np.array([y], dtype=dtype)
        theirs = float(tfc_soft_round_inverse(y_arr, alpha)[0])
        ours = float(round_inverse(y_arr, alpha, method="tanh")[0])
        truth, slope = oracle_inverse(float(y_arr[0]), alpha, "tanh", ours)
        assert math.isclose(float(truth), exact, rel_tol=1e-9)
        assert theirs == 0.0  # tfc: the integer itself
        # ours: within 3 units of the relative conditioning eps (|x| + |y| / r'(x)) (y is exact here)
        unit = float(np.finfo(dtype).eps) * (float(truth) + float(y_arr[0]) / float(slope))
        assert abs(ours - float(truth)) <= 3 * unit, (y, ours, float(truth))


# ================================================================================ the conditional mean


def _quadrature_mean(y: float, k: float, method: str, cells: int = 60000) -> tuple[float, float]:
    """E[X | r(X) + U = y] = int x p_U(y - r(x)) dx / int p_U(y - r(x)) dx for a flat prior: the integral of the
    indicator |r(x) - y| <= 1/2 over [y - 1.5, y + 1.5] (it holds the set, since |r(x) - x| < 1/2), cell by cell,
    the boundary cells by linear interpolation of r. Returns the mean and the measure of the set."""
    edges = np.linspace(y - 1.5, y + 1.5, cells + 1)
    g = sr.round(edges, k, method=method) - y
    a, b = edges[:-1], edges[1:]
    ga, gb = g[:-1], g[1:]
    # the part of each cell where -1/2 <= g <= 1/2, g linear on the cell (r increases)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(ga >= -0.5, a, a + (b - a) * (-0.5 - ga) / (gb - ga))
        hi = np.where(gb <= 0.5, b, a + (b - a) * (0.5 - ga) / (gb - ga))
    lo, hi = np.clip(lo, a, b), np.clip(hi, a, b)
    length = np.where((gb < -0.5) | (ga > 0.5), 0.0, np.maximum(hi - lo, 0.0))
    first = np.where(length > 0, (hi * hi - lo * lo) / 2, 0.0)
    return float(first.sum() / length.sum()), float(length.sum())


@pytest.mark.parametrize("method", METHODS)
def test_conditional_mean_against_quadrature_of_the_definition(method: str) -> None:
    """The posterior of X is uniform on an interval of length exactly 1 and its mean is r^{-1}(y - 1/2) + 1/2:
    both within the quadrature's own error (h^2 r''/r', about 1e-8 here)."""
    for k in (0.5, 3.0, 8.0, 25.0):
        for y in (0.0, 0.2, 0.5, 0.9, -1.37, 2.61):
            mean, measure = _quadrature_mean(y, k, method)
            assert abs(measure - 1.0) <= 1e-7
            assert abs(float(round_conditional_mean(y, k, method=method)) - mean) <= 1e-7, (k, y)


def test_conditional_mean_is_not_the_inverse() -> None:
    """The posterior mean differs from r^{-1}(y) and tends to round(y) as k grows (window: 0.069 at k = 20,
    0.028 at k = 50 for y = 0.3)."""
    y = np.array([0.1, 0.3, 0.9])
    for k, gap in ((20.0, 0.07), (50.0, 0.03)):
        cm = round_conditional_mean(y, k)
        assert np.all(np.abs(cm - round_inverse(y, k)) > 0.2)
        np.testing.assert_allclose(cm, [0.0, 0.0, 1.0], rtol=0, atol=gap)


# ================================================================================ properties and limits


@pytest.mark.parametrize("method", METHODS)
def test_exact_fixed_points_symmetry_and_shift(method: str) -> None:
    n = np.arange(-4.0, 5.0)
    for k in (0.3, 5.0, 300.0):
        np.testing.assert_array_equal(round_inverse(n, k, method=method), n)
        np.testing.assert_array_equal(round_inverse(n + 0.5, k, method=method), n + 0.5)
        np.testing.assert_array_equal(round_conditional_mean(n + 0.5, k, method=method), n + 0.5)
        y = np.linspace(0.0, 3.0, 601)
        np.testing.assert_array_equal(round_inverse(-y, k, method=method), -round_inverse(y, k, method=method))
        step = round_inverse(y + 1.0, k, method=method) - round_inverse(y, k, method=method)
        slope = sr.derivative(sr.round, round_inverse(y, k, method=method), k, method=method)
        assert np.all(np.abs(step - 1.0) <= 8 * EPS64 * (4.0 + 4.0 / slope))
        assert np.all(np.diff(round_inverse(np.linspace(-1, 1, 4001), k, method=method)) >= 0)


@pytest.mark.parametrize("method", METHODS)
def test_hard_limit_and_small_k(method: str) -> None:
    y = np.array([0.0, 0.3, 1.0, 1.5, -0.2, 2.7, 2.5, -3.5])
    np.testing.assert_array_equal(round_inverse(y, math.inf, method=method), [0.0, 0.5, 1.0, 1.5, -0.5, 2.5, 2.5, -3.5])
    np.testing.assert_array_equal(
        round_conditional_mean(y, math.inf, method=method), [0.0, 0.0, 1.0, 1.5, 0.0, 3.0, 2.5, -3.5]
    )
    k = np.array([math.inf, 4.0])
    both = round_inverse(np.array([[0.3], [0.7]]), k, method=method)
    np.testing.assert_array_equal(both[:, 0], [0.5, 0.5])
    np.testing.assert_array_equal(both[:, 1], round_inverse(np.array([0.3, 0.7]), 4.0, method=method))
    # k -> 0: the identity (window and density to every digit at k = 1e-3; soft_round deviates from y by
    # at most k^2 max |r (1/12 - r^2 / 3)| = 1.6e-8 there, and so does its inverse)
    y = np.linspace(-2, 2, 41)
    gap = np.max(np.abs(round_inverse(y, 1e-3, method=method) - y))
    assert gap <= (1.7e-8 if method == "tanh" else 0.0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_nan_or_inf_for_finite_input_at_any_k(method: str, dtype: type) -> None:
    torch = _torch()
    tiny = float(np.finfo(dtype).tiny)
    y = np.concatenate(
        [np.linspace(-3, 3, 241), [0.5, -0.5, 1e-30, tiny, 1.0 + 2e-7, 3e7, -1e15, np.finfo(dtype).max]]
    ).astype(dtype)
    for k in (1e-4, 1e-2, 1.0, 4.5, 30.0, 1e3, 1e5, 1e8):
        for fn in (round_inverse, round_conditional_mean):
            assert np.all(np.isfinite(fn(y, k, method=method)))
            yt = torch.tensor(y, requires_grad=True)
            kt = torch.tensor(k, dtype=yt.dtype, requires_grad=True)
            gy, gk = torch.autograd.grad(fn(yt, kt, method=method).sum(), (yt, kt))
            assert torch.isfinite(gy).all() and torch.isfinite(gk), (fn.__name__, k)


@pytest.mark.parametrize("fn", [round_inverse, round_conditional_mean])
def test_non_finite_input_and_dtypes(fn: object) -> None:
    torch = _torch()
    y = torch.tensor([math.inf, -math.inf, math.nan, 0.3], dtype=torch.float64, requires_grad=True)
    out = fn(y, 5.0)  # type: ignore[operator]
    assert out[0] == math.inf and out[1] == -math.inf and torch.isnan(out[2])
    (g,) = torch.autograd.grad(out[[0, 1, 3]].sum(), y)
    assert g[0] == 0 and g[1] == 0 and g[3] > 0
    for dtype in (np.float16, np.float32, np.float64):
        assert fn(np.array([0.2, 1.4], dtype=dtype), 5.0).dtype == dtype  # type: ignore[operator]
    assert fn(torch.tensor([0.2], dtype=torch.bfloat16), 5.0).dtype == torch.bfloat16  # type: ignore[operator]
    assert fn(np.array([0, 1, 2]), 5.0).dtype == np.float64  # type: ignore[operator]
    np.testing.assert_array_equal(fn(np.array([3e7, -3e7], dtype=np.float32), 10.0), [3e7, -3e7])  # type: ignore[operator]


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: round_inverse(0.3, 5.0, method="round"), ValueError, r"`method` must be one of 'window'.*got 'round'"),
        (lambda: round_inverse(0.3, 0.0), ValueError, r"`k` must be positive .*got 0.0"),
        (lambda: round_conditional_mean(0.3, -2.0), ValueError, r"`k` must be positive .*got -2.0"),
        (lambda: round_inverse(0.3, math.nan), ValueError, r"`k` must be positive"),
        (lambda: round_inverse(0.3, np.array([1.0, -1.0])), ValueError, r"`k` must be positive .*got -1.0 \(an element"),
        (lambda: round_inverse(0.3, True), TypeError, r"`k` must be a positive number or array; got True"),
        (lambda: round_inverse(0.3, 5.0, tol=0.7), ValueError, r"`tol` must be a number in \(0, 0.5\).*got 0.7"),
        (lambda: round_inverse(np.array([1j]), 5.0), TypeError, r"`y` must be real"),
        (lambda: round_conditional_mean("a", 5.0), TypeError, r"`y` must hold real numbers"),
    ],
)
def test_bad_input_raises_a_clear_error(call: object, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        call()  # type: ignore[operator]


# ================================================================================ helpers


def _torch() -> object:
    return pytest.importorskip("torch")


def _jax() -> tuple:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax, jax.numpy


def _array(backend: str, y: np.ndarray) -> object:
    if backend == "torch":
        return _torch().tensor(y)  # type: ignore[attr-defined]
    _, jnp = _jax()
    return jnp.asarray(y)


def _to_numpy(a: object) -> np.ndarray:
    return np.asarray(a)
