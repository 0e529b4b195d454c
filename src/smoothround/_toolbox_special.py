"""Special functions the array API does not define (``erf``) and scalar constants of the toolbox's bounds.

``erf`` dispatches on the namespace: ``torch.special.erf`` and ``jax.lax.erf`` are native; NumPy has none, so
the NumPy path evaluates :func:`math.erf` elementwise in float64 (correctly rounded to double, no SciPy
needed).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = Any

#: max over s >= 0 of s * erfc(s) (attained at s = 0.53159688509...): |x| - x erf(k x) <= ERFC_PEAK / k.
ERFC_PEAK = 0.24037558683101104

_np_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(xp: Any, x: Array) -> Array:
    """The error function of ``x`` in namespace ``xp``, in ``x``'s dtype."""
    name = getattr(xp, "__name__", "")
    if name.endswith("torch"):
        import torch

        return torch.special.erf(x)
    if name.startswith("jax"):
        import jax

        return jax.lax.erf(x)
    arr = np.asarray(x)
    return np.asarray(_np_erf(arr), dtype=arr.dtype)


def sigmoid(xp: Any, z: Array) -> Array:
    """The logistic function 1 / (1 + e^-z), without overflow for any finite or infinite ``z``."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(xp: Any, z: Array) -> Array:
    """sigmoid(z) * (1 - sigmoid(z)) = e^-|z| / (1 + e^-|z|)^2, without overflow."""
    e = xp.exp(-xp.abs(z))
    return e / ((1.0 + e) * (1.0 + e))


def softplus_excess(xp: Any, z: Array) -> Array:
    """log(1 + e^z) - max(z, 0) = log1p(e^-|z|), in [0, log 2]."""
    return xp.log1p(xp.exp(-xp.abs(z)))


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
