"""Exact properties (docs/mathematics.md §1), truncation control, non-finite input, dtypes and errors, on NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smoothround as sr

METHODS = ["window", "density", "tanh"]
SHARPNESS = [1e-4, 0.3, 1.0, 2.0, 4.4999, 4.5, 7.0, 20.0, 200.0, 1e4, 1e8]

finite_x = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
sharpness = st.floats(min_value=1e-3, max_value=1e5)


@settings(max_examples=200, deadline=None)
@given(x=finite_x, k=sharpness, method=st.sampled_from(METHODS))
def test_odd_symmetry_is_exact(x: float, k: float, method: str) -> None:
    assert sr.round(-x, k, method=method) == -sr.round(x, k, method=method)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(min_value=-1e3, max_value=1e3), k=sharpness, method=st.sampled_from(METHODS))
def test_shift_by_one(x: float, k: float, method: str) -> None:
    # r(x+1) = r(x)+1; the only slack is the rounding of x+1 itself, amplified by the slope (at most ~k/2)
    x1 = x + 1.0
    slope = float(sr.derivative(sr.round, x, k, method=method))
    slack = 4e-15 * max(1.0, abs(x)) * (1.0 + slope) + abs((x1 - 1.0) - x) * slope
    assert abs(float(sr.round(x1, k, method=method)) - float(sr.round(x, k, method=method)) - 1.0) <= slack


@settings(max_examples=100, deadline=None)
@given(m=st.integers(-(10**6), 10**6), k=sharpness, method=st.sampled_from(METHODS))
def test_integers_and_half_integers_are_fixed(m: int, k: float, method: str) -> None:
    assert sr.round(float(m), k, method=method) == m
    assert abs(float(sr.round(m + 0.5, k, method=method)) - (m + 0.5)) <= 2 * np.spacing(abs(m) + 0.5)
    assert float(sr.floor(float(m), k, method=method)) == pytest.approx(
        m - 0.5, abs=2 * np.spacing(abs(m) + 1.0)
    )


@pytest.mark.parametrize("method", ["window", "density"])
@pytest.mark.parametrize("k", [0.5, 2.0, 4.5, 5.0, 10.0, 50.0])
@pytest.mark.parametrize("tol", [None, 1e-3, 1e-8])
def test_no_jump_above_tol_where_the_centre_changes(method: str, k: float, tol: float | None) -> None:
    """Direct sums jump by twice their truncation error at a centre change (docs/mathematics.md §3.2): we truncate at tol/2."""
    allowed = np.finfo(np.float64).eps if tol is None else tol
    for half in (0.5, 1.5, -2.5, 1000.5):
        below, above = np.nextafter(half, -np.inf), np.nextafter(half, np.inf)
        lo, hi = sr.round(np.array([below, above]), k, method=method, tol=tol)
        slope = float(sr.derivative(sr.round, half, k, method=method))
        # plus the conditioning of each side: k u is rounded, which moves r by about slope |u| eps (docs/mathematics.md §2)
        conditioning = 2 * slope * 0.5 * np.finfo(np.float64).eps
        assert abs(hi - lo) <= allowed + slope * (above - below) + conditioning + 4 * np.spacing(abs(half))


@pytest.mark.parametrize("method", ["window", "density"])
@pytest.mark.parametrize("k", [0.5, 3.0, 4.5, 8.0, 30.0])
def test_tol_bounds_the_difference_from_the_exact_function(method: str, k: float) -> None:
    x = np.linspace(-2.5, 2.5, 2001)
    exact = sr.round(x, k, method=method)  # default tol: float64 eps
    for tol in (1e-2, 1e-4, 1e-7):
        rough = sr.round(x, k, method=method, tol=tol)
        assert np.max(np.abs(rough - exact)) <= tol
    # the coarse tolerance is really used (fewer terms: a visible, bounded difference) where M > 1 at eps
    if 4.5 <= k <= 10.0:
        assert np.max(np.abs(sr.round(x, k, method=method, tol=1e-2) - exact)) > 1e-12


@pytest.mark.parametrize("method", METHODS)
def test_monotone_on_a_fine_grid(method: str) -> None:
    x = np.linspace(-3, 3, 60001)
    for k in (0.7, 3.0, 10.0, 100.0):
        assert np.all(np.diff(sr.round(x, k, method=method)) >= -4 * np.finfo(np.float64).eps)


@pytest.mark.parametrize("method", METHODS)
def test_converges_to_round_as_k_grows(method: str) -> None:
    x = np.array([-2.3, -0.7, 0.2, 0.45, 1.1, 3.7])
    assert np.max(np.abs(sr.round(x, 1e4, method=method) - np.round(x))) < 1e-20
    np.testing.assert_array_equal(sr.round(x, math.inf, method=method), np.round(x))
    np.testing.assert_array_equal(sr.floor(x, math.inf, method=method), np.floor(x))
    np.testing.assert_array_equal(sr.ceil(x, math.inf, method=method), np.ceil(x))


def test_window_is_the_identity_for_small_k() -> None:
    x = np.linspace(-3, 3, 101)
    np.testing.assert_array_equal(sr.round(x, 0.4), x)
    np.testing.assert_array_equal(sr.derivative(sr.round, x, 0.4), np.ones_like(x))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", SHARPNESS)
def test_finite_everywhere_for_extreme_k(method: str, dtype: type, k: float) -> None:
    x = np.concatenate(
        [np.linspace(-3, 3, 1201), [0.5, -0.5, 1e-30, 3e7, -1e15, np.finfo(dtype).max]]
    ).astype(dtype)
    for fn in (sr.round, sr.floor, sr.ceil):
        value = fn(x, k, method=method)
        assert np.all(np.isfinite(value))
        assert np.all(np.isfinite(sr.derivative(fn, x, k, method=method)))
        assert np.all(np.isfinite(sr.derivative(fn, x, k, method=method, wrt="k")))


@pytest.mark.parametrize("method", METHODS)
def test_large_magnitudes_keep_full_precision(method: str) -> None:
    x32 = np.array([3e7, -3e7, 2.0**24 + 2, 1e20, -3.4e38, 12345.5], dtype=np.float32)
    np.testing.assert_array_equal(sr.round(x32, 10.0, method=method), x32)  # all are integers or ties
    x64 = np.array([1e15 + 0.25, -1e15 - 0.25, 2.0**52 + 1])
    got = sr.round(x64, 10.0, method=method)
    want_offset = sr.round(np.array([0.25, -0.25, 0.0]), 10.0, method=method)
    # the correctly rounded centre + offset: only the final addition rounds (0.5 ulp), nothing is lost before it
    np.testing.assert_array_equal(got, np.array([1e15, -1e15, 2.0**52 + 1]) + want_offset)


@pytest.mark.parametrize("method", METHODS)
def test_non_finite_input(method: str) -> None:
    x = np.array([np.inf, -np.inf, np.nan])
    for fn in (sr.round, sr.floor, sr.ceil):
        value = fn(x, 5.0, method=method)
        assert value[0] == np.inf and value[1] == -np.inf and np.isnan(value[2])
        grad = sr.derivative(fn, x, 5.0, method=method)
        assert grad[0] == 0.0 and grad[1] == 0.0 and np.isnan(grad[2])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype_is_kept(dtype: type) -> None:
    x = np.array([0.2, 1.4], dtype=dtype)
    for fn in (sr.round, sr.floor, sr.ceil, sr.quantize):
        assert fn(x, 5.0).dtype == dtype
    np.testing.assert_allclose(sr.round(x, 5.0), sr.round(x.astype(np.float64), 5.0), rtol=2e-3)


def test_integer_input_is_promoted_to_float64() -> None:
    got = sr.round(np.array([1, 2, 3]), 5.0)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [1.0, 2.0, 3.0])
    assert sr.round(2, 5.0).dtype == np.float64


def test_array_k_broadcasts_and_matches_scalar_k() -> None:
    x = np.linspace(-2, 2, 41)
    ks = np.array([[0.3], [2.0], [4.5], [9.0], [300.0], [np.inf]])
    for method in METHODS:
        got = sr.round(x, ks, method=method)
        assert got.shape == (6, 41)
        for row, k in zip(got, ks[:, 0], strict=True):
            np.testing.assert_allclose(row, sr.round(x, float(k), method=method), rtol=0, atol=1e-14)


def test_straight_through_forward_is_hard() -> None:
    x = np.array([0.2, 0.7, 1.5, 2.5])
    np.testing.assert_array_equal(sr.round(x, 3.0, straight_through=True), np.round(x))
    np.testing.assert_array_equal(sr.floor(x, 3.0, straight_through=True), np.floor(x))
    np.testing.assert_array_equal(
        sr.derivative(sr.round, x, 3.0, straight_through=True), sr.derivative(sr.round, x, 3.0)
    )


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: sr.round(1.0, 0.0), ValueError, r"`k` must be positive.*got 0.0"),
        (lambda: sr.round(1.0, -2), ValueError, r"`k` must be positive.*got -2"),
        (lambda: sr.round(1.0, math.nan), ValueError, r"`k` must be positive.*got nan"),
        (lambda: sr.round(1.0, np.array([1.0, -1.0])), ValueError, r"`k` must be positive.*got -1.0"),
        (lambda: sr.round(1.0, "5"), TypeError, r"`k` must be a positive number"),
        (lambda: sr.round(1.0, 5.0, method="cubic"), ValueError, r"`method` must be one of.*got 'cubic'"),
        (lambda: sr.round(1.0, 5.0, tol=0.0), ValueError, r"`tol` must be a number in \(0, 0.5\).*got 0.0"),
        (lambda: sr.round(1.0, 5.0, tol=1.0), ValueError, r"`tol`.*got 1.0"),
        (
            lambda: sr.round(1.0, 5.0, straight_through="yes"),
            ValueError,
            r"`straight_through` must be False, 'identity' or 'smooth'; got 'yes'",
        ),
        (lambda: sr.round("a", 5.0), TypeError, r"`x` must hold real numbers"),
        (lambda: sr.round(np.array([1j]), 5.0), TypeError, r"`x` must be real"),
        (lambda: sr.quantize(1.0, 5.0, step=0.0), ValueError, r"`step` must be positive and finite; got 0.0"),
        (lambda: sr.quantize(1.0, 5.0, step=-1.0), ValueError, r"`step` must be positive.*got -1.0"),
        (
            lambda: sr.quantize(1.0, 5.0, qmin=3, qmax=1),
            ValueError,
            r"`qmin` must be <= `qmax`; got qmin=3, qmax=1",
        ),
        (lambda: sr.quantize(1.0, 5.0, qmin=0.5), ValueError, r"`qmin` must be an integer or None; got 0.5"),
        (lambda: sr.quantize(1.0, 5.0, offset=math.inf), ValueError, r"`offset` must be finite; got inf"),
        (
                lambda: sr.quantize(1.0, 1e-4, qmin=0, qmax=10**6, saturation="smooth"),
                ValueError,
                r"raise k or tol",
            ),
            (lambda: sr.quantize(1.0, 5.0, qmin=0, saturation="soft"), ValueError, r"`saturation` must be one of"),
        (lambda: sr.derivative(np.round, 1.0, 5.0), TypeError, r"`fn` must be smoothround.round"),
        (lambda: sr.derivative(sr.round, 1.0, 5.0, wrt="step"), ValueError, r"`wrt` must be one of 'x', 'k'"),
    ],
)
def test_bad_input_raises_a_clear_error(call: object, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("method", ["window", "density"])
@pytest.mark.parametrize("k", [0.8, 2.0, 4.4, 4.6, 7.0, 15.0, 60.0])
@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-10])
def test_evaluation_plan_bound_holds(method: str, k: float, tol: float) -> None:
    """The plan's guaranteed truncation bound covers the measured distance to a far more accurate evaluation."""
    plan = sr.evaluation_plan(method, k, tol=tol)
    assert plan.truncation_bound <= (tol / 2 if plan.form == "direct" else tol)
    x = np.linspace(-1.5, 1.5, 3001)
    measured = np.max(np.abs(sr.round(x, k, method=method, tol=tol) - sr.round(x, k, method=method, tol=1e-300)))
    assert measured <= plan.truncation_bound + 8 * np.finfo(np.float64).eps


def test_evaluation_plan_forms_and_errors() -> None:
    assert sr.evaluation_plan("window", 0.4).terms == 0  # the identity (docs/mathematics.md, Table T6)
    assert sr.evaluation_plan("window", 3.0).form == "fourier"
    assert sr.evaluation_plan("window", 5.0).form == "direct"
    assert sr.evaluation_plan("tanh", 5.0).form == "closed"
    assert sr.evaluation_plan("density", math.inf).form == "hard"
    # value and slope within tol/2 at k = 10 in float32 with 2 pairs; k * dt/dk would need a third, which a
    # constant k never asks for
    plan = sr.evaluation_plan("window", 10.0, dtype="float32")
    assert plan.terms == 2 and max(plan.truncation_bound, plan.slope_bound) <= plan.tol / 2
    assert plan.k_slope_bound > plan.tol / 2
    with pytest.raises(ValueError, match=r"`k` must be positive"):
        sr.evaluation_plan("window", -1.0)
    with pytest.raises(ValueError, match=r"`dtype` must be one of"):
        sr.evaluation_plan("window", 1.0, dtype="int8")
    with pytest.raises(TypeError, match=r"`k` must be a Python number"):
        sr.evaluation_plan("window", np.array([1.0]))
