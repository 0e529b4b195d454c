"""Dirac mollifiers and the smoothing of any piecewise-constant function by convolution with one of them.

A piecewise-constant function with breakpoints ``b_1 < ... < b_m`` and values ``v_0, ..., v_m`` is
``v_0 + sum_i (v_i - v_{i-1}) H(x - b_i)``; its convolution with a kernel ``phi_w`` (density of width ``w``)
is, in closed form, ``v_0 + sum_i (v_i - v_{i-1}) CDF((x - b_i) / w)``. That is :func:`smooth_steps`; its
derivative ``sum_i (v_i - v_{i-1}) phi_w(x - b_i)`` is the backward of an elementwise op, so nothing of size
``m`` per element is stored for autodiff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from smoothround._backends import apply, prepare
from smoothround._validation import _concrete_values, check_choice, check_positive, check_real_scalar
from smoothround.toolbox._special import erf, sigmoid, sigmoid_prime

Array = Any

KERNELS = ("gaussian", "cauchy", "logistic")
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _pdf(kernel: str, xp: Any, z: Array) -> Array:
    if kernel == "gaussian":
        return _INV_SQRT_2PI * xp.exp(-0.5 * z * z)
    if kernel == "cauchy":
        return (1.0 / math.pi) / (1.0 + z * z)
    return sigmoid_prime(xp, z)


def _cdf(kernel: str, xp: Any, z: Array) -> Array:
    if kernel == "gaussian":
        return 0.5 + 0.5 * erf(xp, z * (1.0 / math.sqrt(2.0)))
    if kernel == "cauchy":
        return 0.5 + xp.atan(z) / math.pi
    return sigmoid(xp, z)


def _width(width: Any) -> float:
    value = check_real_scalar("width", width)
    check_positive("width", value, allow_inf=False)
    return value


def mollifier(x: Array, /, *, kernel: str = "gaussian", width: float = 1.0) -> Array:
    """A Dirac mollifier: a probability density of width ``width`` (``w``), integrating to 1.

    Definition, by ``kernel``: "gaussian" ``e^{-x^2/(2w^2)} / (w sqrt(2 pi))`` (standard deviation w);
    "cauchy" ``w / (pi (x^2 + w^2))`` (half width at half maximum w); "logistic"
    ``e^{-x/w} / (w (1 + e^{-x/w})^2)`` (scale w, standard deviation w pi/sqrt(3)).

    Limit: the Dirac delta as w -> 0 (its integral against any bounded continuous function tends to the value
    at 0). Guarantee: nonnegative, even, integral exactly 1 (checked numerically in the tests).

    >>> import numpy as np
    >>> mollifier(np.array([0.0, 1.0]), kernel="logistic", width=0.5).round(4)
    array([0.5 , 0.21])
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    w = _width(width)
    prepared = prepare(x)
    xp, z = prepared.xp, prepared.array / w
    # at +-inf the density is its limit 0, and so is its autodiff gradient (not inf * 0 = NaN)
    inf = xp.isinf(z)
    density = _pdf(kernel, xp, xp.where(inf, xp.zeros_like(z), z)) / w
    return prepared.finish(xp.where(inf, xp.zeros_like(z), density))


def mollifier_cdf(x: Array, /, *, kernel: str = "gaussian", width: float = 1.0) -> Array:
    """The cumulative distribution of :func:`mollifier`: the Heaviside step convolved with the kernel.

    Definition: "gaussian" ``(1 + erf(x / (w sqrt 2))) / 2``; "cauchy" ``1/2 + arctan(x/w)/pi``; "logistic"
    ``sigmoid(x/w)``. Limit: the Heaviside step (H(0) = 1/2) as w -> 0. Guarantee: it equals
    ``smooth_step(x, k=1/(w sqrt 2), method="erf")``, ``smooth_step(x, k=1/w, method="arctan")`` and
    ``smooth_step(x, k=1/w)`` respectively.

    >>> import numpy as np
    >>> mollifier_cdf(np.array([-1.0, 0.0, 1.0]), kernel="cauchy", width=1.0).round(4)
    array([0.25, 0.5 , 0.75])
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    w = _width(width)
    prepared = prepare(x)
    return prepared.finish(_cdf(kernel, prepared.xp, prepared.array / w))


@dataclass(unsafe_hash=True)
class StepsOp:
    """The convolution of a piecewise-constant function with a kernel, as one elementwise op of ``x``."""

    kernel: str
    width: float
    breakpoints: tuple[float, ...]
    jumps: tuple[float, ...]
    base: float
    param_names: tuple[str, ...] = ()
    straight_through: bool = False

    def value(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        out = xp.zeros_like(x) + self.base
        for b, jump in zip(self.breakpoints, self.jumps, strict=True):
            out = out + jump * _cdf(self.kernel, xp, (x - b) / self.width)
        return out

    def hard(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        out = xp.zeros_like(x) + self.base
        for b, jump in zip(self.breakpoints, self.jumps, strict=True):
            out = out + jump * xp.astype(x >= b, x.dtype)
        return out

    def partials(self, xp: Any, x: Array, params: dict[str, Array], wrt: tuple[str, ...]) -> dict[str, Array]:
        out = xp.zeros_like(x)
        for b, jump in zip(self.breakpoints, self.jumps, strict=True):
            out = out + (jump / self.width) * _pdf(self.kernel, xp, (x - b) / self.width)
        return {"x": out}


def _constant_vector(name: str, value: Any) -> np.ndarray:
    values = _concrete_values(value)
    if values is None:
        msg = f"`{name}` must be concrete numbers (a list or array), not traced; got {type(value).__name__}."
        raise TypeError(msg)
    if values.ndim != 1:
        msg = f"`{name}` must be one-dimensional; got shape {values.shape}."
        raise ValueError(msg)
    if not np.all(np.isfinite(values)):
        msg = f"`{name}` must be finite; got {values[~np.isfinite(values)][0]!r}."
        raise ValueError(msg)
    return values


def smooth_steps(x: Array, breakpoints: Any, values: Any, /, *, kernel: str = "logistic",
                 width: float = 1.0) -> Array:
    """A piecewise-constant function convolved with a mollifier, in closed form through the kernel's CDF.

    Definition: the step function equal to ``values[0]`` left of ``breakpoints[0]``, ``values[i]`` on
    ``[breakpoints[i-1], breakpoints[i])`` and ``values[-1]`` from ``breakpoints[-1]`` on (``len(values) ==
    len(breakpoints) + 1``, breakpoints strictly increasing), convolved with ``mollifier(kernel=kernel,
    width=width)``: ``values[0] + sum_i (values[i+1] - values[i]) mollifier_cdf(x - breakpoints[i])``.

    Limit: the step function (midpoint at the breakpoints) as width -> 0. Guarantee: per unit jump, the
    error at distance d from a breakpoint is ``1 - CDF(d/w)``; gradient Lipschitz with constant
    ``sum |jumps| * max|phi'| / w^2`` (``bounds("smooth_steps:<kernel>", 1/width)`` per unit jump). Floor with
    logistic kernel of width 1/t is the window-method ``smoothround.floor(x, t)``.

    >>> import numpy as np
    >>> x = np.array([-0.5, 0.0, 0.5, 1.0, 1.5])
    >>> smooth_steps(x, [0.0, 1.0], [0.0, 1.0, 3.0], width=0.1).round(4)
    array([0.0067, 0.5001, 1.0067, 2.    , 2.9866])
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    w = _width(width)
    bps = _constant_vector("breakpoints", breakpoints)
    vals = _constant_vector("values", values)
    if vals.shape[0] != bps.shape[0] + 1:
        msg = (f"`values` must have one more element than `breakpoints` ({bps.shape[0] + 1}); "
               f"got {vals.shape[0]}.")
        raise ValueError(msg)
    if np.any(np.diff(bps) <= 0):
        msg = "`breakpoints` must be strictly increasing; got " + np.array2string(bps, threshold=8) + "."
        raise ValueError(msg)
    jumps = tuple(float(j) for j in np.diff(vals))
    op = StepsOp(kernel, w, tuple(float(b) for b in bps), jumps, float(vals[0]))
    return apply(op, prepare(x), {})
