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
from smoothround.toolbox._elementwise import ERF_CAP, EXP_CAP, fit, output_limit, sharpness
from smoothround.toolbox._numerics import Scale, largest, saturating_add, saturating_mul, saturating_sub
from smoothround.toolbox._rows import rows_apply
from smoothround.toolbox._special import erf, erfc, sigmoid, sigmoid_prime

Array = Any

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_LOG2 = math.log(2.0)
PAIRWISE_METHODS = ("logsumexp", "boltzmann", "acon", "erf", "sqrt", "power")
AXIS_METHODS = ("logsumexp", "boltzmann")


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
    ``1 / (2k (hypot(u, 1) + u))``), saturated at the largest number.
    """
    ad = xp.abs(saturating_sub(xp, a, b))
    m = xp.maximum(a, b)
    u = k.apply(xp, ad, _cap(method, xp, a.dtype))
    if method == "logsumexp":
        return saturating_add(xp, m, k.divide(xp, xp.log1p(xp.exp(-u))), _LOG2 / k.value())
    if method == "sqrt":
        correction = k.divide(xp, 0.5 / (xp.hypot(u, xp.ones_like(u)) + u))
        return saturating_add(xp, m, correction, 0.5 / k.value())
    mean = 0.5 * a + 0.5 * b
    if method in ("boltzmann", "acon"):
        near, far = mean + (0.5 * ad) * xp.tanh(0.5 * u), m - ad * sigmoid(xp, -u)
    else:
        near, far = mean + (0.5 * ad) * erf(xp, u), m - (0.5 * ad) * erfc(xp, u)
    return xp.where(u > 1.0, far, near)


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
    r = xp.where(positive, lo, one) / xp.where(positive, hi, one)
    # log r: log1p((lo - hi)/hi) near 1, where log(r) would lose the digits that p log r needs
    log_r = xp.where(r > 0.5, xp.log1p(xp.where(positive, lo - hi, zero) / xp.where(positive, hi, one)),
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
        return xp.clip(x, -top, top), xp.clip(b, -top, top), finite

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

    Returns ``m`` (the max, kept), ``finite`` (whether it is finite), ``s``, ``u = k s`` (clipped at -800, 0 in
    rows with an infinite max), ``e = e^u`` (0 for -inf entries), the weights ``w = e / sum(e)``, ``tie`` (the
    entries equal to the max) and ``onehot`` (the first of them). A row whose max is +inf (or all -inf) gets the
    hard limit: the entries equal to its max share the weight equally. A NaN makes its row NaN. No infinity is
    created from a finite row.
    """
    m = xp.max(x, axis=-1, keepdims=True)
    finite = xp.isfinite(m)
    zero = xp.zeros_like(x)
    s = saturating_sub(xp, xp.where(finite, x, zero), xp.where(finite, m, xp.zeros_like(m)))
    u = k.apply(xp, s, EXP_CAP)
    minus_inf = xp.isinf(x) & (x < 0)
    e = xp.where(minus_inf, zero, xp.exp(u))
    limit = xp.where(xp.isnan(m), m + zero, xp.astype(x == m, x.dtype))
    e = xp.where(finite, e, limit)
    u = xp.where(finite, u, zero)
    tie = (u == 0) & ~minus_inf
    w = e / xp.sum(e, axis=-1, keepdims=True)
    first = xp.argmax(x, axis=-1, keepdims=True)
    onehot = xp.astype(_positions(xp, x, x.shape[-1]) == xp.astype(first, x.dtype), x.dtype)
    return m, finite, s, u, e, w, tie, onehot


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
        m, finite, s, _, e, w, tie, onehot = _softmax_parts(xp, x, self.k)
        if self.kind == "softmax":
            return w
        if self.kind == "argmax":
            pos = _positions(xp, x, x.shape[-1])
            base = xp.sum(onehot * pos, axis=-1)
            return base + xp.sum(w * (pos - base[..., None]), axis=-1)
        ms = xp.where(finite, m, xp.zeros_like(m))
        if self.kind == "logsumexp":  # log(sum e) = log1p(the sum beyond one maximal term): exact near 1
            beyond = xp.sum(xp.astype(tie, x.dtype), axis=-1, keepdims=True) - 1.0
            beyond = beyond + xp.sum(xp.where(tie, xp.zeros_like(e), e), axis=-1, keepdims=True)
            log_n = math.log(x.shape[-1]) if x.shape[-1] > 1 else 0.0
            smooth = saturating_add(xp, ms, self.k.divide(xp, xp.log1p(beyond)), log_n / self.k.value())
        else:
            smooth = ms + xp.sum(w * s, axis=-1, keepdims=True)
        out = xp.squeeze(xp.where(finite, smooth, m), axis=-1)
        return fit(xp, out, xp.squeeze(finite, axis=-1), self.out_max)

    def _gradient(self, xp: Any, x: Array) -> Array:
        """The gradient of a reduction, per element of the row."""
        _, _, _, u, _, w, _, onehot = _softmax_parts(xp, x, self.k)
        if self.kind == "logsumexp":
            return w
        if self.kind == "boltzmann":  # w_j (1 + k (x_j - B)) = w_j (1 + u_j - sum w u)
            return w * (1.0 + (u - xp.sum(w * u, axis=-1, keepdims=True)))
        pos = _positions(xp, x, x.shape[-1])  # argmax: k w_j (j - A)
        return self.k.apply(xp, w * _centred(xp, xp.zeros_like(x) + pos, w, onehot))

    def jvp(self, xp: Any, x: Array, t: Array) -> Array:
        if self.kind == "softmax":
            return self._softmax_product(xp, x, t)
        return xp.sum(self._gradient(xp, x) * t, axis=-1)

    def vjp(self, xp: Any, x: Array, g: Array) -> Array:
        if self.kind == "softmax":  # the Jacobian is symmetric
            return self._softmax_product(xp, x, g)
        return g[..., None] * self._gradient(xp, x)

    def _softmax_product(self, xp: Any, x: Array, t: Array) -> Array:
        """``k (diag w - w w^T) t``, centred on the argmax on both sides (``J = P^T J P`` with ``P t = t -
        t_M``), so this product and its transpose are free of cancellation."""
        _, _, _, _, _, w, _, onehot = _softmax_parts(xp, x, self.k)
        y = self.k.apply(xp, w) * _centred(xp, t, w, onehot)
        return y - onehot * xp.sum(y, axis=-1, keepdims=True)


@dataclass(frozen=True)
class OnehotOp:
    """``softmax(-k (index - j)^2)`` over the classes ``j = 0..n-1``, as a new last axis."""

    n: int
    k: Scale

    def _parts(self, xp: Any, index: Array) -> tuple[Array, Array, Array]:
        """(weights, ``D = J - j`` with J the nearest class, one-hot of J).

        The logits relative to J's are ``-k ((index - j)^2 - (index - J)^2) = -k D (D + 2 (index - J))``: no
        square of a large index, and exact near a half-integer. More than ``c = max(1, 400/k)`` beyond an end
        the weights are one-hot to the last bit, so the index is clipped there.
        """
        n = self.n
        c = max(1.0, min(self.k.bound(400.0), largest(xp, index.dtype) / (8.0 * n)))
        idx = xp.clip(index, -c, (n - 1) + c)
        nearest = xp.clip(xp.round(idx), 0.0, float(n - 1))
        delta = (idx - nearest)[..., None]
        d = nearest[..., None] - _positions(xp, index, n)
        e = xp.exp(-self.k.apply(xp, d * (d + 2.0 * delta), EXP_CAP))
        w = e / xp.sum(e, axis=-1, keepdims=True)
        return w, d, xp.astype(d == 0, index.dtype)

    def value(self, xp: Any, index: Array) -> Array:
        return self._parts(xp, index)[0]

    def _column(self, xp: Any, index: Array) -> tuple[Array, Array]:
        """d w_j / d index = -2k w_j (D_j - sum w D), and the one-hot of the nearest class."""
        w, d, onehot = self._parts(xp, index)
        return -self.k.times(2.0).apply(xp, w * (d - xp.sum(w * d, axis=-1, keepdims=True))), onehot

    def jvp(self, xp: Any, index: Array, t: Array) -> Array:
        column, onehot = self._column(xp, index)
        y = column * t[..., None]
        return y - onehot * xp.sum(y, axis=-1, keepdims=True)  # P^T: its transpose centres the cotangent

    def vjp(self, xp: Any, index: Array, g: Array) -> Array:
        column, onehot = self._column(xp, index)
        return xp.sum(column * (g - xp.sum(onehot * g, axis=-1, keepdims=True)), axis=-1)


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
    return _reduce(x, k, axis, keepdims, method, False)


def smooth_min(x: Array, /, k: float, *, axis: int | None = -1, keepdims: bool = False,
               method: str = "logsumexp") -> Array:
    """Smooth minimum of ``x`` along ``axis``: ``-smooth_max(-x)``, same bounds with the side flipped.

    Limit: ``min(x, axis)`` as k -> inf. Guarantee: ``bounds("smooth_min:<method>", k, n=n)``.

    >>> import numpy as np
    >>> smooth_min(np.array([1.0, 1.0, 3.0]), k=10.0).round(4)
    np.float64(0.9307)
    """
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
    kf = sharpness(k)
    prepared = prepare(index, "index")
    xp, arr = prepared.xp, prepared.array
    if math.isinf(kf):  # the nearest class; a half-integer splits the mass between its two neighbours
        dist = xp.clip(arr, -1.0, float(n))[..., None] - _positions(xp, arr, int(n))
        return prepared.finish(_hard_weights(xp, -xp.abs(dist)))
    return prepared.finish(rows_apply(OnehotOp(int(n), Scale.of(kf)), prepared.backend, xp, arr))
