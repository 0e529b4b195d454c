"""Smooth abs, relu, clamp, sign and Heaviside step, and the three step kernels (logistic, erf, arctan) that the
step, the sign and the mollifiers share: one elementwise op each, written once against ``xp``.

Every op goes through :func:`smoothround._backends.apply`, so PyTorch and JAX differentiate it with the
closed-form derivative below (an ``autograd.Function`` / ``custom_jvp`` that saves only the input). The stable
forms (``|x| + log1p(e^{-2k|x|})/k`` and the like) contain ``|x|``, whose autodiff at ``x = 0`` would give a
wrong derivative; the closed forms do not.

Numerics, for every sharpness ``k > 0`` (a Python number, beyond the dtype's range included) and every float
dtype: ``k x`` is formed by :class:`~smoothround.toolbox._numerics.Scale` (never ``inf * 0``), tails are computed
directly (``sigmoid(kx)``, ``erfc(-kx)/2``, ``atan(1/|kx|)/pi``: no ``1/2 + 1/2 ...`` cancellation), heavy tails
without squaring ``k x``, and a result beyond the largest finite number saturates there instead of overflowing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smoothround._backends import Prepared, apply, prepare
from smoothround._validation import check_choice, check_positive, check_real_scalar
from smoothround.toolbox import _array_k
from smoothround.toolbox._numerics import (
    LN_SQRT_PI,
    Scale,
    density_exp,
    erfc_cap,
    exp_cap,
    largest,
    log_word,
    reciprocal_product,
    saturating_add,
    saturating_div,
    saturating_mul,
    saturating_sub,
    softplus_over_k,
)
from smoothround.toolbox._special import erf, erfc, sigmoid, sigmoid_prime

Array = Any

_INV_PI = 1.0 / math.pi
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_LOG2 = math.log(2.0)

# |k x| beyond which each function has reached its limit to the last bit in every dtype (e^-800 = 0,
# erfc(30) = 0, tanh(20) = 1): arguments are clipped there, so nothing overflows and inf never meets 0.
EXP_CAP = 800.0
ERF_CAP = 30.0
TANH_CAP = 20.0

STEP_METHODS = ("logistic", "erf", "arctan")


# ---------------------------------------------------------------------------------------------- step kernels
#
# The smooth step S(k x) of each method, its derivative k S'(k x) (a density: the mollifier) and its second
# derivative k^2 S''(k x):
#   logistic  S = sigmoid(u)          S' = sigmoid'(u)          S'' = -sigmoid'(u) tanh(u/2)
#   erf       S = erfc(-u) / 2        S' = e^{-u^2} / sqrt(pi)  S'' = -2 u e^{-u^2} / sqrt(pi)
#   arctan    S = 1/2 + atan(u) / pi  S' = 1 / (pi (1 + u^2))  S'' = -2 u / (pi (1 + u^2)^2)
# The arctan tails decay like 1/u and 1/u^2, so beyond |u| = 1 they are written in r = 1/(k x), which is formed
# without forming k x: k S' = (r / x) / (pi (1 + r^2)) and k^2 S'' = -2 (r / x^2) / (pi (1 + r^2)^2).


def _outside(xp: Any, x: Array, u: Array) -> tuple[Array, Array]:
    """(|k x| > 1, x there and 1 elsewhere): the points of the heavy tail, and an x that is never 0."""
    tail = xp.abs(u) > 1.0
    return tail, xp.where(tail, x, xp.ones_like(x))


def step_value(method: str, xp: Any, x: Array, k: Scale) -> Array:
    """The smooth Heaviside step ``S(k x)``, accurate to rounding in both tails."""
    if method == "logistic":
        return sigmoid(xp, k.apply(xp, x, EXP_CAP))
    if method == "erf":
        return 0.5 * erfc(xp, -k.apply(xp, x, ERF_CAP))
    u = k.apply(xp, x)
    far_left = u < -1.0
    r = reciprocal_product(xp, xp.where(far_left, x, -xp.ones_like(x)), k)  # 1/(k x) < 0
    return xp.where(far_left, xp.atan(-r), xp.atan2(xp.ones_like(u), -u)) * _INV_PI


def sign_value(method: str, xp: Any, x: Array, k: Scale) -> Array:
    """``2 S(k x) - 1``, written without cancellation near 0: tanh(kx/2), erf(kx), (2/pi) atan(kx)."""
    if method == "logistic":
        return xp.tanh(0.5 * k.apply(xp, x, EXP_CAP))
    if method == "erf":
        return erf(xp, k.apply(xp, x, ERF_CAP))
    return (2.0 * _INV_PI) * xp.atan(k.apply(xp, x))


def step_density(method: str, xp: Any, x: Array, k: Scale, weight: float = 1.0) -> Array:
    """``weight * k S'(k x)``, exact to rounding (``k x`` as a double word) and saturated at the largest number."""
    if method in ("logistic", "erf"):
        square = method == "erf"
        cap = (erfc_cap if square else exp_cap)(k.inverse())  # where k e^{-u} (k e^{-u^2}) has underflowed
        hi, lo = k.product(xp, xp.abs(x), cap)
        log_scale = log_word(k, (weight, 0.0), LN_SQRT_PI if square else (0.0, 0.0))
        shift = None if square else -2.0 * xp.log1p(xp.exp(-hi))  # sigmoid' = e^{-u} / (1 + e^{-u})^2
        return density_exp(xp, hi, lo, log_scale, square, shift)
    u = k.apply(xp, x)
    tail, xt = _outside(xp, x, u)
    ut = xp.where(tail, xp.zeros_like(u), u)
    r = xp.where(tail, reciprocal_product(xp, xt, k), xp.zeros_like(u))  # |r| < 1 where used
    far = saturating_div(xp, (weight * _INV_PI) * r / (1.0 + r * r), xt)  # (1/pi) (r/x) / (1 + r^2)
    return xp.where(tail, far, k.times(weight).apply(xp, _INV_PI / (1.0 + ut * ut)))


def step_slope(method: str, xp: Any, x: Array, k: Scale, weight: float = 1.0) -> Array:
    """``weight * k^2 S''(k x)``, exact to rounding and saturated at the largest number (``k^3 x`` is formed as
    one product, so a subnormal ``k x`` loses nothing)."""
    k3 = k.mul(k).mul(k)
    k3x = k3.times(weight).apply(xp, x)
    if method in ("logistic", "erf"):
        square = method == "erf"
        cap = (erfc_cap if square else exp_cap)(k.mul(k).inverse())
        hi, lo = k.product(xp, xp.abs(x), cap)
        near = hi <= 1.0
        if square:  # -2 k^2 u e^{-u^2} / sqrt(pi) = -2 k^3 x e^{-u^2} / sqrt(pi)
            shift = xp.log(xp.where(near, xp.ones_like(hi), hi))  # far: the factor u inside the exponential
            log_scale = log_word(k.mul(k), (2.0 * weight, 0.0), LN_SQRT_PI)
            near_value = -k3.times(2.0 * weight * _INV_SQRT_PI).apply(xp, x) * xp.exp(-hi * hi)
        else:  # -k^2 sigmoid'(u) tanh(u/2)
            shift = -2.0 * xp.log1p(xp.exp(-hi)) + xp.log(xp.where(near, xp.ones_like(hi), xp.tanh(0.5 * hi)))
            log_scale = log_word(k.mul(k), (weight, 0.0))
            small = xp.where(near, hi, xp.ones_like(hi))
            ratio = xp.where(small > 1e-4, xp.tanh(0.5 * small) / xp.where(small > 1e-4, small, xp.ones_like(
                small)), 0.5 - small * small / 24.0)  # tanh(u/2)/u
            near_value = -sigmoid_prime(xp, hi) * ratio * k3x
        far_value = -xp.sign(x) * density_exp(xp, hi, lo, log_scale, square, shift)
        return xp.where(near, near_value, far_value)
    u = k.apply(xp, x)
    tail, xt = _outside(xp, x, u)
    ut = xp.where(tail, xp.zeros_like(u), u)
    r = xp.where(tail, reciprocal_product(xp, xt, k), xp.zeros_like(u))
    q = 1.0 + r * r
    far = saturating_div(xp, saturating_div(xp, (-2.0 * weight * _INV_PI) * r / (q * q), xt), xt)
    p = 1.0 + ut * ut
    return xp.where(tail, far, -k3.times(2.0 * weight * _INV_PI).apply(xp, x) / (p * p))


# ---------------------------------------------------------------------------------------------- clamp


def _clamp_half(xp: Any, near: Array, far: Array, k: Scale, kw: float, w: float) -> tuple[Array, Array]:
    """For the half nearer ``lo`` (``near = x - lo <= far = hi - x``): ``(f - lo, inside)``, where ``inside``
    marks the points at which ``f - lo`` is ``near + c`` and ``c`` is returned instead (so that the caller adds
    ``c`` to ``x`` itself, not to ``lo + near``, which would lose the digits of a result near 0).

    ``f - lo = (1/k) log((1 + e^a) / (1 + e^b))`` with ``a = k near``, ``b = -k far``, ``a - b = k w``:
    ``log1p(q)/k`` with ``q = e^a (1 - e^{-kw}) / (1 + e^b)``, which cancels nowhere (``1 - e^{-kw}`` is a
    constant); for ``a > 0`` (then ``kw >= 1``) ``near + c``, ``c = (log1p(e^-a) - log1p(e^b)) / k``.
    """
    a = k.apply(xp, near, EXP_CAP)
    b = -k.apply(xp, far, EXP_CAP)
    ratio = xp.exp(xp.minimum(a, xp.zeros_like(a)) if kw >= 1.0 else a) / (1.0 + xp.exp(b))
    if kw < 1.0:  # (ek/k) ratio log1p(q)/q with q = ek ratio: no 1/k of a q rounded to 0 at tiny k
        ek_over_k = w * (1.0 if kw < 1e-300 else -math.expm1(-kw) / kw)
        q = ratio * -math.expm1(-kw)
        big = q > 2.0**-20  # below, log1p(q)/q = 1 - q/2 to 2^-40 (and q may be subnormal)
        q_safe = xp.where(big, q, xp.ones_like(q))
        log_ratio = xp.where(big, xp.log1p(q_safe) / q_safe, 1.0 - 0.5 * q)
        return Scale.of(ek_over_k).apply(xp, ratio * log_ratio), xp.zeros_like(a) > 0
    q = ratio * -math.expm1(-kw)
    inside = a > 0
    c = k.divide(xp, xp.log1p(xp.exp(-xp.maximum(a, xp.zeros_like(a)))) - xp.log1p(xp.exp(b)))
    return xp.where(inside, c, k.divide(xp, xp.log1p(q))), inside


def _clamp_value(xp: Any, x: Array, k: Scale, lo: float, hi: float) -> Array:
    kw = k.value() * (hi - lo)
    below = saturating_sub(xp, x, xp.zeros_like(x) + lo)  # x - lo
    above = saturating_sub(xp, xp.zeros_like(x) + hi, x)  # hi - x
    lower = below <= above
    near, far = xp.where(lower, below, above), xp.where(lower, above, below)
    e, inside = _clamp_half(xp, near, far, k, kw, hi - lo)
    out = xp.where(inside, xp.where(lower, x + e, x - e), xp.where(lower, lo + e, hi - e))
    return xp.clip(out, lo, hi)  # within [lo, hi] at every k, to rounding


def _clamp_derivative(xp: Any, x: Array, k: Scale, lo: float, hi: float) -> Array:
    """``sigmoid(k (x - lo)) - sigmoid(k (x - hi)) = sigmoid(k (x - lo)) sigmoid(k (hi - x)) (1 - e^{-kw})``."""
    ek = -math.expm1(-k.value() * (hi - lo))
    below = k.apply(xp, saturating_sub(xp, x, xp.zeros_like(x) + lo), EXP_CAP)
    above = k.apply(xp, saturating_sub(xp, xp.zeros_like(x) + hi, x), EXP_CAP)
    return sigmoid(xp, below) * sigmoid(xp, above) * ek


# ---------------------------------------------------------------------------------------------- the ops


def _value(kind: str, xp: Any, x: Array, k: Scale, lo: float, hi: float) -> Array:
    family, method = kind.split(":")
    if family == "abs" and method == "logcosh":  # |x| + log1p(e^{-2k|x|}) / k
        ax = xp.abs(x)
        tail = Scale.of(2.0).apply(xp, softplus_over_k(xp, ax, k.times(2.0)))
        return saturating_add(xp, ax, tail, _LOG2 / k.value())
    if family == "abs" and method == "erf":
        ax = xp.abs(x)
        return ax * erf(xp, k.apply(xp, ax, ERF_CAP))
    if family == "abs":  # sqrt(x^2 + 1/k^2) = hypot(kx, 1) / k, or |x| hypot(1, 1/(kx)) beyond |kx| = 1
        u = k.apply(xp, x)
        tail, xt = _outside(xp, x, u)
        far = saturating_mul(xp, xp.abs(x), xp.hypot(xp.ones_like(u), reciprocal_product(xp, xt, k)))
        near = k.divide(xp, xp.hypot(xp.where(tail, xp.zeros_like(u), u), xp.ones_like(u)))
        return xp.where(tail, far, near)
    if family == "relu":  # max(x, 0) + log1p(e^{-k|x|}) / k
        tail = softplus_over_k(xp, xp.abs(x), k)
        return saturating_add(xp, xp.maximum(x, xp.zeros_like(x)), tail, _LOG2 / k.value())
    if family == "clamp":
        return _clamp_value(xp, x, k, lo, hi)
    if family == "sign":
        return sign_value(method, xp, x, k)
    if family == "step":
        return step_value(method, xp, x, k)
    if family == "density":
        return step_density(method, xp, x, k)
    raise AssertionError(kind)


def _derivative(kind: str, xp: Any, x: Array, k: Scale, lo: float, hi: float) -> Array:
    family, method = kind.split(":")
    if family == "abs" and method == "logcosh":
        return xp.tanh(k.apply(xp, x, TANH_CAP))
    if family == "abs" and method == "erf":  # erf(u) + (2/sqrt(pi)) u e^{-u^2}: bounded, no inf * 0
        u = k.apply(xp, x, ERF_CAP)
        return erf(xp, u) + (2.0 * _INV_SQRT_PI) * (u * xp.exp(-u * u))
    if family == "abs":  # u / hypot(u, 1); the cap keeps hypot(u, 1) + ... finite
        u = k.apply(xp, x, 0.25 * largest(xp, x.dtype))
        return u / xp.hypot(u, xp.ones_like(u))
    if family == "relu":
        return sigmoid(xp, k.apply(xp, x, EXP_CAP))
    if family == "clamp":
        return _clamp_derivative(xp, x, k, lo, hi)
    if family == "sign":
        return step_density(method, xp, x, k, 2.0)
    if family == "step":
        return step_density(method, xp, x, k)
    if family == "density":
        return step_slope(method, xp, x, k)
    raise AssertionError(kind)


def _hard(kind: str, xp: Any, x: Array, lo: float, hi: float) -> Array:
    family = kind.split(":")[0]
    if family == "abs":
        return xp.abs(x)
    if family == "relu":
        return xp.maximum(x, xp.zeros_like(x))
    if family == "clamp":
        return xp.clip(x, lo, hi)
    if family == "sign":
        return xp.sign(x)
    return 0.5 + 0.5 * xp.sign(x)


def fit(xp: Any, value: Array, finite: Array, out_max: float) -> Array:
    """``value`` saturated at ``out_max`` (a narrower output dtype's largest number) where the input is finite."""
    if out_max >= largest(xp, value.dtype):
        return value
    return xp.where(finite, xp.clip(value, -out_max, out_max), value)


def output_limit(prepared: Prepared) -> float:
    """The largest finite number of the output dtype (float16 and bfloat16 are computed in float32)."""
    xp, dtype = prepared.xp, prepared.out_dtype
    try:
        return float(xp.finfo(dtype).max)
    except (TypeError, ValueError):
        return math.inf


@dataclass(frozen=True)
class UnaryOp:
    """An elementwise smooth function of ``x`` with a Python-number sharpness (no gradient for ``k``)."""

    kind: str
    k: Scale
    lo: float = 0.0
    hi: float = 0.0
    out_max: float = math.inf
    param_names: tuple[str, ...] = ()
    straight_through: bool = False

    def value(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        return fit(xp, _value(self.kind, xp, x, self.k, self.lo, self.hi), xp.isfinite(x), self.out_max)

    def hard(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        return _hard(self.kind, xp, x, self.lo, self.hi)

    def partials(self, xp: Any, x: Array, params: dict[str, Array], wrt: tuple[str, ...]) -> dict[str, Array]:
        d = _derivative(self.kind, xp, x, self.k, self.lo, self.hi)
        return {"x": fit(xp, d, xp.isfinite(x), self.out_max)}


def sharpness(k: Any, name: str = "k") -> float:
    """Validate a sharpness: a positive real number, ``inf`` meaning the hard function."""
    value = check_real_scalar(name, k)
    check_positive(name, value)
    return value


def run_unary(kind: str, x: Any, k: Any, lo: float = 0.0, hi: float = 0.0) -> Array:
    kf = sharpness(k)
    prepared: Prepared = prepare(x)
    if math.isinf(kf):
        return prepared.finish(_hard(kind, prepared.xp, prepared.array, lo, hi))
    return run_scaled(kind, prepared, Scale.of(kf), lo, hi)


def run_scaled(kind: str, prepared: Prepared, k: Scale, lo: float = 0.0, hi: float = 0.0) -> Array:
    """Apply the op ``kind`` with the exact sharpness ``k`` to a prepared input."""
    return apply(UnaryOp(kind, k, lo, hi, output_limit(prepared)), prepared, {})


# ---------------------------------------------------------------------------------------------- public


def smooth_abs(x: Array, /, k: float, *, method: str = "logcosh") -> Array:
    """Smooth absolute value with sharpness ``k``.

    Definition, by ``method``:

    * "logcosh" (default): ``(1/k) log(e^{kx} + e^{-kx})``, from above, error ``log(2)/k`` (at x = 0);
    * "erf": ``x erf(k x)``, from below, error ``0.2404/k`` (at |x| = 0.5316/k);
    * "sqrt": ``sqrt(x^2 + 1/k^2)``, from above, error ``1/k`` (at x = 0).

    Limit: ``|x|`` as k -> inf (``k = inf`` returns it exactly). Guarantee: see
    ``bounds("smooth_abs:<method>", k)``; the gradient is Lipschitz with constant k, 4k/sqrt(pi) and k
    respectively. The derivative at 0 is 0.

    >>> import numpy as np
    >>> smooth_abs(np.array([-1.0, 0.0, 2.0]), k=10.0).round(4)
    array([1.    , 0.0693, 2.    ])
    >>> smooth_abs(np.array([-1.0, 0.0, 2.0]), k=10.0, method="sqrt").round(4)
    array([1.005 , 0.1   , 2.0025])
    """
    method = check_choice("method", method, ("logcosh", "erf", "sqrt"))
    if _array_k.is_array(k):
        return _array_k.elementwise(smooth_abs, x, k, True, method=method)
    return run_unary("abs:" + method, x, k)


def smooth_relu(x: Array, /, k: float) -> Array:
    """Smooth ReLU (softplus) with sharpness ``k``: ``(1/k) log(1 + e^{kx})``.

    Limit: ``max(x, 0)`` as k -> inf. Guarantee: from above, ``0 <= f_k - relu <= log(2)/k`` (equality at 0);
    gradient ``sigmoid(kx)`` is (k/4)-Lipschitz. The derivative at 0 is 1/2.

    >>> import numpy as np
    >>> smooth_relu(np.array([-1.0, 0.0, 1.0]), k=10.0).round(4)
    array([0.    , 0.0693, 1.    ])
    """
    if _array_k.is_array(k):
        return _array_k.elementwise(smooth_relu, x, k, True)
    return run_unary("relu:softplus", x, k)


def smooth_clamp(x: Array, /, *, lo: float, hi: float, k: float) -> Array:
    """Smooth clamp of ``x`` to ``[lo, hi]`` with sharpness ``k``.

    Definition: ``lo + softplus_k(x - lo) - softplus_k(x - hi)`` with ``softplus_k(z) = (1/k) log(1 +
    e^{kz})``; increasing, strictly inside ``(lo, hi)`` mathematically, and within ``[lo, hi]`` in floating
    point for every k (at large k it rounds to ``lo`` and ``hi`` far out; as k -> 0 it tends to the midpoint).

    Limit: ``clip(x, lo, hi)`` as k -> inf. Guarantee: ``|f_k - clip| <= log(2)/k`` (both sides; approached at
    x = lo and x = hi when hi - lo >> 1/k); gradient (k/4)-Lipschitz.

    >>> import numpy as np
    >>> smooth_clamp(np.array([-5.0, 0.0, 0.5, 1.0, 5.0]), lo=0.0, hi=1.0, k=20.0).round(4)
    array([0.    , 0.0347, 0.5   , 0.9653, 1.    ])
    """
    lo_f = check_real_scalar("lo", lo)
    hi_f = check_real_scalar("hi", hi)
    if not (math.isfinite(lo_f) and math.isfinite(hi_f) and lo_f < hi_f and math.isfinite(hi_f - lo_f)):
        msg = f"`lo` and `hi` must be finite with lo < hi and hi - lo finite; got lo={lo!r}, hi={hi!r}."
        raise ValueError(msg)
    prepared = prepare(x)
    top = float(prepared.xp.finfo(prepared.array.dtype).max)
    if max(abs(lo_f), abs(hi_f)) > top:
        msg = (f"`lo` and `hi` must lie within the range of x's dtype (+-{top:.6g}); "
               f"got lo={lo!r}, hi={hi!r}.")
        raise ValueError(msg)
    if _array_k.is_array(k):
        # lo + s(x - lo) - s(x - hi), s = softplus_k, written on each side so that nothing of the size of the
        # bounds cancels: = x + s(lo - x) - s(x - hi) inside, = hi - s(hi - x) + s(lo - x) above hi
        xp, a = prepared.xp, prepared.array
        below = lo_f + smooth_relu(a - lo_f, k) - smooth_relu(a - hi_f, k)
        inside = a + smooth_relu(lo_f - a, k) - smooth_relu(a - hi_f, k)
        above = hi_f - smooth_relu(hi_f - a, k) + smooth_relu(lo_f - a, k)
        out = xp.where(a < lo_f, below, xp.where(a > hi_f, above, inside))
        return prepared.finish(xp.clip(out, lo_f, hi_f))
    kf = sharpness(k)
    if math.isinf(kf):
        return prepared.finish(_hard("clamp:softplus", prepared.xp, prepared.array, lo_f, hi_f))
    return run_scaled("clamp:softplus", prepared, Scale.of(kf), lo_f, hi_f)


def smooth_sign(x: Array, /, k: float, *, method: str = "logistic") -> Array:
    """Smooth sign with sharpness ``k``, odd and in (-1, 1).

    Definition, by ``method``: "logistic" ``2 sigmoid(kx) - 1 = tanh(kx/2)``; "erf" ``erf(kx)``; "arctan"
    ``(2/pi) arctan(kx)``.

    Limit: ``sign(x)`` (with sign(0) = 0) as k -> inf, pointwise. Guarantee: sign jumps, so the uniform error
    is 1 for every k (near 0); for |x| >= d the error is ``2 sigmoid(-kd)``, ``erfc(kd)`` and
    ``(2/pi) arctan(1/(kd))``. The gradient is Lipschitz with constant ``c k^2``, ``c`` = 0.1925, 0.9679,
    0.4135.

    >>> import numpy as np
    >>> smooth_sign(np.array([-1.0, 0.0, 0.1, 1.0]), k=10.0).round(4)
    array([-0.9999,  0.    ,  0.4621,  0.9999])
    """
    method = check_choice("method", method, STEP_METHODS)
    if _array_k.is_array(k):
        return _array_k.elementwise(smooth_sign, x, k, False, method=method)
    return run_unary("sign:" + method, x, k)


def smooth_step(x: Array, /, k: float, *, method: str = "logistic") -> Array:
    """Smooth Heaviside step with sharpness ``k``: ``(1 + smooth_sign(x, k=k, method=method)) / 2``.

    Definition, by ``method``: "logistic" ``sigmoid(kx)``; "erf" ``(1 + erf(kx))/2``; "arctan"
    ``1/2 + arctan(kx)/pi``. Evaluated as ``sigmoid(kx)``, ``erfc(-kx)/2`` and ``atan(1/|kx|)/pi`` (for
    ``kx < -1``), so the small values left of the jump are exact to rounding (``smooth_step(-40, k=1) =
    4.25e-18``, not 0).

    Limit: the Heaviside step with H(0) = 1/2 as k -> inf. Guarantee: uniform error 1/2 for every k (near the
    jump); for |x| >= d the error is ``sigmoid(-kd)``, ``erfc(kd)/2`` and ``arctan(1/(kd))/pi``; gradient
    Lipschitz with constant ``c k^2``, ``c`` = 0.0962, 0.4839, 0.2067.

    >>> import numpy as np
    >>> smooth_step(np.array([-1.0, 0.0, 0.1, 1.0]), k=10.0).round(4)
    array([0.    , 0.5   , 0.7311, 1.    ])
    """
    method = check_choice("method", method, STEP_METHODS)
    if _array_k.is_array(k):
        return _array_k.elementwise(smooth_step, x, k, False, method=method)
    return run_unary("step:" + method, x, k)
