"""The mathematics of smooth rounding, written once against the array API (``xp``).

This module is the one implementation of the three smooth roundings. The core (:mod:`smoothround.rounding`),
its closed-form derivatives (backward passes and :func:`smoothround.derivative`), the analysis
(:mod:`smoothround.analysis`) and the reported truncation bounds all call it. ``docs/mathematics.md`` derives
every formula used here; the section names below refer to it.

**Offsets.** Every method is evaluated around a centre ``c`` (the nearest integer for round, ``floor(x)`` and
``ceil(x)`` shifted by one half for floor and ceil): the smooth function is ``c + t(u)`` with the offset
``u = x - c`` in ``[-1/2, 1/2]``, so large ``|x|`` keeps full precision. An offset is carried as
:class:`Offset` ``(sgn, s, d)``: ``u = sgn * s``, ``s = |u|`` and ``d = 1/2 - s``, the distance to the nearest
tie. ``d`` is exact whenever it is small (``x - floor(x)`` and ``1 - v`` are exact, Sterbenz), and every
exponential is taken of ``k * d`` or ``k * s``, never of a difference of two rounded products: that is what
keeps the values and both partials accurate at any ``k`` (float32 ``k`` up to its largest number, float64 to
its own), near the ties in particular.

**Kernels** return ``t``, ``dt/du`` and ``dt/dk`` (each only when asked for):

* window (method 1), direct pair form: ``t = sgn * sum_j [sigma(-k(j - 1 + d)) - sigma(-k(j - d))]``, all of it
  from one exponential ``G = e^{-kd}`` (and ``B = e^{-k(1-d)} = e^{-k}/G``) with Python constants
  ``e^{-k(j-1)}``;
* window, Fourier form: ``t = u + sum_m a_m sin(2 pi m u)``, ``a_m = (-1)^m (2 pi / k) / sinh(2 pi^2 m / k)``;
* density (method 2), direct form: weights ``w_j = rho(k(u - j)) / rho(ku)`` in closed form from ``G``, the
  normalised mean of ``j``, and its partials as covariances written without cancellation;
* density, Fourier form: ``t = u + (2 pi / k) N(u) / D(u)``;
* tanh (Agustsson-Theis soft_round), closed form, its ``k``-partial without cancellation at any ``k``.

**Truncation.** The number of terms follows from ``k`` and ``tol`` through guaranteed bounds on the truncation
error of the value, of the slope ``dt/du`` and of ``k dt/dk`` (all three ``<= tol``). Direct sums jump by twice
their truncation error where the centre changes, so they are truncated at ``tol / 2``; the Fourier forms have
no centre. The direct sum is used for ``k >= K_SWITCH`` and the Fourier series below it (equal per-term decay at
``k = pi sqrt 2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

Array = Any

K_SWITCH = 4.5
PI = math.pi
TWO_PI = 2.0 * math.pi
PI_SQ = math.pi**2
MAX_TERMS = 100_000

METHODS = ("window", "density", "tanh")

#: Natural log of the smallest normal number of each compute dtype. For a Python-number ``k`` at least twice
#: this, the far-side exponentials (``e^{-k(1-d)}`` and the like, at most ``e^{-k/2}``) are below every
#: tolerance even after multiplication by ``k``, and are left out; below it ``G = e^{-kd} >= e^{-k/2}`` stays
#: normal, so ``e^{-k} / G`` is safe.
LOG_TINY = {"float64": math.log(2.0**-1022), "float32": math.log(2.0**-126)}
#: Largest finite number of each compute dtype.
FLOAT_MAX = {"float64": 1.7976931348623157e308, "float32": 3.4028234663852886e38}


# ================================================================================ truncation bounds (Python)


def _geometric_moments(q: float, start: int, power: int) -> float:
    """sum_{n >= start} n^power q^(n - start) for 0 <= q < 1 (power 0..3), in closed form: with
    A_j = sum_i i^j q^i (A_0 = 1/(1-q), A_1 = q/(1-q)^2, A_2 = q(1+q)/(1-q)^3, A_3 = q(1+4q+q^2)/(1-q)^4) and
    n = start + i expanded binomially; every term is positive. ``inf`` when q rounds to 1."""
    if q >= 1.0:
        return math.inf
    r = 1.0 / (1.0 - q)
    a = (r, q * r * r, q * (1.0 + q) * r**3, q * (1.0 + 4.0 * q + q * q) * r**4)
    n = float(start)
    return sum(math.comb(power, j) * n ** (power - j) * a[j] for j in range(power + 1))


def _exp_neg(z: float) -> float:
    return math.exp(-z) if z < 745.0 else 0.0


def window_direct_bounds(k: float, pairs: int) -> tuple[float, float, float]:
    """Bounds on the truncation error of the window pair form with ``pairs`` pairs: value, slope, k * k-slope.

    Value: exactly ``sigma(-kM)`` (the sup, at the ties). Slope: ``k e^{-kM} (1 + e^{-k}) / (1 - e^{-k})``.
    ``k dt/dk``: ``2k e^{-kM} sum_{n > M} n e^{-k(n - M - 1)}`` (``docs/mathematics.md``, window).
    """
    q = _exp_neg(k)
    tail = _exp_neg(k * pairs)
    value = tail / (1.0 + tail)
    slope = k * tail * (1.0 + q) / (1.0 - q) if tail else 0.0
    k_slope = 2.0 * k * tail * _geometric_moments(q, pairs + 1, 1) if tail else 0.0
    return value, slope, k_slope


def _density_b2(k: float, m: int) -> float:
    """Rigorous bound B2(k, M) on the density-method value truncation error, evaluated in logs."""
    q = math.exp(-k)
    log_pref = 2.0 * (k / 2.0 + math.log1p(math.exp(-k / 2.0))) - math.log(2.0)
    bracket = (m + 1.5) - (m + 0.5) * q
    log_b = log_pref - (m + 1) * k + math.log(bracket) - 2.0 * math.log1p(-q)
    return math.exp(log_b) if log_b > -745 else 0.0


def density_direct_bounds(k: float, half_width: int) -> tuple[float, float, float]:
    """Bounds on the truncation error of the density direct form with weights ``j = -M..M``.

    Value: B2(k, M). The partials are covariances ``Cov_p(j, g)`` (``g`` = tanh terms for the slope, ``g`` =
    their k-derivatives for ``dt/dk``); with ``w_j / w_0 <= 4 e^{-k(|j| - 1)}``, ``|g_j - g_0| <= gamma_j``
    and ``|j - mean| <= |j| + 1/2``, the truncated covariance is off by at most
    ``T1 + T0 S + B2 S`` (tail sums ``T0 = sum_{|j|>M} w_j/w_0``, ``T1 = sum_{|j|>M} w_j/w_0 (|j|+1/2) gamma_j``,
    ``S = sum_j w_j/w_0 (|j|+1/2) gamma_j``); ``gamma = 2`` for the slope (times k), ``|j| + 1`` for ``k dt/dk``.
    """
    m = half_width
    q = _exp_neg(k)
    value = _density_b2(k, m)
    lead = 8.0 * _exp_neg(k * m)  # 2 sides * 4 e^{-k(n - 1)} at n = M + 1
    if lead == 0.0:
        return value, 0.0, 0.0
    t0 = lead * _geometric_moments(q, m + 1, 0)
    # sum_{n>M} e^{-k(n-1)} (n + 1/2) gamma_n, gamma = 2 or n + 1: polynomials in n, by moments
    t1_slope = lead * 2.0 * (_geometric_moments(q, m + 1, 1) + 0.5 * _geometric_moments(q, m + 1, 0))
    t1_k = lead * (
        _geometric_moments(q, m + 1, 2) + 1.5 * _geometric_moments(q, m + 1, 1)
        + 0.5 * _geometric_moments(q, m + 1, 0)
    )
    s_slope = 0.5 * 2.0 + 8.0 * 2.0 * (_geometric_moments(q, 1, 1) + 0.5 * _geometric_moments(q, 1, 0))
    s_k = 0.5 + 8.0 * (
        _geometric_moments(q, 1, 2) + 1.5 * _geometric_moments(q, 1, 1) + 0.5 * _geometric_moments(q, 1, 0)
    )
    slope = k * (t1_slope + t0 * s_slope + value * s_slope)
    k_slope = k * (t1_k + t0 * s_k + value * s_k)
    return value, slope, k_slope


def _fourier_tails(k: float, harmonics: int) -> tuple[float, float, float, float]:
    """For the Fourier forms after ``harmonics`` terms, with ``beta = 2 pi^2 / k``, ``z_m = beta m``:
    ``e0 = sum_{m>M} e^{-z_m}``, ``e1 = sum_{m>M} m e^{-z_m}``, ``e2 = sum_{m>M} m^2 e^{-z_m}``, and
    ``shrink = 1 - e^{-2 z_{M+1}}`` (so that ``csch z_m <= 2 e^{-z_m} / shrink`` for every ``m > M``)."""
    beta = 2.0 * PI_SQ / k
    z0 = beta * (harmonics + 1)
    lead = _exp_neg(z0)
    if lead == 0.0:
        return 0.0, 0.0, 0.0, 1.0
    q = _exp_neg(beta)
    start = harmonics + 1
    return (
        lead * _geometric_moments(q, start, 0),
        lead * _geometric_moments(q, start, 1),
        lead * _geometric_moments(q, start, 2),
        -math.expm1(-2.0 * z0),
    )


def window_fourier_bounds(k: float, harmonics: int) -> tuple[float, float, float]:
    """Bounds on the window Fourier tail after ``harmonics`` terms: value, slope, k * k-slope.

    ``|a_m| <= (4 pi / k) e^{-z_m} / shrink``; the slope's coefficients are ``2 pi m a_m`` (so ``2 h(z_m)``);
    ``k da_m/dk = a_m (z_m coth z_m - 1)``, and ``coth z_m <= coth z_{M+1}``.
    """
    e0, e1, _, shrink = _fourier_tails(k, harmonics)
    if e0 == 0.0:
        return 0.0, 0.0, 0.0
    beta = 2.0 * PI_SQ / k
    coth0 = (2.0 - shrink) / shrink
    value = (4.0 * PI / k) * e0 / shrink
    slope = 4.0 * beta * e1 / shrink
    k_slope = (4.0 * PI / k) * beta * coth0 * e1 / shrink
    return value, slope, k_slope


def _window_slope_at_integers(k: float) -> float:
    """r1'(0) = 1 + 2 sum_m (-1)^m h(z_m) > 0: the smallest slope of the window method, D_min of density."""
    beta = 2.0 * PI_SQ / k
    total = 0.0
    for m in range(200, 0, -1):
        z = beta * m
        if z < 700:
            total += (-1) ** m * 2.0 * z * math.exp(-z) / -math.expm1(-2.0 * z)
    return 1.0 + 2.0 * total


def _ratio_error(ratio_max: float, top_err: float, bottom_min: float, bottom_err: float) -> float:
    """Bound on ``|P/Q - P~/Q~|`` given ``|P/Q| <= ratio_max``, ``|P - P~| <= top_err``, ``Q >= bottom_min``
    and ``|Q - Q~| <= bottom_err < bottom_min``: ``(top_err + ratio_max bottom_err) / (bottom_min -
    bottom_err)``."""
    if bottom_min <= bottom_err:
        return math.inf
    return (top_err + ratio_max * bottom_err) / (bottom_min - bottom_err)


def _density_fourier_tails(k: float, harmonics: int) -> tuple[float, ...]:
    """Sums over ``m > harmonics`` of bounds on the absolute coefficients of ``N, D, N', D', k N_k, k D_k``.

    With ``c_m = 2 e^{-z_m} / shrink >= csch z_m`` and ``C = coth z_{M+1}``: ``h(z_m) <= z_m c_m``,
    ``|h'(z_m)| <= C z_m c_m``, ``|h''(z_m)| <= c_m (2C + 2 z_m C^2)``; ``N = sum h' sin``, ``D = 1 + 2 sum h cos``,
    ``N' = 2 pi sum m h' cos``, ``D' = -4 pi sum m h sin``, ``k N_k = -sum z h'' sin``, ``k D_k = -2 sum z h' cos``.
    """
    _, e1, e2, shrink = _fourier_tails(k, harmonics)
    beta = 2.0 * PI_SQ / k
    big_c = (2.0 - shrink) / shrink
    zc = 2.0 * beta * e1 / shrink  # sum z_m c_m
    mzc = 2.0 * beta * e2 / shrink  # sum m z_m c_m
    z2c = 2.0 * beta * beta * e2 / shrink  # sum z_m^2 c_m
    return (
        big_c * zc,  # N
        2.0 * zc,  # D
        TWO_PI * big_c * mzc,  # N'
        4.0 * PI * mzc,  # D'
        2.0 * big_c * zc + 2.0 * big_c * big_c * z2c,  # k N_k
        2.0 * big_c * z2c,  # k D_k
    )


def density_fourier_bounds(k: float, harmonics: int) -> tuple[float, float, float]:
    """Bounds on the density Fourier form after ``harmonics`` terms: value, slope, k * k-slope.

    The coefficient tails of :func:`_density_fourier_tails` are propagated through ``t = u + (2 pi / k) N/D``,
    ``t' = 1 + (2 pi / k)(N'/D - (N/D)(D'/D))`` and ``k t_k = (2 pi / k)(-N/D + k N_k / D - (N/D) k D_k / D)``,
    with ``D >= D_min = r1'(0) > 0``, ``|N/D| <= k / (4 pi)`` (because ``|t - u| <= 1/2``), and the sums of all
    absolute coefficients as bounds on ``|N'|, |D'|, |k N_k|, |k D_k|``.
    """
    n_t, d_t, n1_t, d1_t, nk_t, dk_t = _density_fourier_tails(k, harmonics)
    if d_t == 0.0:
        return 0.0, 0.0, 0.0
    _, _, n1_all, d1_all, nk_all, dk_all = _density_fourier_tails(k, 0)
    d_min = _window_slope_at_integers(k)
    scale = TWO_PI / k
    ratio_max = k / (4.0 * PI)
    e_ratio = _ratio_error(ratio_max, n_t, d_min, d_t)
    e_n1 = _ratio_error(n1_all / d_min, n1_t, d_min, d_t)
    e_d1 = _ratio_error(d1_all / d_min, d1_t, d_min, d_t)
    e_nk = _ratio_error(nk_all / d_min, nk_t, d_min, d_t)
    e_dk = _ratio_error(dk_all / d_min, dk_t, d_min, d_t)
    value = scale * e_ratio
    slope = scale * (e_n1 + ratio_max * e_d1 + (d1_all / d_min) * e_ratio + e_ratio * e_d1)
    k_slope = scale * (e_ratio + e_nk + ratio_max * e_dk + (dk_all / d_min) * e_ratio + e_ratio * e_dk)
    return value, slope, k_slope


def direct_bounds(method: str, k: float, terms: int) -> tuple[float, float, float]:
    """Guaranteed truncation bounds (value, slope, ``k`` times the k-slope) of the direct sum."""
    return window_direct_bounds(k, terms) if method == "window" else density_direct_bounds(k, terms)


def fourier_bounds(method: str, k: float, terms: int) -> tuple[float, float, float]:
    """Guaranteed truncation bounds (value, slope, ``k`` times the k-slope) of the Fourier series."""
    return window_fourier_bounds(k, terms) if method == "window" else density_fourier_bounds(k, terms)


def direct_error(method: str, k: float, terms: int) -> float:
    """Guaranteed sup truncation error of the value of the direct sum with ``terms``."""
    return direct_bounds(method, k, terms)[0]


def fourier_error(method: str, k: float, terms: int) -> float:
    """Guaranteed sup truncation error of the value of the Fourier series with ``terms`` harmonics."""
    return fourier_bounds(method, k, terms)[0]


def _within(bounds: tuple[float, float, float], tol: float, partials: bool, k_partial: bool) -> bool:
    """Whether the value's bound (and with ``partials`` the slope's, with ``k_partial`` also k * k-slope's) is
    <= tol."""
    needed = bounds[: 3 if (partials and k_partial) else 2 if partials else 1]
    return max(needed) <= tol


def direct_terms(method: str, k: float, tol: float, *, partials: bool = True, k_partial: bool = True) -> int:
    """Smallest M >= 1 whose direct-sum truncation bounds are <= ``tol``: the value's, with ``partials`` also the
    slope's, and with ``k_partial`` as well ``k`` times the k-slope's (needed only where ``k`` is
    differentiable, an array). Past ``MAX_TERMS`` it returns the first count found beyond it (no evaluation uses
    such a count).

    >>> direct_terms("window", 10.0, 1e-7), direct_terms("window", 10.0, 1e-7, partials=False)
    (3, 2)
    >>> direct_terms("window", 10.0, 1e-7, k_partial=False)
    2
    """
    if method == "window":
        m = max(1, math.ceil(math.log(1.0 / tol - 1.0) / k))
    else:
        m = max(1, math.floor(math.log(1.0 / tol) / k) - 2)
    while m <= MAX_TERMS:
        if _within(direct_bounds(method, k, m), tol, partials, k_partial):
            return m
        m += 1
    return m


def fourier_terms(method: str, k: float, tol: float, *, partials: bool = True, k_partial: bool = True) -> int:
    """Smallest number of harmonics whose Fourier tail bounds are <= ``tol`` (which bounds: as in
    :func:`direct_terms`); 0 means the identity.

    >>> fourier_terms("window", 1.0, 2.0**-23), fourier_terms("window", 1.0, 2.0**-23, partials=False)
    (1, 0)
    """
    m = 0
    while not _within(fourier_bounds(method, k, m), tol, partials, k_partial):
        m += 1
        if m > 200:
            msg = f"Fourier series of {method} does not converge to {tol} at k={k}"
            raise ArithmeticError(msg)
    return m


@dataclass(frozen=True)
class Plan:
    """How to evaluate one method: how many Fourier harmonics and direct terms, and which form.

    ``form`` is "fourier", "direct" (for a Python-number ``k``, chosen by ``K_SWITCH``) or "select" (``k`` is
    an array: both forms are evaluated with the term counts needed at ``K_SWITCH``, the worst case of each,
    and chosen per element).
    """

    form: str
    fourier: int
    direct: int


def plan_for(method: str, k: float | None, tol: float) -> Plan:
    """The evaluation plan: for a Python-number ``k`` (a constant: no k-partial is ever taken) the value and the
    slope within ``tol``; for an array ``k`` (``None``; learnable) the k-partial too, at the worst case of each
    form's range."""
    if k is None:
        return Plan(
            "select",
            fourier_terms(method, math.nextafter(K_SWITCH, 0.0), tol),
            direct_terms(method, K_SWITCH, tol / 2.0),
        )
    if k < K_SWITCH:
        return Plan("fourier", fourier_terms(method, k, tol, k_partial=False), 0)
    return Plan("direct", 0, direct_terms(method, k, tol / 2.0, k_partial=False))


# ================================================================================ offsets


class Offset(NamedTuple):
    """The offset ``u = sgn * s`` from the centre: ``s = |u|`` in [0, 1/2], ``d = 1/2 - s`` (exact when small),
    ``sgn`` in {-1, 0, 1}."""

    sgn: Array
    s: Array
    d: Array

    @property
    def u(self) -> Array:
        return self.sgn * self.s


def clip(a: Array, lo: float | None = None, hi: float | None = None) -> Array:
    """Clip by Python-number bounds with the array's own method (NumPy, torch and JAX arrays all have
    ``.clip(min=, max=)``): array-api-compat's torch ``clip`` turns the bounds into tensors first, which costs
    more than the clip on small blocks."""
    if lo is None and hi is None:
        return a
    return a.clip(min=lo, max=hi)


def _sign(xp: Any, a: Array) -> Array:
    """-1, 0 or 1. torch's native sign: array-api-compat's wrapper masks NaNs by boolean indexing, which is slower
    and which torch.func.vmap cannot batch."""
    if getattr(xp, "__name__", "").endswith("torch"):
        import torch

        return torch.sign(a)
    return xp.sign(a)


def reduce(xp: Any, x: Array, kind: str, eps: float) -> tuple[Array, Offset]:
    """Centre and offset of ``x`` for ``kind`` = "round", "floor" or "ceil" (docs/mathematics.md §2).

    Everything starts from ``n = round(x)`` and ``w = x - n``, which is exact for every float (Sterbenz; for
    ``|x| < 1/2``, ``n = 0``). Round: ``u = w``. Floor, ``F(x) = r(x - 1/2)``: its ties are at the integers, so
    ``d = |w|`` (exact) and ``x - 1/2 = c + u`` with ``u = w - copysign(1/2, w)``, ``c = n`` for ``w >= 0`` and
    ``n - 1`` below; ceil is ``F(x) + 1``. (``x - floor(x)`` is not exact for small negative ``x``: at
    ``x = -1e-17`` it rounds to 1 and loses the distance to the threshold.) Beyond ``1/eps`` every float is an
    integer and ``w = 0``; clipping ``x`` and ``n`` there gives the same for ``+-inf`` (never ``inf - inf``).
    NaN stays NaN.
    """
    big = 1.0 / eps
    n = xp.round(x)
    w = clip(x, -big, big) - clip(n, -big, big)
    if kind == "round":
        s = xp.abs(w)
        return n, Offset(_sign(xp, w), s, 0.5 - s)
    half = xp.copysign(xp.full_like(w, 0.5), w)  # +1/2 for w >= +0, -1/2 below
    u = w - half
    c = n + (half - 0.5) if kind == "floor" else n + (half + 0.5)
    return c, Offset(_sign(xp, u), xp.abs(u), xp.abs(w))


# ================================================================================ small helpers


def _reciprocal(xp: Any, a: Array) -> Array:
    """1 / a; the native reciprocal where the namespace has one (it is faster than a division in torch)."""
    native = getattr(xp, "reciprocal", None)
    return native(a) if native is not None else 1.0 / a


def _exp(xp: Any, z: Any) -> Any:
    """e^z for a Python number (no overflow warning: underflow to 0.0) or an array."""
    if isinstance(z, float):
        return math.exp(z) if z > -745.0 else 0.0
    return xp.exp(z)


def expm1_nonpositive(xp: Any, z: Array) -> Array:
    """e^z - 1 for an array z <= 0, accurate to a few ulp also inside torch.compile.

    torch.compile's CPU code for expm1 loses the small arguments (measured with torch 2.13: relative error
    5e7 ulp in float64 and 8e6 in float32 at |z| = 1e-8, as exp(z) - 1 would), so traced torch code uses
    ``2 tanh(z/2) / (1 - tanh(z/2))``: its tanh compiles to within 1 ulp, and ``1 - tanh`` lies in [1, 2) for
    z <= 0 (no cancellation). Everywhere else the namespace's own expm1.
    """
    if _tracing_torch(xp):
        t = xp.tanh(0.5 * z)
        return 2.0 * t / (1.0 - t)
    return xp.expm1(z)


def _tracing_torch(xp: Any) -> bool:
    if not getattr(xp, "__name__", "").endswith("torch"):
        return False
    import torch

    return bool(torch.compiler.is_compiling())


def _rho(e: Array) -> Array:
    """sigma'(t) = e / (1 + e)^2 from e = e^{-|t|}."""
    one_e = 1.0 + e
    return e / (one_e * one_e)


def _sigmoid(xp: Any, a: Array) -> Array:
    """Stable sigmoid for any sign: the exponential is of -|a| <= 0."""
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1.0, e) / (1.0 + e)


def _rho_of(xp: Any, a: Array) -> Array:
    """rho(a) = sigmoid'(a) = e^-|a| / (1 + e^-|a|)^2, never sigma(1 - sigma)."""
    return _rho(xp.exp(-xp.abs(a)))


def _add(total: Any, term: Any) -> Any:
    return term if total is None else total + term


@dataclass(frozen=True)
class Sharpness:
    """``k`` as the kernels see it: a Python number ``value`` (constants are then Python floats) or, when
    ``value`` is None, an array passed at call time. ``far``: keep the far-side exponentials (always for array
    ``k``; for a Python number only below ``-2 LOG_TINY``, where they can matter)."""

    value: float | None
    far: bool = True

    @staticmethod
    def of(k: float | None, dtype_name: str) -> Sharpness:
        if k is None:
            return Sharpness(None, True)
        return Sharpness(k, k < -2.0 * LOG_TINY[dtype_name])


Need = tuple[bool, bool, bool]
Triple = tuple[Array | None, Array | None, Array | None]


# ================================================================================ window method


def window_direct(xp: Any, off: Offset, k: Any, sharp: Sharpness, terms: int, need: Need) -> Triple:
    """Pair form around the centre (docs/mathematics.md, window): ``t``, ``dt/du``, ``dt/dk``.

    With ``G = e^{-kd}``, ``B = e^{-k(1-d)} = e^{-k/2} (e^{-k/2} / G)`` and ``c_j = e^{-k(j-1)}``, pair ``j`` is
    ``a/(1+a) - b/(1+b) = c_j (G - B) / ((1 + a)(1 + b))`` (``a = c_j G``, ``b = c_j B``): every exponential is
    at most 1 and its argument is ``k`` times an exact distance.
    """
    need_t, need_u, need_k = need
    d = off.d
    g = xp.exp((-1.0 * k) * d) if sharp.value is not None else xp.exp(-k * d)
    if not sharp.far:
        b = None
    elif sharp.value is not None:
        p_half = _exp(xp, -0.5 * sharp.value)
        b = p_half * (p_half * _reciprocal(xp, g))  # e^{-k/2} e^{-ks}: no underflow of e^{-k} on the way
    else:
        b = xp.exp(-k * (1.0 - d))
    q = _exp(xp, -k) if sharp.value is None else _exp(xp, -sharp.value)
    total = du = dk = None
    c_j: Any = 1.0
    pairs = []
    for j in range(1, terms + 1):
        pairs.append((j, c_j))
        c_j = c_j * q
    for j, c in reversed(pairs):  # smallest terms first
        a = g if j == 1 else c * g
        bb = None if b is None else (b if j == 1 else c * b)
        if need_t:
            den = 1.0 + a if bb is None else (1.0 + a) * (1.0 + bb)
            term = _reciprocal(xp, den) if j == 1 else c * _reciprocal(xp, den)
            total = _add(total, term)
        if need_u or need_k:
            ra = _rho(a)
            rb = None if bb is None else _rho(bb)
            if need_u:
                du = _add(du, ra if rb is None else ra + rb)
            if need_k:
                near = ((j - 1.0) + d) * ra
                dk = _add(dk, -near if rb is None else (j - d) * rb - near)
    t = None
    if need_t:
        top = g if b is None else g - b
        t = off.sgn * (top * total)
    if du is not None:
        du = k * du
    if dk is not None:
        dk = off.sgn * dk
    return t, du, dk


def _harmonics(xp: Any, u: Array, terms: int, need_sin: bool, need_cos: bool) -> tuple[list, list]:
    """sin(2 pi m u) and cos(2 pi m u), m = 1..terms, by the Chebyshev recurrence from one sin and cos."""
    theta = TWO_PI * u
    s1 = xp.sin(theta)
    c1 = xp.cos(theta)
    sines = [s1]
    cosines = [c1]
    two_c1 = 2.0 * c1
    for m in range(2, terms + 1):
        sines.append(two_c1 * sines[-1] - (sines[-2] if m > 2 else 0.0))
        cosines.append(two_c1 * cosines[-1] - (cosines[-2] if m > 2 else 1.0))
    return (sines if need_sin else []), (cosines if need_cos else [])


def _csch_coth(xp: Any, z: Any) -> tuple[Any, Any]:
    """csch z and coth z for z > 0 without overflow: q = e^-z, csch = 2q / (1 - q^2), coth = (1 + q^2)/(1 - q^2)."""
    if isinstance(z, float):
        q = math.exp(-z) if z < 745 else 0.0
        den = -math.expm1(-2.0 * z)
    else:
        q = xp.exp(-z)
        den = -expm1_nonpositive(xp, -2.0 * z)
    return 2.0 * q / den, (1.0 + q * q) / den


def _identity(xp: Any, u: Array, need: Need) -> Triple:
    """Zero harmonics: the function is x itself (t = u, dt/du = 1, dt/dk = 0)."""
    need_t, need_u, need_k = need
    return (u if need_t else None), (xp.ones_like(u) if need_u else None), (0.0 * u if need_k else None)


def _identity_deviation(u: Array, need: Need) -> Triple:
    """Zero harmonics, as deviations from the identity: t - u = 0, dt/du - 1 = 0, dt/dk = 0."""
    zero = 0.0 * u
    return tuple(zero if wanted else None for wanted in need)  # type: ignore[return-value]


def window_fourier(xp: Any, off: Offset, k: Any, terms: int, need: Need, *, deviation: bool = False) -> Triple:
    """Fourier form: t = u + sum a_m sin(2 pi m u), and its partials; ``deviation``: ``t - u`` and ``dt/du - 1``
    instead of ``t`` and ``dt/du``, summed without cancellation (how far the function is from the identity)."""
    need_t, need_u, need_k = need
    u = off.u
    if terms == 0:
        return _identity_deviation(u, need) if deviation else _identity(xp, u, need)
    sines, cosines = _harmonics(xp, u, terms, need_t or need_k, need_u)
    t = (0.0 * u if deviation else u) if need_t else None
    du: Any = (0.0 if deviation else 1.0) if need_u else None
    dk: Any = 0.0 if need_k else None
    for m in range(terms, 0, -1):
        z = (2.0 * PI_SQ * m) / k
        csch, coth = _csch_coth(xp, z)
        a = ((-1) ** m * TWO_PI) * csch / k
        if need_t:
            t = t + a * sines[m - 1]
        if need_u:
            du = du + (TWO_PI * m) * a * cosines[m - 1]
        if need_k:
            # d a_m / dk = a_m (z coth z - 1) / k
            dk = dk + (a * (z * coth - 1.0) / k) * sines[m - 1]
    return t, du, dk


# ================================================================================ density method


def density_direct(
    xp: Any, off: Offset, k: Any, sharp: Sharpness, terms: int, need: Need, values: list | None = None
) -> Triple:
    """Normalised weights ``w_j = rho(k(u - j)) / rho(ku)``, ``j = -M..M``, in closed form, the weighted mean
    of the values (default: ``j``) and its partials (docs/mathematics.md, density).

    The weights are computed in the frame of ``s = |u|``, where ``+j`` are the near neighbours:
    ``w_{+j} = c_j G^2 ((1 + A) / (1 + c_j P G))^2`` and ``w_{-j} = c_j e^{-k} ((1 + A) / (1 + c_j e^{-k} A))^2``
    with ``G = e^{-kd}``, ``A = e^{-ks}``, ``P = e^{-k/2}``, ``c_j = e^{-k(j-1)}``. The partials are
    covariances ``sum_j p_j (v_j - mean)(g_j - g_0)``, with ``g_j - g_0`` in forms free of cancellation.

    ``values`` (clamped quantization) is a list over physical ``n - c = -M..M`` of arrays; the default is the
    mean of ``j`` itself, computed in the frame and multiplied by ``sgn`` (exactly odd, exactly 0 at ``u = 0``).
    """
    need_t, need_u, need_k = need
    s, d = off.s, off.d
    scalar = sharp.value is not None
    kv: Any = sharp.value if scalar else k
    g = xp.exp((-1.0 * kv) * d) if scalar else xp.exp(-k * d)
    if scalar:
        q: Any = _exp(xp, -kv)
        p_half: Any = _exp(xp, -0.5 * kv)
        a = p_half * _reciprocal(xp, g) if sharp.far else None
    else:
        q = xp.exp(-k)
        p_half = xp.sqrt(q)
        a = xp.exp(-k * s)
    one_a = None if a is None else 1.0 + a
    c_list: list[Any] = []
    c_j: Any = 1.0
    for _ in range(terms):
        c_list.append(c_j)
        c_j = c_j * q
    p_g = p_half * g
    g2 = g * g
    near_w, far_w, near_e, far_e = {}, {}, {}, {}
    for j in range(1, terms + 1):
        c = c_list[j - 1]
        e_near = p_g if j == 1 else c * p_g  # e^{-k(j - s)}
        ratio = _reciprocal(xp, 1.0 + e_near) if one_a is None else one_a * _reciprocal(xp, 1.0 + e_near)
        near_w[j] = (g2 if j == 1 else c * g2) * (ratio * ratio)
        near_e[j] = e_near
        if a is not None:
            cq = q if j == 1 else c * q
            e_far = cq * a  # e^{-k(j + s)}
            ratio_far = one_a * _reciprocal(xp, 1.0 + e_far)
            far_w[j] = cq * (ratio_far * ratio_far)
            far_e[j] = e_far
    order = list(range(terms, 0, -1))  # smallest terms first
    denom: Any = 1.0
    for j in order:
        denom = denom + (near_w[j] + far_w[j] if j in far_w else near_w[j])
    inv_denom = _reciprocal(xp, denom)

    if values is None:
        positive = None  # frame values: near j, far -j; the result is multiplied by sgn
        v0: Any = 0.0
        near_v: dict[int, Any] = dict.fromkeys(order)
        far_v: dict[int, Any] = dict.fromkeys(order)
        numer: Any = 0.0
        for j in order:
            numer = numer + j * (near_w[j] - far_w[j] if j in far_w else near_w[j])
    else:
        # physical index n - c = +-j; the near side is the side of u
        positive = off.sgn >= 0
        v0 = values[terms]
        near_v = {j: xp.where(positive, values[terms + j], values[terms - j]) for j in order}
        far_v = {j: xp.where(positive, values[terms - j], values[terms + j]) for j in order}
        numer = v0
        for j in order:
            numer = numer + (near_v[j] * near_w[j] + (far_v[j] * far_w[j] if j in far_w else 0.0))
    mean = numer * inv_denom
    t = None
    if need_t:
        t = off.sgn * mean if values is None else mean
    if not (need_u or need_k):
        return t, None, None

    def spread(j: int, side: str) -> Any:
        """v_j - mean for a weight of the frame."""
        if values is None:
            return (j if side == "near" else -j) - mean
        return (near_v[j] if side == "near" else far_v[j]) - mean

    one_e0 = 1.0 if one_a is None else one_a
    th0 = 1.0 if a is None else (1.0 - a) * _reciprocal(xp, one_a)  # tanh(ks/2) = -tau_0
    du = dk = None
    if need_u:
        acc: Any = 0.0
        for j in order:
            tau = (1.0 - near_e[j]) * _reciprocal(xp, 1.0 + near_e[j])  # tanh(k(j - s)/2)
            acc = acc + near_w[j] * spread(j, "near") * (tau + th0)
            if j in far_w:
                tau_far = (1.0 - far_e[j]) * _reciprocal(xp, 1.0 + far_e[j])  # -tau_{-j}
                acc = acc - far_w[j] * spread(j, "far") * (tau_far - th0)
        du = k * acc * inv_denom
        if values is not None:
            du = xp.where(positive, du, -du)  # d/du of the physical mean: tau flips sign in the mirror
    if need_k:
        # g_j = (u - j) tau_j; g_j - g_0 = -[(j - 1 + 2d) tau_j + s (tau_j - th0)] on the near side,
        # -[j tf_j + s (tf_j - th0)] on the far side, with tau_j - th0 = 2(A - E_j)/((1 + E_j)(1 + A))
        acc = 0.0
        for j in order:
            inv_near = _reciprocal(xp, 1.0 + near_e[j])
            tau = (1.0 - near_e[j]) * inv_near
            gap = 2.0 * ((0.0 if a is None else a) - near_e[j]) * inv_near / one_e0
            delta = ((j - 1.0) + 2.0 * d) * tau + s * gap
            acc = acc - near_w[j] * spread(j, "near") * delta
            if j in far_w:
                inv_far = _reciprocal(xp, 1.0 + far_e[j])
                tau_far = (1.0 - far_e[j]) * inv_far
                gap_far = 2.0 * (a - far_e[j]) * inv_far / one_e0
                acc = acc - far_w[j] * spread(j, "far") * (j * tau_far + s * gap_far)
        dk = acc * inv_denom
        if values is None:
            dk = off.sgn * dk
    return t, du, dk


def _h_derivatives(xp: Any, z: Any) -> tuple[Any, Any, Any]:
    """h(z) = z / sinh z and its first two derivatives, overflow-free for z > 0."""
    csch, coth = _csch_coth(xp, z)
    h0 = z * csch
    h1 = csch * (1.0 - z * coth)
    h2 = csch * (-2.0 * coth + z * (coth * coth + csch * csch))
    return h0, h1, h2


def density_fourier(xp: Any, off: Offset, k: Any, terms: int, need: Need, *, deviation: bool = False) -> Triple:
    """Fourier ratio: t = u + (2 pi / k) N / D and its partials; ``deviation``: ``t - u`` and ``dt/du - 1``."""
    need_t, need_u, need_k = need
    u = off.u
    if terms == 0:
        return _identity_deviation(u, need) if deviation else _identity(xp, u, need)
    sines, cosines = _harmonics(xp, u, terms, True, True)
    n: Any = 0.0
    d: Any = 1.0
    n_u: Any = 0.0
    d_u: Any = 0.0
    n_k: Any = 0.0
    d_k: Any = 0.0
    for m in range(terms, 0, -1):
        z = (2.0 * PI_SQ * m) / k
        h0, h1, h2 = _h_derivatives(xp, z)
        sm, cm = sines[m - 1], cosines[m - 1]
        n = n + h1 * sm
        d = d + 2.0 * h0 * cm
        if need_u:
            n_u = n_u + (TWO_PI * m) * h1 * cm
            d_u = d_u - (2.0 * TWO_PI * m) * h0 * sm
        if need_k:
            # dz/dk = -z/k
            n_k = n_k - (z * h2 / k) * sm
            d_k = d_k - (2.0 * z * h1 / k) * cm
    scale = TWO_PI / k
    inv_d = 1.0 / d
    ratio = n * inv_d
    t = ((0.0 if deviation else u) + scale * ratio) if need_t else None
    du = dk = None
    if need_u:
        du = (0.0 if deviation else 1.0) + scale * (n_u - ratio * d_u) * inv_d
    if need_k:
        dk = -(scale / k) * ratio + scale * (n_k - ratio * d_k) * inv_d
    return t, du, dk


# ================================================================================ one entry point


def evaluate(
    xp: Any,
    off: Offset,
    k: Any,
    method: str,
    sharp: Sharpness,
    plan: Plan | None,
    need: Need,
    *,
    deviation: bool = False,
) -> Triple:
    """``t``, ``dt/du``, ``dt/dk`` of ``method`` at an offset, by ``plan`` (None for tanh); with ``deviation``,
    ``t - u`` and ``dt/du - 1`` instead of the first two (summed without cancellation by the Fourier forms,
    where they are small). For the "select" plan (array ``k``) both forms are evaluated, each at the worst-case
    term count of its range, and chosen per element."""
    if method == "tanh" or plan is None:
        out = tanh_closed(xp, off, k, sharp, need)
    elif plan.form == "fourier":
        fourier = window_fourier if method == "window" else density_fourier
        return fourier(xp, off, k, plan.fourier, need, deviation=deviation)
    elif plan.form == "direct":
        direct = window_direct if method == "window" else density_direct
        out = direct(xp, off, k, sharp, plan.direct, need)
    else:
        small = evaluate(xp, off, clip(k, hi=K_SWITCH), method, sharp, Plan("fourier", plan.fourier, 0), need,
                         deviation=deviation)
        large = evaluate(xp, off, clip(k, lo=K_SWITCH), method, sharp, Plan("direct", 0, plan.direct), need,
                         deviation=deviation)
        use_large = k >= K_SWITCH
        return tuple(  # type: ignore[return-value]
            None if a is None else xp.where(use_large, b, a) for a, b in zip(small, large, strict=True)
        )
    if not deviation:
        return out
    t, du, dk = out
    return (None if t is None else t - off.u), (None if du is None else du - 1.0), dk


# ================================================================================ tanh (soft_round)


#: 1/n! for odd n = 3, 5, ..., 27: the series of b sinh a - sinh(ab) for a < 2 (remainder < 1e-19 relative).
_ODD_INV_FACTORIALS = tuple((n, 1.0 / math.factorial(n)) for n in range(3, 29, 2))


def tanh_closed(xp: Any, off: Offset, k: Any, sharp: Sharpness, need: Need) -> Triple:
    """Agustsson-Theis soft_round ``s(y) = m + 1/2 + tanh(k r) / (2 tanh(k/2))`` around the nearest integer.

    With ``X = e^{-2kd}`` (``|r| = d``): ``t = sgn sigma(-2kd) expm1(-2ks) / expm1(-k)``,
    ``dt/du = 2k rho(2kd) / tanh(k/2)``, and ``dt/dk = -sgn R`` with ``R = phi / (8 cosh^2(kd) sinh^2(k/2))``,
    ``phi = b sinh k - sinh(kb)``, ``b = 2d``: for ``k >= 2`` ``R = [b X (1 - Y^2) - Y (1 - X^2)] /
    ((1 + X)^2 (1 - Y)^2)`` (``Y = e^{-k}``), below it the series ``phi = b sum_{n odd >= 3} k^n (1 - b^{n-1})
    / n!``, whose terms all have one sign (no cancellation at small ``k``).
    """
    need_t, need_u, need_k = need
    s, d = off.s, off.d
    scalar = sharp.value is not None
    kv: Any = sharp.value if scalar else k
    x2 = xp.exp((-2.0 * kv) * d) if scalar else xp.exp(-2.0 * k * d)
    one_x = 1.0 + x2
    t = du = dk = None
    if need_t:
        denom = math.expm1(-kv) if scalar else expm1_nonpositive(xp, -k)
        t = off.sgn * (x2 * _reciprocal(xp, one_x)) * (expm1_nonpositive(xp, (-2.0 * kv) * s) / denom)
    if need_u:
        half_tanh = math.tanh(0.5 * kv) if scalar else xp.tanh(0.5 * k)
        du = (2.0 * kv / half_tanh) * (x2 / (one_x * one_x))
    if need_k:
        b = 2.0 * d
        if scalar:
            if kv >= 2.0:
                rr = _tanh_k_large(xp, x2, one_x, b, kv)
            else:
                rr = _tanh_k_small(xp, x2, one_x, b, kv)
        else:
            k_small = clip(k, hi=2.0)
            rr = xp.where(
                k >= 2.0, _tanh_k_large(xp, x2, one_x, b, clip(k, lo=2.0)), _tanh_k_small(xp, x2, one_x, b, k_small)
            )
        dk = -off.sgn * rr
    return t, du, dk


def _tanh_k_large(xp: Any, x2: Array, one_x: Array, b: Array, k: Any) -> Array:
    """R for k >= 2: [b X (1 - Y^2) - Y (1 - X^2)] / ((1 + X)^2 (1 - Y)^2), Y = e^{-k}."""
    y = _exp(xp, -k) if isinstance(k, float) else xp.exp(-k)
    one_y = 1.0 - y
    return (b * x2 * (1.0 - y * y) - y * (1.0 - x2 * x2)) / ((one_x * one_x) * (one_y * one_y))


def _tanh_k_small(xp: Any, x2: Array, one_x: Array, b: Array, k: Any) -> Array:
    """R for k < 2 by the one-signed series: phi X / (2 (1 + X)^2 sinh^2(k/2))."""
    b2 = b * b
    total: Any = 0.0
    b_pow: Any = 1.0  # b^(n-1)
    k_pow = k * k * k
    k2 = k * k
    for _, inv_fact in _ODD_INV_FACTORIALS:
        b_pow = b_pow * b2
        total = total + (k_pow * inv_fact) * (1.0 - b_pow)
        k_pow = k_pow * k2
    sinh_half = math.sinh(0.5 * k) if isinstance(k, float) else xp.sinh(0.5 * k)
    return (b * total) * x2 / (2.0 * (one_x * one_x) * (sinh_half * sinh_half))
