"""The mathematics of smooth rounding, written once against the array API (``xp``).

Everything here works on the *offset* ``u = x - c`` of ``x`` from a centre ``c`` (an integer, or an integer
minus/plus one half for floor/ceil), with ``|u| <= 1/2``: the smooth function is ``c + t(u)``, so large ``|x|``
keeps full precision. The functions return ``t`` and its partial derivatives in ``u`` and in ``k``.

Formulas and bounds follow ``SPEC.md`` (section numbers quoted below):

* window (method 1), direct pair form (2.1):  ``t = sum_{j=1..M} [s(k(u-h_j)) - s(-k(u+h_j))]``, ``h_j = j - 1/2``,
  with sup truncation error ``s(-kM)``. We use the identity ``s(a) - s(-b) = sinh(ku) / (cosh(ku) + cosh(kh))``
  (``a = k(u-h)``, ``b = k(u+h)``), which costs one division per pair when ``k`` is a Python number.
* window, Fourier form (3.1): ``t = u + sum_m a_m sin(2 pi m u)``, ``a_m = (-1)^m (2 pi / k) / sinh(2 pi^2 m / k)``.
* density (method 2), direct form (2.2, 6.2): a softmax over ``j = -M..M`` of ``log rho(k(u-j))``, normalised by
  the ``j = 0`` weight (the largest), summed pairwise; derivative by the two-pass covariance (5).
* density, Fourier form (3.2): ``t = u + (2 pi / k) N(u) / D(u)``.
* tanh (Agustsson-Theis soft_round, 8), in the stable form of SPEC 8.

Truncation: the number of terms follows from ``k`` and the tolerance by the bounds of SPEC 2-3. Direct sums jump
by twice their truncation error where the centre changes, so they are truncated at ``tol / 2``; the Fourier forms
have no centre and are truncated at ``tol``. The direct sum is used for ``k >= K_SWITCH`` and the Fourier series
below it (SPEC 3.3: equal per-term decay at ``k = pi sqrt 2``; measured crossovers 4.3-4.65).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Array = Any

K_SWITCH = 4.5
PI = math.pi
TWO_PI = 2.0 * math.pi
PI_SQ = math.pi**2
MAX_TERMS = 100_000

METHODS = ("window", "density", "tanh")


# ================================================================================ truncation (pure Python)


def _window_direct_error(k: float, m: int) -> float:
    """Exact sup error of the pair form with ``m`` pairs: sigmoid(-k m) (SPEC 2.1)."""
    z = k * m
    return math.exp(-z) / (1.0 + math.exp(-z)) if z < 700 else 0.0


def _density_direct_bound(k: float, m: int) -> float:
    """Rigorous bound B2(k, M) on the density-method truncation error (SPEC 2.2), evaluated in logs."""
    q = math.exp(-k)
    log_pref = 2.0 * (k / 2.0 + math.log1p(math.exp(-k / 2.0))) - math.log(2.0)
    bracket = (m + 1.5) - (m + 0.5) * q
    log_b = log_pref - (m + 1) * k + math.log(bracket) - 2.0 * math.log1p(-q)
    return math.exp(log_b) if log_b > -745 else 0.0


def _window_fourier_bound(k: float, m: int) -> float:
    """T1(k, M): bound on the window method's Fourier tail after ``m`` harmonics (SPEC 3.1)."""
    beta = 2.0 * PI_SQ / k
    if beta * (m + 1) > 740:
        return 0.0
    q = math.exp(-beta)
    return (4.0 * PI / k) * q ** (m + 1) / ((1.0 - q) * (1.0 - q ** (2 * (m + 1))))


def _h(z: float) -> float:
    return z / math.sinh(z) if z < 700 else 0.0


def _density_fourier_bound(k: float, m: int) -> float:
    """T2(k, M): bound on the density method's Fourier tail after ``m`` harmonics (SPEC 3.2)."""
    beta = 2.0 * PI_SQ / k
    z0 = beta * (m + 1)
    if z0 > 700:
        return 0.0
    q = math.exp(-beta)
    p = beta * q ** (m + 1) * ((m + 1) - m * q) / (1.0 - q) ** 2
    shrink = 1.0 - math.exp(-2.0 * z0)
    delta_n = (4.0 * PI / k) * p / math.tanh(z0) / shrink
    delta_d = 4.0 * p / shrink
    d_min = 1.0 + 2.0 * sum((-1) ** i * _h(beta * i) for i in range(1, 60))
    if d_min <= delta_d:
        return math.inf
    return (delta_n + delta_d / 2.0) / (d_min - delta_d)


def direct_error(method: str, k: float, terms: int) -> float:
    """Guaranteed sup truncation error of the direct sum with ``terms`` (pairs; for density, 2M+1 weights)."""
    if method == "window":
        return _window_direct_error(k, terms)
    return _density_direct_bound(k, terms)


def fourier_error(method: str, k: float, terms: int) -> float:
    """Guaranteed sup truncation error of the Fourier series with ``terms`` harmonics."""
    if method == "window":
        return _window_fourier_bound(k, terms)
    return _density_fourier_bound(k, terms)


def direct_terms(method: str, k: float, tol: float) -> int:
    """Smallest M >= 1 whose direct-sum truncation error is <= ``tol`` (SPEC 2.1, 2.2).

    >>> direct_terms("window", 10.0, 1e-7), direct_terms("density", 10.0, 1e-7)
    (2, 2)
    """
    if method == "window":
        # sigmoid(-kM) <= tol  <=>  M >= log(1/tol - 1) / k
        return max(1, math.ceil(math.log(1.0 / tol - 1.0) / k))
    m = max(1, math.floor(math.log(1.0 / tol) / k) - 2)
    while _density_direct_bound(k, m) > tol:
        m += 1
    return m


def fourier_terms(method: str, k: float, tol: float) -> int:
    """Smallest number of harmonics whose Fourier tail bound is <= ``tol`` (SPEC 3.1, 3.2); 0 = identity.

    >>> fourier_terms("window", 1.0, 2.0**-24), fourier_terms("window", 2.0, 1e-16)
    (0, 3)
    """
    m = 0
    while fourier_error(method, k, m) > tol:
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
    """The evaluation plan for a Python-number ``k`` (``None`` means ``k`` is an array)."""
    if k is None:
        return Plan(
            "select",
            fourier_terms(method, math.nextafter(K_SWITCH, 0.0), tol),
            direct_terms(method, K_SWITCH, tol / 2.0),
        )
    if k < K_SWITCH:
        return Plan("fourier", fourier_terms(method, k, tol), 0)
    return Plan("direct", 0, direct_terms(method, k, tol / 2.0))


# ================================================================================ window method


def clip(a: Array, lo: float | None = None, hi: float | None = None) -> Array:
    """Clip by Python-number bounds with the array's own method (NumPy, torch and JAX arrays all have
    ``.clip(min=, max=)``): array-api-compat's torch ``clip`` turns the bounds into tensors first, which costs
    more than the clip on small blocks."""
    if lo is None and hi is None:
        return a
    return a.clip(min=lo, max=hi)


def _reciprocal(xp: Any, a: Array) -> Array:
    """1 / a; the native reciprocal where the namespace has one (it is faster than a division in torch)."""
    native = getattr(xp, "reciprocal", None)
    return native(a) if native is not None else 1.0 / a


def _sign(xp: Any, a: Array) -> Array:
    """+-1 with the sign bit of ``a`` (+-0 give +-1). Cheaper than xp.sign, whose torch version masks NaNs.

    Every use multiplies a factor that vanishes at a = 0, so the value at zero does not matter.
    """
    return xp.copysign(xp.ones_like(a), a)


def _sigmoid_nonpositive(xp: Any, a: Array) -> Array:
    """sigmoid(a) for a <= 0 (no overflow): e^a / (1 + e^a)."""
    e = xp.exp(a)
    return e / (1.0 + e)


def _sigmoid(xp: Any, a: Array) -> Array:
    """Stable sigmoid for any sign: the exponential is of -|a| <= 0."""
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1.0, e) / (1.0 + e)


def _rho(xp: Any, a: Array) -> Array:
    """rho = sigmoid' = e^-|a| / (1 + e^-|a|)^2, never sigma(1 - sigma) (SPEC 0)."""
    e = xp.exp(-xp.abs(a))
    return e / ((1.0 + e) * (1.0 + e))


def _fits_fast_window(k: float, terms: int, dtype_max_log: float) -> bool:
    return k * (terms - 0.5) < dtype_max_log - 2.0


def window_direct(
    xp: Any, u: Array, k: Any, terms: int, *, scalar_k: bool, max_log: float, need: tuple[bool, bool, bool]
) -> tuple[Array | None, Array | None, Array | None]:
    """Pair form around the centre: ``t``, ``dt/du``, ``dt/dk`` (each computed only when ``need`` says so)."""
    need_t, need_u, need_k = need
    if scalar_k and _fits_fast_window(k, terms, max_log):
        # term_j = sigmoid(k(u-h_j)) - sigmoid(-k(u+h_j)) = sinh(ku) / (cosh(ku) + C_j), C_j = cosh(k h_j) a Python
        # constant, so a pair costs an addition and a reciprocal; cosh(ku) <= C_j < floatmax / e^2 here.
        # With E = e^{k|u|} >= 1 from expm1 (accurate for small k|u|): P = E + 1/E = 2 cosh(ku),
        # Q = sgn(u) expm1(k|u|)(1 + 1/E) = 2 sinh(ku), I_j = 1 / (P + 2 C_j):  t = Q sum I_j;
        # dt/du = k (P sum I_j - Q^2 sum I_j^2), each pair's share >= half its positive part (no cancellation);
        # dt/dk = (u/k) dt/du - 2 Q sum_j h_j sinh(k h_j) I_j^2.
        em = xp.expm1(k * xp.abs(u))
        inv_e = _reciprocal(xp, em + 1.0)
        p = (em + 1.0) + inv_e
        q = xp.copysign(em * (1.0 + inv_e), u)
        s1 = s2 = sk = None
        for j in range(terms, 0, -1):  # smallest terms first
            h = j - 0.5
            inv = _reciprocal(xp, p + 2.0 * math.cosh(k * h))
            s1 = inv if s1 is None else s1 + inv
            if need_u or need_k:
                inv2 = inv * inv
                s2 = inv2 if s2 is None else s2 + inv2
            if need_k:
                weighted = (2.0 * h * math.sinh(k * h)) * inv2
                sk = weighted if sk is None else sk + weighted
        t = q * s1 if need_t else None
        du = dk = None
        if need_u or need_k:
            du_over_k = p * s1 - q * (q * s2)
            du = k * du_over_k if need_u else None
            if need_k:
                dk = u * du_over_k - q * sk
        return t, du, dk

    # robust form for array k or k so large that cosh(k h) would overflow: two sigmoids per pair,
    # both of non-positive arguments (|u| <= 1/2 <= h_j), so exp never overflows.
    t = du = dk = None
    for j in range(terms, 0, -1):
        h = j - 0.5
        a = k * (u - h)
        b = -k * (u + h)
        if need_t:
            term = _sigmoid_nonpositive(xp, a) - _sigmoid_nonpositive(xp, b)
            t = term if t is None else t + term
        if need_u or need_k:
            ra = _rho(xp, a)
            rb = _rho(xp, b)
            if need_u:
                g = ra + rb
                du = g if du is None else du + g
            if need_k:
                gk = (u - h) * ra + (u + h) * rb
                dk = gk if dk is None else dk + gk
    if du is not None:
        du = k * du
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
        den = -xp.expm1(-2.0 * z)
    return 2.0 * q / den, (1.0 + q * q) / den


def _identity(xp: Any, u: Array, need: tuple[bool, bool, bool]) -> tuple[Array | None, Array | None, Array | None]:
    """Zero harmonics: the function is x itself (t = u, dt/du = 1, dt/dk = 0), SPEC Table T6."""
    need_t, need_u, need_k = need
    return (u if need_t else None), (xp.ones_like(u) if need_u else None), (0.0 * u if need_k else None)


def window_fourier(
    xp: Any, u: Array, k: Any, terms: int, *, need: tuple[bool, bool, bool]
) -> tuple[Array | None, Array | None, Array | None]:
    """Fourier form: t = u + sum a_m sin(2 pi m u), and its partials (SPEC 3.1, 6.1 step 4)."""
    need_t, need_u, need_k = need
    if terms == 0:
        return _identity(xp, u, need)
    sines, cosines = _harmonics(xp, u, terms, need_t or need_k, need_u)
    t = u if need_t else None
    du = 1.0 if need_u else None
    dk = 0.0 if need_k else None
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
    xp: Any,
    u: Array,
    k: Any,
    terms: int,
    *,
    need: tuple[bool, bool, bool],
    values: list | None = None,
    scalar_k: bool = False,
    max_log: float = 0.0,
) -> tuple[Array | None, Array | None, Array | None]:
    """Normalised weights w_j = rho(k(u - j)) / rho(ku), j = -M..M, and the weighted mean of ``values[j]``
    (default: j itself), with its partials by the two-pass covariance (SPEC 5, 6.2).

    ``values`` (used by clamped quantisation) is a list over j = -M..M of arrays or numbers.
    """
    if values is None and scalar_k and k * terms < max_log - 2.0:
        return _density_direct_scalar_k(xp, u, k, terms, need=need)
    need_t, need_u, need_k = need
    m_terms = terms
    abs0 = k * xp.abs(u)  # |t_0|
    e0 = xp.exp(-abs0)
    one_e0 = 1.0 + e0
    weights: dict[int, Array] = {}
    tanhs: dict[int, Array] = {}
    for j in list(range(1, m_terms + 1)) + list(range(-1, -m_terms - 1, -1)):
        abs_j = k * xp.abs(u - j)
        ratio = xp.exp(abs0 - abs_j)  # e^{|t_0| - |t_j|} <= 1 because |u| <= 1/2
        e_j = ratio * e0  # e^{-|t_j|}
        one_ej = 1.0 + e_j
        scale = one_e0 / one_ej
        weights[j] = ratio * scale * scale
        if need_u or need_k:
            tanhs[j] = (1.0 - e_j) / one_ej * (1.0 if j > 0 else -1.0)  # tanh(k (j - u) / 2)
    if need_u or need_k:
        tanhs[0] = -_sign(xp, u) * (1.0 - e0) / one_e0
    denom = 1.0
    for j in range(m_terms, 0, -1):
        denom = denom + (weights[j] + weights[-j])
    inv_denom = 1.0 / denom

    def value_of(j: int) -> Any:
        return j if values is None else values[j + m_terms]

    if values is None:
        numer = 0.0
        for j in range(m_terms, 0, -1):
            numer = numer + j * (weights[j] - weights[-j])
    else:
        numer = value_of(0)
        for j in range(m_terms, 0, -1):
            numer = numer + (value_of(j) * weights[j] + value_of(-j) * weights[-j])
    mean = numer * inv_denom
    if not (need_u or need_k):
        return mean, None, None
    weights[0] = 1.0
    order = [0, *[j for i in range(m_terms, 0, -1) for j in (i, -i)]]
    du = dk = None
    if need_u:
        tau_bar = 0.0
        for j in order:
            tau_bar = tau_bar + weights[j] * tanhs[j]
        tau_bar = tau_bar * inv_denom
        acc = 0.0
        for j in order:
            acc = acc + weights[j] * (value_of(j) - mean) * (tanhs[j] - tau_bar)
        du = k * acc * inv_denom
    if need_k:
        # d log w_j / dk = tau_j (u - j)
        g = {j: tanhs[j] * (u - j) for j in order}
        g_bar = 0.0
        for j in order:
            g_bar = g_bar + weights[j] * g[j]
        g_bar = g_bar * inv_denom
        acc = 0.0
        for j in order:
            acc = acc + weights[j] * (value_of(j) - mean) * (g[j] - g_bar)
        dk = acc * inv_denom
    return (mean if need_t else None), du, dk


def _density_direct_scalar_k(
    xp: Any, u: Array, k: float, terms: int, *, need: tuple[bool, bool, bool]
) -> tuple[Array | None, Array | None, Array | None]:
    """The density direct sum for a Python-number k, with the weights in closed form.

    For a = k|u|, th = tanh(a/2) and m = 1 - th (both from exp(-a) and expm1(-a), no cancellation), and the
    Python constants C_j = cosh(kj/2), S_j = sinh(kj/2), e_j = exp(-kj/2):
    w_{+j} / w_0 = 1 / A_j^2, A_j = C_j - th S_j = e_j + m S_j >= 1 (the nearer side for u >= 0);
    w_{-j} / w_0 = 1 / B_j^2, B_j = C_j + th S_j;
    w_{+j} - w_{-j} = 2 th sinh(kj) / (A_j B_j)^2, so the mean is exactly 0 at u = 0.
    tau_j = tanh(k(j - |u|)/2): tau_0 = -th, tau_{+j} = (m C_j - e_j) / A_j, tau_{-j} = -(S_j + th C_j) / B_j.
    The mean is odd in u, dt/du even, dt/dk odd: everything is computed at |u| and the sign restored.
    """
    need_t, need_u, need_k = need
    ua = xp.abs(u)
    a = k * ua
    g = xp.exp(-a)
    inv_1g = _reciprocal(xp, 1.0 + g)
    th = -xp.expm1(-a) * inv_1g
    m = (2.0 * g) * inv_1g
    denom = 1.0
    nsum = 0.0
    pairs = []
    for j in range(terms, 0, -1):  # smallest terms first
        c, s_, e = math.cosh(k * j / 2.0), math.sinh(k * j / 2.0), math.exp(-k * j / 2.0)
        ia = _reciprocal(xp, e + m * s_)
        ib = _reciprocal(xp, c + th * s_)
        wa = ia * ia
        wb = ib * ib
        denom = denom + (wa + wb)
        iab = ia * ib
        nsum = nsum + (2.0 * j * math.sinh(k * j)) * (iab * iab)
        if need_u or need_k:
            pairs.append((j, wa, wb, (m * c - e) * ia, -(s_ + th * c) * ib))
    inv_denom = _reciprocal(xp, denom)
    mean = th * nsum * inv_denom  # at |u|
    t = xp.copysign(mean, u) if need_t else None
    if not (need_u or need_k):
        return t, None, None

    def covariance(f0: Array, fa: list, fb: list) -> Array:
        """Cov_p(j, f_j) by two passes: sum p_j (j - mean)(f_j - mean_f)."""
        f_bar = f0
        for (_, wa, wb, _, _), va, vb in zip(pairs, fa, fb, strict=True):
            f_bar = f_bar + (wa * va + wb * vb)
        f_bar = f_bar * inv_denom
        acc = (0.0 - mean) * (f0 - f_bar)
        for (j, wa, wb, _, _), va, vb in zip(pairs, fa, fb, strict=True):
            acc = acc + (wa * ((j - mean) * (va - f_bar)) + wb * ((-j - mean) * (vb - f_bar)))
        return acc * inv_denom

    du = dk = None
    tau_a = [p[3] for p in pairs]
    tau_b = [p[4] for p in pairs]
    if need_u:
        du = k * covariance(-th, tau_a, tau_b)
    if need_k:
        # d log w_j / dk = tau_j (|u| - j); the constant tau_0 |u| cancels in the covariance
        ga = [ta * (ua - j) for (j, *_), ta in zip(pairs, tau_a, strict=True)]
        gb = [tb * (ua + j) for (j, *_), tb in zip(pairs, tau_b, strict=True)]
        dk = xp.copysign(covariance(-th * ua, ga, gb), u)
    return t, du, dk


def _h_derivatives(xp: Any, z: Any) -> tuple[Any, Any, Any]:
    """h(z) = z / sinh z and its first two derivatives, overflow-free for z > 0."""
    csch, coth = _csch_coth(xp, z)
    h0 = z * csch
    h1 = csch * (1.0 - z * coth)
    h2 = csch * (-2.0 * coth + z * (coth * coth + csch * csch))
    return h0, h1, h2


def density_fourier(
    xp: Any, u: Array, k: Any, terms: int, *, need: tuple[bool, bool, bool]
) -> tuple[Array | None, Array | None, Array | None]:
    """Fourier ratio: t = u + (2 pi / k) N / D (SPEC 3.2) and its partials."""
    need_t, need_u, need_k = need
    if terms == 0:
        return _identity(xp, u, need)
    sines, cosines = _harmonics(xp, u, terms, True, True)
    n = 0.0
    d = 1.0
    n_u = d_u = n_k = d_k = 0.0
    for m in range(terms, 0, -1):
        z = (2.0 * PI_SQ * m) / k
        h0, h1, h2 = _h_derivatives(xp, z)
        s, c = sines[m - 1], cosines[m - 1]
        n = n + h1 * s
        d = d + 2.0 * h0 * c
        if need_u:
            n_u = n_u + (TWO_PI * m) * h1 * c
            d_u = d_u - (2.0 * TWO_PI * m) * h0 * s
        if need_k:
            # dz/dk = -z/k
            n_k = n_k - (z * h2 / k) * s
            d_k = d_k - (2.0 * z * h1 / k) * c
    scale = TWO_PI / k
    inv_d = 1.0 / d
    ratio = n * inv_d
    t = u + scale * ratio if need_t else None
    du = dk = None
    if need_u:
        du = 1.0 + scale * (n_u - ratio * d_u) * inv_d
    if need_k:
        dk = -(scale / k) * ratio + scale * (n_k - ratio * d_k) * inv_d
    return t, du, dk


# ================================================================================ tanh (soft_round)


def tanh_offset(
    xp: Any, u: Array, alpha: Any, *, eps: float, need: tuple[bool, bool, bool]
) -> tuple[Array | None, Array | None, Array | None]:
    """Agustsson-Theis soft_round around the nearest integer, stable form (SPEC 8).

    t = sgn(u) sigmoid(-alpha(1 - 2e)) expm1(-2 alpha e) / expm1(-alpha), e = |u|;
    dt/du = 2 alpha rho(alpha (1 - 2e)) / tanh(alpha / 2).
    """
    need_t, need_u, need_k = need
    e = xp.abs(u)
    w = alpha * (1.0 - 2.0 * e)  # >= 0
    t = du = dk = None
    if need_t:
        expm1_alpha = math.expm1(-alpha) if isinstance(alpha, float) else xp.expm1(-alpha)
        t = _sign(xp, u) * _sigmoid_nonpositive(xp, -w) * xp.expm1(-2.0 * alpha * e) / expm1_alpha
    half_tanh = math.tanh(alpha / 2.0) if isinstance(alpha, float) else xp.tanh(alpha / 2.0)
    rho_w = _rho(xp, w)
    if need_u:
        du = 2.0 * alpha * rho_w / half_tanh
    if need_k:
        # r = y - floor(y) - 1/2 = u - 1/2 for u >= 0 and u + 1/2 for u < 0 (at u = -0 it gives +1/2, where
        # both formulas below are 0 anyway: ds/dalpha vanishes at the integers)
        r = u - 0.5 * _sign(xp, u)
        tanh_ar = xp.tanh(alpha * r)
        rho_alpha = (
            math.exp(-alpha) / (1 + math.exp(-alpha)) ** 2 if isinstance(alpha, float) else _rho(xp, alpha)
        )
        exact = 2.0 * r * rho_w / half_tanh - tanh_ar * rho_alpha / (half_tanh * half_tanh)
        # for small alpha the two terms cancel; use the series 2a r(1/12 - r^2/3) + 4a^3 r(-1/720 - r^2/36 + 2r^4/15)
        r2 = r * r
        a_s = alpha if isinstance(alpha, float) else clip(alpha, hi=eps ** (1.0 / 6.0))
        series = 2.0 * a_s * r * (1.0 / 12.0 - r2 / 3.0) + 4.0 * a_s**3 * r * (
            -1.0 / 720.0 - r2 / 36.0 + 2.0 * r2 * r2 / 15.0
        )
        small = eps ** (1.0 / 6.0)
        if isinstance(alpha, float):
            dk = series if alpha < small else exact
        else:
            dk = xp.where(alpha < small, series, exact)
    return t, du, dk
