"""Smooth max and min (over an axis and pairwise), softmax, soft argmax and the soft one-hot, written once in
``xp``.

The pairwise forms are elementwise ops with closed-form partials in ``a`` and ``b`` (through
:func:`smoothround._backends.apply`), because their stable forms contain ``|a - b|`` and ``max(a, b)``, whose
autodiff at ``a = b`` would be wrong. The functions over an axis are row ops (:mod:`._rows`) with closed-form
derivatives too: they work with ``x - max(x)`` (nothing of the size of ``|x|`` enters a derivative), centre
every derivative on the row's argmax (the Jacobian-vector products cancel nowhere, in forward and reverse mode),
and create no infinity from a finite row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from smoothround._backends import Prepared, apply, backend_of, namespace, prepare
from smoothround._validation import (
    _concrete_values,
    check_bool,
    check_choice,
    check_optional_int,
    is_python_number,
)
from smoothround.toolbox import _array_k
from smoothround.toolbox._elementwise import ERF_CAP, EXP_CAP, fit, output_limit, sharpness
from smoothround.toolbox._numerics import (
    EXP_FAR,
    Scale,
    constant_minus,
    difference_word,
    erfc_cap,
    exp_cap,
    exp_word,
    largest,
    log_word,
    reciprocal_product,
    saturating_add,
    saturating_mul,
    saturating_sub,
    softplus_over_k,
    u_erfc_over_k,
    u_exp_over_k,
)
from smoothround.toolbox._rows import rows_apply
from smoothround.toolbox._special import erf, erfc, sigmoid, sigmoid_prime

Array = Any

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_LOG2 = math.log(2.0)
PAIRWISE_METHODS = ("logsumexp", "boltzmann", "acon", "erf", "sqrt", "power")
AXIS_METHODS = ("logsumexp", "boltzmann")
#: In a JVP (linear in the tangent: JAX transposes it for reverse mode, so nothing may clip the tangent's
#: product) the Jacobian coefficients k w ... saturate at this fraction of the largest number, so that their
#: products with tangents up to 2^7 stay finite. The VJPs (PyTorch's backward) apply k after the product instead
#: and saturate the result only.
_JACOBIAN_CAP = 2.0**-8


def _centred_product(xp: Any, z: Array, onehot: Array) -> Array:
    """``P^T z`` for the terms ``z`` of a Jacobian product that sum to 0 (softmax's, soft_onehot's): the argmax's
    entry is minus the sum of the others (not ``z_M - sum z``, which cancels). The factor k is applied to the
    result by the caller, so no term overflows where the product itself is finite."""
    rest = xp.sum(xp.where(onehot > 0, xp.zeros_like(z), z), axis=-1, keepdims=True)
    return xp.where(onehot > 0, -rest, z)


def _saturated(xp: Any, v: Array, out_max: float) -> Array:
    """``v`` clipped to the output dtype's range (float16 and bfloat16 are computed in float32)."""
    return v if out_max >= largest(xp, v.dtype) else xp.clip(v, -out_max, out_max)


# ---------------------------------------------------------------------------------------------- pairwise


def _cap(method: str, xp: Any, dtype: Any) -> float:
    """|k (a - b)| beyond which the method's correction and partials are at their limit in every dtype (e^-800
    and erfc(30) are 0); the sqrt tail decays like 1/u^2 and is capped only so that nothing overflows."""
    if method == "erf":
        return ERF_CAP
    if method == "sqrt":
        return 0.25 * largest(xp, dtype)
    return EXP_CAP


def _max_value(method: str, xp: Any, a: Array, b: Array, k: Scale) -> Array:
    """``max(a, b)`` plus a correction in ``|a - b|``, for finite ``a`` and ``b``, without cancellation.

    Where ``u = k |a - b| > 1``: ``max(a, b)`` minus a small correction (``|d| sigmoid(-u)`` for boltzmann,
    ``|d| erfc(u) / 2`` for erf); closer, where the result is near the mean, ``(a + b) / 2`` plus the odd part
    (``(|d| / 2) tanh(u / 2)``, ``(|d| / 2) erf(u)``), which keeps the digits of a result near 0 whose operands
    are large. log-sum-exp and sqrt add a positive correction to the max (``log1p(e^-u) / k`` and
    ``1 / (2k (hypot(u, 1) + u))``), saturated at the largest number. The exponential corrections take ``a - b``
    and ``u`` as double words (see ``_numerics``): exact to rounding even where a tiny k divides them.
    """
    d, d_lo = difference_word(xp, a, b)
    ad, ad_lo = xp.abs(d), xp.where(d < 0, -d_lo, d_lo)
    m = xp.maximum(a, b)
    if method == "logsumexp":
        return saturating_add(xp, m, softplus_over_k(xp, ad, k, ad_lo), _LOG2 / k.value())
    if method == "sqrt":  # 1/(2k (hypot(u, 1) + u)), beyond u = 1 as (r/2k)/(1 + hypot(1, r)), r = 1/u
        u = k.apply(xp, ad)
        far = u > 1.0
        r = xp.where(far, reciprocal_product(xp, xp.where(far, ad, xp.ones_like(ad)), k), xp.zeros_like(u))
        un = xp.where(far, xp.zeros_like(u), u)
        correction = k.divide(xp, xp.where(far, 0.5 * r / (1.0 + xp.hypot(xp.ones_like(r), r)),
                                           0.5 / (xp.hypot(un, xp.ones_like(un)) + un)))
        return saturating_add(xp, m, correction, 0.5 / k.value())
    cap = exp_cap(k, 810.0) if method != "erf" else erfc_cap(k)
    hi, lo = k.product(xp, ad, cap, ad_lo)
    mean = _mean(xp, a, b)
    if method in ("boltzmann", "acon"):
        near = mean + (0.5 * ad) * xp.tanh(0.5 * hi)
        far = m - u_exp_over_k(xp, hi, lo, k) / (1.0 + xp.exp(-hi))
    else:
        near = mean + (0.5 * ad) * erf(xp, hi)
        far = m - u_erfc_over_k(xp, hi, lo, k, erfc)
    return xp.where(hi > 1.0, far, near)


def _mean(xp: Any, a: Array, b: Array) -> Array:
    """``(a + b) / 2`` rounded once and without overflow: ``(a + b) / 2`` for opposite signs (no overflow, no
    cancellation of a difference), ``b + (a - b) / 2`` for equal signs. (Not ``a/2 + b/2``: XLA refactors that
    into ``(a + b) / 2``, which overflows near the largest number under jit.)"""
    zero = xp.zeros_like(a)
    opposite = (a < 0) != (b < 0)
    return xp.where(opposite, 0.5 * (xp.where(opposite, a, zero) + xp.where(opposite, b, zero)),
                    b + 0.5 * saturating_sub(xp, a, b))


def _max_partial_a(method: str, xp: Any, u: Array) -> Array:
    """``g'(u)``, ``u = k (a - b)``: d max_k / da = g'(u) and d max_k / db = 1 - g'(u) = g'(-u).

    Written without cancellation on both sides of 0, so ``g'(-u)`` is accurate where ``g'(u)`` is near 1.
    """
    if method == "logsumexp":
        return sigmoid(xp, u)
    if method in ("boltzmann", "acon"):
        return sigmoid(xp, u) + u * sigmoid_prime(xp, u)
    if method == "erf":
        return 0.5 * erfc(xp, -u) + _INV_SQRT_PI * (u * xp.exp(-u * u))
    if method == "sqrt":
        s = xp.abs(u)
        h = xp.hypot(s, xp.ones_like(s))
        small = (0.5 / h) / (h + s)  # (1 - |u| / hypot(u, 1)) / 2
        return xp.where(u >= 0, 1.0 - small, small)
    raise AssertionError(method)


def _power(xp: Any, a: Array, b: Array, k: Scale, is_min: bool) -> tuple[Array, Array, Array]:
    """The power mean ``(a^p + b^p)^(1/p)`` (``p = k``, or ``-k`` for the min) and its two partials, for
    finite ``a, b >= 0``: with ``r = min/max`` and ``q = r^p``, max ``= hi (1 + q)^(1/p)``, min ``= lo (1 +
    q)^(-1/p)``; powers are ``exp(p log r)`` with ``p log r`` formed exactly, so nothing overflows at any k."""
    p = k.value()
    hi, lo = xp.maximum(a, b), xp.minimum(a, b)
    zero, one = xp.zeros_like(hi), xp.ones_like(hi)
    positive = lo > 0
    # r = lo/hi, at least the smallest subnormal (r^p is then 0 to the last bit for p >= 1: log(0) is avoided)
    r = xp.maximum(xp.where(positive, lo, one) / xp.where(positive, hi, one),
                   zero + float(xp.finfo(hi.dtype).smallest_normal) * float(xp.finfo(hi.dtype).eps))
    # log r: log1p((lo - hi)/hi) near 1, where log(r) would lose the digits that p log r needs
    near = r > 0.5
    log_r = xp.where(near, xp.log1p(xp.where(near & positive, lo - hi, zero) / xp.where(positive, hi, one)),
                     xp.log(r))
    q = xp.where(positive, xp.exp(k.apply(xp, log_r, EXP_CAP)), zero)  # r^p
    log1p_q = xp.log1p(q)
    if not is_min:
        f = saturating_mul(xp, hi, xp.exp(k.divide(xp, log1p_q)))
        d_hi = xp.exp(-log1p_q * ((p - 1.0) / p))  # (hi / f)^(p - 1)
        r_pow = xp.where(positive, xp.exp(_times(xp, log_r, p - 1.0)), one if p == 1.0 else zero)  # r^(p-1)
        d_lo = r_pow * d_hi  # (lo / f)^(p - 1)
        zero_both = hi == 0  # a = b = 0: f = 0 and the tie's partials
        d_hi = xp.where(zero_both, zero + 2.0 ** (-(p - 1.0) / p), d_hi)
        d_lo = xp.where(zero_both, zero + 2.0 ** (-(p - 1.0) / p), d_lo)
    else:
        f = lo * xp.exp(-k.divide(xp, log1p_q))
        d_lo = xp.exp(-log1p_q * ((p + 1.0) / p))  # (f / lo)^(p + 1)
        d_hi = xp.where(positive, xp.exp(_times(xp, log_r, p + 1.0)), zero) * d_lo  # r^(p+1) (f / lo)^(p+1)
        # lo = 0: f = 0, d/dlo = 1 (the limit r -> 0), d/dhi = 0; both 0: the tie's partials
        zero_both = hi == 0
        d_lo = xp.where(positive, d_lo, xp.where(zero_both, zero + 2.0 ** (-(p + 1.0) / p), one))
        d_hi = xp.where(zero_both, zero + 2.0 ** (-(p + 1.0) / p), d_hi)
    a_is_hi = a >= b
    return f, xp.where(a_is_hi, d_hi, d_lo), xp.where(a_is_hi, d_lo, d_hi)


def _times(xp: Any, v: Array, factor: float) -> Array:
    """``v * factor`` for a Python number ``factor >= 0`` (0 allowed), saturated at the exp cap."""
    if factor == 0.0:
        return xp.zeros_like(v)
    return Scale.of(factor).apply(xp, v, EXP_CAP)


@dataclass(frozen=True)
class PairwiseOp:
    """Smooth max (``is_min`` False) or min of ``x`` and the parameter ``b``."""

    method: str
    k: Scale
    is_min: bool
    out_max: float = math.inf
    param_names: tuple[str, ...] = ("b",)
    straight_through: bool = False

    def _operands(self, xp: Any, x: Array, b: Array) -> tuple[Array, Array, Array]:
        """Finite stand-ins for the operands (an infinity becomes the largest number: the hard limit follows
        from the caps), and where both are finite."""
        top = largest(xp, x.dtype)
        finite = xp.isfinite(x) & xp.isfinite(b)
        return (xp.where(xp.isinf(x), xp.sign(x) * top, x), xp.where(xp.isinf(b), xp.sign(b) * top, b), finite)

    def value(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        b = params["b"]
        a_c, b_c, finite = self._operands(xp, x, b)
        if self.method == "power":
            smooth = _power(xp, a_c, b_c, self.k, self.is_min)[0]
        elif self.is_min:
            smooth = -_max_value(self.method, xp, -a_c, -b_c, self.k)
        else:
            smooth = _max_value(self.method, xp, a_c, b_c, self.k)
        out = xp.where(finite, smooth, self.hard(xp, x, params))
        return fit(xp, out, finite, self.out_max)

    def hard(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        return xp.minimum(x, params["b"]) if self.is_min else xp.maximum(x, params["b"])

    def partials(self, xp: Any, x: Array, params: dict[str, Array], wrt: tuple[str, ...]) -> dict[str, Array]:
        b = params["b"]
        a_c, b_c, _ = self._operands(xp, x, b)
        if self.method == "power":
            _, da, db = _power(xp, a_c, b_c, self.k, self.is_min)
        else:
            d = saturating_sub(xp, b_c, a_c) if self.is_min else saturating_sub(xp, a_c, b_c)
            u = self.k.apply(xp, d, _cap(self.method, xp, x.dtype))
            da, db = _max_partial_a(self.method, xp, u), _max_partial_a(self.method, xp, -u)
        shape = np.broadcast_shapes(tuple(x.shape), tuple(b.shape))
        return {"x": xp.broadcast_to(da, shape), "b": xp.broadcast_to(db, shape)}


def _to_backend(value: Any, backend: str, name: str) -> Array:
    """A NumPy array or nested list in another backend, keeping its dtype."""
    xp = namespace(backend)
    if backend == "torch":
        import torch

        return torch.as_tensor(np.asarray(value))
    try:
        return xp.asarray(np.asarray(value))
    except (TypeError, ValueError) as err:
        msg = f"`{name}` must be a real array, tensor or number; got {type(value).__name__}."
        raise TypeError(msg) from err


def prepare_pair(a: Any, b: Any) -> tuple[Prepared, Array]:
    """Both operands in one backend and one compute dtype; Python numbers take the other operand's dtype."""
    if is_python_number(b) and not is_python_number(a):
        pa = prepare(a, "a")
        return pa, pa.xp.full_like(pa.array, float(b))
    if is_python_number(a) and not is_python_number(b):
        pb = prepare(b, "b")
        return Prepared(pb.backend, pb.xp, pb.xp.full_like(pb.array, float(a)), pb.out_dtype), pb.array
    ba, bb = backend_of(a), backend_of(b)
    if ba != bb:
        if "numpy" not in (ba, bb):
            msg = f"`a` is a {ba} array but `b` is a {bb} array; pass both from one library."
            raise TypeError(msg)
        if ba == "numpy":
            a = _to_backend(a, bb, "a")
        else:
            b = _to_backend(b, ba, "b")
    pa, pb = prepare(a, "a"), prepare(b, "b")
    try:
        np.broadcast_shapes(tuple(pa.array.shape), tuple(pb.array.shape))
    except ValueError:
        msg = (f"`a` and `b` must broadcast to one shape; got shapes {tuple(pa.array.shape)} and "
               f"{tuple(pb.array.shape)}.")
        raise ValueError(msg) from None
    xp = pa.xp
    compute = xp.result_type(pa.array.dtype, pb.array.dtype)
    out = xp.result_type(pa.out_dtype, pb.out_dtype)
    if not xp.isdtype(out, "real floating"):
        out = compute
    if pa.backend == "torch" and pa.array.device != pb.array.device:
        msg = f"`a` is on {pa.array.device} but `b` is on {pb.array.device}; put both on one device."
        raise ValueError(msg)
    return Prepared(pa.backend, xp, xp.astype(pa.array, compute), out), xp.astype(pb.array, compute)


def _check_nonnegative(name: str, value: Any) -> None:
    values = _concrete_values(value)
    if values is not None and np.any(values < 0):
        msg = f"`{name}` must be nonnegative for method='power'; got {values[values < 0].flat[0]!r}."
        raise ValueError(msg)


def _pairwise(a: Any, b: Any, k: Any, method: str, is_min: bool) -> Array:
    method = check_choice("method", method, PAIRWISE_METHODS)
    kf = sharpness(k)
    prepared, b_arr = prepare_pair(a, b)
    if method == "power":
        if kf < 1.0:
            msg = f"`k` must be >= 1 for method='power' (the power-mean exponent); got {k!r}."
            raise ValueError(msg)
        _check_nonnegative("a", prepared.array)
        _check_nonnegative("b", b_arr)
    if math.isinf(kf):
        op = PairwiseOp(method, Scale.of(1.0), is_min)
        return prepared.finish(op.hard(prepared.xp, prepared.array, {"b": b_arr}))
    op = PairwiseOp(method, Scale.of(kf), is_min, output_limit(prepared))
    return apply(op, prepared, {"b": b_arr})


def smooth_maximum(a: Array, b: Array, /, k: float, *, method: str = "logsumexp") -> Array:
    """Smooth elementwise maximum of ``a`` and ``b`` (broadcast) with sharpness ``k``; ``d = a - b``.

    Definition, by ``method``:

    * "logsumexp": ``(1/k) log(e^{ka} + e^{kb})``, from above, error ``log(2)/k`` (at a = b);
    * "boltzmann" and "acon" (identical for two operands): ``(a e^{ka} + b e^{kb}) / (e^{ka} + e^{kb})
      = d sigmoid(k d) + b``, from below, error ``W(1/e)/k = 0.2785/k``;
    * "erf": ``(a + b + d erf(k d)) / 2``, from below, error ``0.1202/k``;
    * "sqrt": ``(a + b + sqrt(d^2 + 1/k^2)) / 2``, from above, error ``1/(2k)``;
    * "power": ``(a^k + b^k)^(1/k)`` for ``a, b >= 0`` and ``k >= 1``, from above, relative error
      ``2^(1/k) - 1``.

    Every method but "power" is evaluated as ``maximum(a, b)`` plus a correction in ``|d|`` (for "erf"
    ``-|d| erfc(k|d|)/2``, for "sqrt" ``mu^2 / (2 (hypot(d, mu) + |d|))``, ``mu = 1/k``), exact to rounding
    at any ``|d|``; an infinite operand gives the hard limit (``smooth_maximum(-inf, 1) = 1``).

    Limit: ``maximum(a, b)`` as k -> inf. Guarantee: ``bounds("smooth_maximum:<method>", k)``; gradient
    Lipschitz constant k/2, k, k, 4k/sqrt(pi), k (none for "power"). At a tie each operand gets derivative
    1/2.

    >>> import numpy as np
    >>> smooth_maximum(np.array([0.0, 1.0, 3.0]), np.array([0.0, 0.0, 0.0]), k=10.0).round(4)
    array([0.0693, 1.    , 3.    ])
    >>> smooth_maximum(np.array([1.0, 3.0]), np.array([1.0, 4.0]), k=8.0, method="power").round(4)
    array([1.0905, 4.048 ])
    """
    if _array_k.is_array(k):
        return _array_k.pairwise(smooth_maximum, a, b, k, method=method)
    return _pairwise(a, b, k, method, False)


def smooth_minimum(a: Array, b: Array, /, k: float, *, method: str = "logsumexp") -> Array:
    """Smooth elementwise minimum: ``-smooth_maximum(-a, -b)`` for every method but "power".

    For "power", ``(a^-k + b^-k)^(-1/k)`` for ``a, b >= 0`` (0 when either is 0), from below, relative error
    ``1 - 2^(-1/k)``. Limit: ``minimum(a, b)`` as k -> inf. Guarantee: as for :func:`smooth_maximum`, with the
    side flipped (``bounds("smooth_minimum:<method>", k)``).

    >>> import numpy as np
    >>> smooth_minimum(np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 2.0]), k=10.0).round(4)
    array([-0.0693,  1.    ,  2.    ])
    """
    if _array_k.is_array(k):
        return _array_k.pairwise(smooth_minimum, a, b, k, method=method)
    return _pairwise(a, b, k, method, True)


# ---------------------------------------------------------------------------------------------- over an axis


def _positions(xp: Any, like: Array, n: int) -> Array:
    """0, 1, ..., n - 1 in ``like``'s dtype (and device)."""
    pos = xp.arange(n, dtype=like.dtype)
    if getattr(xp, "__name__", "").endswith("torch"):
        pos = pos.to(like.device)
    return pos


def _softmax_parts(xp: Any, x: Array, k: Scale) -> tuple[Array, ...]:
    """The pieces of ``softmax(k x)`` along the last axis, computed from ``s = x - max(x) <= 0``.

    Returns ``m`` (the max, kept), ``finite`` (whether it is finite), ``h = s/2`` as a double word (``x/2 - m/2``
    cannot overflow and is exact), ``u = k s`` as a double word (clipped where ``e^u/k`` has underflowed; 0 in
    rows with an infinite max), ``e = e^u`` (0 for -inf entries), the weights ``w = e / sum(e)``, ``tie`` (the
    entries equal to the max) and ``onehot`` (the first of them). A row whose max is +inf (or all -inf) gets the
    hard limit: the entries equal to its max share the weight equally. A NaN makes its row NaN. No infinity is
    created from a finite row.
    """
    m = xp.max(x, axis=-1, keepdims=True)
    finite = xp.isfinite(m)
    zero = xp.zeros_like(x)
    xs, ms = xp.where(finite, x, zero), xp.where(finite, m, xp.zeros_like(m))
    minus_inf = xp.isinf(x) & (x < 0)
    # s = x - m exactly (saturated where |x - m| exceeds the range; there h = x/2 - m/2 is exact instead)
    s_hi, s_lo = difference_word(xp, xs, ms)
    top = largest(xp, x.dtype)
    saturated = xp.abs(s_hi) >= 0.25 * top
    h_hi = xp.where(saturated, 0.5 * xs - 0.5 * ms, 0.5 * s_hi)
    h_lo = xp.where(saturated, zero, 0.5 * s_lo)
    h_hi, h_lo = xp.where(minus_inf, zero - 0.25 * top, h_hi), xp.where(minus_inf, zero, h_lo)
    u_hi, u_lo = k.product(xp, xp.where(minus_inf, zero - 0.5 * top, s_hi), exp_cap(k), s_lo)
    e = xp.where(minus_inf, zero, exp_word(xp, u_hi, u_lo))
    limit = xp.where(xp.isnan(m), m + zero, xp.astype(x == m, x.dtype))
    e = xp.where(finite, e, limit)
    u_hi, u_lo = xp.where(finite, u_hi, zero), xp.where(finite, u_lo, zero)
    tie = (u_hi == 0) & ~minus_inf
    w = e / xp.sum(e, axis=-1, keepdims=True)
    first = xp.argmax(x, axis=-1, keepdims=True)
    onehot = xp.astype(_positions(xp, x, x.shape[-1]) == xp.astype(first, x.dtype), x.dtype)
    return m, finite, (h_hi, h_lo), (u_hi, u_lo), e, w, tie, onehot


def _centred(xp: Any, v: Array, w: Array, onehot: Array) -> Array:
    """``v - sum(w v)`` along the last axis, as ``(v - v_M) - sum(w (v - v_M))`` with M the argmax: the sum is
    over small terms, so no cancellation where the weights are nearly one-hot."""
    d = v - xp.sum(onehot * v, axis=-1, keepdims=True)
    return d - xp.sum(w * d, axis=-1, keepdims=True)


@dataclass(frozen=True)
class AxisOp:
    """log-sum-exp, Boltzmann, softmax or soft argmax along the last axis, with sharpness ``k``."""

    kind: str
    k: Scale
    out_max: float = math.inf

    def value(self, xp: Any, x: Array) -> Array:
        m, finite, h, u, e, w, tie, onehot = _softmax_parts(xp, x, self.k)
        if self.kind == "softmax":
            return w
        if self.kind == "argmax":
            pos = _positions(xp, x, x.shape[-1])
            base = xp.sum(onehot * pos, axis=-1)
            return base + xp.sum(w * (pos - base[..., None]), axis=-1)
        ms = xp.where(finite, m, xp.zeros_like(m))
        n = x.shape[-1]
        lift = 2.0 ** math.ceil(math.log2(n)) if n > 1 else 1.0  # sums of n terms: scaled by 1/lift, no overflow
        zero = xp.zeros_like(x)
        if self.kind == "logsumexp":  # log(sum e) = log1p(the sum beyond one maximal term): exact near 1
            beyond = xp.sum(xp.astype(tie, x.dtype), axis=-1, keepdims=True) - 1.0
            beyond = beyond + xp.sum(xp.where(tie, zero, e), axis=-1, keepdims=True)
            # beyond ~ 0: log1p(beyond)/k = sum e^{u + ln(1/k)}, representable where e^u is not (a tiny k)
            ln_k_lift = log_word(self.k, (lift, 0.0))
            far_hi, far_lo = constant_minus(xp, (-ln_k_lift[0], -ln_k_lift[1]), -u[0], -u[1])
            masked = tie | (xp.isinf(x) & (x < 0))
            far_terms = xp.minimum(exp_word(xp, far_hi, far_lo), zero + largest(xp, x.dtype) / lift)
            far = xp.sum(xp.where(masked, zero, far_terms), axis=-1, keepdims=True)
            small = beyond < 2.0**-40
            correction = xp.where(small, Scale.of(lift).apply(xp, far),
                                  self.k.divide(xp, xp.log1p(xp.where(small, xp.zeros_like(beyond), beyond))))
            log_n = math.log(n) if n > 1 else 0.0
            smooth = saturating_add(xp, ms, correction, log_n / self.k.value())
        else:  # m + sum e s / sum e = 2 (m/2 - sum |h| e^-|u| / sum e), each term exact to rounding
            near = u[0] >= -EXP_FAR  # |h| e^u directly (u may underflow where k is tiny, h cannot)
            far_terms = u_exp_over_k(xp, -xp.where(near, zero - EXP_FAR, u[0]), -u[1], self.k.times(2.0 * lift))
            terms = xp.where(near, xp.abs(h[0] + h[1]) * (e * (1.0 / lift)), far_terms)
            terms = xp.where(xp.isinf(x) & (x < 0), zero, terms)
            beta = Scale.of(lift).apply(xp, xp.sum(terms, axis=-1, keepdims=True) / xp.sum(e, axis=-1,
                                                                                              keepdims=True))
            smooth = 2.0 * (0.5 * ms - beta)
        out = xp.squeeze(xp.where(finite, smooth, m), axis=-1)
        return fit(xp, out, xp.squeeze(finite, axis=-1), self.out_max)

    def _gradient(self, xp: Any, x: Array) -> Array:
        """The gradient of a reduction, per element of the row; of the soft argmax without its factor k."""
        _, _, _, (u, _), _, w, _, onehot = _softmax_parts(xp, x, self.k)
        if self.kind == "logsumexp":
            return w
        if self.kind == "boltzmann":  # w_j (1 + k (x_j - B)) = w_j (1 + u_j - sum w u)
            return w * (1.0 + (u - xp.sum(w * u, axis=-1, keepdims=True)))
        pos = _positions(xp, x, x.shape[-1])  # argmax: k w_j (j - A), k applied by the caller
        return w * _centred(xp, xp.zeros_like(x) + pos, w, onehot)

    def jvp(self, xp: Any, x: Array, t: Array) -> Array:
        if self.kind == "softmax":
            return self._softmax_product(xp, x, t, linear=True)
        gradient = self._gradient(xp, x)
        if self.kind == "argmax":
            gradient = self.k.apply(xp, gradient, _JACOBIAN_CAP * largest(xp, x.dtype))
        return xp.sum(gradient * t, axis=-1)

    def vjp(self, xp: Any, x: Array, g: Array) -> Array:
        if self.kind == "softmax":  # the Jacobian is symmetric
            return self._softmax_product(xp, x, g, linear=False)
        y = g[..., None] * self._gradient(xp, x)
        if self.kind == "argmax":  # k after the product: k w_j (j - A) may overflow where the product does not
            return self.k.apply(xp, y, min(largest(xp, x.dtype), self.out_max))
        return _saturated(xp, y, self.out_max)

    def _softmax_product(self, xp: Any, x: Array, t: Array, *, linear: bool) -> Array:
        """``k (diag w - w w^T) t``, centred on the argmax on both sides (``J = P^T J P`` with ``P t = t -
        t_M``), so this product and its transpose are free of cancellation."""
        parts = _softmax_parts(xp, x, self.k)
        w, onehot = parts[5], parts[7]
        if linear:
            coefficient = self.k.apply(xp, w, _JACOBIAN_CAP * largest(xp, x.dtype))
            return _centred_product(xp, coefficient * _centred(xp, t, w, onehot), onehot)
        z = _centred_product(xp, w * _centred(xp, t, w, onehot), onehot)
        return self.k.apply(xp, z, min(largest(xp, x.dtype), self.out_max))


@dataclass(frozen=True)
class OnehotOp:
    """``softmax(-k (index - j)^2)`` over the classes ``j = 0..n-1``, as a new last axis."""

    n: int
    k: Scale
    out_max: float = math.inf

    def _parts(self, xp: Any, index: Array) -> tuple[Array, Array, Array]:
        """(weights, ``D = J - j`` with J the nearest class, one-hot of J).

        The logits relative to J's are ``-k ((index - j)^2 - (index - J)^2) = -2 D k (D/2 + (index - J))``: no
        square of a large index (``k (D/2 + index - J)`` is clipped at 800, where the weight is 0), and exact
        near a half-integer.
        """
        n = self.n
        top = largest(xp, index.dtype)
        idx = xp.where(xp.isinf(index), xp.sign(index) * top, index)  # +-inf: far beyond either end
        nearest = xp.clip(xp.round(idx), 0.0, float(n - 1))
        d = nearest[..., None] - _positions(xp, index, n)
        # k D (D + 2 delta) = 2 D k (D/2 + delta): k (D/2 + delta) clipped at 800 cannot overflow, and D is small
        e = xp.exp(-2.0 * d * self.k.apply(xp, 0.5 * d + (idx - nearest)[..., None], EXP_CAP))
        w = e / xp.sum(e, axis=-1, keepdims=True)
        return w, d, xp.astype(d == 0, index.dtype)

    def value(self, xp: Any, index: Array) -> Array:
        return self._parts(xp, index)[0]

    def _column(self, xp: Any, index: Array) -> tuple[Array, Array]:
        """d w_j / d index without its factor -2k: w_j (D_j - sum w D); and the one-hot of the nearest class.
        The VJP applies the factor after the product with the cotangent, where the result may be finite
        although 2k w_j D_j is not."""
        w, d, onehot = self._parts(xp, index)
        return w * (d - xp.sum(w * d, axis=-1, keepdims=True)), onehot

    def jvp(self, xp: Any, index: Array, t: Array) -> Array:
        column, onehot = self._column(xp, index)
        column = self.k.times(2.0).apply(xp, column, _JACOBIAN_CAP * largest(xp, index.dtype))
        return -_centred_product(xp, column * t[..., None], onehot)  # P^T; its transpose centres the cotangent

    def vjp(self, xp: Any, index: Array, g: Array) -> Array:
        column, onehot = self._column(xp, index)
        dot = xp.sum(column * (g - xp.sum(onehot * g, axis=-1, keepdims=True)), axis=-1)
        return -self.k.times(2.0).apply(xp, dot, min(largest(xp, index.dtype), self.out_max))


def _axis(prepared: Prepared, axis: Any, allow_none: bool = True) -> int | None:
    if axis is None and not allow_none:
        msg = "`axis` must be an integer; got None."
        raise TypeError(msg)
    ax = check_optional_int("axis", axis)
    ndim = prepared.array.ndim
    if ax is None:
        return None
    if not -max(ndim, 1) <= ax < max(ndim, 1) or ndim == 0:
        msg = f"`axis` must be in [-{ndim}, {ndim}) for an input of {ndim} dimensions; got {axis!r}."
        raise ValueError(msg)
    return ax % ndim


def _check_nonempty(prepared: Prepared, arr: Array, ax: int) -> None:
    if arr.shape[ax] == 0:
        msg = f"`x` must have at least one element along `axis`; got shape {tuple(prepared.array.shape)}."
        raise ValueError(msg)


def _prepared_axis(x: Any, axis: Any) -> tuple[Prepared, Array, int]:
    """The prepared input, flattened when ``axis`` is None, and the (nonnegative) axis to reduce."""
    prepared = prepare(x)
    ax = _axis(prepared, axis)
    arr = prepared.array
    if ax is None:
        arr, ax = prepared.xp.reshape(arr, (-1,)), 0
    _check_nonempty(prepared, arr, ax)
    return prepared, arr, ax


def _hard_weights(xp: Any, x: Array) -> Array:
    """The k = inf limit of softmax along the last axis: the maximal entries share the mass."""
    top = xp.astype(x == xp.max(x, axis=-1, keepdims=True), x.dtype)
    return top / xp.sum(top, axis=-1, keepdims=True)


def _rows(prepared: Prepared, kind: str, arr: Array, kf: float) -> Array:
    """The row op ``kind`` along the last axis of ``arr``, or its hard limit for ``k = inf``."""
    xp = prepared.xp
    if math.isinf(kf):
        if kind == "softmax":
            return _hard_weights(xp, arr)
        if kind == "argmax":
            return xp.sum(_hard_weights(xp, arr) * _positions(xp, arr, arr.shape[-1]), axis=-1)
        return xp.max(arr, axis=-1)
    op = AxisOp(kind, Scale.of(kf), output_limit(prepared))
    return rows_apply(op, prepared.backend, xp, arr)


def _reduce(x: Any, k: Any, axis: Any, keepdims: Any, method: str, is_min: bool) -> Array:
    method = check_choice("method", method, AXIS_METHODS)
    kf = sharpness(k)
    keep = check_bool("keepdims", keepdims)
    prepared, arr, ax = _prepared_axis(x, axis)
    xp = prepared.xp
    rows = xp.moveaxis(-arr if is_min else arr, ax, -1)
    out = _rows(prepared, method, rows, kf)
    if is_min:
        out = -out
    if keep:
        out = xp.reshape(out, (1,) * prepared.array.ndim) if axis is None else xp.expand_dims(out, axis=ax)
    return prepared.finish(out)


def smooth_max(x: Array, /, k: float, *, axis: int | None = -1, keepdims: bool = False,
               method: str = "logsumexp") -> Array:
    """Smooth maximum of ``x`` along ``axis`` (all elements when None) with sharpness ``k``, n elements.

    Definition, by ``method``: "logsumexp" ``(1/k) log sum_i e^{k x_i}`` (shifted by the max, so no overflow
    at any k), from above, error ``log(n)/k`` (all equal); "boltzmann" ``sum_i x_i e^{k x_i} / sum_i e^{k
    x_i}``, from below, error ``W((n-1)/e)/k`` (Lambert W; one element above n - 1 equal ones).

    ``-inf`` entries are masked out (weight 0); a ``+inf`` entry gives ``+inf``, all ``-inf`` gives ``-inf``.

    Limit: ``max(x, axis)`` as k -> inf. Guarantee: ``bounds("smooth_max:<method>", k, n=n)``; the log-sum-exp
    gradient is ``softmax(x, k=k)``, (k/2)-Lipschitz.

    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    >>> smooth_max(x, k=10.0).round(4)
    array([3.    , 0.1099])
    >>> smooth_max(x, k=2.0, method="boltzmann").round(4)
    array([2.8509, 0.    ])
    """
    if _array_k.is_array(k):
        return _array_k.reduction(smooth_max, x, k, axis, keepdims, True, method=method)
    return _reduce(x, k, axis, keepdims, method, False)


def smooth_min(x: Array, /, k: float, *, axis: int | None = -1, keepdims: bool = False,
               method: str = "logsumexp") -> Array:
    """Smooth minimum of ``x`` along ``axis``: ``-smooth_max(-x)``, same bounds with the side flipped.

    Limit: ``min(x, axis)`` as k -> inf. Guarantee: ``bounds("smooth_min:<method>", k, n=n)``.

    >>> import numpy as np
    >>> smooth_min(np.array([1.0, 1.0, 3.0]), k=10.0).round(4)
    np.float64(0.9307)
    """
    if _array_k.is_array(k):
        return _array_k.reduction(smooth_min, x, k, axis, keepdims, True, method=method)
    return _reduce(x, k, axis, keepdims, method, True)


def softmax(x: Array, /, k: float, *, axis: int = -1) -> Array:
    """Softmax with sharpness ``k`` along ``axis``: ``e^{k x_i} / sum_j e^{k x_j}``, the one-hot relaxation.

    It is the gradient of ``smooth_max(x, k=k)`` (log-sum-exp) and lies in the simplex. Limit: the one-hot
    vector of the argmax as k -> inf (ties share the mass equally; ``k = inf`` returns that). Guarantee: if
    the largest element exceeds every other by at least ``d``, the L1 distance to the one-hot vector is at
    most ``2 (n-1) e^{-k d}``; with no margin there is no uniform bound. Jacobian norm <= k/2.

    >>> import numpy as np
    >>> softmax(np.array([1.0, 2.0, 3.0]), k=1.0).round(4)
    array([0.09  , 0.2447, 0.6652])
    """
    if _array_k.is_array(k):
        return _array_k.elementwise(softmax, x, k, False, axis=axis)
    kf = sharpness(k)
    prepared = prepare(x)
    ax = _axis(prepared, axis, allow_none=False)
    assert ax is not None
    _check_nonempty(prepared, prepared.array, ax)
    xp = prepared.xp
    out = _rows(prepared, "softmax", xp.moveaxis(prepared.array, ax, -1), kf)
    return prepared.finish(xp.moveaxis(out, -1, ax))


def soft_argmax(x: Array, /, k: float, *, axis: int = -1, keepdims: bool = False) -> Array:
    """Soft argmax: the expected index ``sum_i i softmax(x, k=k)_i`` along ``axis`` (a float in [0, n-1]).

    Limit: the index of the maximum as k -> inf when it is unique (the mean of the tied indices otherwise).
    Guarantee: with a margin ``d`` between the largest element and the others, the error is at most
    ``(n-1)^2 e^{-k d}``; there is no uniform bound without a margin.

    >>> import numpy as np
    >>> soft_argmax(np.array([0.0, 5.0, 1.0]), k=10.0).round(4)
    np.float64(1.0)
    >>> soft_argmax(np.array([0.0, 5.0, 5.0]), k=10.0).round(4)
    np.float64(1.5)
    """
    if _array_k.is_array(k):
        keep = check_bool("keepdims", keepdims)
        return _array_k.reduction(soft_argmax, x, k, axis, keep, False)
    kf = sharpness(k)
    keep = check_bool("keepdims", keepdims)
    prepared = prepare(x)
    ax = _axis(prepared, axis, allow_none=False)
    assert ax is not None
    _check_nonempty(prepared, prepared.array, ax)
    xp = prepared.xp
    out = _rows(prepared, "argmax", xp.moveaxis(prepared.array, ax, -1), kf)
    return prepared.finish(xp.expand_dims(out, axis=ax) if keep else out)


def soft_onehot(index: Array, /, *, n: int, k: float) -> Array:
    """Relaxed one-hot encoding of a real ``index`` into ``n`` classes (a new last axis of length n).

    Definition: ``softmax(-k (index - j)^2)`` over ``j = 0, ..., n-1``. Limit: ``one_hot(round(index), n)`` as
    k -> inf (half-integers split 1/2 - 1/2; indices outside [0, n-1] go to the nearest end). Guarantee: at
    distance ``d`` from the nearest half-integer the L1 distance to the one-hot vector is at most
    ``2 (n-1) e^{-2 k d}``.

    >>> import numpy as np
    >>> soft_onehot(np.array([0.0, 1.2]), n=3, k=10.0).round(4)
    array([[1.    , 0.    , 0.    ],
           [0.    , 0.9975, 0.0025]])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        msg = f"`n` must be an integer >= 1; got {n!r}."
        raise TypeError(msg)
    if n < 1:
        msg = f"`n` must be an integer >= 1; got {n!r}."
        raise ValueError(msg)
    if _array_k.is_array(k):
        # softmax over j of -k (index - j)^2, shifted by the nearest class r (softmax does not see a shift):
        # -k ((index - j)^2 - (index - r)^2) = -k (r - j)(2 index - j - r), exact in (r - j), no overflow of a
        # square, and 0 at j = r; an infinite index stands in as a large finite one of its sign
        prepared = prepare(index, "index")
        xp, arr = prepared.xp, prepared.array
        k_arr = _array_k.k_like(prepared, k)
        top = float(xp.finfo(arr.dtype).max)
        finite = xp.where(xp.isinf(arr), xp.sign(arr) * (0.25 * top), arr)
        positions = _positions(xp, arr, int(n))
        nearest = xp.clip(xp.round(finite), 0.0, float(n - 1))[..., None]
        with _array_k.quiet(arr):
            logits = -(k_arr[..., None] * (nearest - positions)) * (2.0 * finite[..., None] - positions - nearest)
        return prepared.finish(softmax(logits, 1.0))
    kf = sharpness(k)
    prepared = prepare(index, "index")
    xp, arr = prepared.xp, prepared.array
    if math.isinf(kf):  # the nearest class; a half-integer splits the mass between its two neighbours
        dist = xp.clip(arr, -1.0, float(n))[..., None] - _positions(xp, arr, int(n))
        return prepared.finish(_hard_weights(xp, -xp.abs(dist)))
    return prepared.finish(rows_apply(OnehotOp(int(n), Scale.of(kf), output_limit(prepared)), prepared.backend, xp, arr))
