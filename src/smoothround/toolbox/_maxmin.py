"""Smooth max and min (over an axis and pairwise), softmax, soft argmax and the soft one-hot, written once in
``xp``.

The reductions over an axis are plain array-API expressions shifted by the maximum, which PyTorch and JAX
differentiate stably (the gradient through the shift cancels exactly). The pairwise forms are elementwise ops
with closed-form partials in ``a`` and ``b`` (through :func:`smoothround._backends.apply`), because their
stable forms contain ``|a - b|`` and ``max(a, b)``, whose autodiff at ``a = b`` would be wrong.
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
from smoothround.toolbox._elementwise import sharpness
from smoothround.toolbox._special import capped, erfc, sigmoid, sigmoid_prime, softplus_excess

Array = Any

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
PAIRWISE_METHODS = ("logsumexp", "boltzmann", "acon", "erf", "sqrt", "power")
AXIS_METHODS = ("logsumexp", "boltzmann")


# ---------------------------------------------------------------------------------------------- pairwise


# |k (a - b)| beyond which each method's correction to max(a, b) and its partials equal their limit exactly in
# every float dtype (e^-800 and erfc(30) underflow to 0); the sqrt tail decays like 1/u^2 and is capped only so
# that nothing overflows.
_U_CAP = {"logsumexp": 800.0, "boltzmann": 800.0, "acon": 800.0, "erf": 30.0, "sqrt": math.inf}


def _difference(xp: Any, a: Array, b: Array, method: str, k: float) -> Array:
    """``a - b``, capped where the correction has reached its limit, and 0 where ``a == b``.

    A tie of two equal infinities is a tie (not inf - inf = NaN); an infinite operand gives the hard limit
    (capping turns inf * 0 into (cap) * 0 = 0), and ``k (a - b)`` never overflows.
    """
    if isinstance(a, np.ndarray):  # NumPy only: torch.compile cannot trace np.errstate
        with np.errstate(over="ignore"):  # |a - b| > the largest number: inf, then capped
            d = a - b
    else:
        d = a - b
    return capped(xp, xp.where(a == b, xp.zeros_like(d), d), _U_CAP[method] / k)


def _max_value(method: str, xp: Any, a: Array, b: Array, k: float) -> Array:
    """``max(a, b)`` plus a correction that depends on ``|a - b|`` only, so nothing cancels.

    The textbook forms ``(a + b + d erf(kd)) / 2`` and ``(a + b + sqrt(d^2 + 1/k^2)) / 2`` add ``|d|/2`` to
    ``(a + b)/2`` and lose every digit of the result below ``ulp(|d|)`` (``max(-1e16, 1) = 0``); here
    ``max(a, b) - |d| erfc(k|d|) / 2`` and ``max(a, b) + mu^2 / (2 (hypot(d, mu) + |d|))`` (``mu = 1/k``)
    are exact to rounding.
    """
    d = _difference(xp, a, b, method, k)
    m = xp.maximum(a, b)
    if method == "logsumexp":
        return m + softplus_excess(xp, k * d) / k
    ad = xp.abs(d)
    if method in ("boltzmann", "acon"):
        return m - ad * sigmoid(xp, -k * ad)
    if method == "erf":
        return m - 0.5 * ad * erfc(xp, k * ad)
    if method == "sqrt":
        mu = 1.0 / k
        return m + (0.5 * mu) * (mu / (xp.hypot(ad, xp.full_like(ad, mu)) + ad))
    raise AssertionError(method)


def _max_partial_a(method: str, xp: Any, u: Array) -> Array:
    """``g'(u)``, ``u = k (a - b)``: d max_k / da = g'(u) and d max_k / db = 1 - g'(u) = g'(-u).

    Written without cancellation on both sides of 0, so ``g'(-u)`` is accurate where ``g'(u)`` is near 1.
    """
    if method == "logsumexp":
        return sigmoid(xp, u)
    if method in ("boltzmann", "acon"):
        return sigmoid(xp, u) + u * sigmoid_prime(xp, u)
    if method == "erf":
        return 0.5 * erfc(xp, -u) + (0.5 * _TWO_OVER_SQRT_PI) * (u * xp.exp(-u * u))
    if method == "sqrt":
        s = xp.abs(u)
        h = xp.hypot(s, xp.ones_like(s))
        small = (0.5 / h) / (h + s)  # (1 - |u| / hypot(u, 1)) / 2
        return xp.where(u >= 0, 1.0 - small, small)
    raise AssertionError(method)


def _power(xp: Any, a: Array, b: Array, p: float, is_min: bool) -> tuple[Array, Array, Array]:
    """The power mean and its two partials, for a, b >= 0, with no overflow and no 0/0."""
    hi, lo = xp.maximum(a, b), xp.minimum(a, b)
    zero = xp.zeros_like(hi)
    if not is_min:
        r = lo / xp.where(hi > 0, hi, zero + 1.0)
        f = hi * xp.exp(xp.log1p(r**p) / p)
        f_safe = xp.where(f > 0, f, zero + 1.0)
        tie = zero + 2.0 ** (-1.0 / p)
        ra, rb = xp.where(f > 0, a / f_safe, tie), xp.where(f > 0, b / f_safe, tie)
        return f, ra ** (p - 1.0), rb ** (p - 1.0)
    r = lo / xp.where(hi > 0, hi, zero + 1.0)
    f = lo * xp.exp(-xp.log1p(r**p) / p)
    one, tie = zero + 1.0, zero + 2.0 ** (-1.0 / p)
    ra = xp.where(a > 0, f / xp.where(a > 0, a, one), xp.where(b > 0, one, tie))
    rb = xp.where(b > 0, f / xp.where(b > 0, b, one), xp.where(a > 0, one, tie))
    return f, ra ** (p + 1.0), rb ** (p + 1.0)


@dataclass(unsafe_hash=True)
class PairwiseOp:
    """Smooth max (``is_min`` False) or min of ``x`` and the parameter ``b``."""

    method: str
    k: float
    is_min: bool
    param_names: tuple[str, ...] = ("b",)
    straight_through: bool = False

    def value(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        b = params["b"]
        if self.method == "power":
            return _power(xp, x, b, self.k, self.is_min)[0]
        if self.is_min:
            return -_max_value(self.method, xp, -x, -b, self.k)
        return _max_value(self.method, xp, x, b, self.k)

    def hard(self, xp: Any, x: Array, params: dict[str, Array]) -> Array:
        return xp.minimum(x, params["b"]) if self.is_min else xp.maximum(x, params["b"])

    def partials(self, xp: Any, x: Array, params: dict[str, Array], wrt: tuple[str, ...]) -> dict[str, Array]:
        b = params["b"]
        if self.method == "power":
            _, da, db = _power(xp, x, b, self.k, self.is_min)
        else:
            d = _difference(xp, -x, -b, self.method, self.k) if self.is_min else _difference(
                xp, x, b, self.method, self.k
            )
            u = self.k * d
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
    op = PairwiseOp(method, kf, is_min)
    if math.isinf(kf):
        return prepared.finish(op.hard(prepared.xp, prepared.array, {"b": b_arr}))
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


def _shifted(xp: Any, x: Array, k: float, ax: int) -> tuple[Array, Array, Array]:
    """The max ``m`` along ``ax`` (kept), whether it is finite, and ``exp(k (x - m))``.

    -inf entries get weight 0 (masked out). Where the max is infinite the exponent is the hard limit instead:
    0 for the entries equal to it (+inf, or all -inf), -inf for the others, so nothing computes inf - inf.
    A NaN max (a NaN entry) makes the whole row NaN.
    """
    m = xp.max(x, axis=ax, keepdims=True)
    ok = xp.isfinite(m)
    shifted = x - xp.where(ok, m, xp.zeros_like(m))
    limit = xp.where(x == m, xp.zeros_like(x), xp.full_like(x, -math.inf))
    limit = xp.where(xp.isnan(m), m, limit)  # a NaN makes its row NaN, quietly
    return m, ok, xp.exp(k * xp.where(ok, shifted, limit))


def _weights(xp: Any, x: Array, k: float, ax: int) -> Array:
    if math.isinf(k):
        top = xp.astype(x == xp.max(x, axis=ax, keepdims=True), x.dtype)
        return top / xp.sum(top, axis=ax, keepdims=True)
    _, _, e = _shifted(xp, x, k, ax)
    return e / xp.sum(e, axis=ax, keepdims=True)


def _reduce(x: Any, k: Any, axis: Any, keepdims: Any, method: str, is_min: bool) -> Array:
    method = check_choice("method", method, AXIS_METHODS)
    kf = sharpness(k)
    keep = check_bool("keepdims", keepdims)
    prepared, arr, ax = _prepared_axis(x, axis)
    xp = prepared.xp
    if is_min:
        arr = -arr
    if math.isinf(kf):
        out = xp.max(arr, axis=ax, keepdims=True)
    elif method == "logsumexp":
        m, ok, e = _shifted(xp, arr, kf, ax)
        out = xp.where(ok, xp.where(ok, m, xp.zeros_like(m)) + xp.log(xp.sum(e, axis=ax, keepdims=True)) / kf, m)
    else:
        w = _weights(xp, arr, kf, ax)
        # an entry of weight 0 (-inf, or underflowed) contributes 0, not 0 * -inf = NaN (value or gradient)
        out = xp.sum(w * xp.where(w > 0, arr, xp.zeros_like(arr)), axis=ax, keepdims=True)
    if is_min:
        out = -out
    if not keep:
        out = xp.squeeze(out, axis=ax)
    elif axis is None:
        out = xp.reshape(out, (1,) * prepared.array.ndim)
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
    return prepared.finish(_weights(prepared.xp, prepared.array, kf, ax))


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
    xp, arr = prepared.xp, prepared.array
    _check_nonempty(prepared, arr, ax)
    w = _weights(xp, arr, kf, ax)
    shape = [1] * arr.ndim
    shape[ax] = arr.shape[ax]
    index = xp.reshape(xp.arange(arr.shape[ax], dtype=arr.dtype), tuple(shape))
    if prepared.backend == "torch":
        index = index.to(arr.device)
    return prepared.finish(xp.sum(w * index, axis=ax, keepdims=keep))


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
    classes = xp.arange(int(n), dtype=arr.dtype)
    if prepared.backend == "torch":
        classes = classes.to(arr.device)
    # More than c = max(1, 400/k) beyond an end, the nearest class has weight 1 and the others e^{-k(2c+1)} <=
    # e^{-800} = 0 in every dtype: clipping there changes nothing, and keeps (index - j)^2 from overflowing.
    c = max(1.0, 400.0 / kf)
    dist = xp.clip(arr, -c, (n - 1) + c)[..., None] - classes
    if math.isinf(kf):
        return prepared.finish(_weights(xp, -xp.abs(dist), math.inf, arr.ndim))
    scaled = math.sqrt(kf) * dist
    return prepared.finish(_weights(xp, -(scaled * scaled), 1.0, arr.ndim))
