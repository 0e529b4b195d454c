"""The 50-digit oracle of the rounding core: ``tests/data/oracle_rounding.npz``, from the defining formulas.

Run ``.venv/bin/python conformance/rounding_oracle.py`` (or ``make oracle``) to regenerate the data file; it uses
both cores, prints its progress and takes a few minutes. ``--check-only`` runs the self-checks and stops.

Independence: this script does not import smoothround and shares no code with it. It evaluates the definitions
(sigma(t) = 1/(1+e^-t), rho = sigma' = sigma(t) sigma(-t), sharpness k > 0) in mpmath at 60 digits:

* window: ``r(x) = sum_n n [sigma(k(x-n+1/2)) - sigma(k(x-n-1/2))]``;
* density: ``r(x) = sum_n n rho(k(x-n)) / sum_n rho(k(x-n))``;
* tanh (Agustsson-Theis soft_round, alpha = k): ``s(x) = m + 1/2 + tanh(k(x-m-1/2)) / (2 tanh(k/2))``, m = floor(x);
* ``floor(x) = r(x - 1/2)``, ``ceil(x) = r(x + 1/2)`` (the shifts are exact in mpmath);
* ``quantize``: ``y = (x - offset)/step`` and ``offset + step Q(y)``; Q is r without bounds, the convolved
  staircase ``sum_n clamp(n, qmin, qmax) w_n(y)`` (``saturation="smooth"``; tanh: the hard clamp of s), or
  ``r(clamp(y, qmin, qmax))`` (``saturation="clamp"``).

How the sums are evaluated (all at 60 digits, truncated where the tail is provably below 1e-66):

* every x is reduced exactly to ``x = c + u``, c the nearest integer, |u| <= 1/2, and ``r(x) = c + r(u)`` (proven
  shift property; for the tanh method it holds by construction);
* ``k >= FOURIER_BELOW``: the direct sums over n = c-N..c+N, N from an explicit tail bound (``_direct_terms``);
* ``k < FOURIER_BELOW``: the Poisson-summation duals, derived here (window: ``round`` convolved with the logistic
  density, whose characteristic function is z/sinh z; density: numerator and denominator separately):
  ``window r(x) = x + (2 pi/k) sum_{m>=1} (-1)^m sin(2 pi m x) / sinh(2 pi^2 m/k)`` and
  ``density r(x) = x + (2 pi/k) N/D``, ``N = sum h'(z_m) sin(2 pi m x)``, ``D = 1 + 2 sum h(z_m) cos(2 pi m x)``,
  ``h(z) = z/sinh z``, ``z_m = 2 pi^2 m/k``;
* the clamped staircases of quantize (only half-line sums are new) use the literal clamped sums for
  ``k >= HALFLINE_DIRECT_FROM`` and, below, the full-line dual plus the half-line tails by Euler-Maclaurin with
  the integrals in closed form (softplus) and the sigmoid's derivatives as exact polynomials in sigma;
* partials (d/dx, d/dk; for quantize also d/dstep = Q - y Q', d/doffset = 1 - Q') are termwise analytic.

Self-check (every run; the script aborts if any fails): the direct sums against the duals for k in CHECK_K at a
dozen points each (value and both partials to >= 45 digits), the Euler-Maclaurin tails against the literal sums,
the finite window staircase against its defining infinite sum, and the analytic partials against mpmath.diff.

The data file holds the truths rounded to float64 (NaN where a partial does not exist: the kinks of a hard
clamp), the grids, the dtype masks of x and a JSON metadata string (``meta``): mpmath version, digits, date,
grid description, the extra k values, the quantize configurations and the self-check results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import mpmath
import numpy as np
from mpmath import mp, mpf

#: working precision of every evaluation (the truths are claimed to DIGITS digits)
DPS = 60
DIGITS = 50
#: truncation target of every infinite sum (absolute, on a scale of max(|value|, 1))
TAIL = 1e-66
#: below this k the full-line sums use the Poisson duals; at and above it, the direct sums
FOURIER_BELOW = 1.0
#: at and above this k the clamped (half-line) sums of quantize are summed literally; below, Euler-Maclaurin
HALFLINE_DIRECT_FROM = 0.1

#: the k grid: K_LOG_COUNT values log-spaced over K_RANGE, each rounded to float32, plus K_EXTRA
K_RANGE = (1e-4, 1e8)
K_LOG_COUNT = 300
#: Switch points, thresholds and known trouble spots of the library (add more here and regenerate). Each is
#: rounded to float32, so that a float32 array k and the Python float k are the same number.
K_EXTRA: tuple[float, ...] = (
    # the direct/Fourier switch of the library at k = 4.5, its float32 neighbours, and 4.443
    4.5, float(np.nextafter(np.float32(4.5), np.float32(0))), float(np.nextafter(np.float32(4.5), np.float32(9))),
    4.443,
    # tanh method: small-k series switch near 0.07 (float32, densely over 0.07..0.15) and 0.0025 (float64)
    *(0.07 + 0.005 * i for i in range(17)), 0.0024, 0.0025, 0.0026,
    # where the window method becomes the identity (float32 / float64), and this script's own switches
    1.03, 0.49, 1.0, 0.1, 0.3, 0.5, 2.0, 3.0,
    # bfloat16 window gradient trouble at k 2.6..3.0
    2.6, 2.7, 2.8, 2.9,
    # exp overflow thresholds in float32 / float64 and the known trouble spots
    84.0, 88.0, 103.0, 128.0, 180.0, 710.0, 720.0, 745.0, 771.0, 1000.0, 1415.0, 1500.0,
    1e7, 1.25e7, 1e8,
)
#: quantize uses a coarser k grid: QUANT_K_LOG_COUNT log-spaced values plus QUANT_K_EXTRA
QUANT_K_LOG_COUNT = 60
QUANT_K_EXTRA: tuple[float, ...] = (0.1, 1.0, 2.8, 4.5, 10.0, 88.0, 128.0, 745.0, 1415.0, 1.25e7, 1e8)

#: the overlap band of the self-check and its points (|u| <= 1/2, several near the half-integers)
CHECK_K = (0.3, 0.5, 1.0, 2.0, 3.0)
CHECK_U = ("0", "1e-17", "0.1", "0.25", "-0.37", "0.45", "0.49", "0.499999", "0.4999999999999999",
           "0.5", "-0.4999", "-0.2")
CHECK_DIGITS = 45

DTYPES = ("float64", "float32", "float16", "bfloat16")
FUNCTIONS = ("round", "floor", "ceil")
METHODS = ("window", "density", "tanh")
QUANTITIES = ("value", "d_dx", "d_dk")
QUANT_QUANTITIES = ("value", "d_dx", "d_dk", "d_dstep", "d_doffset")

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "oracle_rounding.npz"

HALF = mpf(1) / 2


# ---------------------------------------------------------------------------------------------------------------
# dtypes: rounding to a dtype and its neighbours, all as float64 numbers


def _bf16_bits(v: float) -> np.uint32:
    """The float32 bit pattern of the bfloat16 number nearest to ``v`` (ties to even, via float32)."""
    with np.errstate(over="ignore"):
        bits = int(np.array(v, dtype=np.float32).view(np.uint32))
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return np.uint32(bits & 0xFFFFFFFF)


def to_dtype(dtype: str, v: float) -> float:
    """``v`` rounded to ``dtype`` (inf on overflow), returned as the float64 number."""
    if dtype == "bfloat16":
        return float(np.array(_bf16_bits(v), dtype=np.uint32).view(np.float32))
    with np.errstate(over="ignore"):
        return float(np.array(v, dtype=dtype))


def next_in(dtype: str, v: float, up: bool) -> float:
    """The neighbour of ``v`` (a ``dtype`` number) in ``dtype``, above (``up``) or below."""
    if dtype == "bfloat16":
        if v == 0:
            tiny = float(np.array(np.uint32(0x10000)).view(np.float32))
            return tiny if up else -tiny
        bits = int(_bf16_bits(v))
        step = 0x10000 if (v > 0) == up else -0x10000
        return float(np.array(np.uint32(bits + step)).view(np.float32))
    t = np.dtype(dtype).type
    return float(np.nextafter(t(v), t(np.inf) if up else t(-np.inf)))


def representable(dtype: str, v: float) -> bool:
    """Whether the float64 number ``v`` is a finite ``dtype`` number."""
    return math.isfinite(v) and to_dtype(dtype, v) == v


FINFO = {  # (smallest normal, a subnormal, largest finite)
    "float64": (2.0**-1022, 2.0**-1070, float(np.finfo(np.float64).max)),
    "float32": (2.0**-126, 2.0**-140, float(np.finfo(np.float32).max)),
    "float16": (2.0**-14, 2.0**-20, 65504.0),
    "bfloat16": (2.0**-126, 2.0**-130, 3.3895313892515355e38),
}


def x_points(dtype: str) -> list[float]:
    """The x grid of ``dtype`` for round/floor/ceil: integers, half-integers and their ulp-neighbours, +-1e-3 around
    them, generic points, tiny values (with floor's thresholds at the integers in mind) and large values."""
    def r(v: float) -> float:
        return to_dtype(dtype, v)

    integers, halves = (0.0, 1.0, -2.0, 7.0), (0.5, -1.5, 2.5)
    pts = [*integers, *halves]
    for v in (0.0, 1.0, 7.0, 0.5, -1.5, 2.5):
        pts += [next_in(dtype, v, True), next_in(dtype, v, False)]
    for v in (0.0, 1.0, 0.5, -1.5):
        pts += [r(v + 1e-3), r(v - 1e-3)]
    pts += [r(v) for v in (0.1, 0.2, 0.3, 0.37, 0.45, 0.49, 0.499, 0.501, 0.7, 1.3, -2.7, math.pi)]
    normal, subnormal, largest = FINFO[dtype]
    pts += [r(1e-17), r(-1e-17), r(2.0**-30), r(-(2.0**-30)), normal, subnormal]
    pts += [r(1e4 + 0.3), r(1e4 + 0.5), r(-(1e4 + 0.5)), r(3.3e7), r(1e15 + 0.5), r(1e15 + 0.25),
            r(1000.5), r(100.5), largest, -largest]
    return sorted({p for p in pts if representable(dtype, p)})


def union_points(per_dtype: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """All points of all dtypes (sorted float64) and the mask of the dtypes using each (bit i = DTYPES[i])."""
    xs = sorted({v for pts in per_dtype.values() for v in pts})
    mask = np.zeros(len(xs), dtype=np.uint8)
    index = {v: i for i, v in enumerate(xs)}
    for bit, dtype in enumerate(DTYPES):
        for v in per_dtype.get(dtype, ()):
            mask[index[v]] |= 1 << bit
    return np.array(xs, dtype=np.float64), mask


def k_grid(count: int, extra: Sequence[float]) -> np.ndarray:
    """``count`` values log-spaced over K_RANGE plus ``extra``, each rounded to float32, sorted, distinct."""
    lo, hi = K_RANGE
    ks = np.concatenate([np.geomspace(lo, hi, count), np.asarray(extra, dtype=np.float64)])
    return np.unique(ks.astype(np.float32).astype(np.float64))


# ---------------------------------------------------------------------------------------------------------------
# the mathematics


def _exact(a: mpf, b: mpf) -> mpf:
    """``a + b`` without rounding (mpmath keeps every bit)."""
    return mpmath.fadd(a, b, exact=True)


def _logistic(t: mpf) -> tuple[mpf, mpf, mpf]:
    """``(sigma(t), sigma(-t), rho(t))``, each to full relative precision."""
    e = mpmath.exp(-abs(t))
    inv = 1 / (1 + e)
    lo = e * inv
    return (inv, lo, lo * inv) if t >= 0 else (lo, inv, lo * inv)


def _direct_terms(k: float, scale: float) -> int:
    """N such that the terms with |n - c| > N of a direct sum add up to less than TAIL (value and partials).

    A term |n - c| = j of any direct sum here is at most ``(scale + j + 1) * max(k, 1) * (j + 1) * e^{-k(j-1)}``
    (weight, d/dx factor k, d/dk factor |t|/k <= j + 1, and sigma-differences / rho <= e^{-k(j - 1)} for
    |y - c| <= 1/2), so the tail beyond N is at most ``4 max(k,1) (scale+N+3)^2 e^{-k(N-1)} / (1-e^{-k})^3``.
    """
    def log_bound(n: int) -> float:
        return (math.log(4 * max(k, 1.0)) + 2 * math.log(scale + n + 3) - k * (n - 1)
                - 3 * math.log(-math.expm1(-k)))

    n, target = 1, math.log(TAIL)
    while log_bound(n) > target:
        n = max(n + 1, int(n * 1.2))
    while n > 1 and log_bound(n - 1) <= target:
        n -= 1
    return n


def nearest(v: mpf) -> mpf:
    """The nearest integer to ``v`` (ties up), exactly."""
    return mpmath.floor(_exact(v, HALF))


def window_direct(y: mpf, k: mpf, weight: Callable[[int], int] | None = None,
                  scale: float = 0.0) -> tuple[mpf, mpf, mpf]:
    """``sum_n w(n) [sigma(k(y-n+1/2)) - sigma(k(y-n-1/2))]`` (w(n) = n by default) and its y- and k-partials,
    summed directly over n = c-N..c+N around c = nearest(y)."""
    c = int(nearest(y))
    n_terms = _direct_terms(float(k), abs(c) + scale)

    def at(j: int) -> tuple[mpf, tuple[mpf, mpf, mpf]]:
        a = k * _exact(y, mpf(2 * (c + j) - 1) / 2 * -1)  # k (y - n + 1/2), n = c + j
        return a, _logistic(a)

    val = dy = dk = mpf(0)
    a0, (s0, sb0, r0) = at(-n_terms)
    for j in range(-n_terms, n_terms + 1):
        n = c + j
        a1, (s1, sb1, r1) = at(j + 1)
        w = n if weight is None else weight(n)
        if w:
            diff = (sb1 - sb0) if a1 >= 0 else (s0 - s1)
            val += w * diff
            dy += w * (r0 - r1)
            dk += w * (r0 * a0 - r1 * a1)
        a0, s0, sb0, r0 = a1, s1, sb1, r1
    return val, dy * k, dk / k


def density_direct(y: mpf, k: mpf, weight: Callable[[int], int] | None = None,
                   scale: float = 0.0) -> tuple[mpf, mpf, mpf]:
    """``sum_n w(n) rho(k(y-n)) / sum_n rho(k(y-n))`` (w(n) = n by default) and its partials, summed directly."""
    c = int(nearest(y))
    n_terms = _direct_terms(float(k), abs(c) + scale)
    a_ = b_ = ay = by = ak = bk = mpf(0)
    for n in range(c - n_terms, c + n_terms + 1):
        t = k * _exact(y, mpf(-n))
        s, sb, rho = _logistic(t)
        drho = rho * (sb - s)  # rho'(t) = rho(t) (1 - 2 sigma(t))
        w = n if weight is None else weight(n)
        b_ += rho
        by += drho
        bk += drho * t
        if w:
            a_ += w * rho
            ay += w * drho
            ak += w * drho * t
    val = a_ / b_
    dy = k * (ay * b_ - a_ * by) / b_**2
    dk = (ak * b_ - a_ * bk) / (k * b_**2)
    return val, dy, dk


def _fourier_terms(k: mpf) -> int:
    """The number of harmonics m whose bound ``(1+1/k)^2 (1+2 pi m) (1+z_m)^2 e^{-z_m}`` exceeds TAIL/1e3 (the
    terms decay at least geometrically with ratio e^{-2 pi^2/k} < 1e-8 beyond, for k < 1)."""
    kf = float(k)
    target = math.log(TAIL) - math.log(1e3)
    m = 0
    while True:
        z = 2 * math.pi**2 * (m + 1) / kf
        log_b = (math.log(8 * math.pi) + 2 * math.log1p(1 / kf) + math.log1p(2 * math.pi * (m + 1))
                 + 2 * math.log1p(z) - z)
        if log_b < target:
            return m
        m += 1


def window_fourier(u: mpf, k: mpf) -> tuple[mpf, mpf, mpf]:
    """The window method's Poisson dual ``u + (2 pi/k) sum (-1)^m sin(2 pi m u) / sinh(z_m)`` and its partials."""
    two_pi = 2 * mp.pi
    val, du, dk = +u, mpf(1), mpf(0)
    for m in range(1, _fourier_terms(k) + 1):
        z = 2 * mp.pi**2 * m / k
        sh, ch = mpmath.sinh(z), mpmath.cosh(z)
        sn, cs = mpmath.sinpi(2 * m * u), mpmath.cospi(2 * m * u)
        sgn = -1 if m % 2 else 1
        val += sgn * two_pi / k * sn / sh
        du += sgn * two_pi / k * two_pi * m * cs / sh
        dk += sgn * sn * two_pi / k**2 * (z * ch / sh**2 - 1 / sh)  # d/dk [(1/k)/sinh z], dz/dk = -z/k
    return val, du, dk


def _h(z: mpf) -> tuple[mpf, mpf, mpf]:
    """``h(z) = z/sinh z`` and its first two derivatives."""
    csch = 1 / mpmath.sinh(z)
    coth = mpmath.coth(z)
    return z * csch, csch - z * csch * coth, -2 * csch * coth + z * csch * (coth**2 + csch**2)


def density_fourier_parts(u: mpf, k: mpf) -> tuple[tuple[mpf, mpf, mpf], tuple[mpf, mpf, mpf]]:
    """The density method's Poisson dual: ``(r, r_u, r_k)`` and ``(D, D_u, D_k)``, where
    ``D = 1 + 2 sum h(z_m) cos(2 pi m u) = k sum_n rho(k(u - n))``."""
    two_pi = 2 * mp.pi
    num = nu = nk = mpf(0)
    den, du_, dk_ = mpf(1), mpf(0), mpf(0)
    for m in range(1, _fourier_terms(k) + 1):
        z = 2 * mp.pi**2 * m / k
        h0, h1, h2 = _h(z)
        sn, cs = mpmath.sinpi(2 * m * u), mpmath.cospi(2 * m * u)
        num += h1 * sn
        nu += h1 * two_pi * m * cs
        nk += h2 * (-z / k) * sn
        den += 2 * h0 * cs
        du_ += -2 * h0 * two_pi * m * sn
        dk_ += 2 * h1 * (-z / k) * cs
    ratio = num / den
    val = u + two_pi / k * ratio
    du = 1 + two_pi / k * (nu * den - num * du_) / den**2
    dk = -two_pi / k**2 * ratio + two_pi / k * (nk * den - num * dk_) / den**2
    return (val, du, dk), (den, du_, dk_)


def tanh_round(v: mpf, a: mpf) -> tuple[mpf, mpf, mpf]:
    """soft_round ``m + 1/2 + tanh(a w)/(2 tanh(a/2))``, w = v - m - 1/2, m = floor(v), and its partials."""
    extra = 20 + max(0, int(-2 * math.log10(float(a))))  # d/da cancels to O(a^2) relatively at small a
    with mp.extradps(extra):
        m = mpmath.floor(v)
        w = _exact(v, -(m + HALF))
        big_t = mpmath.tanh(a / 2)
        th = mpmath.tanh(a * w)
        sech2 = 1 / mpmath.cosh(a * w) ** 2
        d_big_t = 1 / (2 * mpmath.cosh(a / 2) ** 2)
        val = m + HALF + th / (2 * big_t)
        dv = a * sech2 / (2 * big_t)
        da = w * sech2 / (2 * big_t) - th * d_big_t / (2 * big_t**2)
    return +val, +dv, +da


def round_reduced(method: str, u: mpf, k: mpf, form: str | None = None) -> tuple[mpf, mpf, mpf]:
    """``r(u)`` and its partials for |u| <= 1/2; ``form`` forces "direct" or "fourier" (self-check)."""
    if method == "tanh":
        return tanh_round(u, k)
    form = form or ("fourier" if k < FOURIER_BELOW else "direct")
    if method == "window":
        return window_fourier(u, k) if form == "fourier" else window_direct(u, k)
    if form == "fourier":
        return density_fourier_parts(u, k)[0]
    return density_direct(u, k)


def smooth_round(method: str, v: mpf, k: mpf, form: str | None = None) -> tuple[mpf, mpf, mpf]:
    """``r(v)`` and its partials for any v: the exact reduction ``v = c + u`` and ``r(v) = c + r(u)``."""
    c = nearest(v)
    val, dv, dk = round_reduced(method, _exact(v, -c), k, form)
    return c + val, dv, dk


# --- half-line sums by Euler-Maclaurin ---------------------------------------------------------------------------

_SIGMA_POLY: list[list[int]] = [[0, 1]]  # sigma^{(m)} = P_m(sigma), integer coefficients, lowest degree first


def _sigma_poly(m: int) -> list[int]:
    """Coefficients of P_m with sigma^{(m)}(t) = P_m(sigma(t)): P_0 = s, P_{m+1} = P_m'(s) (s - s^2)."""
    while len(_SIGMA_POLY) <= m:
        p = _SIGMA_POLY[-1]
        dp = [i * p[i] for i in range(1, len(p))]  # P'
        nxt = [0] * (len(dp) + 2)
        for i, c in enumerate(dp):
            nxt[i + 1] += c
            nxt[i + 2] -= c
        _SIGMA_POLY.append(nxt)
    return _SIGMA_POLY[m]


def sigma_derivs(t: mpf, count: int) -> list[mpf]:
    """``[sigma(t), sigma'(t), ..., sigma^{(count-1)}(t)]``; evaluated at -|t| (s <= 1/2) with
    ``sigma^{(m)}(t) = (-1)^{m+1} sigma^{(m)}(-t)`` for m >= 1. Call with extra precision: the polynomials cancel."""
    s = 1 / (1 + mpmath.exp(abs(t)))  # sigma(-|t|)
    out = [1 - s if t > 0 else s]
    for m in range(1, count):
        acc = mpf(0)
        for c in reversed(_sigma_poly(m)):
            acc = acc * s + c
        out.append(-acc if (t > 0 and m % 2 == 0) else acc)
    return out


def _softplus(t: mpf) -> mpf:
    return max(t, 0) + mpmath.log1p(mpmath.exp(-abs(t)))


def _em_order(k: mpf) -> int:
    """Euler-Maclaurin terms for the half-line sums at this k: the p-th term is about
    ``(2p)! (k/(2 pi^2))^{2p} / k^2``; take p until that is below TAIL * 1e-4, and insist it is still decreasing."""
    kf = float(k)
    for p in range(1, 400):
        log_t = math.lgamma(2 * p + 1) + 2 * p * math.log(kf / (2 * math.pi**2)) + 2 * math.log1p(1 / kf) + 4
        if log_t < math.log(TAIL) - 9:
            if 2 * p > 0.8 * 2 * math.pi**2 / kf:
                msg = f"Euler-Maclaurin does not reach the tail target at k={kf}"
                raise ArithmeticError(msg)
            return p
    msg = f"Euler-Maclaurin order not found at k={kf}"
    raise ArithmeticError(msg)


def _em_sum(k: mpf, f0: tuple[mpf, mpf, mpf], integral: tuple[mpf, mpf, mpf],
            deriv: Callable[[int], tuple[mpf, mpf, mpf]]) -> tuple[mpf, mpf, mpf]:
    """``sum_{n>=0} f(n) = int_0^inf f + f(0)/2 - sum_p B_2p/(2p)! f^{(2p-1)}(0)`` for the triples
    (value, d/dy, d/dk) of f(0), of the integral and of f^{(m)}(0) (``deriv(m)``)."""
    tot = [integral[i] + f0[i] / 2 for i in range(3)]
    for p in range(1, _em_order(k) + 1):
        coef = mpmath.bernoulli(2 * p) / mpmath.factorial(2 * p)
        d = deriv(2 * p - 1)
        for i in range(3):
            tot[i] -= coef * d[i]
    return tot[0], tot[1], tot[2]


def window_lower_tail(y: mpf, k: mpf, q: int) -> tuple[mpf, mpf, mpf]:
    """``S = sum_{j<=q} sigma(k(j - 1/2 - y)) = sum_{n<q} (q - n) [window weight of n]`` by Euler-Maclaurin.

    With b = q - 1/2 - y and g(t) = sigma(k(b - t)), S = sum_{t>=0} g(t); int_0^inf g = softplus(kb)/k and
    g^{(m)}(0) = (-k)^m sigma^{(m)}(kb)."""
    p_max = _em_order(k)
    with mp.extradps(30 + 2 * p_max):
        b = q - HALF - y
        sd = sigma_derivs(k * b, 2 * p_max + 1)
        sp = _softplus(k * b)
        integral = (sp / k, -sd[0], b * sd[0] / k - sp / k**2)
        f0 = (sd[0], -k * sd[1], b * sd[1])

        def deriv(m: int) -> tuple[mpf, mpf, mpf]:
            mk = (-k) ** m
            return (mk * sd[m], -k * mk * sd[m + 1], -m * (-k) ** (m - 1) * sd[m] + mk * b * sd[m + 1])

        out = _em_sum(k, f0, integral, deriv)
    return +out[0], +out[1], +out[2]


def density_tail(k: mpf, d: mpf, d_y: int) -> tuple[mpf, mpf, mpf]:
    """``T = sum_{i>=1} i rho(k(i + d))`` by Euler-Maclaurin (d = y - qmin for the lower tail, qmax - y for the
    upper; ``d_y`` = dd/dy). f(t) = t rho(k(t+d)): int_0^inf f = softplus(-kd)/k^2, f(0) = 0,
    f^{(m)}(0) = m k^{m-1} sigma^{(m)}(kd)."""
    p_max = _em_order(k)
    with mp.extradps(30 + 2 * p_max):
        sd = sigma_derivs(k * d, 2 * p_max + 1)
        sp = _softplus(-k * d)
        s_neg = 1 - sd[0]  # sigma(-kd)
        integral = (sp / k**2, -s_neg * d_y / k, -s_neg * d / k**2 - 2 * sp / k**3)
        zero = (mpf(0), mpf(0), mpf(0))

        def deriv(m: int) -> tuple[mpf, mpf, mpf]:
            return (m * k ** (m - 1) * sd[m], m * k**m * d_y * sd[m + 1],
                    m * (m - 1) * k ** (m - 2) * sd[m] + m * k ** (m - 1) * d * sd[m + 1])

        out = _em_sum(k, zero, integral, deriv)
    return +out[0], +out[1], +out[2]


# --- quantize ------------------------------------------------------------------------------------------------------

NAN = mpf("nan")


def _clamp_weight(qmin: int | None, qmax: int | None) -> Callable[[int], int]:
    def weight(n: int) -> int:
        if qmin is not None and n < qmin:
            return qmin
        if qmax is not None and n > qmax:
            return qmax
        return n
    return weight


def staircase(method: str, y: mpf, k: mpf, qmin: int | None, qmax: int | None,
              form: str | None = None) -> tuple[mpf, mpf, mpf]:
    """The convolved staircase Q(y) of ``saturation="smooth"`` and its partials (``form``: force "direct" or
    "em" for the self-check)."""
    if qmin is None and qmax is None:
        return smooth_round(method, y, k)
    if method == "tanh":
        val, dy, dk = smooth_round("tanh", y, k)
        lo = -mpmath.inf if qmin is None else mpf(qmin)
        hi = mpmath.inf if qmax is None else mpf(qmax)
        if lo < val < hi:
            return val, dy, dk
        bound = lo if val <= lo else hi
        if val == bound:  # the kink of the hard clamp (only at y = bound, where d/dk s = 0)
            return bound, NAN, (mpf(0) if dk == 0 else NAN)
        return bound, mpf(0), mpf(0)
    if method == "window" and qmin is not None and qmax is not None:
        # the finite form: qmin + sum_{n=qmin+1..qmax} sigma(k(y - n + 1/2)) (summation by parts; checked)
        val, dy, dk = mpf(qmin), mpf(0), mpf(0)
        for n in range(qmin + 1, qmax + 1):
            a = k * _exact(y, mpf(2 * n - 1) / 2 * -1)
            s, _, rho = _logistic(a)
            val += s
            dy += k * rho
            dk += rho * a / k
        return val, dy, dk
    form = form or ("em" if k < HALFLINE_DIRECT_FROM else "direct")
    weight = _clamp_weight(qmin, qmax)
    scale = abs(qmin or 0) + abs(qmax or 0)
    if form == "direct":
        fn = window_direct if method == "window" else density_direct
        return fn(y, k, weight, scale)
    if method == "window":
        if qmax is not None:
            msg = "window staircase by Euler-Maclaurin: only the qmin-only case is needed"
            raise NotImplementedError(msg)
        r = smooth_round("window", y, k)
        s = window_lower_tail(y, k, qmin)
        return r[0] + s[0], r[1] + s[1], r[2] + s[2]
    c = nearest(y)
    (rv, ry, rk), (den, den_y, den_k) = density_fourier_parts(_exact(y, -c), k)
    rv = c + rv
    low = density_tail(k, y - qmin, 1) if qmin is not None else (mpf(0),) * 3
    up = density_tail(k, qmax - y, -1) if qmax is not None else (mpf(0),) * 3
    e, e_y, e_k = low[0] - up[0], low[1] - up[1], low[2] - up[2]
    # Q = r + k (L - U) / D, with D = k sum_n rho(k(y - n))
    val = rv + k * e / den
    dy = ry + k * (e_y * den - e * den_y) / den**2
    dk = rk + e / den + k * (e_k * den - e * den_k) / den**2
    return val, dy, dk


def quantize_q(method: str, saturation: str, y: mpf, k: mpf, qmin: int | None,
               qmax: int | None) -> tuple[mpf, mpf, mpf]:
    """Q(y) of quantize and its partials; ``saturation="clamp"`` is ``r(clamp(y))`` (y-derivative 0 outside,
    undefined, NaN, at the bounds)."""
    if saturation == "smooth" or (qmin is None and qmax is None):
        return staircase(method, y, k, qmin, qmax)
    lo = -mpmath.inf if qmin is None else mpf(qmin)
    hi = mpmath.inf if qmax is None else mpf(qmax)
    yc = min(max(y, lo), hi)
    val, dy, dk = smooth_round(method, yc, k)
    if lo < y < hi:
        return val, dy, dk
    return val, (NAN if y in (lo, hi) else mpf(0)), dk


# ---------------------------------------------------------------------------------------------------------------
# grids of quantize


#: quantize configurations: ``nondyadic`` ones get the conditioning allowance for fl(y) in the scorer
QUANTIZE_CONFIGS: tuple[dict, ...] = (
    {"name": "step=0.25,offset=0.125", "step": 0.25, "offset": 0.125, "qmin": None, "qmax": None},
    {"name": "step=0.25,offset=-0.5,q=-4..3", "step": 0.25, "offset": -0.5, "qmin": -4, "qmax": 3},
    {"name": "step=1,q=0..1", "step": 1.0, "offset": 0.0, "qmin": 0, "qmax": 1},
    {"name": "step=0.5,qmin=-2", "step": 0.5, "offset": 0.0, "qmin": -2, "qmax": None},
    # 0.1 and 0.03 rounded to bfloat16 (0.10009765625, 0.030029296875), so that every dtype holds them exactly;
    # 1/step is not dyadic, so y = (x - offset)/step is rounded in floating point
    {"name": "step=0.1,offset=0.03", "step": to_dtype("bfloat16", 0.1), "offset": to_dtype("bfloat16", 0.03),
     "qmin": None, "qmax": None, "nondyadic": True},
)


def saturations(cfg: dict) -> tuple[str, ...]:
    """The saturation modes of a configuration: both with bounds, none ("") without."""
    return ("smooth", "clamp") if cfg["qmin"] is not None or cfg["qmax"] is not None else ("",)


def fl_y(dtype: str, x: float, cfg: dict) -> float:
    """y = (x - offset)/step as a float computes it: in the dtype (float16/bfloat16 compute in float32)."""
    t = np.float64 if dtype == "float64" else np.float32
    return float((t(x) - t(cfg["offset"])) / t(cfg["step"]))


def quantize_points(dtype: str, cfg: dict) -> list[float]:
    """The x grid of one quantize configuration in ``dtype``: levels, bin edges (half-integers of y), their
    neighbours and +-1e-3 of y around them, generic and far-out points; for dyadic configurations only points
    where fl(y) is exact (so that the scorer needs no conditioning allowance there)."""
    s, o, qmin, qmax = cfg["step"], cfg["offset"], cfg["qmin"], cfg["qmax"]
    lo = -4 if qmin is None else qmin
    hi = 3 if qmax is None else qmax
    ys = [lo - 1, lo, lo + 1, 0, hi - 1, hi, hi + 1, lo - 0.5, lo + 0.5, -0.5, 0.5, hi - 0.5, hi + 0.5,
          0.3, -0.7, 1.37, lo + 0.45, hi - 0.2, lo - 10, hi + 10, 1000.3, -1000.7, 1e4 + 0.3]
    edges = (lo + 0.5, 0.5, hi - 0.5, lo, hi)
    ys += [e + d for e in edges for d in (1e-3, -1e-3)]
    xs = [to_dtype(dtype, o + s * y) for y in ys]
    for e in (lo + 0.5, 0.5, hi, hi - 0.5):
        v = to_dtype(dtype, o + s * e)
        xs += [next_in(dtype, v, True), next_in(dtype, v, False)]
    if o == 0:
        xs += [to_dtype(dtype, 1e-17), to_dtype(dtype, -(2.0**-30))]
    out = set()
    for v in xs:
        if not representable(dtype, v):
            continue
        if not cfg.get("nondyadic"):  # the step is a power of two: y is exact in mpmath
            y = mpmath.fmul(_exact(mpf(v), mpf(-o)), mpf(1 / s), exact=True)
            if mpf(fl_y(dtype, v, cfg)) != y:
                continue
        out.add(v)
    return sorted(out)


# ---------------------------------------------------------------------------------------------------------------
# the work: one task = one (function family, method, k)


def _worker_init() -> None:
    mp.dps = DPS


def _as_float(v: mpf) -> float:
    return math.nan if mpmath.isnan(v) else float(v)


def round_task(args: tuple[str, float, list[float]]) -> np.ndarray:
    """round, floor and ceil at one k for all x: array (3 functions, 3 quantities, nx)."""
    method, k_float, xs = args
    k = mpf(k_float)
    cache: dict[mpf, tuple[mpf, mpf, mpf]] = {}
    out = np.empty((len(FUNCTIONS), len(QUANTITIES), len(xs)))
    for i, x in enumerate(xs):
        for f, shift in enumerate((mpf(0), -HALF, HALF)):
            v = _exact(mpf(x), shift)
            c = nearest(v)
            u = _exact(v, -c)
            if u not in cache:
                cache[u] = round_reduced(method, u, k)
            val, du, dk = cache[u]
            out[f, :, i] = (float(c + val), float(du), float(dk))
    return out


#: the float computations of y whose truths a non-dyadic configuration also stores ("fl64": float64 inputs;
#: "fl32": float32, float16 and bfloat16 inputs, which compute in float32)
FL_VARIANTS = (("fl64", "float64"), ("fl32", "float32"))


def quantize_task(args: tuple[int, str, str, float, list[float]]) -> np.ndarray:
    """One configuration, method and saturation at one k for all its x: array (quantities, nx), the quantities
    of QUANT_QUANTITIES and, for non-dyadic configurations, the same again at y = fl(y) of each FL_VARIANTS (the
    truth that an exact evaluation from the rounded y would give; the scorer's conditioning allowance)."""
    ci, method, saturation, k_float, xs = args
    cfg = QUANTIZE_CONFIGS[ci]
    k = mpf(k_float)
    s, o = mpf(cfg["step"]), mpf(cfg["offset"])
    variants = FL_VARIANTS if cfg.get("nondyadic") else ()
    out = np.empty((len(QUANT_QUANTITIES) * (1 + len(variants)), len(xs)))

    def quantities(y: mpf) -> list[mpf]:
        q, qy, qk = quantize_q(method, saturation or "smooth", y, k, cfg["qmin"], cfg["qmax"])
        return [o + s * q, qy, s * qk, q - y * qy, 1 - qy]

    for i, x in enumerate(xs):
        with mp.extradps(30):
            y = _exact(mpf(x), -o) / s
        col = quantities(y)
        for _, dtype in variants:
            col += quantities(mpf(fl_y(dtype, x, cfg)))
        out[:, i] = [_as_float(v) for v in col]
    return out


# ---------------------------------------------------------------------------------------------------------------
# self-check


def _rel_digits(a: mpf, b: mpf, scale: mpf) -> float:
    """Agreeing digits of a and b on the scale max(|a|, scale)."""
    d = abs(a - b)
    if d == 0:
        return math.inf
    return float(-mpmath.log10(d / max(abs(a), scale)))


def _agree(a: Sequence[mpf], b: Sequence[mpf], k: mpf) -> float:
    """The fewest agreeing digits of (value, d/dy, d/dk) triples (k-partials on the scale max(|.|, 1/k))."""
    return min(_rel_digits(a[0], b[0], mpf(1)), _rel_digits(a[1], b[1], mpf(1)),
               _rel_digits(a[2], b[2], 1 / k))


def _check_dual(args: tuple[str, str]) -> tuple[str, float, str]:
    """Direct sum against Poisson dual over CHECK_K x CHECK_U for one method."""
    method, _ = args
    worst, where = math.inf, ""
    for kv in CHECK_K:
        k = mpf(kv)
        for us in CHECK_U:
            u = mpf(us)
            d = _agree(round_reduced(method, u, k, "direct"), round_reduced(method, u, k, "fourier"), k)
            if d < worst:
                worst, where = d, f"k={kv}, u={us}"
    return f"{method}: direct vs Poisson dual", worst, where


def _check_halfline(args: tuple[str, str]) -> tuple[str, float, str]:
    """Euler-Maclaurin tails against the literal clamped sums, for the staircases that need them."""
    method, bounds = args
    qmin, qmax = {"qmin": (-2, None), "both": (0, 1), "wide": (-4, 3)}[bounds]
    worst, where = math.inf, ""
    for kv in (0.02, 0.05, 0.0999):
        k = mpf(kv)
        for ys in ("-10", "-4.5", "-2.0", "-1.499", "0", "0.5", "0.7", "3.5", "6.2"):
            y = mpf(ys)
            d = _agree(staircase(method, y, k, qmin, qmax, "direct"), staircase(method, y, k, qmin, qmax, "em"), k)
            if d < worst:
                worst, where = d, f"k={kv}, y={ys}"
    return f"{method} staircase {bounds}: Euler-Maclaurin vs literal sum", worst, where


def _check_finite_window(_: tuple[str, str]) -> tuple[str, float, str]:
    """The finite window staircase against its defining infinite clamped sum."""
    worst, where = math.inf, ""
    for kv in (0.3, 1.0, 5.0, 100.0):
        k = mpf(kv)
        for ys in ("-6", "-4.5", "-3.999", "0.25", "2.5", "3.001", "9"):
            y = mpf(ys)
            a = staircase("window", y, k, -4, 3)
            b = window_direct(y, k, _clamp_weight(-4, 3), 7)
            d = _agree(a, b, k)
            if d < worst:
                worst, where = d, f"k={kv}, y={ys}"
    return "window finite staircase vs clamped sum", worst, where


def _diff_case(kind: str, u: mpf, k: mpf) -> float:
    """Agreeing digits of the analytic (value, d/du, d/dk) of one function against mpmath.diff."""
    def f(uu: mpf, kk: mpf) -> tuple[mpf, mpf, mpf]:
        if kind == "q-window":
            return staircase("window", uu, kk, -2, None)
        if kind == "q-density":
            return staircase("density", uu, kk, 0, 1)
        return smooth_round(kind, uu, kk)

    got = f(u, k)
    num = (got[0], mpmath.diff(lambda t: f(t, k)[0], u), mpmath.diff(lambda t: f(u, t)[0], k))
    return _agree(got, num, k)


def _check_diff(_: tuple[str, str]) -> tuple[str, float, str]:
    """Analytic partials against mpmath.diff (numerical differentiation at raised precision)."""
    worst, where = math.inf, ""
    cases = [(m, kv, us) for m in METHODS for kv in (0.001, 0.08, 0.7, 3.0, 50.0, 1e4)
             for us in ("0.1", "0.45", "-0.3", "0.4999")]
    cases += [("q-window", kv, us) for kv in (0.03, 0.5) for us in ("-2.3", "0.2")]
    cases += [("q-density", kv, us) for kv in (0.03, 0.5) for us in ("-2.3", "0.2", "1.6")]
    for kind, kv, us in cases:
        d = _diff_case(kind, mpf(us), mpf(kv))
        if d < worst:
            worst, where = d, f"{kind}, k={kv}, u={us}"
    return "analytic partials vs mpmath.diff", worst, where


CHECKS: tuple[tuple[Callable, tuple[str, str], float], ...] = (
    (_check_dual, ("window", ""), CHECK_DIGITS),
    (_check_dual, ("density", ""), CHECK_DIGITS),
    (_check_halfline, ("window", "qmin"), CHECK_DIGITS),
    (_check_halfline, ("density", "qmin"), CHECK_DIGITS),
    (_check_halfline, ("density", "both"), CHECK_DIGITS),
    (_check_halfline, ("density", "wide"), CHECK_DIGITS),
    (_check_finite_window, ("", ""), CHECK_DIGITS),
    (_check_diff, ("", ""), 40.0),
)


def _run_check(i: int) -> tuple[str, float, str, float]:
    fn, args, need = CHECKS[i]
    name, digits, where = fn(args)
    return name, digits, where, need


def self_check(pool: multiprocessing.pool.Pool) -> list[dict]:
    """Run every check; abort (SystemExit) when one agrees to fewer digits than it needs."""
    results = []
    for name, digits, where, need in pool.imap_unordered(_run_check, range(len(CHECKS))):
        status = "ok" if digits >= need else "FAILED"
        print(f"  self-check {status}: {name}: {digits:.1f} digits (need {need:.0f}; worst at {where})", flush=True)
        results.append({"check": name, "digits": round(digits, 1), "need": need, "worst_at": where})
    failed = [r for r in results if r["digits"] < r["need"]]
    if failed:
        msg = f"oracle self-check FAILED: {failed}"
        raise SystemExit(msg)
    return sorted(results, key=lambda r: r["check"])


# ---------------------------------------------------------------------------------------------------------------
# driver


def _run(pool: multiprocessing.pool.Pool, fn: Callable, tasks: list, label: str) -> list:
    """Map ``fn`` over ``tasks`` on the pool (most expensive first), printing progress; results in task order."""
    out: list = [None] * len(tasks)
    start, done, next_report = time.perf_counter(), 0, 0.0
    for i, res in pool.imap_unordered(_indexed, [(fn, i, t) for i, t in enumerate(tasks)]):
        out[i] = res
        done += 1
        if done / len(tasks) >= next_report or done == len(tasks):
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (len(tasks) - done)
            print(f"  {label}: {done}/{len(tasks)} tasks, {elapsed:.0f} s, about {eta:.0f} s left", flush=True)
            next_report += 0.1
    return out


def _indexed(args: tuple[Callable, int, object]) -> tuple[int, object]:
    fn, i, task = args
    return i, fn(task)


def _cost(method: str, k: float) -> float:
    """A rough cost of one task, to start the expensive ones first."""
    if method == "tanh":
        return 1.0
    return 4 / k if k >= FOURIER_BELOW else 2.0


def generate(out: Path, jobs: int) -> None:
    """Run the self-check, evaluate every grid point and write ``out``."""
    t0 = time.perf_counter()
    ks = k_grid(K_LOG_COUNT, K_EXTRA)
    per_dtype = {d: x_points(d) for d in DTYPES}
    xs, mask = union_points(per_dtype)
    qks = k_grid(QUANT_K_LOG_COUNT, QUANT_K_EXTRA)
    print(f"oracle: {len(ks)} k x {len(xs)} x for round/floor/ceil "
          f"({', '.join(f'{d} {len(p)}' for d, p in per_dtype.items())}); {len(qks)} k for quantize; "
          f"mpmath {mpmath.__version__} ({mpmath.libmp.BACKEND}), {DPS} digits, {jobs} processes", flush=True)
    arrays: dict[str, np.ndarray] = {"k": ks, "x": xs, "x_dtypes": mask, "quantize.k": qks}
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_worker_init) as pool:
        print("self-check:", flush=True)
        checks = self_check(pool)

        order = sorted(((m, float(k)) for m in METHODS for k in ks), key=lambda t: -_cost(*t))
        results = _run(pool, round_task, [(m, k, list(xs)) for m, k in order], "round/floor/ceil")
        table = {(m, k): r for (m, k), r in zip(order, results, strict=True)}
        for m in METHODS:
            block = np.stack([table[(m, float(k))] for k in ks])  # (nk, 3 functions, 3 quantities, nx)
            for f, fname in enumerate(FUNCTIONS):
                for q, qname in enumerate(QUANTITIES):
                    arrays[f"{fname}.{m}.{qname}"] = block[:, f, q, :]

        tasks, keys = [], []
        for ci, cfg in enumerate(QUANTIZE_CONFIGS):
            qx_per = {d: quantize_points(d, cfg) for d in DTYPES}
            qx, qmask = union_points(qx_per)
            arrays[f"quantize.{ci}.x"] = qx
            arrays[f"quantize.{ci}.x_dtypes"] = qmask
            with mp.workdps(DPS + 30):
                ys = [_exact(mpf(v), mpf(-cfg["offset"])) / mpf(cfg["step"]) for v in qx]
                y_hi = np.array([float(y) for y in ys])
                arrays[f"quantize.{ci}.y_hi"] = y_hi
                arrays[f"quantize.{ci}.y_lo"] = np.array([float(y - mpf(h)) for y, h in zip(ys, y_hi, strict=True)])
            for m in METHODS:
                for sat in saturations(cfg):
                    for k in qks:
                        tasks.append((ci, m, sat, float(k), list(qx)))
                        keys.append((ci, m, sat))
        order_q = sorted(range(len(tasks)), key=lambda i: -_cost(tasks[i][1], tasks[i][3]))
        res_q = _run(pool, quantize_task, [tasks[i] for i in order_q], "quantize")
        by_key: dict[tuple, list] = {}
        for i, r in zip(order_q, res_q, strict=True):
            by_key.setdefault(keys[i], []).append((tasks[i][3], r))
        for (ci, m, sat), rows in by_key.items():
            rows.sort(key=lambda t: t[0])
            block = np.stack([r for _, r in rows])  # (nk, quantities, nx)
            prefix = f"quantize.{ci}.{m}" + (f".{sat}" if sat else "")
            variants = FL_VARIANTS if QUANTIZE_CONFIGS[ci].get("nondyadic") else ()
            names = [*QUANT_QUANTITIES, *(f"at_{v}.{q}" for v, _ in variants for q in QUANT_QUANTITIES)]
            for q, qname in enumerate(names):
                arrays[f"{prefix}.{qname}"] = block[:, q, :]

    elapsed = time.perf_counter() - t0
    meta = {
        "version": 1,
        "generator": "conformance/rounding_oracle.py",
        "mpmath": mpmath.__version__,
        "mpmath_backend": mpmath.libmp.BACKEND,
        "digits": DIGITS,
        "working_dps": DPS,
        "tail": TAIL,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1),
        "fourier_below": FOURIER_BELOW,
        "halfline_direct_from": HALFLINE_DIRECT_FROM,
        "grid": (f"k: {K_LOG_COUNT} values log-spaced over {K_RANGE} plus K_EXTRA, rounded to float32 "
                 f"({len(ks)} distinct); x: per dtype (mask bits {list(DTYPES)}), integers, half-integers, "
                 f"ulp-neighbours, +-1e-3, generic, tiny, subnormal, large, largest finite ({len(xs)} distinct); "
                 f"quantize: {QUANT_K_LOG_COUNT} log-spaced k plus QUANT_K_EXTRA ({len(qks)}), "
                 f"{len(QUANTIZE_CONFIGS)} configurations"),
        "dtypes": list(DTYPES),
        "functions": list(FUNCTIONS),
        "methods": list(METHODS),
        "quantities": list(QUANTITIES),
        "quantize_quantities": list(QUANT_QUANTITIES),
        "k_extra": [float(np.float32(v)) for v in K_EXTRA],
        "quantize_configs": [dict(cfg, saturations=list(saturations(cfg))) for cfg in QUANTIZE_CONFIGS],
        "layout": ("'<function>.<method>.<quantity>': (len(k), len(x)); 'quantize.<i>.<method>[.<saturation>]."
                   "<quantity>': (len(quantize.k), len(quantize.<i>.x)); '...at_fl64.<quantity>', '...at_fl32.<quantity>' "
                   "(non-dyadic configurations): the truth at y = fl(y) computed in float64 / float32; "
                   "y = y_hi + y_lo exactly to ~32 digits; "
                   "NaN = the partial does not exist (kink of a hard clamp)"),
        "self_check": checks,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {elapsed:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"the data file (default {OUT})")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--check-only", action="store_true", help="run the self-checks only")
    args = parser.parse_args(argv)
    mp.dps = DPS
    if args.check_only:
        with multiprocessing.get_context("fork").Pool(args.jobs, initializer=_worker_init) as pool:
            self_check(pool)
        return 0
    generate(args.out, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
