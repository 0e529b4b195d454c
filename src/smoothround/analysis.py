"""How error, gradient and cost of smooth rounding depend on the sharpness ``k``.

For each method (``"window"`` = Semenov method 1, ``"density"`` = method 2, ``"tanh"`` = Agustsson-Theis
soft_round with ``alpha = k``) this module answers the questions a user asks before choosing ``k``:

* how far the smooth function is from ``round``: :func:`l1_error`, :func:`rms_error` (over a period),
  :func:`band_error` (the worst error at distance >= ``delta`` from the half-integers; the plain sup error is
  1/2 for every ``k``, docs/mathematics.md §9) and :func:`band_width` (the width, per period, of the band where
  the error exceeds a threshold);
* how good the gradients are: :func:`derivative_min` (at the integers) and :func:`derivative_max` (at the
  half-integers), property P6;
* what it costs: :func:`terms_needed` (direct sum against Fourier series, §3-5);
* when it is practically the identity: :func:`identity_threshold`, :func:`is_identity` (Table T6);
* and the inverse question, "which ``k`` do I need?": :func:`k_for`.

§ and tables refer to ``docs/mathematics.md``. Every quantity is available two ways, chosen by ``via``:

``via="closed"`` (default)
    Closed forms where they exist (the window L1 error as an exact series, soft_round's in closed form), and
    otherwise the functions themselves, evaluated at the exact distance to the half-integer by the library's one
    implementation (``_rounding_math``) in float64 with truncation far below float64 resolution; Gauss-Legendre
    quadrature over a mesh graded towards the half-integer where an integral has no closed form (the density
    method's L1 error, every RMS error). Term counts come from the same truncation bounds the core uses.
``via="core"``
    Dense numerical evaluation through the public functions (``smoothround.round`` and
    ``smoothround.derivative``) on a grid of ``x``. The tests check that both agree.

Every function accepts ``k`` in [1e-300, 1e300] (1e8 at most with ``via="core"``, where float64 can no longer
resolve the error band of width ~1/k next to u = 1/2) and raises a ValueError naming ``k`` outside it. Below
k = 1e-8 the measures are the identity's (L1 1/4, RMS 1/sqrt(12), slopes 1); for large ``k`` the error is
evaluated from the distance to the half-integer, so it follows the leading-order forms of §9 (L1 ~ 2 ln2/k for
the window method, ln2/k for density and tanh) up to k = 1e300. :func:`k_for` raises a ValueError when its
target is out of reach instead of returning the edge of its search range.

The error of every method on a period is ``e(u) = r(u)`` for ``u`` in ``(-1/2, 1/2)``: odd and increasing
(property P7, and the same for soft_round), so the worst error at distance >= ``delta`` is ``r(1/2 - delta)``.

>>> round(l1_error("window", 10.0), 4), round(l1_error("density", 10.0), 5)
(0.136, 0.07061)
>>> round(k_for("window", l1_error=0.1), 3)
13.823
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, NamedTuple

import array_api_compat.numpy as _XP
import numpy as np

from smoothround import _rounding_math as rm

__all__ = [
    "FLOAT32_EPS",
    "FLOAT64_EPS",
    "METHODS",
    "Terms",
    "band_error",
    "band_width",
    "derivative_max",
    "derivative_min",
    "error_table",
    "format_table",
    "identity_threshold",
    "is_identity",
    "k_for",
    "k_rule",
    "l1_error",
    "rms_error",
    "terms_needed",
]

METHODS = ("window", "density", "tanh")
#: Unit roundoff of float32 and float64 (the tolerances of Table T6).
FLOAT32_EPS = 2.0**-24
FLOAT64_EPS = 2.0**-53

Via = Literal["closed", "core"]
_PI = math.pi
#: Supported sharpness range: below _K_MIN every measure is the identity's to float64 precision (and k's
#: reciprocal would overflow); above _K_MAX the error band ~1/k would underflow. Closed forms cover all of it.
_K_MIN, _K_MAX = 1e-300, 1e300
#: Below this k every method equals the identity to float64 precision (window and density: e^(-2 pi^2 / k);
#: tanh: k^2 / 96 relative), so the measures return the identity's values.
_K_TINY = 1e-8
#: With ``via="core"`` the error band (width ~1/k) must be resolvable next to u = 1/2 in float64.
_K_CORE_MAX = 1e8
_K_LO, _K_HI = 1e-12, _K_MAX  # search range of k_for


# ======================================================================= argument checks


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in METHODS:
        allowed = ", ".join(repr(m) for m in METHODS)
        msg = f"`method` must be one of {allowed}; got {method!r}."
        raise ValueError(msg)
    return method


def _check_number(
    name: str, value: Any, low: float, high: float, *, closed_low: bool = False, closed_high: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        msg = f"`{name}` must be a real number; got {value!r} of type {type(value).__name__}."
        raise TypeError(msg)
    v = float(value)
    ok_low = v >= low if closed_low else v > low
    ok_high = v <= high if closed_high else v < high
    if math.isnan(v) or not (ok_low and ok_high):
        lb = "[" if closed_low else "("
        rb = "]" if closed_high else ")"
        msg = f"`{name}` must be in {lb}{low:g}, {high:g}{rb}; got {value!r}."
        raise ValueError(msg)
    return v


def _check_k(k: Any, via: str = "closed") -> float:
    v = _check_number("k", k, 0.0, math.inf)
    high = _K_CORE_MAX if via == "core" else _K_MAX
    if not _K_MIN <= v <= high:
        extra = (
            " with via='core' (float64 cannot resolve the error band next to u = 1/2)"
            if via == "core"
            else ""
        )
        msg = f"`k` must be in [{_K_MIN:g}, {high:g}]{extra}; got {k!r}."
        raise ValueError(msg)
    return v


def _check_via(via: Any) -> Via:
    if via == "closed":
        return "closed"
    if via == "core":
        return "core"
    msg = f"`via` must be 'closed' or 'core'; got {via!r}."
    raise ValueError(msg)


# ======================================================================= the functions themselves

#: Truncation of the analysis' own evaluations: far below float64 resolution, for value and both partials.
_ANALYSIS_TOL = 1e-20


def _evaluate(method: str, off: rm.Offset, k: float, need: tuple[bool, bool, bool], *, deviation: bool = False):
    """t, dt/du, dt/dk at an offset, in float64, by the library's one implementation (``_rounding_math``) with
    truncation far below float64 resolution; ``deviation``: t - u and dt/du - 1, without cancellation."""
    plan = None if method == "tanh" else rm.plan_for(method, k, _ANALYSIS_TOL)
    return rm.evaluate(_XP, off, k, method, rm.Sharpness.of(k, "float64"), plan, need, deviation=deviation)


def _offset_at(u: np.ndarray) -> rm.Offset:
    u = np.asarray(u, dtype=np.float64)
    s = np.abs(u)
    return rm.Offset(np.sign(u), s, 0.5 - s)


def _value(method: str, u: np.ndarray, k: float) -> np.ndarray:
    """r(u) for |u| <= 1/2 in float64: the smooth value minus the nearest integer."""
    return _evaluate(method, _offset_at(u), k, (True, False, False))[0]


def _deviation(method: str, u: np.ndarray, k: float) -> np.ndarray:
    """r(u) - u for |u| <= 1/2 (float64), summed without cancellation when the Fourier form is used."""
    return _evaluate(method, _offset_at(u), k, (True, False, False), deviation=True)[0]


def _slope(method: str, u: np.ndarray, k: float) -> np.ndarray:
    """r'(u) for |u| <= 1/2 in float64."""
    return _evaluate(method, _offset_at(u), k, (False, True, False))[1]


def _at_distance(method: str, d: np.ndarray, k: float) -> np.ndarray:
    """r(1/2 - d) for 0 <= d <= 1/2: the error at distance d from the half-integer, computed from d itself.

    Forming 1/2 - d first would lose d below ~1e-17, and with it the whole error band once k > ~1e12; the
    kernels take the distance d as it is, so this holds for every k up to _K_MAX.
    """
    d = np.asarray(d, dtype=np.float64)
    if k < _K_TINY:
        return 0.5 - d
    off = rm.Offset(np.ones_like(d), 0.5 - d, d)
    return _evaluate(method, off, k, (True, False, False))[0]


# ======================================================================= the core (via="core")


def _core_value(method: str, x: np.ndarray, k: float) -> np.ndarray:
    import smoothround

    return np.asarray(smoothround.round(np.asarray(x, dtype=np.float64), k, method=method), dtype=np.float64)


def _core_slope(method: str, x: np.ndarray, k: float) -> np.ndarray:
    import smoothround

    out = smoothround.derivative(
        smoothround.round, np.asarray(x, dtype=np.float64), k, method=method, wrt="x"
    )
    return np.asarray(out, dtype=np.float64)


# ======================================================================= quadrature


def _half_period_rule(k: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights for d = 1/2 - u on [0, 1/2], graded geometrically towards d = 0 (the
    half-integer) on the scale 1/k."""
    d = (1.0 / k) * 2.0 ** np.arange(-5.0, 80.0)
    d = d[d < 0.5]
    breaks = np.unique(np.concatenate([np.linspace(0.0, 0.5, 9), d]))
    x, w = np.polynomial.legendre.leggauss(24)
    a, b = breaks[:-1, None], breaks[1:, None]
    return ((a + b) / 2 + (b - a) / 2 * x).ravel(), ((b - a) / 2 * w).ravel()


def _period_mean(method: str, k: float, via: str, power: int) -> float:
    """Mean of |e|^power over a period = 2 * integral_0^1/2 r(1/2 - d)^power dd."""
    if k < _K_TINY and via == "closed":
        return 0.5**power / (power + 1)  # the identity: 2 * integral_0^1/2 u^p du
    d, w = _half_period_rule(k)
    r = _core_value(method, 0.5 - d, k) if via == "core" else _at_distance(method, d, k)
    return float(2.0 * np.sum(w * np.abs(r) ** power))


# ======================================================================= error measures


def l1_error(method: str, k: float, *, via: Via = "closed") -> float:
    r"""L1 error against ``round`` over one period, :math:`\int_{-1/2}^{1/2} |r_k(u) - round(u)|\,du`.

    Closed forms (§9): window :math:`(2/k)[\ln 2 + 2\sum_{j\ge1}(-1)^j\ln(1+e^{-kj/2})]`, or its dual
    :math:`1/4 - (4/k)\sum_{m\ odd} 1/(m\sinh(2\pi^2 m/k))` for :math:`k < 2\pi`; tanh
    :math:`1/2 - \ln\cosh(k/2)/(k\tanh(k/2))`; density by quadrature (no closed form; it is
    :math:`(\ln 2 + 2e^{-k/2})/k` to leading order). Tends to 1/4 as ``k -> 0`` and to ``2 ln2/k`` (window),
    ``ln2/k`` (density, tanh) as ``k -> inf``.

    >>> round(l1_error("window", 5.0), 4), round(l1_error("density", 50.0), 5)
    (0.2191, 0.01386)
    >>> round(l1_error("tanh", 1e-9), 6)
    0.25
    """
    method, via = _check_method(method), _check_via(via)
    k = _check_k(k, via)
    if via == "core" or method == "density":
        return _period_mean(method, k, via, 1)
    if k < _K_TINY:
        return 0.25
    if method == "tanh":
        if k <= 20.0:
            return 0.5 - math.log1p(2.0 * math.sinh(k / 4.0) ** 2) / (k * math.tanh(k / 2.0))
        return -math.exp(-k) / -math.expm1(-k) + (math.log(2.0) - math.log1p(math.exp(-k))) / (
            k * math.tanh(k / 2.0)
        )
    if k >= 2.0 * _PI:
        j = np.arange(1, math.ceil(80.0 / k) + 2, dtype=np.float64)
        s = np.sum(((-1.0) ** j * np.log1p(np.exp(-k * j / 2.0)))[::-1])
        return float((2.0 / k) * (math.log(2.0) + 2.0 * s))
    m = np.arange(1, 2 * math.ceil(60.0 * k / (2.0 * _PI**2)) + 3, 2, dtype=np.float64)
    z = 2.0 * _PI**2 * m / k
    inv_sinh = 2.0 * np.exp(-z) / -np.expm1(-2.0 * z)
    return float(0.25 - (4.0 / k) * np.sum((inv_sinh / m)[::-1]))


def rms_error(method: str, k: float, *, via: Via = "closed") -> float:
    r"""Root-mean-square error against ``round`` over one period, :math:`(\int_{-1/2}^{1/2} e(u)^2 du)^{1/2}`.

    No closed form: Gauss-Legendre quadrature (graded mesh) of the series, or of the core with
    ``via="core"``. Tends to :math:`1/\sqrt{12}` (the identity) as ``k -> 0``; for large ``k`` the mean
    square is
    about :math:`2(\ln 2 - 1/2)/k` for the window method.

    >>> round(rms_error("window", 1.0), 4), round(rms_error("window", 1000.0) ** 2 * 1000.0, 4)
    (0.2887, 0.3863)
    """
    method, via = _check_method(method), _check_via(via)
    k = _check_k(k, via)
    return math.sqrt(_period_mean(method, k, via, 2))


def band_error(method: str, k: float, delta: float, *, via: Via = "closed") -> float:
    r"""Worst error :math:`|r_k(x) - round(x)|` over all ``x`` at distance >= ``delta`` from the
    half-integers.

    The error is odd and increasing on a period (property P7), so this is :math:`r_k(1/2 - \delta)`; about
    :math:`\sigma(-k\delta)` (window), :math:`\sigma(-2k\delta)` (density) and :math:`e^{-2k\delta}` (tanh)
    for
    large ``k`` (§9). ``delta = 0`` gives the plain sup error, 1/2 for every ``k``. With ``via="core"``
    the
    maximum is taken over a dense grid of the core's values.

    >>> round(band_error("window", 10.0, 0.1), 4), round(band_error("density", 10.0, 0.1), 4)
    (0.2688, 0.1225)
    >>> band_error("tanh", 3.0, 0.0)
    0.5
    """
    method, via = _check_method(method), _check_via(via)
    k = _check_k(k, via)
    delta = _check_number("delta", delta, 0.0, 0.5, closed_low=True, closed_high=True)
    if via == "closed":
        return float(abs(_at_distance(method, np.array([delta]), k)[0]))
    x = np.linspace(-0.5 + delta, 0.5 - delta, 4001)  # one period: r - round keeps full relative precision
    return float(np.max(np.abs(_core_value(method, x, k) - np.round(x))))


def _solve_increasing(
    f: Callable[[float], float],
    target: float,
    lo: float,
    hi: float,
    *,
    log: bool = False,
    iterations: int = 200,
) -> float:
    """The x in [lo, hi] where the increasing function f crosses target (bisection, in log x if ``log``)."""
    a, b = (math.log(lo), math.log(hi)) if log else (lo, hi)
    for _ in range(iterations):
        mid = 0.5 * (a + b)
        if mid in (a, b):
            break
        if f(math.exp(mid) if log else mid) < target:
            a = mid
        else:
            b = mid
    mid = 0.5 * (a + b)
    return math.exp(mid) if log else mid


def band_width(method: str, k: float, threshold: float, *, via: Via = "closed") -> float:
    r"""Total width, per period, of the band around the half-integer where :math:`|r_k - round| >`
    ``threshold``.

    Equals :math:`1 - 2u^*` with :math:`r_k(u^*) = ` ``threshold`` (solved by bisection; closed form for tanh,
    :math:`2\,\mathrm{atanh}(\tanh(k/2)(1-2\varepsilon))/k`). For large ``k`` about
    :math:`2\ln(1/\varepsilon-1)/k`
    (window) and :math:`\ln(1/\varepsilon-1)/k` (density) (§9). Near the identity it is
    :math:`1 - 2\varepsilon`.

    >>> round(band_width("window", 10.0, 0.01), 4), round(band_width("density", 100.0, 0.01), 5)
    (0.8606, 0.04595)
    """
    method, via = _check_method(method), _check_via(via)
    k = _check_k(k, via)
    eps = _check_number("threshold", threshold, 0.0, 0.5)
    if via == "closed" and k < _K_TINY:
        return 1.0 - 2.0 * eps
    if via == "closed" and method == "tanh" and k < 1.0:
        return 2.0 * math.atanh(math.tanh(k / 2.0) * (1.0 - 2.0 * eps)) / k
    if via == "closed" and method == "tanh":
        t = math.tanh(k / 2.0)
        one_minus = (
            2.0 * math.exp(-k) / (1.0 + math.exp(-k)) + 2.0 * eps * t
        )  # 1 - t (1 - 2 eps), no cancellation
        return float(math.log((2.0 - one_minus) / one_minus) / k)

    def err_at_distance(d: float) -> float:  # error at distance d from the half-integer, decreasing in d
        if via == "core":
            return -float(_core_value(method, np.array([0.5 - d]), k)[0])
        return -float(_at_distance(method, np.array([d]), k)[0])

    d_star = _solve_increasing(err_at_distance, -eps, 1e-320, 0.5, log=True, iterations=120)
    return 2.0 * d_star


# ======================================================================= derivative extremes


def derivative_min(method: str, k: float, *, via: Via = "closed") -> float:
    r"""Smallest slope :math:`r_k'`, attained at the integers (property P6): the flattest gradient training sees.

    Series (§9): window :math:`2k\sum_{n\ge1}\rho(k(n-1/2))\approx 2ke^{-k/2}`, density
    :math:`k\,\mathrm{Cov}_p(n, \tanh(kn/2))\approx 8ke^{-k}`, tanh :math:`k/\sinh k`. With ``via="core"``:
    the
    minimum of the core's derivative over a dense grid of one period.

    >>> round(derivative_min("window", 5.0), 4), round(derivative_min("density", 5.0), 4)
    (0.7066, 0.2525)
    """
    method, via = _check_method(method), _check_via(via)
    k = _check_k(k, via)
    if via == "closed":
        return float(_slope(method, np.array([0.0]), k)[0])
    return float(np.min(_core_slope(method, np.linspace(-0.5, 0.5, 4001), k)))


def derivative_max(method: str, k: float, *, via: Via = "closed") -> float:
    r"""Largest slope :math:`r_k'`, attained at the half-integers (property P6).

    About ``k/4`` (window), ``(k/2) tanh(k/4)`` (density) and ``k / (2 tanh(k/2))`` (tanh).

    >>> round(derivative_max("window", 10.0), 5), round(derivative_max("density", 10.0), 5)
    (2.50091, 4.93353)
    """
    method, via = _check_method(method), _check_via(via)
    k = _check_k(k, via)
    if via == "closed":
        return float(_slope(method, np.array([0.5]), k)[0])
    return float(np.max(_core_slope(method, np.linspace(-0.5, 0.5, 4001), k)))


# ======================================================================= cost


class Terms(NamedTuple):
    """Terms the evaluation needs: ``direct`` (pairs M, window; half-width M of the 2M+1 weights, density) and
    ``fourier`` (harmonics). ``None`` for tanh, which has a closed form."""

    direct: int | None
    fourier: int | None


_TERMS_CAP = 10**5  # term counts beyond this are reported as None (no evaluation uses that form there)


def terms_needed(method: str, k: float, tol: float, *, partials: bool = False) -> Terms:
    """Number of terms for a truncation error <= ``tol``: direct sum against Fourier series.

    The counts come from the guaranteed truncation bounds the library evaluates with (``docs/mathematics.md``):
    window pairs ``sigma(-kM) <= tol``, i.e. ``max(1, ceil(ln(1/tol - 1)/k))``; density the certified bound
    B2(k, M); Fourier tails T1 and T2. With ``partials=True`` the slope must be within ``tol`` too, which is
    what the core asks of itself for a Python-number ``k`` (it also halves ``tol`` for direct sums, whose centre
    changes; for an array ``k`` it bounds ``k`` times the k-slope as well). The direct sum is cheaper from k ~ 4.3-4.65 on. A count above 10**5 (the direct sum at
    tiny k, the Fourier series at large k: forms no evaluation uses there) is reported as None.

    >>> terms_needed("window", 2.0, 1e-16), terms_needed("density", 10.0, 1e-7)
    (Terms(direct=19, fourier=3), Terms(direct=2, fourier=11))
    >>> terms_needed("window", 2.0, 1e-16, partials=True)
    Terms(direct=19, fourier=4)
    >>> terms_needed("tanh", 10.0, 1e-7)
    Terms(direct=None, fourier=None)
    """
    method = _check_method(method)
    k = _check_k(k)
    tol = _check_number("tol", tol, 0.0, 0.5)
    if not isinstance(partials, bool):
        msg = f"`partials` must be True or False; got {partials!r}."
        raise TypeError(msg)
    if method == "tanh":
        return Terms(None, None)
    direct = rm.direct_terms(method, k, tol, partials=partials, k_partial=False)
    try:
        fourier: int | None = rm.fourier_terms(method, k, tol, partials=partials, k_partial=False)
    except ArithmeticError:  # beyond 200 harmonics: the Fourier form is never used at such k
        fourier = None
    return Terms(direct if direct <= _TERMS_CAP else None, fourier)


# ======================================================================= identity


def _identity_gap(method: str, k: float) -> float:
    """sup_x |r_k(x) - x| (docs/mathematics.md, Table T6)."""
    if method == "tanh" and k < 1e-2:
        # s(y) - y = k^2 r (1/12 - r^2/3) + O(k^4) (§8), largest at r = 1/sqrt(12): k^2 / (36 sqrt 3)
        return k * k / (36.0 * math.sqrt(3.0))
    u = np.linspace(0.0, 0.5, 2001)
    g = np.abs(_deviation(method, u, k))
    i = int(np.argmax(g))
    fine = np.linspace(u[max(i - 1, 0)], u[min(i + 1, u.size - 1)], 2001)
    return float(max(g[i], np.max(np.abs(_deviation(method, fine, k)))))


def identity_threshold(method: str, tol: float = FLOAT64_EPS) -> float:
    """Largest ``k`` with ``sup |r_k(x) - x| <= tol``: below it the method is practically the identity
    (Table T6).

    Window: 1.032 (float32), 0.494 (float64); density: 0.883, 0.450. soft_round approaches the identity only
    quadratically (error ~0.016 k^2), so its threshold is tiny: 1.9e-3 (float32), 8.3e-8 (float64).

    >>> round(identity_threshold("window", FLOAT32_EPS), 3), round(identity_threshold("density"), 3)
    (1.032, 0.45)
    """
    method = _check_method(method)
    tol = _check_number("tol", tol, 0.0, 0.5)
    return _solve_increasing(lambda k: _identity_gap(method, k), tol, 1e-9, 50.0, log=True, iterations=80)


def is_identity(method: str, k: float, tol: float = FLOAT64_EPS) -> bool:
    """True when ``r_k(x) = x`` to within ``tol`` for every ``x`` (so rounding does practically nothing).

    >>> is_identity("window", 1.0, FLOAT32_EPS), is_identity("window", 1.0)
    (True, False)
    >>> is_identity("tanh", 1.0, FLOAT32_EPS)
    False
    """
    method, k = _check_method(method), _check_k(k)
    tol = _check_number("tol", tol, 0.0, 0.5)
    return _identity_gap(method, k) <= tol


# ======================================================================= the inverse question


def k_for(
    method: str,
    *,
    l1_error: float | None = None,
    error: float | None = None,
    delta: float | None = None,
    min_derivative: float | None = None,
    via: Via = "closed",
) -> float:
    r"""The ``k`` that meets one target exactly (bisection on the monotone measure).

    * ``l1_error=e``: the smallest (smoothest) ``k`` whose L1 error over a period is <= ``e`` (``e < 1/4``).
      Rule of thumb (Table T4b): ``2 ln2 / e`` (window), ``ln2 / e`` (density, tanh).
    * ``error=e, delta=d``: the smallest ``k`` whose error is <= ``e`` wherever ``x`` is at least ``d`` from a
      half-integer. Rule: ``ln(1/e - 1)/d`` (window), half that (density).
    * ``min_derivative=g``: the largest (sharpest) ``k`` whose slope at the integers is still >= ``g`` (``0
      < g < 1``),
      so that gradients never shrink below ``g``.

    >>> round(k_for("window", l1_error=0.01), 2), round(k_for("density", error=1e-3, delta=0.1), 3)
    (138.63, 34.534)
    >>> round(k_for("window", min_derivative=0.5), 3)
    6.283
    """
    method, via = _check_method(method), _check_via(via)
    given = [
        name
        for name, v in (("l1_error", l1_error), ("error", error), ("min_derivative", min_derivative))
        if v is not None
    ]
    if len(given) != 1:
        got = ", ".join(given) or "none"
        msg = f"give exactly one of `l1_error`, `error` (with `delta`) or `min_derivative`; got {got}."
        raise ValueError(msg)
    if error is None and delta is not None:
        msg = "`delta` goes with `error`; give `error` too."
        raise ValueError(msg)
    v: Via = "core" if via == "core" else "closed"
    lo, hi = _K_LO, (_K_CORE_MAX if v == "core" else _K_MAX)
    if l1_error is not None:
        target = _check_number("l1_error", l1_error, 0.0, 0.25)
        return _k_reaching(
            lambda k: l1_error_fn(method, k, via=v), target, lo, hi, method, f"`l1_error` = {l1_error!r}"
        )
    if error is not None:
        if delta is None:
            msg = "`error` needs `delta`, the distance from the half-integers beyond which it must hold."
            raise ValueError(msg)
        d = _check_number("delta", delta, 0.0, 0.5)
        target = _check_number("error", error, 0.0, 0.5 - d)
        return _k_reaching(
            lambda k: band_error(method, k, d, via=v),
            target,
            lo,
            hi,
            method,
            f"`error` = {error!r} at `delta` = {delta!r}",
        )
    floor = _check_number("min_derivative", min_derivative, 0.0, 1.0)
    return _k_reaching(
        lambda k: derivative_min(method, k, via=v),
        floor,
        lo,
        hi,
        method,
        f"`min_derivative` = {min_derivative!r}",
        at_least=True,
    )


def _k_reaching(
    f: Callable[[float], float],
    target: float,
    lo: float,
    hi: float,
    method: str,
    asked: str,
    *,
    at_least: bool = False,
) -> float:
    """Bisection (in log k) for the k where the decreasing measure f crosses target; a ValueError when the
    target lies outside what f reaches on [lo, hi] (never the silent edge of the bracket).

    ``at_least=False``: the smallest k with f(k) <= target; ``at_least=True``: the largest k with f(k) >=
    target."""
    f_lo, f_hi = f(lo), f(hi)
    if not (f_hi <= target <= f_lo) or (at_least and f_hi >= target) or (not at_least and f_lo <= target):
        what = "the gradient floor" if at_least else "the error"
        msg = (
            f"{asked} is out of reach for {method!r}: over k in [{lo:g}, {hi:g}] {what} ranges from "
            f"{f_lo:.6g} (k = {lo:g}) to {f_hi:.6g} (k = {hi:g})."
        )
        raise ValueError(msg)
    return _solve_increasing(lambda k: -f(k), -target, lo, hi, log=True, iterations=100)


l1_error_fn = l1_error  # k_for shadows the name with its keyword argument


def k_rule(
    method: str, *, l1_error: float | None = None, error: float | None = None, delta: float | None = None
) -> float:
    """The closed-form rule of thumb for ``k`` (Table T4b), to compare with the exact :func:`k_for`.

    >>> round(k_rule("window", l1_error=0.1), 3), round(k_rule("density", error=1e-3, delta=0.1), 3)
    (13.863, 34.534)
    """
    method = _check_method(method)
    if l1_error is not None:
        e = _check_number("l1_error", l1_error, 0.0, 0.25)
        return (2.0 if method == "window" else 1.0) * math.log(2.0) / e
    if error is None or delta is None:
        msg = "give `l1_error`, or `error` together with `delta`."
        raise ValueError(msg)
    d = _check_number("delta", delta, 0.0, 0.5)
    e = _check_number("error", error, 0.0, 0.5)
    return math.log(1.0 / e - 1.0) / ((1.0 if method == "window" else 2.0) * d)


# ======================================================================= tables


def error_table(
    ks: Iterable[float] = (1, 2, 5, 10, 20, 50, 100, 1000),
    methods: Sequence[str] = METHODS,
    *,
    delta: float = 0.1,
    threshold: float = 1e-2,
    via: Via = "closed",
) -> list[dict[str, Any]]:
    """One row per (k, method): the error and gradient measures of Table T4a, plus RMS and identity
    flags.

    >>> row = error_table([10], ["window"])[0]
    >>> row["method"], row["k"], round(row["L1"], 4), round(row["r'(0) min"], 3)
    ('window', 10.0, 0.136, 0.133)
    """
    rows = []
    for k in ks:
        k = _check_k(k)
        for method in methods:
            _check_method(method)
            note = (
                "identity (float64)"
                if is_identity(method, k, FLOAT64_EPS)
                else "identity (float32)"
                if is_identity(method, k, FLOAT32_EPS)
                else ""
            )
            l1 = l1_error(method, k, via=via)
            rows.append(
                {
                    "method": method,
                    "k": k,
                    "L1": l1,
                    "k*L1": k * l1,
                    "RMS": rms_error(method, k, via=via),
                    f"err(dist>={delta:g})": band_error(method, k, delta, via=via),
                    f"width(err>{threshold:g})": band_width(method, k, threshold, via=via),
                    "r'(0) min": derivative_min(method, k, via=via),
                    "r'(1/2) max": derivative_max(method, k, via=via),
                    "note": note,
                }
            )
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v == 0.0 or not math.isfinite(v):
            return f"{v:g}"
        return f"{v:.4g}"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Plain-text, fixed-width rendering of table rows (4 significant digits), suitable for a terminal or a
    note.

    >>> print(format_table([{"k": 5.0, "L1": 0.21906}, {"k": 10.0, "L1": 0.136}]))
    k   L1
    --  ------
    5   0.2191
    10  0.136
    """
    if not rows:
        return ""
    cols = list(columns) if columns is not None else list(rows[0])
    cells = [[_fmt(row.get(c)) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
