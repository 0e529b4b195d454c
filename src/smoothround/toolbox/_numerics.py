"""Floating-point building blocks of the toolbox: a positive Python factor applied to an array without overflow,
premature underflow or a created infinity, a saturating sum and a saturating difference, in any float dtype.

Every toolbox function takes its sharpness (or width) as a Python number, and every one must work for any
positive value: ``k = 1e39`` is beyond float32's range and ``k = 1e-300`` below it, so ``k * x`` computed as
``x * float32(k)`` would be ``inf * x`` or ``0``. :class:`Scale` keeps the factor as a mantissa and a binary
exponent and multiplies by powers of two in steps that are exact, rounding once.

Conventions: a result whose true value is beyond the dtype's largest finite number saturates near it (never
inf); a finite input never produces an infinity anywhere, discarded ``where`` branches included, so
``jax.debug_infs`` stays quiet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Array = Any

_STEP = 60  # 2**60 and 2**-60 are normal numbers in float32 and float64
_MARGIN = 1.0 - 2.0**-20  # bounds are kept this far below the largest number, so rounding cannot overflow


def largest(xp: Any, dtype: Any) -> float:
    """The largest finite number of a float dtype, less a relative 2^-20: what saturated results are."""
    return float(xp.finfo(dtype).max) * _MARGIN


def _smallest_subnormal(xp: Any, dtype: Any) -> float:
    info = xp.finfo(dtype)
    return float(info.smallest_normal) * float(info.eps)


def _chunks(exponent: int) -> list[int]:
    """``exponent`` as a sum of steps of at most 60 in absolute value."""
    sign = 1 if exponent > 0 else -1
    rest, out = abs(exponent), []
    while rest > 0:
        out.append(sign * min(rest, _STEP))
        rest -= _STEP
    return out


@dataclass(frozen=True)
class Scale:
    """A positive finite factor ``s = mantissa * 2**exponent`` (mantissa in [0.5, 1)), kept exactly.

    ``Scale.of(k)`` is ``k``; ``.inverse()`` is ``1/k`` (exact in the exponent, the mantissa rounded once), so a
    width ``w`` gives the sharpness ``Scale.of(w).inverse()`` even where ``1/w`` overflows a Python float.
    """

    mantissa: float
    exponent: int

    @staticmethod
    def of(value: float) -> Scale:
        if not (value > 0 and math.isfinite(value)):
            msg = f"`value` must be positive and finite; got {value!r}."
            raise ValueError(msg)
        mantissa, exponent = math.frexp(value)
        return Scale(mantissa, exponent)

    def inverse(self) -> Scale:
        mantissa, exponent = math.frexp(1.0 / self.mantissa)
        return Scale(mantissa, exponent - self.exponent)

    def times(self, factor: float) -> Scale:
        """``s * factor`` for a positive finite Python number."""
        mantissa, exponent = math.frexp(self.mantissa * factor)
        return Scale(mantissa, exponent + self.exponent)

    def value(self) -> float:
        """``s`` as a Python float: inf or 0 when it is beyond float64's range."""
        try:
            return math.ldexp(self.mantissa, self.exponent)
        except OverflowError:
            return math.inf

    def bound(self, cap: float) -> float:
        """``cap / s`` as a Python float (inf or 0 beyond float64's range)."""
        try:
            return math.ldexp(cap, -self.exponent) / self.mantissa  # Python floats overflow to inf quietly
        except OverflowError:
            return math.inf

    def apply(self, xp: Any, v: Array, cap: float | None = None) -> Array:
        """``v * s`` clipped to ``[-cap, cap]`` (default: saturated at the dtype's largest number), rounded once.

        ``cap`` is where the caller's function has reached its limit; it keeps ``v * s`` finite, so an infinite
        ``v`` gives ``+-cap`` (the limit) and NaN stays NaN. No intermediate overflows.
        """
        top = largest(xp, v.dtype)
        cap = top if cap is None else min(cap, top)
        s = self.value()
        info = xp.finfo(v.dtype)
        bound = self.bound(cap)
        if bound < _smallest_subnormal(xp, v.dtype):  # every nonzero v is beyond the cap
            return xp.sign(v) * cap
        if float(info.smallest_normal) <= s <= top:  # s is a normal number of the dtype: one multiplication
            if bound < top:
                return xp.clip(v, -bound, bound) * s
            return xp.clip(v * s, -cap, cap)  # only an infinite v can exceed the cap
        if self.exponent <= 0:  # s below the dtype's normal range: mantissa first, then exact powers of two
            out = v * self.mantissa
            for step in _chunks(self.exponent):
                out = out * (2.0**step)
            return xp.clip(out, -cap, cap)
        # s above the dtype's range: exact powers of two first (never past the cap), the mantissa last
        out = xp.clip(v, -min(2.0 * bound, top), min(2.0 * bound, top))
        for step in _chunks(self.exponent - 1):
            limit = top * 2.0**-step
            out = xp.clip(out, -limit, limit) * (2.0**step)
        limit = top / (2.0 * self.mantissa)
        return xp.clip(xp.clip(out, -limit, limit) * (2.0 * self.mantissa), -cap, cap)

    def divide(self, xp: Any, v: Array, cap: float | None = None) -> Array:
        """``v / s`` clipped to ``[-cap, cap]``, as :meth:`apply` of the inverse."""
        return self.inverse().apply(xp, v, cap)


def saturating_add(xp: Any, a: Array, b: Array, b_max: float) -> Array:
    """``a + b`` for ``0 <= b <= b_max``, saturated at the dtype's largest number instead of overflowing."""
    top = largest(xp, a.dtype)
    if b_max < float(xp.finfo(a.dtype).max) * 2.0 ** -(_mantissa_bits(xp, a.dtype) + 2):
        return a + b  # b is below a quarter ulp of the largest number: a + b cannot overflow
    room = top - xp.minimum(xp.maximum(a, xp.zeros_like(a)), xp.zeros_like(a) + top)  # in [0, top]; inf a: 0
    return a + xp.minimum(b, room)


def _mantissa_bits(xp: Any, dtype: Any) -> int:
    return round(-math.log2(float(xp.finfo(dtype).eps))) + 1


def saturating_sub(xp: Any, a: Array, b: Array) -> Array:
    """``a - b``, saturated near the largest number where it would overflow (``a = -1e308, b = 1e308``);
    infinite ``a`` gives the saturated value of its sign, never ``inf - inf``."""
    top, biggest = largest(xp, a.dtype), float(xp.finfo(a.dtype).max)
    zero = xp.zeros_like(b)
    # a - b can overflow only downwards for b > 0 and upwards for b < 0; the bounds themselves cannot
    lower = xp.where(b > 0, xp.maximum(b, zero) - top, zero - biggest)
    upper = xp.where(b < 0, xp.minimum(b, zero) + top, zero + biggest)
    return xp.minimum(xp.maximum(a, lower), upper) - b


def saturating_mul(xp: Any, a: Array, b: Array) -> Array:
    """``a * b``, saturated near the largest number instead of overflowing."""
    top = largest(xp, a.dtype)
    limit = top / xp.maximum(xp.abs(b), xp.ones_like(b))
    return xp.minimum(xp.maximum(a, -limit), limit) * b


def saturating_div(xp: Any, a: Array, b: Array) -> Array:
    """``a / b`` for ``b != 0``, saturated near the largest number instead of overflowing."""
    top = largest(xp, a.dtype)
    limit = top * xp.minimum(xp.abs(b), xp.ones_like(b))
    return xp.minimum(xp.maximum(a, -limit), limit) / b


_LIFT = 2.0**64


def reciprocal_product(xp: Any, x: Array, scale: Scale) -> Array:
    """``1 / (s x)`` for nonzero ``x``, exact to rounding and saturated, even where ``s x`` or ``1/x`` overflow.

    Inputs below ``2^-60`` (where ``1/x`` could overflow) are lifted by ``2^64`` exactly first.
    """
    small = xp.abs(x) < 2.0**-60
    lifted = xp.where(small, xp.where(small, x, xp.zeros_like(x)) * _LIFT, x)
    q = scale.divide(xp, 1.0 / lifted)
    return xp.where(small, Scale.of(_LIFT).apply(xp, q), q)
