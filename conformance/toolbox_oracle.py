"""The 50-digit oracle of the smoothing toolbox: ``tests/data/oracle_toolbox.npz``, from the defining formulas.

Run ``.venv/bin/python conformance/toolbox_oracle.py`` (or ``make oracle-toolbox``) to regenerate the data file;
it uses both cores and prints its progress. ``--check-only`` runs the self-checks and stops.

Independence: this script does not import smoothround. It evaluates the definitions of the docstrings literally
in mpmath (``sp_k(z) = log(1 + e^{kz})/k``, ``sigma(t) = 1/(1 + e^-t)``):

* ``smooth_abs``: logcosh ``log(e^{kx} + e^{-kx})/k``, erf ``x erf(kx)``, sqrt ``sqrt(x^2 + 1/k^2)``;
  ``smooth_relu`` ``sp_k(x)``; ``smooth_clamp`` ``lo + sp_k(x - lo) - sp_k(x - hi)``;
* ``smooth_sign``: logistic ``2 sigma(kx) - 1``, erf ``erf(kx)``, arctan ``(2/pi) atan(kx)``; ``smooth_step``
  ``(1 + smooth_sign)/2``;
* ``mollifier``: the Gaussian, Cauchy and logistic densities of width w; ``mollifier_cdf`` their CDFs
  ``(1 + erf(x/(w sqrt 2)))/2``, ``1/2 + atan(x/w)/pi``, ``sigma(x/w)``; ``smooth_steps`` ``v_0 + sum_i (v_i -
  v_{i-1}) CDF(x - b_i)``;
* ``smooth_maximum``: logsumexp ``log(e^{ka} + e^{kb})/k``, boltzmann ``(a e^{ka} + b e^{kb})/(e^{ka} +
  e^{kb})``, acon ``d sigma(kd) + b``, erf ``(a + b + d erf(kd))/2``, sqrt ``(a + b + sqrt(d^2 + 1/k^2))/2``,
  power ``(a^k + b^k)^(1/k)``; ``smooth_minimum`` ``-smooth_maximum(-a, -b)``, power ``(a^-k + b^-k)^(-1/k)``;
* ``smooth_max`` over a row: logsumexp ``log(sum e^{k x_i})/k``, boltzmann ``sum x_i e^{k x_i} / sum e^{k x_i}``
  (-inf entries are left out, as documented); ``smooth_min = -smooth_max(-x)``; ``softmax`` ``e^{k x_i} / sum_j
  e^{k x_j}``; ``soft_argmax`` ``sum_i i softmax_i``; ``soft_onehot`` ``softmax_j(-k (index - j)^2)``;
* the metrics as ratios of sums (exact rational arithmetic), and the constants of ``bounds`` (Lambert W, ``max s
  erfc(s)``, the maxima of the kernels' second derivatives) by root finding.

Partials are the derivatives of these expressions, written out term by term (checked against ``mpmath.diff`` at
every run). Precision: every point is evaluated at increasing working precision (60, 75, 150, 300, ... digits,
each plus the decimal orders of magnitude of its inputs: 360 for k = 1e300) until two successive results agree
to 52 significant digits, so cancellation in a definition (``(1 + sign)/2`` far left, the clamp at ``k =
1e-300``, ``2^(1/k) - 1`` in the power mean at ``k = 1e300``) is paid for with digits, not with error; an exact
0 is accepted only at 600 digits or more. Inputs: every point is stored once per distinct dtype value (float64, float32, float16, bfloat16;
the ``mask`` bit i says that the row is a ``DTYPES[i]`` number), so each dtype is scored at the exact number it
holds.

The data file has one table per kind of input (``unary``, ``pair``, ``row``, ``onehot``, ``metric``) with a
``case`` column pointing into the JSON metadata (``meta``: function, method, k, configuration of each case, the
bounds constants, the grids, mpmath version, digits, date, generation time and the self-check results).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
from mpmath import mp, mpf

DIGITS = 50
AGREE = mpf(10) ** -52
DPS_LADDER = (60, 75, 150, 300, 600, 1200)
ZERO_DPS = 600  # an exact 0 is accepted only at this precision (cancellation could fake one below)
NEGLIGIBLE = mpf(10) ** -400  # two results both nonzero and below this are float64 zeros, whatever their digits

DTYPES = ("float64", "float32", "float16", "bfloat16")
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "oracle_toolbox.npz"

NMAX = 8  # the longest row

# ---------------------------------------------------------------------------------------------------------------
# grids

#: sharpness values of the elementwise and pairwise functions (k beyond float32's range, and at float64's ends)
K_VALUES = (1e-300, 1e-30, 1e-8, 0.37, 1.0, 7.5, 1e3, 1e8, 1e39, 1e300)
#: widths of the mollifiers and smooth_steps
WIDTHS = (1e300, 1e30, 1e8, 1.0, 0.13, 1e-3, 1e-8, 1e-39, 1e-300)
#: the power mean needs k >= 1
POWER_K = (1.0, 1.5, 3.0, 8.0, 100.0, 1e8, 1e39, 1e300)
#: sharpness of the row functions
ROW_K = (1e-300, 1e-8, 0.37, 1.0, 10.0, 1e3, 1e8, 1e39, 1e300)
#: sharpness of the soft one-hot
ONEHOT_K = (1e-300, 1e-8, 0.5, 1.0, 10.0, 1e4, 1e39, 1e300)

#: k x: around 0, across the overflow thresholds of exp (float32 88.7/103.9, float64 709.8/745.1), of squares
#: (float32 1.8e19, float64 1.3e154), erfc's underflow (~10, ~27) and far beyond
U_GRID = sorted({0.0, *(s * t for s in (1.0, -1.0) for t in (
    1e-300, 1e-8, 0.01, 0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 13.0, 20.0, 27.5, 30.0, 40.0, 88.0, 89.0,
    103.0, 105.0, 700.0, 710.0, 745.0, 746.0, 1e3, 1e6, 1.8e19, 1.9e19, 1e100, 1.4e154, 1e200)),
    *(i / 4.0 for i in range(-16, 17))})
#: absolute inputs: each dtype's tiny and largest numbers, 0, and magnitudes up to 1e300 and float64's max
X_ABS = sorted({0.0, *(s * t for s in (1.0, -1.0) for t in (
    5e-324, 2.2250738585072014e-308, 1e-300, 1e-100, 1.1754943508222875e-38, 1e-30, 6.103515625e-05, 1e-8,
    0.3, 1.0, 2.5, 1e4, 65504.0, 1e8, 3e8, 1e16, 1e20, 1e38, 3.3895313892515355e38, 3.4028234663852886e38,
    1e100, 1e154, 1e300, 1.7976931348623157e308))})

CLAMP_CONFIGS = ((-1.0, 2.0), (0.0, 1.0))
STEPS_CONFIGS = (((-1.0, 0.0, 2.0), (0.0, 1.0, -1.0, 3.0)), ((0.0, 1e-3), (5.0, -5.0, 5.0)))
STEPS_KERNELS = ("logistic", "gaussian", "cauchy")


# ---------------------------------------------------------------------------------------------------------------
# dtypes


def _bf16(v: float) -> float:
    """``v`` rounded to bfloat16 (nearest, ties to even, via float32), as a float64 number; inf on overflow."""
    with np.errstate(over="ignore"):
        bits = int(np.array(v, dtype=np.float32).view(np.uint32))
    if (bits & 0x7F800000) == 0x7F800000:  # inf or NaN stays
        return float(np.array(np.uint32(bits)).view(np.float32))
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16) & 0xFFFFFFFF
    return float(np.array(np.uint32(bits)).view(np.float32))


def to_dtype(dtype: str, v: float) -> float:
    """``v`` rounded to ``dtype`` (inf on overflow), returned as the float64 number it is."""
    if dtype == "bfloat16":
        return _bf16(v)
    with np.errstate(over="ignore", under="ignore"):
        return float(np.array(v, dtype=dtype))


def representable(dtype: str, v: float) -> bool:
    return math.isfinite(v) and to_dtype(dtype, v) == v


#: float16 and bfloat16 (torch only) are scored on every LOW_PRECISION_EVERY-th point, to keep the file small
LOW_PRECISION_EVERY = 3


def per_dtype(points: Sequence[tuple[float, ...]]) -> list[tuple[tuple[float, ...], int]]:
    """Each point (a tuple of finite inputs) rounded to every dtype where it stays finite: (point, dtype mask)."""
    masks: dict[tuple[float, ...], int] = {}
    for i, point in enumerate(points):
        for bit, dtype in enumerate(DTYPES):
            if bit >= 2 and i % LOW_PRECISION_EVERY:
                continue
            rounded = tuple(to_dtype(dtype, v) for v in point)
            if all(math.isfinite(v) for v in rounded):
                masks[rounded] = masks.get(rounded, 0) | (1 << bit)
    return sorted(masks.items())


# ---------------------------------------------------------------------------------------------------------------
# precision


def solve(fn: Callable[..., Sequence[Any]], *args: Any) -> list[float]:
    """``fn(*args)`` (a sequence of mpf) at increasing precision until two successive results agree to 52
    digits; returned as float64 numbers. The args are floats (exact), ints, or tuples of them."""
    previous: list[Any] | None = None
    current: list[Any] = []
    extra = _magnitude_digits(args)
    for dps in [d + extra for d in DPS_LADDER]:
        with mp.workdps(dps):
            current = list(fn(*args))
        if previous is not None and all(_agree(p, c, dps) for p, c in zip(previous, current, strict=True)):
            break
        previous = current
    return [float(c) for c in current]


def _magnitude_digits(args: Any) -> int:
    """Digits to start with beyond DPS_LADDER: the decimal orders of magnitude of the inputs (k = 1e300, x =
    1e300, k = 1e-300 ...). A term such as 2^(1/k) - 1 = 7e-301 or (x + 1) - x is lost completely at any
    precision below them, so that two precisions would agree on the wrong result; from there it is resolved."""
    orders = [0.0]
    stack = list(args)
    while stack:
        v = stack.pop()
        if isinstance(v, (tuple, list)):
            stack.extend(v)
        elif isinstance(v, float) and math.isfinite(v) and v != 0:
            orders.append(abs(math.log10(abs(v))))
    return min(int(max(orders)) + 1, 400)


def _agree(p: Any, c: Any, dps: int) -> bool:
    """Two successive results agree: to 52 digits, or both exact (Python ints: zeros by construction, such as
    the gradient of a -inf entry), or both NaN (no derivative), or both 0 at ZERO_DPS digits, or both nonzero and
    negligible (below 1e-400: e^-(10^300) is not computed to 52 digits at 60, but it is 0 in every dtype)."""
    if isinstance(c, int):
        return True
    if mpmath.isnan(c):
        return bool(mpmath.isnan(p))
    if c == 0 or p == 0:
        return bool(p == c and dps >= ZERO_DPS)  # dps includes the magnitude digits
    if abs(p) < NEGLIGIBLE and abs(c) < NEGLIGIBLE:
        return True
    return bool(abs(p - c) <= AGREE * abs(c))


def _m(v: float) -> mpf:
    return mpf(v)


# ---------------------------------------------------------------------------------------------------------------
# elementwise definitions: (value, d/dx, d2/dx2)

E = mpmath.exp
SQRT_PI = None  # set per precision inside the functions


def _sigma(t: mpf) -> mpf:
    return 1 / (1 + E(-t))


def _sigma1(t: mpf) -> mpf:  # sigma'(t) = e^-t / (1 + e^-t)^2
    q = E(-t)
    return q / (1 + q) ** 2


def _sigma2(t: mpf) -> mpf:  # sigma''(t) = e^-t (e^-t - 1) / (1 + e^-t)^3
    q = E(-t)
    return q * (q - 1) / (1 + q) ** 3


def _sigma3(t: mpf) -> mpf:  # sigma'''(t) = e^-t (e^-2t - 4 e^-t + 1) / (1 + e^-t)^4
    q = E(-t)
    return q * (q * q - 4 * q + 1) / (1 + q) ** 4


def _sign_defs(method: str, x: mpf, k: mpf) -> tuple[mpf, mpf, mpf]:
    u = k * x
    if method == "logistic":
        return 2 * _sigma(u) - 1, 2 * k * _sigma1(u), 2 * k * k * _sigma2(u)
    if method == "erf":
        g = 2 / mpmath.sqrt(mpmath.pi) * E(-u * u)
        return mpmath.erf(u), k * g, -2 * k * k * u * g
    return 2 / mpmath.pi * mpmath.atan(u), 2 * k / (mpmath.pi * (1 + u * u)), -4 * k**3 * x / (
        mpmath.pi * (1 + u * u) ** 2)


def _kernel(kernel: str, x: mpf, w: mpf) -> tuple[mpf, mpf, mpf, mpf]:
    """The kernel's CDF, density, density' and density'' at x, width w."""
    if kernel == "gaussian":
        z = x / w
        pdf = E(-z * z / 2) / (w * mpmath.sqrt(2 * mpmath.pi))
        cdf = (1 + mpmath.erf(x / (w * mpmath.sqrt(2)))) / 2
        return cdf, pdf, -x / w**2 * pdf, (x * x / w**4 - 1 / w**2) * pdf
    if kernel == "cauchy":
        s = x * x + w * w
        return (mpf(1) / 2 + mpmath.atan(x / w) / mpmath.pi, w / (mpmath.pi * s), -2 * x * w / (mpmath.pi * s * s),
                2 * w * (3 * x * x - w * w) / (mpmath.pi * s**3))
    z = x / w
    return _sigma(z), _sigma1(z) / w, _sigma2(z) / w**2, _sigma3(z) / w**3


def unary_defs(function: str, method: str, k: float, config: Any, x_: float) -> tuple[mpf, mpf, mpf]:
    x = _m(x_)
    if function in ("mollifier", "mollifier_cdf", "smooth_steps"):
        w = _m(k)  # the width
        if function == "mollifier":
            return _kernel(method, x, w)[1:]
        if function == "mollifier_cdf":
            return _kernel(method, x, w)[:3]
        bps, vals = config
        out = [_m(vals[0]), mpf(0), mpf(0)]
        for b, lo_v, hi_v in zip(bps, vals[:-1], vals[1:], strict=True):
            jump = _m(hi_v) - _m(lo_v)
            c, p, p1, _ = _kernel(method, x - _m(b), w)
            out = [out[0] + jump * c, out[1] + jump * p, out[2] + jump * p1]
        return out[0], out[1], out[2]
    kk = _m(k)
    u = kk * x
    if function == "smooth_abs":
        if method == "logcosh":
            ep, em = E(u), E(-u)
            return mpmath.log(ep + em) / kk, (ep - em) / (ep + em), 4 * kk / (ep + em) ** 2
        if method == "erf":
            g = 2 / mpmath.sqrt(mpmath.pi) * E(-u * u)
            return x * mpmath.erf(u), mpmath.erf(u) + u * g, kk * g * (2 - 2 * u * u)
        r = mpmath.sqrt(x * x + 1 / kk**2)
        return r, x / r, 1 / (kk**2 * r**3)
    if function == "smooth_relu":
        e = E(u)
        return mpmath.log(1 + e) / kk, e / (1 + e), kk * e / (1 + e) ** 2
    if function == "smooth_clamp":
        lo, hi = _m(config[0]), _m(config[1])
        a, b = kk * (x - lo), kk * (x - hi)
        # without the cancellation of sp(a) - sp(b) and sigma(a) - sigma(b) (e^a - e^b = -e^a expm1(b - a)),
        # which at k = 1e-300 needs more digits than ZERO_DPS and would pass for an exact 0
        diff = -E(a) * mpmath.expm1(b - a)
        value = lo + mpmath.log1p(diff / (1 + E(b))) / kk
        d1 = diff / ((1 + E(a)) * (1 + E(b)))
        return value, d1, kk * d1 * -mpmath.expm1(a + b) / ((1 + E(a)) * (1 + E(b)))
    if function == "smooth_sign":
        return _sign_defs(method, x, kk)
    if function == "smooth_step":
        s, d, d2 = _sign_defs(method, x, kk)
        return (1 + s) / 2, d / 2, d2 / 2
    raise AssertionError(function)


UNARY_FUNCTIONS: tuple[tuple[str, str], ...] = (
    ("smooth_abs", "logcosh"), ("smooth_abs", "erf"), ("smooth_abs", "sqrt"), ("smooth_relu", "softplus"),
    ("smooth_clamp", "softplus"),
    *(("smooth_sign", m) for m in ("logistic", "erf", "arctan")),
    *(("smooth_step", m) for m in ("logistic", "erf", "arctan")),
    *(("mollifier", m) for m in STEPS_KERNELS), *(("mollifier_cdf", m) for m in STEPS_KERNELS),
    *(("smooth_steps", m) for m in STEPS_KERNELS),
)


def unary_cases() -> list[dict[str, Any]]:
    cases = []
    for function, method in UNARY_FUNCTIONS:
        if function == "smooth_clamp":
            configs: Sequence[Any] = CLAMP_CONFIGS
        elif function == "smooth_steps":
            configs = STEPS_CONFIGS
        else:
            configs = (None,)
        params = WIDTHS if function.startswith(("mollifier", "smooth_steps")) else K_VALUES
        for config in configs:
            for param in params:
                cases.append({"function": function, "method": method, "k": param, "config": config,
                              "param": "width" if params is WIDTHS else "k"})
    return cases


def unary_points(case: dict[str, Any]) -> list[tuple[float]]:
    """The u grid over the scale of the function (1/k, or the width) around each of its centres, and X_ABS."""
    function, param, config = case["function"], case["k"], case["config"]
    scale = param if function.startswith(("mollifier", "smooth_steps")) else 1.0 / param
    if function == "smooth_clamp":
        centres: Sequence[float] = (config[0], config[1], 0.5 * (config[0] + config[1]))
    elif function == "smooth_steps":
        centres = config[0]
    else:
        centres = (0.0,)
    pts = set(X_ABS)
    for c in centres:
        for u in U_GRID:
            v = c + u * scale
            if math.isfinite(v):
                pts.add(v)
    return [(v,) for v in sorted(pts)]


# ---------------------------------------------------------------------------------------------------------------
# pairwise definitions: (value, d/da, d/db)

PAIR_FUNCTIONS = tuple((f, m) for f in ("smooth_maximum", "smooth_minimum")
                       for m in ("logsumexp", "boltzmann", "acon", "erf", "sqrt", "power"))


def _max_defs(method: str, a: mpf, b: mpf, k: mpf) -> tuple[mpf, mpf, mpf]:
    if method == "logsumexp":
        ea, eb = E(k * a), E(k * b)
        return mpmath.log(ea + eb) / k, ea / (ea + eb), eb / (ea + eb)
    if method == "boltzmann":
        ea, eb = E(k * a), E(k * b)
        v = (a * ea + b * eb) / (ea + eb)
        return v, ea / (ea + eb) * (1 + k * (a - v)), eb / (ea + eb) * (1 + k * (b - v))
    d = a - b
    if method == "acon":
        g = _sigma(k * d) + k * d * _sigma1(k * d)
        return d * _sigma(k * d) + b, g, 1 - g
    if method == "erf":
        g = 2 / mpmath.sqrt(mpmath.pi) * E(-(k * d) ** 2)
        s = mpmath.erf(k * d) + k * d * g
        return (a + b + d * mpmath.erf(k * d)) / 2, (1 + s) / 2, (1 - s) / 2
    if method == "sqrt":  # r -|d| = 1/(k^2 (r + |d|)): no cancellation of a + r (d << 0) or b + r (d >> 0)
        r = mpmath.sqrt(d * d + 1 / k**2)
        gap = 1 / (k**2 * (r + abs(d)))  # r - |d|
        value = b + gap / 2 if d < 0 else a + gap / 2
        return value, (gap if d < 0 else 2 * r - gap) / (2 * r), (2 * r - gap if d < 0 else gap) / (2 * r)
    if a == 0 and b == 0:  # power mean at the origin: not differentiable
        return mpf(0), mpf("nan"), mpf("nan")
    v = (a**k + b**k) ** (1 / k)
    return v, (a / v) ** (k - 1), (b / v) ** (k - 1)


def pair_defs(function: str, method: str, k: float, config: Any, a_: float, b_: float) -> tuple[mpf, mpf, mpf]:
    a, b, kk = _m(a_), _m(b_), _m(k)
    if function == "smooth_maximum":
        return _max_defs(method, a, b, kk)
    if method != "power":
        v, da, db = _max_defs(method, -a, -b, kk)
        return -v, da, db
    if a == 0 or b == 0:  # the power min is 0 there (its limit); d/d(the zero one) = 1 unless both are 0
        if a == 0 and b == 0:
            return mpf(0), mpf("nan"), mpf("nan")
        return mpf(0), mpf(1 if a == 0 else 0), mpf(1 if b == 0 else 0)
    v = (a ** (-kk) + b ** (-kk)) ** (-1 / kk)
    return v, (v / a) ** (kk + 1), (v / b) ** (kk + 1)


PAIR_K = (1e-300, 1e-8, 0.37, 1.0, 7.5, 1e8, 1e39, 1e300)


def pair_cases() -> list[dict[str, Any]]:
    return [{"function": f, "method": m, "k": k, "config": None}
            for f, m in PAIR_FUNCTIONS for k in (POWER_K if m == "power" else PAIR_K)]


def pair_points(case: dict[str, Any]) -> list[tuple[float, float]]:
    """b = 0 with a over the u grid (1, -3.5 on a third of it); pairs of large, tiny, equal, opposite and nearly
    equal operands; the power mean on nonnegative pairs."""
    k = case["k"]
    pts: set[tuple[float, float]] = set()
    if case["method"] == "power":
        vals = (0.0, 5e-324, 1e-300, 1.1754943508222875e-38, 1e-8, 0.25, 0.5, 0.99, 1.0, 1.01, 2.0, 3.0, 1e8, 1e38,
                1e300, 1.7976931348623157e308)
        for a in vals:
            for b in (0.0, 1.0, 0.5, 1e-300, 1e300):
                pts |= {(a, b), (b, a)}
        for b in (1.0, 1e8, 1e-8):
            for t in (1e-12, 1e-6, 1e-3, 0.1):
                pts |= {(b * (1 + t), b), (b * (1 - t), b)}
        return sorted(pts)
    for b, us in ((0.0, U_GRID), (1.0, U_GRID[::3]), (-3.5, U_GRID[1::3])):
        for u in us:
            a = b + u / k
            if math.isfinite(a):
                pts.add((a, b))
    for x in X_ABS[::2]:
        pts |= {(x, 0.0), (x, x), (x, -x)}
        if x:
            pts.add((x, x * (1 + 2.0**-20)))
    return sorted(pts)


# ---------------------------------------------------------------------------------------------------------------
# rows: smooth_max / smooth_min (logsumexp, boltzmann), softmax, soft_argmax; value and gradient of a scalar


ROW_FUNCTIONS = (("smooth_max", "logsumexp"), ("smooth_max", "boltzmann"), ("smooth_min", "logsumexp"),
                 ("smooth_min", "boltzmann"), ("softmax", ""), ("soft_argmax", ""))

#: row patterns in units of 1/k (offsets from a base), and absolute rows
ROW_PATTERNS = (
    (0.0,), (0.0, -40.0), (0.0, 0.0), (0.0, -1.0), (1.0, 0.0, -1.0), (0.0, 0.0, 0.0), (0.0, 0.0, -1.0),
    (-0.5, 0.0, -0.25), (0.0, -1.0, -2.0, -3.0), (0.0, -700.0, -750.0), (0.0, -88.0, -104.0),
    (0.0, -1e-8, -2e-8), (3.0, -2.0, 0.5, 0.0, -1.0, 2.5, -0.75, 1.0), (0.0, -1.2785, -1.2785),
    (-math.inf, 0.0, -1.0), (0.0, -math.inf, -math.inf), (-math.inf, -math.inf, 0.0, 0.0),
)
ROW_BASES = (0.0, 1e4, -1e4, 1e16, -1e300)
ROW_ABS = (
    (3.4028234663852886e38, 0.0, -3.4028234663852886e38), (1.7976931348623157e308, 0.0),
    (1.7976931348623157e308, 1.7976931348623157e308, 0.0), (-1.7976931348623157e308, 1.0),
    (1e300, -1e300, 1.0), (1e38, 1e38, -1e38), (1.1754943508222875e-38, 0.0, -1.1754943508222875e-38),
    (65504.0, -65504.0, 0.0), (1e4, 1e4 + 0.5, 1e4 + 1.0), (1e16, 1e16 + 2.0, 1e16 + 4.0),
    (2.5, -math.inf), (5e-324, 0.0), (1e20, 1e20, 1e20),
)


def _finite_part(x: Sequence[mpf]) -> tuple[list[int], list[mpf]]:
    keep = [i for i, v in enumerate(x) if not mpmath.isinf(v)]
    return keep, [x[i] for i in keep]


def _row_max(method: str, x: Sequence[mpf], k: mpf) -> tuple[mpf, list[Any]]:
    """smooth_max over the finite entries (-inf entries: weight 0, gradient exactly 0); value and gradient. A +inf
    entry is the limit: the value is +inf and the +inf entries share the gradient."""
    top = [i for i, v in enumerate(x) if mpmath.isinf(v) and v > 0]
    if top:
        return mpmath.inf, [mpf(1) / len(top) if i in top else 0 for i in range(len(x))]
    keep, xs = _finite_part(x)
    es = [E(k * v) for v in xs]
    s = mpmath.fsum(es)
    grad: list[Any] = [0] * len(x)
    if method == "logsumexp":
        value = mpmath.log(s) / k
        for i, e in zip(keep, es, strict=True):
            grad[i] = e / s
        return value, grad
    value = mpmath.fsum(v * e for v, e in zip(xs, es, strict=True)) / s
    for i, v, e in zip(keep, xs, es, strict=True):
        grad[i] = e / s * (1 + k * (v - value))
    return value, grad


def row_defs(function: str, method: str, k_: float, row: tuple[float, ...], cot: tuple[float, ...]) -> list[Any]:
    """[value(s), gradient or cotangent product (n), conditions, term scales (n)], by function:

    * reductions and soft_argmax: one value; boltzmann's condition column holds the scale ``sum w_i |x_i|`` of
      its weighted mean; the term scales are the sizes of the terms that the gradient sums (boltzmann ``w_j + k
      w_j sum_i w_i |x_j - x_i|``, soft_argmax ``k w_j sum_i w_i |j - i|``; log-sum-exp: none, 0);
    * softmax: the weights (n), the cotangent-Jacobian product (n), each weight's condition number in the inputs
      (n), and the term scales ``k w_j sum_i w_i |c_j - c_i|``.

    Exact zeros (-inf entries) are Python ints."""
    x, k, n = [_m(v) for v in row], _m(k_), len(row)
    zeros: list[Any] = [0] * n
    if function in ("smooth_max", "smooth_min"):
        sign = 1 if function == "smooth_max" else -1
        xsigned = [sign * v for v in x]
        value, grad = _row_max(method, xsigned, k)
        if method != "boltzmann":
            return [sign * value, *grad, 0, *zeros]
        if any(mpmath.isinf(v) and v > 0 for v in xsigned):
            return [sign * value, *grad, 0, *zeros]
        keep, xs = _finite_part(xsigned)
        es = [E(k * v) for v in xs]
        total = mpmath.fsum(es)
        ws = dict(zip(keep, (e / total for e in es), strict=True))
        scale = mpmath.fsum(abs(v) * ws[i] for i, v in zip(keep, xs, strict=True))
        terms = [ws[j] + k * ws[j] * mpmath.fsum(ws[i] * abs(xsigned[j] - xsigned[i]) for i in keep)
                 if j in ws else 0 for j in range(n)]
        return [sign * value, *grad, scale, *terms]
    keep, xs = _finite_part(x)
    es = [E(k * v) for v in xs]
    s = mpmath.fsum(es)
    w: list[Any] = [0] * n
    for i, e in zip(keep, es, strict=True):
        w[i] = e / s
    if function == "softmax":
        c = [_m(v) for v in cot]
        cbar = mpmath.fsum(w[i] * c[i] for i in keep)
        vjp = [k * w[i] * (c[i] - cbar) if i in keep else 0 for i in range(n)]
        # the condition of w_i in the inputs: sum_j |x_j| k |delta_ij - w_j| over the finite entries
        cond = [mpmath.fsum(abs(x[j]) * k * abs((1 if i == j else 0) - w[j]) for j in keep) if i in keep else 0
                for i in range(n)]
        terms = [k * w[j] * mpmath.fsum(w[i] * abs(c[j] - c[i]) for i in keep) if j in keep else 0
                 for j in range(n)]
        return [*w, *vjp, *cond, *terms]
    a = mpmath.fsum(i * w[i] for i in keep)
    grad = [k * w[i] * (i - a) if i in keep else 0 for i in range(n)]
    terms = [k * w[j] * mpmath.fsum(w[i] * abs(j - i) for i in keep) if j in keep else 0 for j in range(n)]
    return [a, *grad, 0, *terms]


def row_cases() -> list[dict[str, Any]]:
    return [{"function": f, "method": m, "k": k, "config": None} for f, m in ROW_FUNCTIONS for k in ROW_K]


def row_points(case: dict[str, Any], rng: np.random.Generator) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """(row, cotangent) pairs: the patterns over 1/k around each base, and the absolute rows."""
    k = case["k"]
    rows: set[tuple[float, ...]] = set(ROW_ABS)
    for base in ROW_BASES:
        for pattern in ROW_PATTERNS:
            row = tuple(base + t / k if math.isfinite(t) else t for t in pattern)
            if all(not math.isnan(v) and (math.isfinite(v) or math.isinf(t)) for v, t in zip(row, pattern,
                                                                                              strict=True)):
                rows.add(row)
    out = []
    for row in sorted(rows, key=lambda r: (len(r), r)):
        cot = tuple(float(c) for c in rng.choice([-1.0, -0.5, 0.25, 0.5, 0.75, 1.0, 2.0], size=len(row)))
        out.append((row, cot))
    return out


# ---------------------------------------------------------------------------------------------------------------
# soft_onehot: value (n classes), cotangent-vector product, conditions


ONEHOT_N = (1, 2, 4)


def onehot_defs(n: int, k_: float, index_: float, cot: tuple[float, ...]) -> list[Any]:
    idx, k = _m(index_), _m(k_)
    if n == 1:  # one class: weight 1, derivative 0 (exactly)
        return [1, 0, 0, 0]
    es = [E(-k * (idx - j) ** 2) for j in range(n)]
    s = mpmath.fsum(es)
    w = [e / s for e in es]
    dz = [-2 * k * (idx - j) for j in range(n)]
    dzbar = mpmath.fsum(wi * di for wi, di in zip(w, dz, strict=True))
    col = [wi * (di - dzbar) for wi, di in zip(w, dz, strict=True)]
    vjp = mpmath.fsum(_m(c) * cj for c, cj in zip(cot, col, strict=True))
    cond = [abs(idx * cj / wi) for wi, cj in zip(w, col, strict=True)]
    # the sizes of the terms of the cotangent product: k sum_ij w_i w_j |c_j - c_i| |i - j|
    terms = k * mpmath.fsum(w[i] * w[j] * abs(_m(cot[j]) - _m(cot[i])) * abs(i - j) for i in range(n)
                            for j in range(n))
    return [*w, vjp, *cond, terms]


def onehot_cases() -> list[dict[str, Any]]:
    return [{"function": "soft_onehot", "method": "", "k": k, "config": n} for n in ONEHOT_N for k in ONEHOT_K]


def onehot_points(case: dict[str, Any], rng: np.random.Generator) -> list[tuple[tuple[float], tuple[float, ...]]]:
    k, n = case["k"], case["config"]
    pts = set(X_ABS)
    for centre in [*(j + 0.5 for j in range(-1, n)), *range(n)]:
        for u in U_GRID[::3]:
            v = centre + u / k
            if math.isfinite(v):
                pts.add(v)
    out = []
    for v in sorted(pts):
        cot = tuple(float(c) for c in rng.choice([-1.0, -0.5, 0.25, 0.5, 1.0, 2.0], size=n))
        out.append(((v,), cot))
    return out


# ---------------------------------------------------------------------------------------------------------------
# metrics (no k): value and gradient in p, exact rational arithmetic


METRIC_CASES: tuple[dict[str, Any], ...] = (
    {"function": "smooth_accuracy", "method": "binary", "shape": (7,), "classes": 2, "kw": {}},
    {"function": "smooth_accuracy", "method": "multiclass", "shape": (6, 3), "classes": 3, "kw": {}},
    {"function": "smooth_accuracy", "method": "sum", "shape": (2, 5, 3), "classes": 3, "kw": {"reduction": "sum"}},
    {"function": "smooth_precision", "method": "binary", "shape": (7,), "classes": 2, "kw": {}},
    {"function": "smooth_precision", "method": "macro", "shape": (6, 3), "classes": 3, "kw": {}},
    {"function": "smooth_recall", "method": "macro", "shape": (6, 3), "classes": 3, "kw": {}},
    {"function": "smooth_f1", "method": "binary", "shape": (7,), "classes": 2, "kw": {}},
    {"function": "smooth_f1", "method": "macro", "shape": (6, 4), "classes": 4, "kw": {}},
    {"function": "smooth_f1", "method": "batch-sum", "shape": (2, 5, 3), "classes": 3,
     "kw": {"reduction": "sum"}},
    {"function": "smooth_fbeta", "method": "beta=2", "shape": (6, 3), "classes": 3, "kw": {"beta": 2.0}},
    {"function": "smooth_fbeta", "method": "beta=0.5,binary", "shape": (7,), "classes": 2, "kw": {"beta": 0.5}},
    {"function": "smooth_fbeta", "method": "beta=1e200", "shape": (6, 3), "classes": 3, "kw": {"beta": 1e200}},
    {"function": "smooth_fbeta", "method": "beta=1e-200", "shape": (6, 3), "classes": 3, "kw": {"beta": 1e-200}},
)


def _metric_value(function: str, kw: dict[str, Any], p: np.ndarray, y: np.ndarray, multiclass: bool) -> mpf:
    """The metric (macro average over classes, mean or sum over batch axes) at 50+ digits."""
    reduction = kw.get("reduction", "mean")
    beta = _m(kw.get("beta", 1.0))
    pm = np.vectorize(_m, otypes=[object])(p)
    if multiclass:
        onehot = np.zeros(p.shape, dtype=object)
        onehot[...] = mpf(0)
        for idx in np.ndindex(y.shape):
            onehot[(*idx, int(y[idx]))] = mpf(1)
    if function == "smooth_accuracy":
        per = (np.sum(pm * onehot, axis=-1) if multiclass
               else pm * np.vectorize(_m, otypes=[object])(y) + (1 - pm) * (1 - np.vectorize(_m, otypes=[object])(y)))
        vals = per.reshape(-1)
        total = mpmath.fsum(vals)
        return total if reduction == "sum" else total / len(vals)
    if not multiclass:  # binary: the positive class
        onehot = np.vectorize(_m, otypes=[object])(y)
        pm, onehot = pm[..., None], onehot[..., None]
    axis = -2
    tp = np.sum(pm * onehot, axis=axis)
    pred = np.sum(pm, axis=axis)
    act = np.sum(onehot, axis=axis)
    if function == "smooth_precision":
        num, den = tp, pred
    elif function == "smooth_recall":
        num, den = tp, act
    else:
        num, den = (1 + beta**2) * tp, beta**2 * act + pred
    scores = np.vectorize(lambda a, b: a / b if b else mpf(0), otypes=[object])(num, den)
    macro = [mpmath.fsum(row) / len(row) for row in scores.reshape(-1, scores.shape[-1])]
    total = mpmath.fsum(macro)
    return total if reduction == "sum" else total / len(macro)


def _metric_at(case: dict[str, Any], p: np.ndarray, y: np.ndarray, multiclass: bool, idx: tuple[int, ...],
               t: mpf) -> mpf:
    q = p.astype(object)
    q[idx] = t
    return _metric_value(case["function"], case["kw"], q, y, multiclass)


def metric_data(case: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """Random probabilities and labels of the case's shape, per dtype; the value and its gradient in p."""
    rng = np.random.default_rng(seed)
    shape, classes = case["shape"], case["classes"]
    multiclass = "binary" not in case["method"]
    if multiclass:
        raw = rng.dirichlet(np.ones(classes), size=shape[:-1])
        y = rng.integers(0, classes, shape[:-1])
    else:
        raw = rng.uniform(0, 1, shape)
        y = rng.integers(0, 2, shape)
    out: dict[str, np.ndarray] = {"y": y.astype(np.int64)}
    for dtype in DTYPES:
        p = np.vectorize(lambda v, dt=dtype: to_dtype(dt, float(v)))(raw).astype(np.float64)
        with mp.workdps(80):
            value = _metric_value(case["function"], case["kw"], p, y, multiclass)
            grad = np.zeros(p.shape)
            h = mpf(10) ** -30
            for idx in np.ndindex(p.shape):
                f = functools.partial(_metric_at, case, p, y, multiclass, idx)
                grad[idx] = float(mpmath.diff(f, _m(p[idx]), h=h))
        out[f"{dtype}.p"] = p
        out[f"{dtype}.value"] = np.array(float(value))
        out[f"{dtype}.grad"] = grad
    return out


# ---------------------------------------------------------------------------------------------------------------
# bounds: the constants, at 50 digits


BOUNDS_K = (1e-300, 0.7, 1.0, 10.0, 1e300)
BOUNDS_N = (2, 3, 8, 100)


def bounds_expected() -> list[dict[str, Any]]:
    """The (sup error, gradient Lipschitz constant) of every name of docs/toolbox.md's table at BOUNDS_K (and
    BOUNDS_N for the reductions), its constants found from their definitions by root finding in mpmath."""
    with mp.workdps(60):
        sqrt_pi = mpmath.sqrt(mpmath.pi)
        s_star = mpmath.findroot(lambda s: mpmath.erfc(s) - 2 * s * E(-s * s) / sqrt_pi, 0.5)
        c_erf = s_star * mpmath.erfc(s_star)  # max_s s erfc(s)

        def peak(second: Callable[[mpf], mpf], third: Callable[[mpf], mpf], guess: float) -> mpf:
            return abs(second(mpmath.findroot(third, guess)))

        # max |S''| of the signs tanh(u/2), erf(u), (2/pi) atan(u)
        c_sign = {
            # t = tanh(u/2), s = 1 - t^2: t' = s/2, t'' = -s t/2, third derivative (s/2)(t^2 - s/2)
            "logistic": peak(lambda u: -(1 - mpmath.tanh(u / 2) ** 2) * mpmath.tanh(u / 2) / 2,
                             lambda u: (1 - mpmath.tanh(u / 2) ** 2) / 2 * (
                                 mpmath.tanh(u / 2) ** 2 - (1 - mpmath.tanh(u / 2) ** 2) / 2), 1.3),
            "erf": peak(lambda u: -4 * u / sqrt_pi * E(-u * u), lambda u: (8 * u * u - 4) / sqrt_pi * E(-u * u), 0.7),
            "arctan": peak(lambda u: -4 * u / (mpmath.pi * (1 + u * u) ** 2),
                           lambda u: (12 * u * u - 4) / (mpmath.pi * (1 + u * u) ** 3), 0.6),
        }
        log2, out = mpmath.log(2), []
        for k_ in BOUNDS_K:
            k = _m(k_)
            table: dict[str, tuple[Any, Any]] = {
                "smooth_abs:logcosh": (log2 / k, k), "smooth_abs:erf": (c_erf / k, 4 * k / sqrt_pi),
                "smooth_abs:sqrt": (1 / k, k), "smooth_relu:softplus": (log2 / k, k / 4),
                "smooth_clamp:softplus": (log2 / k, k / 4),
                "smooth_maximum:logsumexp": (log2 / k, k / 2),
                "smooth_maximum:boltzmann": (mpmath.lambertw(1 / mpmath.e).real / k, k),
                "smooth_maximum:acon": (mpmath.lambertw(1 / mpmath.e).real / k, k),
                "smooth_maximum:erf": (c_erf / (2 * k), 4 * k / sqrt_pi), "smooth_maximum:sqrt": (1 / (2 * k), k),
                "smooth_steps:logistic": (mpf(1) / 2, c_sign["logistic"] * k * k / 2),
                "smooth_steps:gaussian": (mpf(1) / 2, c_sign["erf"] * k * k / 4),
                "smooth_steps:cauchy": (mpf(1) / 2, c_sign["arctan"] * k * k / 2),
            }
            for m, c in c_sign.items():
                table[f"smooth_sign:{m}"] = (mpf(1), c * k * k)
                table[f"smooth_step:{m}"] = (mpf(1) / 2, c * k * k / 2)
            if k_ >= 1:
                table["smooth_maximum:power"] = (2 ** (1 / k) - 1, mpmath.inf)
                table["smooth_minimum:power"] = (1 - 2 ** (-1 / k), mpmath.inf)
            for name in [n for n in table if n.startswith("smooth_maximum:") and not n.endswith("power")]:
                table[name.replace("maximum", "minimum")] = table[name]
            for name, (err, lip) in table.items():
                out.append({"name": name, "k": k_, "n": 2, "sup_error": mpmath.nstr(err, 55),
                            "lipschitz": mpmath.nstr(lip, 55)})
            for n in BOUNDS_N:
                w = mpmath.lambertw((n - 1) / mpmath.e).real
                lip_b = k if n == 2 else k * (4 + max(1 / mpmath.e, w) + 2 * max(2 / mpmath.e, w))
                for fam in ("smooth_max", "smooth_min"):
                    out.append({"name": f"{fam}:logsumexp", "k": k_, "n": n,
                                "sup_error": mpmath.nstr(mpmath.log(n) / k, 55), "lipschitz": mpmath.nstr(k / 2, 55)})
                    out.append({"name": f"{fam}:boltzmann", "k": k_, "n": n, "sup_error": mpmath.nstr(w / k, 55),
                                "lipschitz": mpmath.nstr(lip_b, 55)})
        return out


# ---------------------------------------------------------------------------------------------------------------
# evaluation


def _unary_job(job: tuple[int, dict[str, Any], list[tuple[tuple[float], int]]]) -> tuple[int, list]:
    ci, case, points = job
    rows = []
    for (x,), mask in points:
        rows.append((ci, mask, x, *solve(unary_defs, case["function"], case["method"], case["k"], case["config"], x)))
    return ci, rows


def _pair_job(job: tuple[int, dict[str, Any], list]) -> tuple[int, list]:
    ci, case, points = job
    rows = []
    for (a, b), mask in points:
        rows.append((ci, mask, a, b, *solve(pair_defs, case["function"], case["method"], case["k"], None, a, b)))
    return ci, rows


def _row_job(job: tuple[int, dict[str, Any], list]) -> tuple[int, list]:
    ci, case, points = job
    rows = []
    n = None
    for row, cot, mask in points:
        out = solve(row_defs, case["function"], case["method"], case["k"], row, cot)
        n = len(row)
        if case["function"] == "softmax":
            value, grad, cond, terms = out[:n], out[n:2 * n], out[2 * n:3 * n], out[3 * n:]
        else:  # boltzmann: the scale of the weighted mean in the cond column
            value, grad, cond, terms = out[:1], out[1:n + 1], out[n + 1:n + 2], out[n + 2:]
        rows.append((ci, mask, row, cot, (value, grad, cond, terms)))
    del n
    return ci, rows


def _onehot_job(job: tuple[int, dict[str, Any], list]) -> tuple[int, list]:
    ci, case, points = job
    rows = []
    n = case["config"]
    for (index,), cot, mask in points:
        out = solve(onehot_defs, n, case["k"], index, cot)
        rows.append((ci, mask, index, cot, (out[:n], out[n], out[n + 1:2 * n + 1], out[2 * n + 1])))
    return ci, rows


def _rows_per_dtype(points: list[tuple[tuple[float, ...], tuple[float, ...]]]) -> list[tuple]:
    """Row points rounded per dtype (the cotangent rounded too), each distinct rounding once with its mask."""
    masks: dict[tuple, int] = {}
    for row, cot in points:
        for bit, dtype in enumerate(DTYPES):
            r = tuple(v if math.isinf(v) else to_dtype(dtype, v) for v in row)
            c = tuple(to_dtype(dtype, v) for v in cot)
            if all(math.isfinite(a) or math.isinf(b) for a, b in zip(r, row, strict=True)):
                masks[(r, c)] = masks.get((r, c), 0) | (1 << bit)
    return [(r, c, m) for (r, c), m in sorted(masks.items())]


def _run(pool: Any, fn: Callable, jobs: list, label: str) -> list:
    t0, results = time.time(), []
    for i, (ci, rows) in enumerate(pool.imap_unordered(fn, jobs)):
        results.append((ci, rows))
        if (i + 1) % 20 == 0 or i + 1 == len(jobs):
            print(f"  {label}: {i + 1}/{len(jobs)} cases, {time.time() - t0:.0f} s", flush=True)
    return sorted(results, key=lambda r: r[0])


def _unary_component(function: str, method: str, param: float, config: Any, which: int, t: mpf) -> mpf:
    return unary_defs(function, method, param, config, t)[which]


def _pair_component(function: str, method: str, a: Any, b: Any) -> mpf:
    return pair_defs(function, method, 2.5, None, a, b)[0]


def _row_scalar(function: str, method: str, row: tuple, cot: tuple, j: int, t: mpf) -> mpf:
    """The row function (softmax: dotted with the cotangent) as a function of entry j."""
    r = list(row)
    r[j] = t
    res = row_defs(function, method, 1.7, tuple(r), cot)
    if function == "softmax":
        return mpmath.fsum(_m(c) * res[i] for i, c in enumerate(cot))
    return res[0]


def _onehot_scalar(cot: tuple, t: mpf) -> mpf:
    return mpmath.fsum(_m(c) * w for c, w in zip(cot, onehot_defs(4, 1.3, t, cot)[:4], strict=True))


def self_check() -> list[dict[str, Any]]:
    """The written-out partials against mpmath.diff of the definitions, at sample points of every function."""
    report = []
    rng = np.random.default_rng(5)
    cases = unary_cases()
    with mp.workdps(80):
        for function, method in UNARY_FUNCTIONS:
            case = next(c for c in cases if c["function"] == function and c["method"] == method)
            param = 0.7 if case["param"] == "width" else 1.9
            worst = 0.0
            for x in [*rng.uniform(-3, 3, 4).tolist(), 0.3]:
                _, d, d2 = unary_defs(function, method, param, case["config"], x)
                fd = mpmath.diff(functools.partial(_unary_component, function, method, param, case["config"], 0),
                                 _m(x))
                fd2 = mpmath.diff(functools.partial(_unary_component, function, method, param, case["config"], 1),
                                  _m(x))
                worst = max(worst, float(abs(d - fd) / max(1, abs(d))), float(abs(d2 - fd2) / max(1, abs(d2))))
            report.append({"what": f"{function}:{method} d/dx, d2/dx2", "worst": worst})
        for function, method in PAIR_FUNCTIONS:
            worst = 0.0
            for a, b in rng.uniform(0.1, 3, (4, 2)).tolist():
                _, da, db = pair_defs(function, method, 2.5, None, a, b)
                fa = mpmath.diff(lambda t, b=b, f=function, m=method: _pair_component(f, m, t, b), _m(a))
                fb = mpmath.diff(lambda t, a=a, f=function, m=method: _pair_component(f, m, a, t), _m(b))
                worst = max(worst, float(abs(da - fa)), float(abs(db - fb)))
            report.append({"what": f"{function}:{method} d/da, d/db", "worst": worst})
        row, cot = (0.3, -0.2, 0.9), (0.5, -1.0, 2.0)
        for function, method in ROW_FUNCTIONS:
            out = row_defs(function, method, 1.7, row, cot)
            worst = 0.0
            for j in range(3):
                got = out[3 + j] if function == "softmax" else out[1 + j]
                fd = mpmath.diff(functools.partial(_row_scalar, function, method, row, cot, j), _m(row[j]))
                worst = max(worst, float(abs(got - fd)))
            report.append({"what": f"{function}:{method} gradient", "worst": worst})
        cot4 = (0.5, -1.0, 2.0, 0.25)
        out = onehot_defs(4, 1.3, 1.37, cot4)
        fd = mpmath.diff(functools.partial(_onehot_scalar, cot4), mpf(1.37))
        report.append({"what": "soft_onehot vjp", "worst": float(abs(out[4] - fd))})
    bad = [r for r in report if not r["worst"] < 1e-40]
    if bad:
        msg = f"self-check failed: {bad}"
        raise SystemExit(msg)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-only", action="store_true", help="run the self-checks only")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.time()
    print("self-check: written-out partials against mpmath.diff ...", flush=True)
    checks = self_check()
    print(f"  {len(checks)} checks, worst {max(c['worst'] for c in checks):.2g}", flush=True)
    print("metrics and bounds ...", flush=True)
    constants = bounds_expected()
    data: dict[str, np.ndarray] = {}
    for i, case in enumerate(METRIC_CASES):
        for key, arr in metric_data(case, 100 + i).items():
            data[f"metric.{i}.{key}"] = arr
    if args.check_only:
        return 0
    rng = np.random.default_rng(20261202)
    ucases, pcases, rcases, ocases = unary_cases(), pair_cases(), row_cases(), onehot_cases()
    ujobs = [(i, c, per_dtype(unary_points(c))) for i, c in enumerate(ucases)]
    pjobs = [(i, c, per_dtype(pair_points(c))) for i, c in enumerate(pcases)]
    rjobs = [(i, c, _rows_per_dtype(row_points(c, rng))) for i, c in enumerate(rcases)]
    ojobs = [(i, c, _rows_per_dtype(onehot_points(c, rng))) for i, c in enumerate(ocases)]
    with multiprocessing.Pool(args.processes) as pool:
        ures = _run(pool, _unary_job, ujobs, "unary")
        pres = _run(pool, _pair_job, pjobs, "pair")
        rres = _run(pool, _row_job, rjobs, "row")
        ores = _run(pool, _onehot_job, ojobs, "onehot")
    urows = [r for _, rows in ures for r in rows]
    data["unary.case"] = np.array([r[0] for r in urows], dtype=np.int16)
    data["unary.mask"] = np.array([r[1] for r in urows], dtype=np.uint8)
    for j, name in enumerate(("x", "value", "d_dx", "d2_dx2")):
        data[f"unary.{name}"] = np.array([r[2 + j] for r in urows], dtype=np.float64)
    prows = [r for _, rows in pres for r in rows]
    data["pair.case"] = np.array([r[0] for r in prows], dtype=np.int16)
    data["pair.mask"] = np.array([r[1] for r in prows], dtype=np.uint8)
    for j, name in enumerate(("a", "b", "value", "d_da", "d_db")):
        data[f"pair.{name}"] = np.array([r[2 + j] for r in prows], dtype=np.float64)
    rrows = [r for _, rows in rres for r in rows]
    data["row.case"] = np.array([r[0] for r in rrows], dtype=np.int16)
    data["row.mask"] = np.array([r[1] for r in rrows], dtype=np.uint8)
    data["row.n"] = np.array([len(r[2]) for r in rrows], dtype=np.uint8)
    data["row.x"] = np.array([list(r[2]) + [np.nan] * (NMAX - len(r[2])) for r in rrows])
    data["row.cot"] = np.array([list(r[3]) + [np.nan] * (NMAX - len(r[3])) for r in rrows])
    for j, name in enumerate(("value", "grad", "cond", "terms")):
        data[f"row.{name}"] = np.array([list(r[4][j]) + [np.nan] * (NMAX - len(r[4][j])) for r in rrows])
    orows = [r for _, rows in ores for r in rows]
    data["onehot.case"] = np.array([r[0] for r in orows], dtype=np.int16)
    data["onehot.mask"] = np.array([r[1] for r in orows], dtype=np.uint8)
    data["onehot.index"] = np.array([r[2] for r in orows])
    data["onehot.cot"] = np.array([list(r[3]) + [np.nan] * (NMAX - len(r[3])) for r in orows])
    data["onehot.value"] = np.array([list(r[4][0]) + [np.nan] * (NMAX - len(r[4][0])) for r in orows])
    data["onehot.vjp"] = np.array([r[4][1] for r in orows])
    data["onehot.cond"] = np.array([list(r[4][2]) + [np.nan] * (NMAX - len(r[4][2])) for r in orows])
    data["onehot.terms"] = np.array([r[4][3] for r in orows])
    elapsed = time.time() - started
    meta = {
        "digits": DIGITS, "dps_ladder": list(DPS_LADDER), "zero_dps": ZERO_DPS, "mpmath": mpmath.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "dtypes": list(DTYPES), "nmax": NMAX, "unary_cases": ucases, "pair_cases": pcases, "row_cases": rcases,
        "onehot_cases": ocases, "metric_cases": [dict(c, shape=list(c["shape"])) for c in METRIC_CASES],
        "bounds": constants, "self_check": checks, "seconds": round(elapsed, 1),
        "command": "python conformance/toolbox_oracle.py",
    }
    data["meta"] = np.array(json.dumps(meta))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB): {len(urows)} unary, {len(prows)} pair, {len(rrows)} row, "
          f"{len(orows)} onehot points; {elapsed:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
