"""Special functions the array API does not define (``erf``, ``erfc``) and scalar constants of the toolbox's
bounds.

``erf`` and ``erfc`` dispatch on the namespace: ``torch.special`` and ``jax.lax`` / ``jax.scipy.special`` are
native; NumPy has none, so the NumPy path evaluates :func:`math.erf` / :func:`math.erfc` elementwise in float64
(accurate to double, no SciPy needed). ``erfc`` keeps its relative accuracy in the tail, where ``1 - erf``
cancels to 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = Any

#: max over s >= 0 of s * erfc(s) (attained at s = 0.53159688509...): |x| - x erf(k x) <= ERFC_PEAK / k.
ERFC_PEAK = 0.24037558683101104

_NUMPY = {
    "erf": np.vectorize(math.erf, otypes=[np.float64]),
    "erfc": np.vectorize(math.erfc, otypes=[np.float64]),
}


def _special(xp: Any, x: Array, name: str) -> Array:
    """``name`` ("erf" or "erfc") of ``x`` in namespace ``xp``, in ``x``'s dtype: torch.special and jax.lax
    natively, NumPy (which has no erf) through the correctly rounded ``math`` function, element by element."""
    namespace = getattr(xp, "__name__", "")
    if namespace.endswith("torch"):
        import torch

        return getattr(torch.special, name)(x)
    if namespace.startswith("jax"):
        import jax

        return getattr(jax.lax, name)(x)
    arr = np.asarray(x)
    return np.asarray(_NUMPY[name](arr), dtype=arr.dtype)


def erf(xp: Any, x: Array) -> Array:
    """The error function of ``x`` in namespace ``xp``, in ``x``'s dtype."""
    return _special(xp, x, "erf")


def erfc(xp: Any, x: Array) -> Array:
    """The complementary error function ``1 - erf(x)`` of ``x`` in namespace ``xp``, in ``x``'s dtype."""
    return _special(xp, x, "erfc")


def sigmoid(xp: Any, z: Array) -> Array:
    """The logistic function 1 / (1 + e^-z), without overflow for any finite or infinite ``z``."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(xp: Any, z: Array) -> Array:
    """sigmoid(z) * (1 - sigmoid(z)) = e^-|z| / (1 + e^-|z|)^2, without overflow."""
    e = xp.exp(-xp.abs(z))
    return e / ((1.0 + e) * (1.0 + e))


def lambertw(y: float) -> float:
    """The principal branch of Lambert's W at ``y >= 0`` (the w >= 0 with w e^w = y), by Newton's method."""
    if y < 0 or math.isnan(y):
        msg = f"`y` must be a nonnegative number; got {y!r}."
        raise ValueError(msg)
    if math.isinf(y):
        return math.inf
    w = math.log1p(y) if y < math.e else math.log(y) - math.log(math.log(y))
    for _ in range(100):
        ew = math.exp(w)
        step = (w * ew - y) / (ew * (w + 1.0))
        w -= step
        if abs(step) <= 1e-16 * max(1.0, abs(w)):
            break
    return w
