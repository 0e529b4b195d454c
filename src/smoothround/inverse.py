"""The inverse of the smooth round and the conditional mean of learned compression (docs/mathematics.md §11).

Every smooth round ``r_k`` of :func:`smoothround.round` is strictly increasing, odd and satisfies
``r(x + 1) = r(x) + 1``, so it has an inverse of the same kind. With ``y = c + v`` (``c`` the nearest integer,
``v`` in ``[-1/2, 1/2]``) the inverse is ``c + u`` where ``t(u) = v`` and ``t`` is the offset function of the
core kernels (:mod:`smoothround._rounding_math`): the same formulas, evaluated in one place, serve both
directions. ``t(u) = v`` is solved by a bracketed Newton iteration with a fixed number of steps (jit-friendly)
from a closed-form starting point; the tanh method (soft_round) has a closed-form inverse. Derivatives follow
from the implicit function theorem, ``dx/dy = 1 / r'(x)`` and ``dx/dk = -(dr/dk) / r'(x)``, with the kernels'
closed-form partials at the solution.

The conditional mean ``E[X | r_k(X) + U = y]`` (``U`` uniform on ``[-1/2, 1/2)``, ``X`` with a flat prior) is
``r^{-1}(y - 1/2) + 1/2`` for every increasing ``r`` with ``r(x + 1) = r(x) + 1``: the posterior of ``X`` is
uniform on ``[r^{-1}(y - 1/2), r^{-1}(y + 1/2)]``, an interval of length exactly 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smoothround import _rounding_math as rm
from smoothround._backends import Prepared, apply, prepare
from smoothround._validation import check_choice, check_tolerance, concrete_number
from smoothround.rounding import _finite_mask, _prepare_k, _Smooth, _smooth, _split_k

Array = Any

#: Newton steps of the window and density inverses, by compute dtype. From the starting point of :func:`_start`
#: the slowest cases (k near 4.5, where the Fourier range starts from the identity) reach the solution to within
#: its conditioning after 5 steps in float64 and 4 in float32 (tests/test_inverse.py measures it on dense grids
#: of y and k); two more steps are kept as a margin.
ITERATIONS = {"float64": 7, "float32": 6}

_TINY = {"float64": 2.0**-1022, "float32": 2.0**-126}


def _is_number(k: Any) -> bool:
    return isinstance(k, float)


def _atanh(xp: Any, w: Array) -> Array:
    """atanh(w) for 0 <= w < 1 as log1p(2w / (1 - w)) / 2: within a few ulp on every backend (JAX's CPU atanh is
    off by up to 100 ulp on [0, 1/2])."""
    return 0.5 * xp.log1p(2.0 * w / (1.0 - w))


def _pair_start(xp: Any, a: Array, d_a: Array, kappa: Any) -> tuple[Array, Array]:
    """The point ``(s0, d0)`` that solves the first pair of the window sum exactly,
    ``sigma(-kappa d) - sigma(-kappa (1 - d)) = a``: with ``E = e^{-kappa}``,
    ``s0 = [asinh(q) + atanh(a)] / kappa``, ``q = a (1 + E) e^{kappa/2} / (2 sqrt(1 - a^2))`` (the root of a
    quadratic in ``e^{-kappa d}``, written without cancellation), and for ``q > 1e8`` (where ``asinh(q) =
    ln 2q`` to 1e-17) ``d0 = [ln((1 - a) / a) - log1p(E)] / kappa``. Off by O(e^{-kappa}) relatively for the
    window method (``kappa = k``); the density method behaves like it at ``kappa = 2k``."""
    numeric = _is_number(kappa)
    big_e = rm._exp(xp, -kappa) if numeric else xp.exp(-kappa)
    tiny = _TINY["float32"] if a.dtype == xp.float32 else _TINY["float64"]
    cap = 80.0 if a.dtype == xp.float32 else 700.0  # e^cap is finite in the compute dtype
    grow = math.exp(min(0.5 * kappa, cap)) if numeric else xp.exp(rm.clip(0.5 * kappa, hi=cap))
    q = a * (1.0 + big_e) * grow / (2.0 * xp.sqrt((0.5 + d_a) * (1.0 + a)))
    s_form = (xp.asinh(q) + _atanh(xp, a)) / kappa
    # ln((1 - a) / a): by logs of a where a is small, as 2 atanh(2 d_a) where d_a is
    log_odds = xp.where(
        a < 0.25, xp.log1p(-a) - xp.log(rm.clip(a, lo=tiny)), 2.0 * _atanh(xp, rm.clip(2.0 * d_a, hi=0.5))
    )
    big_e_term = math.log1p(big_e) if numeric else xp.log1p(big_e)
    d_form = rm.clip((log_odds - big_e_term) / kappa, 0.0, 0.5)
    # the s-form needs the true e^{kappa/2}: beyond the cap only the d-form (q is then huge for every a that
    # has a solution in the sinh range)
    use_s = (q <= 1e8) if numeric else (q <= 1e8) & (0.5 * kappa <= cap)
    if numeric and 0.5 * kappa > cap:
        use_s = q < 0.0  # nowhere
    s_form = rm.clip(s_form, 0.0, 0.5)
    return xp.where(use_s, s_form, 0.5 - d_form), xp.where(use_s, 0.5 - s_form, d_form)


def _start(xp: Any, smooth: _Smooth, a: Array, d_a: Array, k: Any) -> tuple[Array, Array]:
    """The starting point ``(s0, d0)``: the identity below ``K_SWITCH`` (the Fourier range, where ``t`` is
    close to it), the exact inverse of the first window pair above it."""
    scale = 1.0 if smooth.method == "window" else 2.0
    if _is_number(k):
        if k < rm.K_SWITCH:
            return a, d_a
        return _pair_start(xp, a, d_a, scale * k)
    large = k >= rm.K_SWITCH
    s0, d0 = _pair_start(xp, a, d_a, scale * rm.clip(k, lo=rm.K_SWITCH))
    return xp.where(large, s0, a), xp.where(large, d0, d_a)


def _normalised(xp: Any, s: Array, d: Array) -> tuple[Array, Array]:
    """A point held twice, as ``s`` and as ``d = 1/2 - s``: the smaller of the two is the exact one (below 1/4
    ``s``, above it ``d``), the other follows from it (exact by Sterbenz where it is at most 1/2)."""
    use_s = s < 0.25
    return xp.where(use_s, s, 0.5 - d), xp.where(use_s, 0.5 - s, d)


def _newton(xp: Any, smooth: _Smooth, a: Array, d_a: Array, k: Any, iterations: int) -> tuple[Array, Array]:
    """Solve ``t(s) = a`` for ``s`` in ``[0, 1/2]`` (``a = 1/2 - d_a`` in ``[0, 1/2]``, ``t`` the positive
    offset function of the kernels): Newton steps kept inside a bracket ``[lo, hi]`` (``t(lo) <= a <=
    t(hi)``, starting from ``[0, 1/2]``), a bisection whenever a step would leave it or ``t'`` underflows.
    Returns ``(s, d)``, ``d = 1/2 - s`` carried separately so that both stay exact where they are small."""
    one = xp.ones_like(a)
    s, d = _start(xp, smooth, a, d_a, k)
    s, d = _normalised(xp, s, d)
    s_lo, d_lo = 0.0 * a, one * 0.5
    s_hi, d_hi = one * 0.5, 0.0 * a
    tiny = _TINY["float32"] if a.dtype == xp.float32 else _TINY["float64"]
    # Near s = 0 the direct sums (k >= K_SWITCH) hold t to eps times their terms, e^{-k/2} (window) or e^{-k}
    # (density), not relatively (d = 1/2 - s is rounded): t itself is about r'(0) s, so its relative error is
    # a few eps / (k s). There s t'(s) (t' is a sum of positive terms, exact relatively) replaces it, off by
    # s^3 t'''(0) / 3, i.e. by at most (4/3) (k s)^2 relatively (t'''/t' <= 4 k^2). The switch at
    # k s = 1.5 eps^(1/3) balances the two: tiny |y| keep their relative precision (to about 3e-10 in float64
    # and 4e-5 in float32 at the switch, to a few ulp away from it) instead of none.
    small = 1.5 * (2.0**-23 if a.dtype == xp.float32 else 2.0**-52) ** (1.0 / 3.0)
    direct_range = (k >= rm.K_SWITCH) if _is_number(k) else None
    for _ in range(iterations):
        t, du, _ = smooth.offset(xp, rm.Offset(one, s, d), k, (True, True, False))
        if direct_range is None:  # an array k: per element
            t = xp.where((k >= rm.K_SWITCH) & (s * k < small), s * du, t)
        elif direct_range:
            t = xp.where(s * k < small, s * du, t)
        f = t - a
        below = f <= 0.0
        above = f >= 0.0
        s_lo, d_lo = xp.where(below, s, s_lo), xp.where(below, d, d_lo)
        s_hi, d_hi = xp.where(above, s, s_hi), xp.where(above, d, d_hi)
        step = f / rm.clip(du, lo=tiny)  # |f| <= 1/2: finite
        s_new, d_new = _normalised(xp, s - step, d + step)
        inside = xp.where(s_new < 0.25, (s_new >= s_lo) & (s_new <= s_hi), (d_new <= d_lo) & (d_new >= d_hi))
        s_mid, d_mid = _normalised(xp, 0.5 * (s_lo + s_hi), 0.5 * (d_lo + d_hi))
        s, d = xp.where(inside, s_new, s_mid), xp.where(inside, d_new, d_mid)
    # the fixed points t(0) = 0 and t(1/2) = 1/2 (docs/mathematics.md P4) exactly
    s = xp.where(a == 0.0, 0.0, xp.where(d_a == 0.0, 0.5, s))
    d = xp.where(a == 0.0, 0.5, xp.where(d_a == 0.0, 0.0, d))
    return s, d


def _tanh_inverse(xp: Any, a: Array, d_a: Array, k: Any) -> tuple[Array, Array]:
    """Closed-form inverse of soft_round's offset (docs/mathematics.md §8, §11): with ``T = tanh(k/2)``,
    ``S = sech^2(k/2)`` and ``w = 2aT / (S + 2aT^2)``, the solution is ``s = atanh(w) / k`` for ``w < 1/2``
    and ``d = 1/2 - s = [log1p(2 d_a T) - ln(2 sigma(-k) + 2aT)] / (2k)`` otherwise: no cancellation near the
    integers (small ``a``, large ``k``) nor near the ties. ``atanh(w) / k`` is evaluated as
    ``a (2 T / k) / (S + 2aT^2) * atanh(w) / w`` so that a tiny ``k`` loses nothing to subnormal ``w``."""
    if _is_number(k):
        e = math.exp(-k) if k < 745.0 else 0.0
        big_t = math.tanh(0.5 * k)
        big_s = 4.0 * e / (1.0 + e) ** 2
        two_sig = 2.0 * e / (1.0 + e)
        t_over_k = big_t / k
    else:
        e = xp.exp(-k)
        big_t = xp.tanh(0.5 * k)
        big_s = 4.0 * e / ((1.0 + e) * (1.0 + e))
        two_sig = 2.0 * e / (1.0 + e)
        t_over_k = big_t / k
    tiny = _TINY["float32"] if a.dtype == xp.float32 else _TINY["float64"]
    den = rm.clip(big_s + (2.0 * a) * (big_t * big_t), lo=tiny)
    w = (2.0 * a) * big_t / den
    w_small = rm.clip(w, hi=0.5)
    ratio = xp.where(w_small > 1e-4, _atanh(xp, w_small) / rm.clip(w_small, lo=1e-4), 1.0 + w_small * w_small / 3.0)
    s_near = (2.0 * a) * t_over_k / den * ratio
    d_far = (xp.log1p((2.0 * d_a) * big_t) - xp.log(rm.clip(two_sig + (2.0 * a) * big_t, lo=tiny))) / (2.0 * k)
    d_far = rm.clip(d_far, 0.0, 0.5)
    near = w < 0.5
    s = xp.where(near, s_near, 0.5 - d_far)
    d = xp.where(near, 0.5 - s_near, d_far)
    # the fixed points t(0) = 0 and t(1/2) = 1/2 exactly
    s = xp.where(a == 0.0, 0.0, xp.where(d_a == 0.0, 0.5, s))
    d = xp.where(a == 0.0, 0.5, xp.where(d_a == 0.0, 0.0, d))
    return s, d


@dataclass(frozen=True)
class _InverseOp:
    """``round_inverse`` (``kind="inverse"``) or ``round_conditional_mean``: an elementwise op of
    :mod:`smoothround._backends`. Frozen and hashable: every static choice (method, plan, iterations) is a
    field, so ``jax.jit`` and ``torch.compile`` treat it as a constant."""

    kind: str
    smooth: _Smooth
    iterations: int
    param_names: tuple[str, ...]
    straight_through: None = None

    def _k(self, xp: Any, params: dict) -> tuple[Any, Any]:
        if "k" in params:
            return _split_k(xp, params["k"])
        return self.smooth.k_value, None

    def _target(self, xp: Any, y: Array) -> tuple[Array, rm.Offset]:
        """Centre and offset of the equation ``r(x) = z``: ``z = y`` around ``round(y)`` for the inverse,
        ``z = y - 1/2`` around ``floor(y)`` for the conditional mean (the floor reduction keeps the distance
        of ``z``'s offset to its ties, ``min(v, 1 - v)``, exact)."""
        return rm.reduce(xp, y, "round" if self.kind == "inverse" else "floor", self.smooth.eps)

    def hard(self, xp: Any, y: Array, params: dict) -> Array:
        """The limit ``k -> inf``: the inverse tends to ``y`` at the integers and to ``floor(y) + 1/2`` between
        them; the conditional mean to ``y`` at the half-integers and to ``round(y)`` elsewhere."""
        f = xp.floor(y)
        if self.kind == "inverse":
            out = xp.where(y == f, y, f + 0.5)
        else:
            out = xp.where(y - f == 0.5, y, xp.round(y))
        if "k" in params:
            out = out + 0.0 * _split_k(xp, params["k"])[0]  # broadcast against k (0 * inf would be NaN)
        return out

    def _solve(self, xp: Any, off: rm.Offset, k: Any) -> tuple[Array, Array]:
        if self.smooth.method == "tanh":
            return _tanh_inverse(xp, off.s, off.d, k)
        return _newton(xp, self.smooth, off.s, off.d, k, self.iterations)

    def value(self, xp: Any, y: Array, params: dict) -> Array:
        k, k_inf = self._k(xp, params)
        if k_inf is None and math.isinf(k):
            return self.hard(xp, y, params)
        c, off = self._target(xp, y)
        s, d = self._solve(xp, off, k)
        base = c if self.kind == "inverse" else c + 0.5
        # near a tie of the answer, the half-integer c + sgn/2 minus d: one rounding, not two
        tie = c + 0.5 * off.sgn if self.kind == "inverse" else c + (0.5 + 0.5 * off.sgn)
        out = xp.where(s < 0.25, base + off.sgn * s, tie - off.sgn * d)
        return out if k_inf is None else xp.where(k_inf, self.hard(xp, y, params), out)

    def partials(self, xp: Any, y: Array, params: dict, wrt: tuple[str, ...]) -> dict:
        k, k_inf = self._k(xp, params)
        if k_inf is None and math.isinf(k):
            return {name: 0.0 * y for name in wrt}
        _, off = self._target(xp, y)
        s, d = self._solve(xp, off, k)
        _, du, dk = self.smooth.offset(xp, rm.Offset(off.sgn, s, d), k, (False, True, "k" in wrt))
        limit = self.smooth.partial_max
        finite_y = _finite_mask(xp, y)  # gradient 0 at +-inf
        result = {}
        if "x" in wrt:
            # 1 / r'(x), at most half the largest finite number where r' underflows (large k, near integers)
            grad = finite_y / rm.clip(du, lo=2.0 / limit)
            result["x"] = grad if k_inf is None else xp.where(k_inf, 0.0, grad)
        if "k" in wrt:
            # -(dr/dk) / r'(x), the denominator kept >= |dr/dk| 4 / limit so that the ratio cannot overflow
            guard = xp.maximum(du, rm.clip(xp.abs(dk) * (4.0 / limit), lo=2.0 / limit))
            result["k"] = xp.where(k_inf, 0.0, -(dk / guard) * finite_y)
        return result


def _build(kind: str, y: Any, k: Any, method: str, tol: Any) -> tuple[_InverseOp, Prepared, dict]:
    check_choice("method", method, rm.METHODS)
    tol = check_tolerance("tol", tol)
    prepared = prepare(y, "y")
    k = concrete_number(k)
    _, params = _prepare_k(prepared, k)
    smooth = _smooth(method, k, tol, prepared.array.dtype, prepared.out_dtype)
    iterations = ITERATIONS["float32" if prepared.array.dtype == prepared.xp.float32 else "float64"]
    return _InverseOp(kind, smooth, iterations, tuple(params)), prepared, params


def round_inverse(y: Any, /, k: Any, *, method: str = "window", tol: float | None = None) -> Array:
    """The inverse of the smooth round: the ``x`` with ``round(x, k, method=method) == y`` (docs/mathematics.md §11).

    ``r_k`` is strictly increasing, odd and ``r(x + 1) = r(x) + 1``, so its inverse is too, and it keeps the
    integers and half-integers fixed. For ``"window"`` and ``"density"`` it is computed by a bracketed Newton
    iteration on the core kernels (7 steps in float64, 6 in float32: two more than the worst case needs to
    reach the solution to within the conditioning below); for ``"tanh"`` in closed form, equal to
    ``tensorflow_compression.soft_round_inverse(y, alpha=k)`` (without its identity shortcut for ``k < 1e-3``
    and its cancellation near the integers).

    Accuracy: the inverse is as well conditioned as ``dx/dy = 1 / r'(x)``: near the integers and for large
    ``k`` it is very steep (``r'(n) = k / sinh k`` for tanh, about ``2k e^{-k/2}`` for window and
    ``8k e^{-k}`` for density), near the half-integers flat. The result is within ``2 eps (|x| + max(|y|, 1)
    |dx/dy|)`` of the exact inverse (measured worst: 1.1), plus ``(tol / 2) |dx/dy|`` for a ``tol`` above eps.

    Gradients (torch, JAX; :func:`smoothround.derivative` does not cover this function) are
    ``dx/dy = 1 / r'(x)`` and ``dx/dk = -(dr/dk) / r'(x)``, clipped to the dtype's finite range where ``r'``
    underflows. ``k = inf``: the limit of the smooth inverse, ``y`` at the integers and ``floor(y) + 1/2``
    between them, with gradient 0.

    Args:
        y: NumPy array, torch tensor, JAX array, Python number or nested list (dtype rules of :func:`round`).
        k: sharpness ``> 0``, a Python number or an array broadcastable against ``y`` (then differentiable).
        method: ``"window"``, ``"density"`` or ``"tanh"``.
        tol: the truncation tolerance of the smooth round being inverted, in ``(0, 0.5)``.

    >>> import smoothround
    >>> from smoothround.inverse import round_inverse
    >>> x = round_inverse([0.0, 0.1, 0.4, 0.5, 2.9], 10.0)
    >>> x
    array([0.        , 0.28072294, 0.45946925, 0.5       , 2.71927706])
    >>> smoothround.round(x, 10.0)
    array([0. , 0.1, 0.4, 0.5, 2.9])
    >>> round_inverse([0.25, 1.75], 5.0, method="tanh")
    array([0.39191565, 1.60808435])
    """
    return apply(*_build("inverse", y, k, method, tol))


def round_conditional_mean(y: Any, /, k: Any, *, method: str = "window", tol: float | None = None) -> Array:
    """``E[X | r_k(X) + U = y]``: the mean of ``X`` given a noisy smooth-rounded value (docs/mathematics.md §11).

    ``U`` is uniform on ``[-1/2, 1/2)`` and independent of ``X``; ``X`` has a flat prior (its density is
    constant on the unit interval below). Then ``X`` given ``y`` is uniform on ``{x : |r_k(x) - y| <= 1/2}``
    ``= [r^{-1}(y - 1/2), r^{-1}(y + 1/2)]``, an interval of length exactly 1, so the mean is
    ``round_inverse(y - 1/2) + 1/2`` for every method. For ``"tanh"`` this is
    ``tensorflow_compression.soft_round_conditional_mean(y, alpha=k)``, the decoder's estimate in universally
    quantized compression (Agustsson & Theis 2020). As ``k -> 0`` it tends to ``y``; at ``k = inf`` it is
    ``round(y)``, and ``y`` itself at the half-integers. Arguments, gradients and accuracy as in
    :func:`round_inverse` (at ``y - 1/2``).

    >>> from smoothround.inverse import round_conditional_mean
    >>> round_conditional_mean([0.0, 0.3, 0.5, 1.2], 10.0)
    array([0.        , 0.13852321, 0.5       , 1.08468864])
    >>> round_conditional_mean([0.0, 0.3, 0.5, 1.2], float("inf"))
    array([0. , 0. , 0.5, 1. ])
    """
    return apply(*_build("conditional_mean", y, k, method, tol))
