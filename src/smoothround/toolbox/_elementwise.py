"""Smooth abs, relu, clamp, sign and Heaviside step: one elementwise op each, written once against ``xp``.

Every op goes through :func:`smoothround._backends.apply`, so PyTorch and JAX differentiate it with the
closed-form derivative below (an ``autograd.Function`` / ``custom_jvp`` that saves only the input). The stable
forms (``|x| + log1p(e^{-2k|x|})/k`` and the like) contain ``|x|``, whose autodiff at ``x = 0`` would give a
wrong derivative; the closed forms do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smoothround._backends import Prepared, apply, prepare
from smoothround._validation import check_choice, check_positive, check_real_scalar
from smoothround.toolbox._special import capped, erf, sigmoid, sigmoid_prime, softplus_excess

Array = Any

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _value(kind: str, xp: Any, x: Array, k: float, lo: float, hi: float) -> Array:
    if kind == "abs:logcosh":
        return xp.abs(x) + softplus_excess(xp, 2.0 * k * x) / k
    if kind == "abs:erf":
        return x * erf(xp, k * x)
    if kind == "abs:sqrt":
        return xp.hypot(x, xp.full_like(x, 1.0 / k))
    if kind == "relu:softplus":
        return xp.maximum(x, xp.zeros_like(x)) + softplus_excess(xp, k * x) / k
    if kind == "clamp:softplus":
        hard = xp.clip(x, lo, hi)
        return hard + (softplus_excess(xp, k * (x - lo)) - softplus_excess(xp, k * (x - hi))) / k
    if kind == "sign:logistic":
        return xp.tanh(0.5 * k * x)
    if kind == "sign:erf":
        return erf(xp, k * x)
    if kind == "sign:arctan":
        return (2.0 / math.pi) * xp.atan(k * x)
    if kind.startswith("step:"):
        return 0.5 + 0.5 * _value("sign:" + kind[5:], xp, x, k, lo, hi)
    raise AssertionError(kind)


def _derivative(kind: str, xp: Any, x: Array, k: float, lo: float, hi: float) -> Array:
    if kind == "abs:logcosh":
        return xp.tanh(k * x)
    if kind == "abs:erf":
        u = k * capped(xp, x, 30.0 / k)  # erf(30) = 1 and 30 e^{-900} = 0: the limit, and no inf * 0 at inf
        return erf(xp, u) + _TWO_OVER_SQRT_PI * (u * xp.exp(-u * u))
    if kind == "abs:sqrt":
        xc = capped(xp, x)  # the largest finite x gives +-1, the limit; inf / inf would be NaN
        return xc / xp.hypot(xc, xp.full_like(xc, 1.0 / k))
    if kind == "relu:softplus":
        return sigmoid(xp, k * x)
    if kind == "clamp:softplus":
        return sigmoid(xp, k * (x - lo)) - sigmoid(xp, k * (x - hi))
    if kind == "sign:logistic":
        return 2.0 * k * sigmoid_prime(xp, k * x)
    if kind == "sign:erf":
        u = k * x
        return (_TWO_OVER_SQRT_PI * k) * xp.exp(-u * u)
    if kind == "sign:arctan":
        u = k * x
        return (2.0 * k / math.pi) / (1.0 + u * u)
    if kind.startswith("step:"):
        return 0.5 * _derivative("sign:" + kind[5:], xp, x, k, lo, hi)
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


@dataclass(unsafe_hash=True)
class UnaryOp:
    """An elementwise smooth function of ``x`` with a Python-number sharpness (no gradient for ``k``)."""

    kind: str
    k: float
    lo: float = 0.0
    hi: float = 0.0
    param_names: tuple[str, ...] = ()
    straight_through: bool = False

    def value(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        return _value(self.kind, xp, x, self.k, self.lo, self.hi)

    def hard(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        return _hard(self.kind, xp, x, self.lo, self.hi)

    def partials(self, xp: Any, x: Array, params: dict[str, Array], wrt: tuple[str, ...]) -> dict[str, Array]:
        return {"x": _derivative(self.kind, xp, x, self.k, self.lo, self.hi)}


def sharpness(k: Any) -> float:
    """Validate a sharpness: a positive real number, ``inf`` meaning the hard function."""
    value = check_real_scalar("k", k)
    check_positive("k", value)
    return value


def run_unary(kind: str, x: Any, k: Any, lo: float = 0.0, hi: float = 0.0) -> Array:
    kf = sharpness(k)
    prepared: Prepared = prepare(x)
    if math.isinf(kf):
        return prepared.finish(_hard(kind, prepared.xp, prepared.array, lo, hi))
    return apply(UnaryOp(kind, kf, lo, hi), prepared, {})


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
    return run_unary("abs:" + method, x, k)


def smooth_relu(x: Array, /, k: float) -> Array:
    """Smooth ReLU (softplus) with sharpness ``k``: ``(1/k) log(1 + e^{kx})``.

    Limit: ``max(x, 0)`` as k -> inf. Guarantee: from above, ``0 <= f_k - relu <= log(2)/k`` (equality at 0);
    gradient ``sigmoid(kx)`` is (k/4)-Lipschitz. The derivative at 0 is 1/2.

    >>> import numpy as np
    >>> smooth_relu(np.array([-1.0, 0.0, 1.0]), k=10.0).round(4)
    array([0.    , 0.0693, 1.    ])
    """
    return run_unary("relu:softplus", x, k)


def smooth_clamp(x: Array, /, *, lo: float, hi: float, k: float) -> Array:
    """Smooth clamp of ``x`` to ``[lo, hi]`` with sharpness ``k``.

    Definition: ``lo + softplus_k(x - lo) - softplus_k(x - hi)`` with ``softplus_k(z) = (1/k) log(1 +
    e^{kz})``; increasing, and strictly inside ``(lo, hi)``.

    Limit: ``clip(x, lo, hi)`` as k -> inf. Guarantee: ``|f_k - clip| <= log(2)/k`` (both sides; approached at
    x = lo and x = hi when hi - lo >> 1/k); gradient (k/4)-Lipschitz.

    >>> import numpy as np
    >>> smooth_clamp(np.array([-5.0, 0.0, 0.5, 1.0, 5.0]), lo=0.0, hi=1.0, k=20.0).round(4)
    array([0.    , 0.0347, 0.5   , 0.9653, 1.    ])
    """
    lo_f = check_real_scalar("lo", lo)
    hi_f = check_real_scalar("hi", hi)
    if not (math.isfinite(lo_f) and math.isfinite(hi_f) and lo_f < hi_f):
        msg = f"`lo` and `hi` must be finite with lo < hi; got lo={lo!r}, hi={hi!r}."
        raise ValueError(msg)
    return run_unary("clamp:softplus", x, k, lo_f, hi_f)


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
    method = check_choice("method", method, ("logistic", "erf", "arctan"))
    return run_unary("sign:" + method, x, k)


def smooth_step(x: Array, /, k: float, *, method: str = "logistic") -> Array:
    """Smooth Heaviside step with sharpness ``k``: ``(1 + smooth_sign(x, k=k, method=method)) / 2``.

    Definition, by ``method``: "logistic" ``sigmoid(kx)``; "erf" ``(1 + erf(kx))/2``; "arctan"
    ``1/2 + arctan(kx)/pi``.

    Limit: the Heaviside step with H(0) = 1/2 as k -> inf. Guarantee: uniform error 1/2 for every k (near the
    jump); for |x| >= d the error is ``sigmoid(-kd)``, ``erfc(kd)/2`` and ``arctan(1/(kd))/pi``; gradient
    Lipschitz with constant ``c k^2``, ``c`` = 0.0962, 0.4839, 0.2067.

    >>> import numpy as np
    >>> smooth_step(np.array([-1.0, 0.0, 0.1, 1.0]), k=10.0).round(4)
    array([0.    , 0.5   , 0.7311, 1.    ])
    """
    method = check_choice("method", method, ("logistic", "erf", "arctan"))
    return run_unary("step:" + method, x, k)
