"""Mollifiers integrate to 1; smooth_steps is the closed-form convolution; smooth floor is the core's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import expit
from scipy.stats import cauchy, logistic, norm

import smoothround as sr

KERNELS = ("gaussian", "cauchy", "logistic")
SCIPY = {"gaussian": norm, "cauchy": cauchy, "logistic": logistic}


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("width", [0.01, 1.0, 7.0])
def test_mollifier_is_a_density(kernel: str, width: float) -> None:
    f = lambda t: float(sr.mollifier(np.array(t), kernel=kernel, width=width))  # noqa: E731
    total = integrate.quad(f, -np.inf, 0.0)[0] + integrate.quad(f, 0.0, np.inf)[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    x = np.linspace(-5, 5, 101) * width
    np.testing.assert_allclose(
        sr.mollifier(x, kernel=kernel, width=width), SCIPY[kernel].pdf(x, scale=width), rtol=1e-12
    )
    np.testing.assert_allclose(
        sr.mollifier_cdf(x, kernel=kernel, width=width),
        SCIPY[kernel].cdf(x, scale=width),
        rtol=1e-10,
        atol=1e-15,
    )
    np.testing.assert_allclose(
        sr.mollifier(x, kernel=kernel, width=width), sr.mollifier(-x, kernel=kernel, width=width)
    )


def test_cdf_is_the_smooth_step() -> None:
    x, w = np.linspace(-3, 3, 41), 0.4
    np.testing.assert_allclose(sr.mollifier_cdf(x, kernel="logistic", width=w), sr.smooth_step(x, k=1 / w))
    np.testing.assert_allclose(
        sr.mollifier_cdf(x, kernel="cauchy", width=w), sr.smooth_step(x, k=1 / w, method="arctan"), rtol=1e-14
    )
    np.testing.assert_allclose(
        sr.mollifier_cdf(x, kernel="gaussian", width=w),
        sr.smooth_step(x, k=1 / (w * np.sqrt(2)), method="erf"),
        rtol=1e-14,
    )


@pytest.mark.parametrize("kernel", KERNELS)
def test_smooth_steps_is_the_convolution(kernel: str) -> None:
    bps, vals, w = [-1.0, 0.5, 2.0], [1.0, -2.0, 0.0, 4.0], 0.3
    step = lambda t: vals[int(np.searchsorted(bps, t, side="right"))]  # noqa: E731
    for x in (-2.0, -1.0, 0.3, 0.5, 1.7, 3.0):

        def integrand(s: float, x: float = x) -> float:
            return step(x - s) * float(sr.mollifier(np.array(s), kernel=kernel, width=w))

        cuts = sorted(x - b for b in bps)
        pieces = [(-np.inf, cuts[0]), *itertools.pairwise(cuts), (cuts[-1], np.inf)]
        expected = sum(integrate.quad(integrand, lo, hi, limit=200)[0] for lo, hi in pieces)
        assert float(sr.smooth_steps(np.array(x), bps, vals, kernel=kernel, width=w)) == pytest.approx(
            expected, abs=1e-8
        )


def _floor_window(x: np.ndarray, t: float) -> np.ndarray:
    """floor convolved with the logistic density of scale 1/t: sum_n [sigmoid(t (x - n)) - 1{n <= 0}]."""
    n = np.arange(-200, 201)[:, None]
    return np.sum(expit(t * (x - n)) - (n <= 0), axis=0)


def test_smooth_floor_worked_example() -> None:
    t = 10.0
    x = np.linspace(-5.0, 10.0, 3001)
    ints = np.arange(-40, 56)
    smooth = sr.smooth_steps(x, ints.astype(float), np.arange(-41, 56).astype(float), width=1 / t)
    np.testing.assert_allclose(smooth, _floor_window(x, t), atol=1e-12)
    np.testing.assert_allclose(smooth, sr.floor(x, t), atol=1e-9)
    xt = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(
        sr.smooth_steps(xt, ints.astype(float), np.arange(-41, 56).astype(float), width=1 / t).sum(), xt
    )
    (g_core,) = torch.autograd.grad(sr.floor(xt, t).sum(), xt)
    np.testing.assert_allclose(g.numpy(), g_core.numpy(), atol=1e-8)


def test_smooth_steps_gradient_and_limit() -> None:
    x = torch.tensor([-1.2, 0.1, 0.5, 2.2], dtype=torch.float64, requires_grad=True)
    for kernel in KERNELS:
        assert torch.autograd.gradcheck(
            lambda v, kernel=kernel: sr.smooth_steps(
                v, [0.0, 1.0], [2.0, -1.0, 5.0], kernel=kernel, width=0.7
            ),
            (x,),
        )
    xs = np.array([-0.5, 0.5, 1.5])
    np.testing.assert_allclose(
        sr.smooth_steps(xs, [0.0, 1.0], [2.0, -1.0, 5.0], width=1e-6), [2.0, -1.0, 5.0]
    )


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: sr.mollifier(np.ones(2), kernel="box"), ValueError, "`kernel` must be one of"),
        (lambda: sr.mollifier(np.ones(2), width=0.0), ValueError, "`width` must be positive and finite"),
        (
            lambda: sr.mollifier_cdf(np.ones(2), width=np.inf),
            ValueError,
            "`width` must be positive and finite",
        ),
        (lambda: sr.mollifier(np.ones(2), width="1"), TypeError, "`width` must be a real number"),
        (
            lambda: sr.smooth_steps(np.ones(2), [0.0, 1.0], [1.0, 2.0]),
            ValueError,
            "`values` must have one more",
        ),
        (lambda: sr.smooth_steps(np.ones(2), [1.0, 0.0], [1.0, 2.0, 3.0]), ValueError, "strictly increasing"),
        (
            lambda: sr.smooth_steps(np.ones(2), [[0.0]], [1.0, 2.0]),
            ValueError,
            "`breakpoints` must be one-dim",
        ),
        (
            lambda: sr.smooth_steps(np.ones(2), [np.nan], [1.0, 2.0]),
            ValueError,
            "`breakpoints` must be finite",
        ),
        (lambda: sr.smooth_steps(np.ones(2), [0.0], [1.0, np.inf]), ValueError, "`values` must be finite"),
    ],
)
def test_mollifier_errors(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()
