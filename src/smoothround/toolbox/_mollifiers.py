"""Dirac mollifiers and the smoothing of any piecewise-constant function by convolution with one of them.

A piecewise-constant function with breakpoints ``b_1 < ... < b_m`` and values ``v_0, ..., v_m`` is
``v_0 + sum_i (v_i - v_{i-1}) H(x - b_i)``; its convolution with a kernel ``phi_w`` (density of width ``w``)
is, in closed form, ``v_0 + sum_i (v_i - v_{i-1}) CDF((x - b_i) / w)``. That is :func:`smooth_steps`; its
derivative ``sum_i (v_i - v_{i-1}) phi_w(x - b_i)`` is the backward of an elementwise op, so nothing of size
``m`` per element is stored for autodiff.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from smoothround._backends import apply, prepare
from smoothround._validation import _concrete_values, check_choice, check_positive, check_real_scalar
from smoothround.toolbox._elementwise import (
    fit,
    output_limit,
    run_scaled,
    sign_value,
    step_density,
    step_value,
)
from smoothround.toolbox._numerics import (
    SQRT2_HI,
    SQRT2_LO,
    Scale,
    opaque,
    round_to,
    saturating_sub,
    saturating_sum,
    scaled,
)

Array = Any

KERNELS = ("gaussian", "cauchy", "logistic")
#: the smooth step whose derivative each kernel is: its CDF is that step at sharpness 1/width (1/(width
#: sqrt 2) for the Gaussian, whose standard deviation is the width)
STEP_OF_KERNEL = {"gaussian": "erf", "cauchy": "arctan", "logistic": "logistic"}


def _width(width: Any) -> float:
    value = check_real_scalar("width", width)
    check_positive("width", value, allow_inf=False)
    return value


def kernel_sharpness(kernel: str, width: float) -> Scale:
    """The sharpness of the step whose derivative is the kernel of this width, exactly (``1/w`` may
    overflow a Python float)."""
    scale = Scale.of(width)
    return (scale.times(SQRT2_HI, SQRT2_LO) if kernel == "gaussian" else scale).inverse()


def mollifier(x: Array, /, *, kernel: str = "gaussian", width: float = 1.0) -> Array:
    """A Dirac mollifier: a probability density of width ``width`` (``w``), integrating to 1.

    Definition, by ``kernel``: "gaussian" ``e^{-x^2/(2w^2)} / (w sqrt(2 pi))`` (standard deviation w);
    "cauchy" ``w / (pi (x^2 + w^2))`` (half width at half maximum w); "logistic"
    ``e^{-x/w} / (w (1 + e^{-x/w})^2)`` (scale w, standard deviation w pi/sqrt(3)).

    Limit: the Dirac delta as w -> 0 (its integral against any bounded continuous function tends to the value
    at 0). Guarantee: nonnegative, even, integral exactly 1 (checked numerically in the tests). It is the
    derivative of :func:`mollifier_cdf`; a density beyond the largest number (``w`` below ``1/max``)
    saturates there.

    >>> import numpy as np
    >>> mollifier(np.array([0.0, 1.0]), kernel="logistic", width=0.5).round(4)
    array([0.5 , 0.21])
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    w = _width(width)
    return run_scaled("density:" + STEP_OF_KERNEL[kernel], prepare(x), kernel_sharpness(kernel, w))


def mollifier_cdf(x: Array, /, *, kernel: str = "gaussian", width: float = 1.0) -> Array:
    """The cumulative distribution of :func:`mollifier`: the Heaviside step convolved with the kernel.

    Definition: "gaussian" ``(1 + erf(x / (w sqrt 2))) / 2``; "cauchy" ``1/2 + arctan(x/w)/pi``; "logistic"
    ``sigmoid(x/w)``. Limit: the Heaviside step (H(0) = 1/2) as w -> 0. Guarantee: it equals
    ``smooth_step(x, k=1/(w sqrt 2), method="erf")``, ``smooth_step(x, k=1/w, method="arctan")`` and
    ``smooth_step(x, k=1/w)`` respectively (the same code).

    >>> import numpy as np
    >>> mollifier_cdf(np.array([-1.0, 0.0, 1.0]), kernel="cauchy", width=1.0).round(4)
    array([0.25, 0.5 , 0.75])
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    w = _width(width)
    return run_scaled("step:" + STEP_OF_KERNEL[kernel], prepare(x), kernel_sharpness(kernel, w))


@dataclass(frozen=True)
class StepsOp:
    """The convolution of a piecewise-constant function with a kernel, as one elementwise op of ``x``.

    With ``i`` the breakpoint nearest ``x``, the value is ``(v_i + v_{i+1})/2 + (jump_i/2) sign_i(x)`` (the smooth
    sign of that breakpoint, exact near it, where the value may pass through 0; where ``|sign_i| > 1/2`` the
    value of its side plus its tail term, which keeps a tail the sign would round away) plus, for every other
    breakpoint, the jump times the kernel's tail on the far side (``CDF(z) - [z >= 0] = -sign(z) CDF(-|z|)``):
    small terms, so sums over many breakpoints keep their digits. ``x - b`` is formed exactly even where the
    dtype cannot hold ``b``.
    """

    method: str
    k: Scale
    breakpoints: tuple[float, ...]
    values: tuple[float, ...]
    out_max: float = math.inf
    param_names: tuple[str, ...] = ()
    straight_through: bool = False

    def _jumps(self) -> list[float]:
        return [b - a for a, b in itertools.pairwise(self.values)]

    def _offsets(self, xp: Any, x: Array) -> list[Array]:
        """``x - b`` for every breakpoint, rounded once (``b`` split into two numbers of the dtype)."""
        out = []
        for b in self.breakpoints:
            b_hi = round_to(b, x.dtype)
            b_lo = round_to(b - b_hi, x.dtype)
            # opaque: under jax.jit XLA would fold (x - b_hi) - b_lo into x - (b_hi + b_lo), rounded: x - b_hi
            out.append(opaque(xp, saturating_sub(xp, x, xp.zeros_like(x) + b_hi)) - b_lo)
        return out

    def value(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        offsets = self._offsets(xp, x)
        # the nearest breakpoint: the last one at or left of x, unless the next one is nearer
        count = xp.zeros_like(x)
        for d in offsets:
            count = count + xp.astype(d >= 0, x.dtype)
        left, right = xp.zeros_like(x), xp.zeros_like(x)
        for i, d in enumerate(offsets):
            left = xp.where(count == i + 1, xp.abs(d), left)
            right = xp.where(count == i, xp.abs(d), right)
        last = float(len(offsets))
        nearest = xp.where((count > 0) & ((count == last) | (left <= right)), count - 1.0, count)
        out = xp.zeros_like(x)
        jumps = self._jumps()
        for i, (d, jump) in enumerate(zip(offsets, jumps, strict=True)):
            is_nearest = nearest == i
            tail = step_value(self.method, xp, -xp.abs(d), self.k)
            term = scaled(xp, xp.where(d >= 0, -tail, tail), jump)
            mid = 0.5 * self.values[i] + 0.5 * self.values[i + 1]
            sign = sign_value(self.method, xp, d, self.k)
            centre = saturating_sum(xp, xp.zeros_like(x) + round_to(mid, x.dtype), scaled(xp, sign, 0.5 * jump))
            # away from the breakpoint (|sign| > 1/2) the centre form would round the tail away against the
            # side's value (mid - jump/2 (1 - 2 CDF)): there the side's value plus the tail term, as elsewhere
            side = xp.where(d >= 0, xp.zeros_like(x) + self.values[i + 1], xp.zeros_like(x) + self.values[i])
            near = xp.where(xp.abs(sign) <= 0.5, centre, saturating_sum(xp, side, term))
            out = saturating_sum(xp, out, xp.where(is_nearest, near, term))
        return fit(xp, out, xp.isfinite(x), self.out_max)

    def hard(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        """The step function: ``values[i]`` on ``[breakpoints[i-1], breakpoints[i])``, selected exactly."""
        out = xp.zeros_like(x) + self.values[0]
        for d, v in zip(self._offsets(xp, x), self.values[1:], strict=True):
            out = xp.where(d >= 0, xp.zeros_like(x) + v, out)
        return out

    def partials(self, xp: Any, x: Array, params: dict[str, Array], wrt: tuple[str, ...]) -> dict[str, Array]:
        out = xp.zeros_like(x)
        for d, jump in zip(self._offsets(xp, x), self._jumps(), strict=True):
            out = saturating_sum(xp, out, scaled(xp, step_density(self.method, xp, d, self.k), jump))
        return {"x": fit(xp, out, xp.isfinite(x), self.out_max)}


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
    if np.any(bps[1:] <= bps[:-1]):
        msg = "`breakpoints` must be strictly increasing; got " + np.array2string(bps, threshold=8) + "."
        raise ValueError(msg)
    with np.errstate(over="ignore"):
        jumps_finite = bool(np.all(np.isfinite(np.diff(vals))))
    if not jumps_finite:
        msg = "`values` must have finite differences (jumps); got " + np.array2string(vals, threshold=8) + "."
        raise ValueError(msg)
    prepared = prepare(x)
    top = float(prepared.xp.finfo(prepared.array.dtype).max)
    if np.any(np.abs(vals) > top) or np.any(np.abs(bps) > top):
        msg = f"`breakpoints` and `values` must lie within the range of x's dtype (+-{top:.6g})."
        raise ValueError(msg)
    method = STEP_OF_KERNEL[kernel]
    op = StepsOp(method, kernel_sharpness(kernel, w), tuple(float(b) for b in bps), tuple(float(v) for v in vals),
                 output_limit(prepared))
    return apply(op, prepared, {})
