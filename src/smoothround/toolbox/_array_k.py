"""An array sharpness ``k`` (a learnable tensor, a JAX array under ``grad``) for the toolbox.

The toolbox's formulas take ``k`` as an exact Python number: its exactness at extreme ``k`` (``k x`` formed as a
double word, ``1/k`` beyond float range) needs ``k`` outside the array. Every function that accepts an array
``k`` is *scale-covariant* in it, so none of that is repeated here:

* values in the units of ``x`` (``smooth_abs``, ``smooth_relu``, ``smooth_clamp``, ``smooth_maximum``/``minimum``,
  ``smooth_max``/``min``): ``f_k(x) = f_1(k x) / k``;
* dimensionless values (``smooth_sign``, ``smooth_step``, ``softmax``, ``soft_argmax``): ``f_k(x) = f_1(k x)``.

The function at ``k = 1`` is the Python-number implementation itself (one formula, one place); the product
``k x`` and the quotient by ``k`` are ordinary array operations, so autograd and JAX differentiate through them to
``x`` and to ``k`` alike. ``k`` broadcasts against ``x`` (for a reduction: against ``x`` before reducing, constant
along the reduced axis). Its readable values must be positive and finite; a traced ``k`` is not checked.

Accuracy: ``k x`` is rounded once (a relative error of one unit, which the k = 1 function carries through with
its own condition number) and saturates at the largest number of the compute dtype: where ``|k x|`` would
overflow, the value is that of the largest number and its gradient 0. A Python-number ``k`` keeps the
full-range guarantees that the conformance suite measures. ``smooth_clamp`` with an array ``k`` is its definition
``lo + softplus_k(x - lo) - softplus_k(x - hi)`` (its bounds cannot be scaled by an array ``k``): exact to
``eps (|x| + ln(2)/k)`` absolutely, which at small ``k`` is looser than the Python-number path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from smoothround._backends import Prepared, backend_of, prepare
from smoothround._validation import _concrete_values

Array = Any


def is_array(k: Any) -> bool:
    """Whether ``k`` is an array or tensor (0-d included) rather than a Python or NumPy scalar number."""
    return not isinstance(k, int | float | np.number) and hasattr(k, "shape") and hasattr(k, "dtype")


def refuse(function: str, why: str, k: Any) -> None:
    """Raise for a function (or method) that takes only a Python-number ``k``."""
    msg = f"`k` must be a Python number for {function} ({why}); got an array of type {type(k).__name__}."
    raise TypeError(msg)


def _k_like(prepared: Prepared, k: Any) -> Array:
    """``k`` as an array of ``x``'s backend and compute dtype, its readable values checked."""
    backend = backend_of(k)
    if backend not in ("numpy", prepared.backend):
        msg = f"`k` is a {backend} array but `x` is a {prepared.backend} array; pass both from one library."
        raise TypeError(msg)
    values = _concrete_values(k)
    if values is not None:
        values = np.asarray(values, dtype=np.float64)
        bad = ~(np.isfinite(values) & (values > 0))
        if np.any(bad):
            msg = f"`k` must be positive and finite where it is an array; got {float(values[bad].flat[0])!r}."
            raise ValueError(msg)
    xp, x = prepared.xp, prepared.array
    if backend == "numpy" and prepared.backend != "numpy":
        k = np.asarray(k)
        if prepared.backend == "torch":
            import torch

            return torch.as_tensor(k, dtype=x.dtype, device=x.device)
        return xp.asarray(k, dtype=x.dtype)
    k = prepare(k, "k").array
    return xp.astype(k, x.dtype) if k.dtype != x.dtype else k


def scaled(x: Any, k: Any) -> tuple[Prepared, Array, Array]:
    """``(prepared x, k, u = k x)``: ``k`` as an array like ``x``, ``u`` saturated at the largest number."""
    prepared = prepare(x)
    xp = prepared.xp
    k_arr = _k_like(prepared, k)
    top = float(xp.finfo(prepared.array.dtype).max)
    return prepared, k_arr, xp.clip(k_arr * prepared.array, -top, top)


def elementwise(fn: Callable[..., Array], x: Any, k: Any, per_k: bool, **options: Any) -> Array:
    """``fn(k x, 1) / k`` (``per_k``) or ``fn(k x, 1)``, in ``x``'s dtype."""
    prepared, k_arr, u = scaled(x, k)
    out = fn(u, 1.0, **options)
    return prepared.finish(out / k_arr if per_k else out)


def pairwise(fn: Callable[..., Array], a: Any, b: Any, k: Any, **options: Any) -> Array:
    """``fn(k a, k b, 1) / k`` for the pairwise maximum and minimum."""
    pa, pb = prepare(a, "a"), prepare(b, "b")
    xp = pa.xp
    dtype = xp.result_type(pa.array, pb.array)
    a_arr, b_arr = xp.astype(pa.array, dtype), xp.astype(pb.array, dtype)
    prepared = Prepared(pa.backend, xp, a_arr, xp.result_type(pa.out_dtype, pb.out_dtype))
    k_arr = _k_like(prepared, k)
    top = float(xp.finfo(dtype).max)
    out = fn(xp.clip(k_arr * a_arr, -top, top), xp.clip(k_arr * b_arr, -top, top), 1.0, **options)
    return prepared.finish(out / k_arr)


def reduction(fn: Callable[..., Array], x: Any, k: Any, axis: int | None, keepdims: bool, per_k: bool,
              **options: Any) -> Array:
    """``fn(k x, 1)`` reduced over ``axis`` (divided by ``k`` when ``per_k``); ``k`` broadcasts against ``x``
    and is taken along the reduced axis at its first entry (it is constant there by contract)."""
    prepared, k_arr, u = scaled(x, k)
    xp = prepared.xp
    out = fn(u, 1.0, axis=axis, keepdims=True, **options)
    if per_k:
        k_full = xp.broadcast_to(k_arr, u.shape)
        axes = tuple(range(u.ndim)) if axis is None else (axis % u.ndim,)
        out = out / k_full[tuple(slice(0, 1) if i in axes else slice(None) for i in range(u.ndim))]
    if not keepdims:
        out = xp.squeeze(out, axis=tuple(range(u.ndim)) if axis is None else axis)
    return prepared.finish(out)
