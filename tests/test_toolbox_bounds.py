"""The stated (alpha, beta) constants of every toolbox function hold on dense grids and are tight.

For each name in ``BOUND_NAMES`` the worst error and the largest second derivative are measured on a grid
dense relative to the width 1/k (derivatives by torch autograd through the closed-form backward, the second
one by finite differences of it). The bound must hold, the error must keep its stated side, and the measured
values must reach ``bound / tight_factor``. Run this file as a script to print the table of measured figures.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import smoothround as sr

NONE = ()
SMALL = np.concatenate([-np.logspace(-12, -6, 7), [0.0], np.logspace(-12, -6, 7)])


def _grid(k: float, span: float = 30.0, n: int = 400_001) -> np.ndarray:
    return np.unique(np.concatenate([np.linspace(-span / k, span / k, n), SMALL]))


def _first_derivative(fn, x: np.ndarray) -> np.ndarray:
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(fn(t).sum(), t)
    return g.numpy()


def _second_max(fn, x: np.ndarray) -> float:
    g = _first_derivative(fn, x)
    return float(np.max(np.abs(np.diff(g) / np.diff(x))))


def _unary(name: str, k: float):
    family, method = name.split(":")
    clamp = {"lo": -10.0 / k, "hi": 10.0 / k}  # hi - lo >> 1/k, where the bound is tight
    if family == "smooth_abs":
        return (lambda x: sr.smooth_abs(x, k=k, method=method)), np.abs
    if family == "smooth_relu":
        return (lambda x: sr.smooth_relu(x, k=k)), (lambda x: np.maximum(x, 0.0))
    if family == "smooth_clamp":
        return (lambda x: sr.smooth_clamp(x, k=k, **clamp)), (lambda x: np.clip(x, -10.0 / k, 10.0 / k))
    if family == "smooth_sign":
        return (lambda x: sr.smooth_sign(x, k=k, method=method)), np.sign
    if family == "smooth_step":
        return (lambda x: sr.smooth_step(x, k=k, method=method)), (lambda x: 0.5 + 0.5 * np.sign(x))
    if family == "smooth_steps":
        return (
            (lambda x: sr.smooth_steps(x, [0.0], [0.0, 1.0], kernel=method, width=1.0 / k)),
            (lambda x: (x >= 0).astype(float)),
        )
    if family in ("smooth_maximum", "smooth_minimum"):
        f = sr.smooth_maximum if family == "smooth_maximum" else sr.smooth_minimum
        hard = np.maximum if family == "smooth_maximum" else np.minimum
        # as a function of d = a - b with b = 0; Hessian in (a, b): g''(d) [[1, -1], [-1, 1]], norm 2|g''|
        return (lambda x: f(x, 0.0, k=k, method=method)), (lambda x: hard(x, 0.0))
    raise AssertionError(name)


def _side(diff: np.ndarray) -> str:
    tol = 1e-12
    if np.all(diff >= -tol):
        return "above"
    if np.all(diff <= tol):
        return "below"
    return "both"


def measure(name: str, k: float, n: int = 2) -> tuple[float, float, str]:
    """(worst error, largest Hessian norm, side) of ``name`` at sharpness ``k`` on a dense grid."""
    family, method = name.split(":")
    if method == "power":
        f = sr.smooth_maximum if family == "smooth_maximum" else sr.smooth_minimum
        a = np.concatenate([np.linspace(0.0, 3.0, 300_001), [1.0]])
        smooth = f(a, np.ones_like(a), k=k, method="power")
        hard = np.maximum(a, 1.0) if family == "smooth_maximum" else np.minimum(a, 1.0)
        diff = (smooth - hard) / np.where(hard > 0, hard, 1.0)
        return float(np.max(np.abs(diff))), math.inf, _side(diff)
    if family in ("smooth_max", "smooth_min"):
        return _measure_axis(family, method, k, n)
    fn, hard = _unary(name, k)
    x = _grid(k)
    diff = fn(x) - hard(x)
    lip = _second_max(fn, np.linspace(-30.0 / k, 30.0 / k, 400_001))  # evenly spaced: no rounding blow-up
    if family in ("smooth_maximum", "smooth_minimum"):
        lip *= 2.0
    return float(np.max(np.abs(diff))), lip, _side(diff)


def _measure_axis(family: str, method: str, k: float, n: int) -> tuple[float, float, str]:
    """One element at 0 and n - 1 at -d (the extremal configuration), plus random points for the Hessian."""
    sign = 1.0 if family == "smooth_max" else -1.0
    fn = sr.smooth_max if family == "smooth_max" else sr.smooth_min
    d = np.linspace(0.0, 40.0 / k, 200_001)
    x = np.zeros((d.size, n))
    x[:, 1:] = -sign * d[:, None]
    diff = fn(x, k=k, method=method) - (np.max(x, axis=1) if sign > 0 else np.min(x, axis=1))
    rng = np.random.default_rng(0)
    samples = [x[i] for i in range(0, d.size, 4000)]
    pair = np.full(n, -sign * 40.0 / k)  # two equal leaders, the rest far away: the log-sum-exp Hessian peak
    pair[:2] = 0.0
    samples.append(pair)
    samples += [rng.normal(scale=s / k, size=n) for s in (0.3, 1.0, 3.0) for _ in range(60)]
    lip = 0.0
    for point in samples:
        hess = torch.autograd.functional.hessian(
            lambda t: fn(t, k=k, method=method), torch.tensor(point, dtype=torch.float64)
        )
        lip = max(lip, float(torch.linalg.matrix_norm(hess, ord=2)))
    random_points = rng.normal(scale=3.0 / k, size=(20_000, n))
    diff_random = fn(random_points, k=k, method=method) - sign * np.max(sign * random_points, axis=1)
    all_diff = np.concatenate([diff, diff_random])
    return float(np.max(np.abs(all_diff))), lip, _side(all_diff)


CASES = [
    (name, n)
    for name in sr.BOUND_NAMES
    for n in (
        (2, 3, 8)
        if name.startswith("smooth_m") and name.split(":")[0] in ("smooth_max", "smooth_min")
        else (2,)
    )
]


@pytest.mark.parametrize(("name", "n"), CASES)
@pytest.mark.parametrize("k", [0.7, 40.0])
def test_bound_holds_and_is_tight(name: str, n: int, k: float) -> None:
    k = k + 1.0 if name.endswith(":power") else k  # the power mean needs k >= 1
    bound = sr.bounds(name, k, n=n)
    err, lip, side = measure(name, k, n)
    assert err <= bound.sup_error * (1 + 1e-9) + 1e-12, (err, bound)
    assert err >= bound.sup_error / bound.tight_factor * (1 - 2e-3), (err, bound)
    if bound.side != "both":
        assert side == bound.side
    if math.isfinite(bound.gradient_lipschitz):
        assert lip <= bound.gradient_lipschitz * (1 + 1e-6), (lip, bound)
        assert lip >= bound.gradient_lipschitz / bound.tight_factor * (1 - 2e-3), (lip, bound)


def test_boltzmann_error_is_lambert_w() -> None:
    # the worst configuration has every other element at distance (1 + W((n-1)/e))/k below the maximum
    for n in (2, 5, 100):
        w = sr.bounds("smooth_max:boltzmann", 1.0, n=n).sup_error
        assert w * math.exp(w) == pytest.approx((n - 1) / math.e, rel=1e-13)
        x = np.full(n, -(1.0 + w))
        x[0] = 0.0
        assert -sr.smooth_max(x, k=1.0, method="boltzmann") == pytest.approx(w, rel=1e-12)


def test_bound_scaling_and_hard_limit() -> None:
    for name in sr.BOUND_NAMES:
        b1, b10 = sr.bounds(name, 1.0, n=4), sr.bounds(name, 10.0, n=4)
        if "sign" in name or "step" in name:
            assert b1.sup_error == b10.sup_error
            assert b10.gradient_lipschitz == pytest.approx(100 * b1.gradient_lipschitz)
        elif not b1.relative:
            assert b10.sup_error == pytest.approx(b1.sup_error / 10)
        assert sr.bounds(name, math.inf).sup_error == 0.0
    assert sr.bounds("smooth_abs", 2.0) == sr.bounds("smooth_abs:logcosh", 2.0)
    assert sr.bounds("smooth_minimum:power", 3.0).side == "below"


def test_bounds_dataclass_is_frozen() -> None:
    b = sr.bounds("smooth_relu", 1.0)
    with pytest.raises(AttributeError):
        b.sup_error = 0.0  # type: ignore[misc]


if __name__ == "__main__":  # the table of the closing note
    print(
        f"| {'function:method':26} | {'n':>2} | {'k':>5} | {'measured sup err':>16} | {'bound':>10} | "
        f"{'side':5} | {'measured L':>10} | {'bound L':>10} |"
    )
    for name, n in CASES:
        for k in (0.7, 40.0):
            k = k + 1.0 if name.endswith(":power") else k
            b = sr.bounds(name, k, n=n)
            err, lip, side = measure(name, k, n)
            print(
                f"| {name:26} | {n:>2} | {k:>5} | {err:16.6g} | {b.sup_error:10.6g} | {b.side:5} | "
                f"{lip:10.5g} | {b.gradient_lipschitz:10.5g} |"
            )
