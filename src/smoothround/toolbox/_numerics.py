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
from fractions import Fraction
from typing import Any

Array = Any

_STEP = 60  # 2**60 and 2**-60 are normal numbers in float32 and float64
_LN2_HI, _LN2_LO = 0.6931471805599453, 2.3190468138462996e-17  # ln 2 as a double word
SQRT2_HI, SQRT2_LO = 1.4142135623730951, -9.667293313452912e-17  # sqrt 2 as a double word
LN_SQRT_PI = (0.5723649429247001, 5.132975581353913e-18)  # ln sqrt(pi) as a double word


def largest(xp: Any, dtype: Any) -> float:
    """The largest finite number of a float dtype less 4 ulp: what saturated results are (the margin keeps
    bounds computed in float64 and rounded to the dtype from overflowing)."""
    info = xp.finfo(dtype)
    return float(info.max) * (1.0 - 4.0 * float(info.eps))


def _smallest_subnormal(xp: Any, dtype: Any) -> float:
    info = xp.finfo(dtype)
    return float(info.smallest_normal) * float(info.eps)


def opaque(xp: Any, v: Array) -> Array:
    """``v``, hidden from XLA's algebraic simplifier (``lax.optimization_barrier``; the identity elsewhere).

    Under ``jax.jit`` XLA folds ``(v * c1) * c2`` into ``v * (c1 * c2)``: a chain of exact power-of-two steps
    becomes one factor that overflows or is flushed to zero, and Dekker's splitting constant is folded into the
    product it splits. The barrier keeps each step an operation of its own."""
    if getattr(xp, "__name__", "").startswith("jax"):
        import jax

        return jax.lax.optimization_barrier(v)
    return v


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
    """A positive finite factor ``s = (mantissa + tail) * 2**exponent`` (mantissa in [0.5, 1), ``tail`` below
    its last bit), kept to twice double precision.

    ``Scale.of(k)`` is ``k``; ``.inverse()`` is ``1/k`` and ``.times(c)`` is ``c k``, both exact to ~1e-32, so a
    width ``w`` gives the sharpness ``Scale.of(w).inverse()`` even where ``1/w`` overflows a Python float, and
    ``1/(w sqrt 2)`` loses nothing that ``exp(-(x/(w sqrt 2))^2)`` would amplify.
    """

    mantissa: float
    exponent: int
    tail: float = 0.0

    @staticmethod
    def of(value: float) -> Scale:
        if not (value > 0 and math.isfinite(value)):
            msg = f"`value` must be positive and finite; got {value!r}."
            raise ValueError(msg)
        mantissa, exponent = math.frexp(value)
        return Scale(mantissa, exponent)

    @staticmethod
    def _exact(mantissa: Fraction, exponent: int) -> Scale:
        hi = float(mantissa)
        m, e = math.frexp(hi)
        return Scale(m, exponent + e, float((mantissa - Fraction(hi)) / Fraction(2) ** e))

    def _fraction(self) -> Fraction:
        return Fraction(self.mantissa) + Fraction(self.tail)

    def inverse(self) -> Scale:
        return Scale._exact(1 / self._fraction(), -self.exponent)

    def times(self, factor: float, factor_tail: float = 0.0) -> Scale:
        """``s * (factor + factor_tail)`` for a positive finite Python number (and its own tail)."""
        return Scale._exact(self._fraction() * (Fraction(factor) + Fraction(factor_tail)), self.exponent)

    def mul(self, other: Scale) -> Scale:
        """The product of two scales, exactly (to ~1e-32)."""
        return Scale._exact(self._fraction() * other._fraction(), self.exponent + other.exponent)

    def log(self) -> tuple[float, float]:
        """``ln s`` as a double word ``(hi, lo)``."""
        ln_m = Fraction(math.log(self.mantissa)) + Fraction(self.tail) / Fraction(self.mantissa)
        exact = ln_m + self.exponent * (Fraction(_LN2_HI) + Fraction(_LN2_LO))
        hi = float(exact)
        return hi, float(exact - Fraction(hi))

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
                out = opaque(xp, out) * (2.0**step)
            return xp.clip(out, -cap, cap)
        # s above the dtype's range: exact powers of two first (never past the cap), the mantissa last
        out = xp.clip(v, -min(2.0 * bound, top), min(2.0 * bound, top))
        for step in _chunks(self.exponent - 1):
            limit = top * 2.0**-step
            out = opaque(xp, xp.clip(out, -limit, limit)) * (2.0**step)
        limit = top / (2.0 * self.mantissa)
        return xp.clip(xp.clip(out, -limit, limit) * (2.0 * self.mantissa), -cap, cap)

    def divide(self, xp: Any, v: Array, cap: float | None = None) -> Array:
        """``v / s`` clipped to ``[-cap, cap]``, as :meth:`apply` of the inverse."""
        return self.inverse().apply(xp, v, cap)

    def product(self, xp: Any, v: Array, cap: float, v_lo: Array | None = None) -> tuple[Array, Array]:
        """``s v`` as a double word ``(hi, lo)``, ``hi`` clipped to ``[-cap, cap]`` (``cap`` <= 2^60) and ``lo``
        its rounding error (0 where clipped): Dekker's product of ``v 2^exponent`` (exact) and the mantissa.

        What an exponential of ``s v`` needs: ``e^{s v}`` evaluated at the rounded ``s v`` is off by the
        relative ``|s v| eps``, 1.6e-13 at ``s v = 745``; with ``lo`` it is exact to rounding.
        """
        dtype = v.dtype
        if self.bound(cap) < _smallest_subnormal(xp, dtype):  # every nonzero v is beyond the cap
            return xp.sign(v) * cap, xp.zeros_like(v)
        bound = min(2.0 * self.bound(cap), largest(xp, dtype))
        z = xp.clip(v, -bound, bound)
        for step in _chunks(self.exponent):  # exact: |z| stays below 2 cap / mantissa, or underflows
            z = opaque(xp, z) * (2.0**step)
        z = opaque(xp, z)
        m1, m2 = _split_constant(self.mantissa, self.tail, dtype)
        m1_hi, m1_lo = _veltkamp_constant(m1, dtype)
        p = z * m1
        c = _veltkamp(xp, dtype)
        t = c * z
        z_hi = t - (t - z)
        z_lo = z - z_hi
        err = ((z_hi * m1_hi - p) + z_hi * m1_lo + z_lo * m1_hi) + z_lo * m1_lo + z * m2
        if v_lo is not None:  # a low word of v (|v_lo| <= ulp(v)), scaled: small where s v is inside the cap
            err = err + self.apply(xp, v_lo, cap)
        inside = xp.abs(p) <= cap
        return xp.clip(p, -cap, cap), xp.where(inside, err, xp.zeros_like(err))


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
    return _clipped_for(xp, a, b) - b


def _clipped_for(xp: Any, a: Array, b: Array) -> Array:
    """``a`` clipped so that ``a - b`` stays within the largest number (``a`` itself where it does)."""
    top, biggest = largest(xp, a.dtype), float(xp.finfo(a.dtype).max)
    zero = xp.zeros_like(b)
    # a - b can overflow only downwards for b > 0 and upwards for b < 0; the bounds themselves cannot
    lower = xp.where(b > 0, xp.maximum(b, zero) - top, zero - biggest)
    upper = xp.where(b < 0, xp.minimum(b, zero) + top, zero + biggest)
    return xp.minimum(xp.maximum(a, lower), upper)


def scaled(xp: Any, v: Array, factor: float) -> Array:
    """``factor * v`` for any finite Python number (negative or 0 too), saturated like :meth:`Scale.apply`."""
    if factor == 0.0:
        return xp.zeros_like(v)
    out = Scale.of(abs(factor)).apply(xp, v)
    return -out if factor < 0 else out


def saturating_sum(xp: Any, a: Array, b: Array) -> Array:
    """``a + b`` for finite ``a, b`` of any signs, saturated near the largest number instead of overflowing
    (computed as ``2 ((a + b) / 2)``; the halving is exact above the subnormals)."""
    half = 0.5 * largest(xp, a.dtype)
    return xp.clip(0.5 * a + 0.5 * b, -half, half) * 2.0


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

    ``1/(s x)`` where ``s x`` is in range; beyond, ``(1/x)/s``, inputs below ``2^-60`` (where ``1/x`` could
    overflow) lifted by ``2^64`` exactly first.
    """
    top = largest(xp, x.dtype)
    u = scale.apply(xp, x)
    direct = (xp.abs(u) < 0.25 * top) & (xp.abs(u) > 4.0 / top)  # 1/u: no subnormal on the way (XLA flushes)
    small = xp.abs(x) < 2.0**-60
    lifted = xp.where(small, xp.where(small, x, xp.zeros_like(x)) * _LIFT, x)
    q = scale.divide(xp, 1.0 / lifted)
    far = xp.where(small, Scale.of(_LIFT).apply(xp, q), q)
    return xp.where(direct, 1.0 / xp.where(direct, u, xp.ones_like(u)), far)


def _is_single(dtype: Any) -> bool:
    return str(dtype).rsplit(".", 1)[-1] != "float64"


def round_to(value: float, dtype: Any) -> float:
    """A Python float rounded to the dtype's precision (float32 or float64)."""
    if _is_single(dtype):
        import numpy as np

        return float(np.float32(value))
    return value


def _split_constant(mantissa: float, tail: float, dtype: Any) -> tuple[float, float]:
    """``mantissa + tail`` as two numbers of the dtype: the first rounded, the second the rest."""
    m1 = round_to(mantissa, dtype)
    return m1, round_to(float(Fraction(mantissa) - Fraction(m1) + Fraction(tail)), dtype)


def _veltkamp_constant(c: float, dtype: Any) -> tuple[float, float]:
    """A dtype number split exactly into a high part of half the mantissa bits and the rest."""
    bits = 12 if _is_single(dtype) else 27
    scale = 2.0**bits
    hi = math.floor(c * scale + 0.5) / scale if c * scale < 2.0**52 else c
    return hi, float(Fraction(c) - Fraction(hi))


def _veltkamp(xp: Any, dtype: Any) -> float:
    return 4097.0 if _is_single(dtype) else 134217729.0


def two_sum(xp: Any, a: Array, b: Array) -> tuple[Array, Array]:
    """``a + b`` as a double word (Knuth): the rounded sum and its exact error (``opaque``: under ``jax.jit``
    XLA would otherwise simplify the error term, a constant ``a`` especially, to 0)."""
    a, b = opaque(xp, a), opaque(xp, b)
    s = opaque(xp, a + b)
    bb = opaque(xp, s - a)
    return s, (a - (s - bb)) + (b - bb)


def two_product(xp: Any, a: Array, b: Array) -> tuple[Array, Array]:
    """``a b`` as a double word (Dekker), for ``|a|, |b|`` well inside the dtype's range."""
    c = _veltkamp(xp, a.dtype)
    a, b = opaque(xp, a), opaque(xp, b)
    p = a * b
    ta, tb = c * a, c * b
    a_hi = ta - (ta - a)
    b_hi = tb - (tb - b)
    a_lo, b_lo = a - a_hi, b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def exp_word(xp: Any, hi: Array, lo: Array) -> Array:
    """``e^(hi + lo)`` for a double word with ``|lo| << 1``, saturated at the largest number."""
    top = largest(xp, hi.dtype)
    e = xp.exp(xp.minimum(hi, xp.zeros_like(hi) + (math.log(top) - 1e-3)))  # the bound rounds safely below
    return xp.where(hi > math.log(top) - 1e-3, xp.zeros_like(e) + top, e + e * lo)


def constant_minus(xp: Any, c: tuple[float, float], hi: Array, lo: Array) -> tuple[Array, Array]:
    """``(c_hi + c_lo) - (hi + lo)`` as a double word, ``c`` a Python double word."""
    c_hi = round_to(c[0], hi.dtype)
    c_lo = round_to(float(Fraction(c[0]) - Fraction(c_hi) + Fraction(c[1])), hi.dtype)
    s, e = two_sum(xp, xp.zeros_like(hi) + c_hi, -hi)
    return s, e + (c_lo - lo)


# ---------------------------------------------------------------------------------------------- exponential tails
#
# e^{-u}, u = k v, evaluated at the rounded u is off by the relative u eps: harmless for a result of size <= 1, but
# not for one divided by a tiny k (log1p(e^{-u})/k, the Boltzmann correction (u/k) e^{-u}) or multiplied by a
# large one (the densities k e^{-u}, k e^{-u^2}). These helpers take u as a double word (Scale.product) and,
# beyond the point where e^{-u} itself underflows, exponentiate ln(1/k) - u instead: exact to rounding at any k.

EXP_FAR = 37.0  # beyond this u, log1p(e^-u) = e^-u and 1 + e^-u = 1 to double precision


def _ln_over(k: Scale) -> tuple[float, float]:
    """``ln(1/k)`` as a double word."""
    hi, lo = k.log()
    return -hi, -lo


def exp_cap(k: Scale, base: float = 800.0) -> float:
    """Where ``e^{-u}/k`` has underflowed in every dtype: ``base + ln(1/k)`` when ``k < 1``."""
    return base + max(_ln_over(k)[0], 0.0)


def softplus_over_k(xp: Any, v: Array, k: Scale, v_lo: Array | None = None) -> Array:
    """``log1p(e^{-k v}) / k`` for ``v >= 0`` (``v_lo``: a low word of v), exact to rounding for every k."""
    hi, lo = k.product(xp, v, exp_cap(k), v_lo)
    near = hi <= EXP_FAR
    t = xp.exp(-xp.where(near, hi, xp.zeros_like(hi)))
    near_value = k.divide(xp, xp.log1p(t) - lo * (t / (1.0 + t)))
    far_hi, far_lo = constant_minus(xp, _ln_over(k), xp.where(near, xp.zeros_like(hi), hi), lo)
    return xp.where(near, near_value, exp_word(xp, far_hi, far_lo))


def u_exp_over_k(xp: Any, hi: Array, lo: Array, k: Scale) -> Array:
    """``(u/k) e^{-u}`` for ``u = hi + lo >= 0``: the size of a Boltzmann term ``|d| e^{-k|d|}``."""
    near = hi <= EXP_FAR
    h = xp.where(near, hi, xp.zeros_like(hi))
    near_value = k.divide(xp, xp.exp(-h) * (h + (lo - h * lo)))
    hf = xp.where(near, xp.ones_like(hi), hi)
    far_hi, far_lo = constant_minus(xp, _ln_over(k), hf, lo)  # ln(1/k) - u + ln u
    s_hi, s_lo = two_sum(xp, far_hi, xp.log(hf))
    return xp.where(near, near_value, exp_word(xp, s_hi, far_lo + s_lo + lo / hf))


def erfc_far(xp: Any, dtype: Any) -> float:
    """Where erfc(u) leaves the dtype's normal range (float64 26, float32 9)."""
    return 9.0 if _is_single(dtype) else 26.0


def erfc_cap(k: Scale) -> float:
    return math.sqrt(800.0 + max(_ln_over(k)[0], 0.0))


def u_erfc_over_k(xp: Any, hi: Array, lo: Array, k: Scale, erfc: Any) -> Array:
    """``(u/k) erfc(u) / 2`` for ``u = hi + lo >= 0``: the erf max's correction ``|d| erfc(k|d|) / 2``.

    Near: ``erfc(hi) (1 - lo r)``, ``r = 2 e^{-hi^2} / (sqrt(pi) erfc(hi))``; far, where erfc underflows:
    ``e^{ln(1/k) - u^2} S(u) / (2 sqrt(pi))`` with the asymptotic series S (7 terms: < 2e-17 from u = 26).
    """
    far_from = erfc_far(xp, hi.dtype)
    near = hi <= far_from
    h = xp.where(near, hi, xp.ones_like(hi))
    ec = erfc(xp, h)
    r = (2.0 / math.sqrt(math.pi)) * xp.exp(-h * h) / ec
    near_value = k.divide(xp, 0.5 * (h + lo) * (ec - ec * (lo * r)))
    hf = xp.where(near, xp.zeros_like(hi) + far_from, hi)
    sq_hi, sq_lo = two_product(xp, hf, hf)
    e_hi, e_lo = constant_minus(xp, _ln_over(k), sq_hi, sq_lo + 2.0 * hf * lo)
    w = 1.0 / (2.0 * hf * hf)  # 1/(2u^2): S = 1 - w + 3w^2 - 15w^3 + 105w^4 - 945w^5 + 10395w^6
    series = 1.0 + w * (-1.0 + w * (3.0 + w * (-15.0 + w * (105.0 + w * (-945.0 + w * 10395.0)))))
    far_value = exp_word(xp, e_hi, e_lo) * (series * (0.5 / math.sqrt(math.pi)))
    return xp.where(near, near_value, far_value)


def density_exp(xp: Any, hi: Array, lo: Array, log_scale: tuple[float, float], square: bool,
                shift: Array | None = None) -> Array:
    """``c e^{-u + shift}`` (``square``: ``c e^{-u^2}``) for ``u = hi + lo >= 0`` and ``ln c = log_scale`` (a
    double word), as one exponential: exact to rounding for any c, saturated at the largest number."""
    if square:
        sq_hi, sq_lo = two_product(xp, hi, hi)
        hi, lo = sq_hi, sq_lo + 2.0 * hi * lo
    e_hi, e_lo = constant_minus(xp, log_scale, hi, lo)
    if shift is not None:
        e_hi, err = two_sum(xp, e_hi, shift)
        e_lo = e_lo + err
    return exp_word(xp, e_hi, e_lo)


def log_word(k: Scale, factor: tuple[float, float] = (1.0, 0.0), minus: tuple[float, float] = (0.0, 0.0)
             ) -> tuple[float, float]:
    """``ln(k (factor_hi + factor_lo)) - (minus_hi + minus_lo)`` as a double word."""
    k_hi, k_lo = k.times(factor[0], factor[1]).log()
    exact = Fraction(k_hi) + Fraction(k_lo) - Fraction(minus[0]) - Fraction(minus[1])
    hi = float(exact)
    return hi, float(exact - Fraction(hi))


def difference_word(xp: Any, a: Array, b: Array) -> tuple[Array, Array]:
    """``a - b`` as a double word: the saturated difference and, where it did not saturate, its exact error."""
    a_c = _clipped_for(xp, a, b)  # every intermediate below stays within the largest number
    hi = a_c - b
    bb = hi - a_c
    lo = (a_c - (hi - bb)) + (-b - bb)
    exact = xp.abs(hi) < 0.25 * largest(xp, a.dtype)
    return hi, xp.where(exact, lo, xp.zeros_like(lo))
