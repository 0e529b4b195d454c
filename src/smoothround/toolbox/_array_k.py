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
its own condition number). Where ``|k x|`` overflows the compute dtype, the function is the hard one to
rounding (the smoothing is below one unit of ``x`` there), so those elements (for a reduction or softmax: those
rows) take the ``k = inf`` value, with its gradient in ``x`` and none in ``k``. Infinite entries of ``x`` keep
their meaning (masked ``-inf`` in a max or softmax) and give no NaN gradient to ``k``. A Python-number ``k``
keeps the full-range guarantees that the conformance suite measures.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import replace
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


def quiet(array: Array) -> contextlib.AbstractContextManager[Any]:
    """NumPy's overflow warnings off for ``array``'s arithmetic (the results are checked or masked); nothing
    for the other backends (and nothing that torch.compile would have to trace)."""
    return np.errstate(over="ignore", invalid="ignore") if isinstance(array, np.ndarray) else contextlib.nullcontext()


def k_like(prepared: Prepared, k: Any) -> Array:
    """``k`` as an array of ``x``'s backend and compute dtype, its readable values checked there."""
    backend = backend_of(k)
    if backend not in ("numpy", prepared.backend):
        msg = f"`k` is a {backend} array but `x` is a {prepared.backend} array; pass both from one library."
        raise TypeError(msg)
    if str(getattr(k, "dtype", "")).endswith("bool"):
        msg = f"`k` must be a real number or array; got an array of dtype {k.dtype}."
        raise TypeError(msg)
    xp, x = prepared.xp, prepared.array
    if backend == "numpy" and prepared.backend != "numpy":
        k_arr = _like(prepared, np.asarray(k, dtype=np.float64))
    else:
        k_arr = prepare(k, "k").array
        if k_arr.dtype != x.dtype:
            with quiet(k_arr):  # a k beyond the dtype's range is refused below, with its value
                k_arr = xp.astype(k_arr, x.dtype)
    values = _concrete_values(k_arr)
    if values is not None:
        values = np.asarray(values, dtype=np.float64)
        original = np.asarray(_concrete_values(k) if backend != "numpy" else k, dtype=np.float64)
        bad = ~(np.isfinite(values) & (values > 0))
        if np.any(bad):
            given = float(np.broadcast_to(original, values.shape)[bad].flat[0])
            if np.isfinite(given) and given > 0:
                msg = (f"`k` must be positive and finite in the compute dtype {x.dtype}; got {given!r}, which "
                       f"rounds to {float(values[bad].flat[0])!r} there.")
            else:
                msg = f"`k` must be positive and finite where it is an array; got {given!r}."
            raise ValueError(msg)
    return k_arr


def _product(xp: Any, x: Array, k: Array) -> tuple[Array, Array]:
    """``(u, saturated)``: ``u = k x`` where that is finite, ``x`` itself at infinite entries (no ``k`` in their
    gradient), 0 where ``|k x|`` overflows (those are marked ``saturated`` and replaced by the hard value)."""
    infinite = xp.isinf(x)
    finite_x = xp.where(infinite, xp.sign(x), x)
    with quiet(finite_x):
        product = k * finite_x
    saturated = (xp.abs(product) > float(xp.finfo(x.dtype).max)) & ~infinite
    u = xp.where(infinite, x, xp.where(saturated, xp.zeros_like(product), product))
    return u, saturated


def _over_k(xp: Any, value: Array, k: Array) -> Array:
    """``value / k``, infinite values kept as they are (and no NaN in ``k``'s gradient from them)."""
    infinite = xp.isinf(value)
    return xp.where(infinite, value, xp.where(infinite, xp.zeros_like(value), value) / k)


def _rows(xp: Any, mask: Array, axis: int | None) -> Array:
    """``mask`` spread over every row that has one True along ``axis`` (all elements when None)."""
    return xp.any(mask, axis=axis, keepdims=True)


def _where_saturated(xp: Any, saturated: Array, hard: Callable[[], Array], smooth: Array) -> Array:
    """``smooth``, with the hard function's value where ``saturated``; ``hard()`` is evaluated only when some
    element may be saturated (always when the mask cannot be read, as under jit)."""
    any_saturated = _concrete_values(xp.any(saturated))
    if any_saturated is not None and not any_saturated:
        return smooth
    return xp.where(saturated, hard(), smooth)


def elementwise(fn: Callable[..., Array], x: Any, k: Any, per_k: bool, **options: Any) -> Array:
    """``fn(k x, 1) / k`` (``per_k``) or ``fn(k x, 1)``, in ``x``'s dtype; ``options["axis"]`` (softmax) makes
    saturation apply to whole rows."""
    prepared = prepare(x)
    xp = prepared.xp
    k_arr = k_like(prepared, k)
    u, saturated = _product(xp, prepared.array, k_arr)
    smooth = fn(u, 1.0, **options)
    if per_k:
        smooth = _over_k(xp, smooth, k_arr)
    if "axis" in options:
        saturated = _rows(xp, saturated, options["axis"])
    out = _where_saturated(xp, saturated, lambda: fn(prepared.array, math.inf, **options), smooth)
    return prepared.finish(out)


def _common(a: Any, b: Any) -> tuple[Prepared, Array]:
    """``a`` and ``b`` as arrays of one backend (a NumPy array or number follows the other's) and dtype."""
    number = (int, float)
    if isinstance(b, number) != isinstance(a, number):  # a Python number takes the array's dtype and device
        prepared = prepare(b if isinstance(a, number) else a, "b" if isinstance(a, number) else "a")
        arr = prepared.array
        filled = prepared.xp.full_like(arr, float(a if isinstance(a, number) else b))
        return (replace(prepared, array=filled), arr) if isinstance(a, number) else (prepared, filled)
    pa, pb = prepare(a, "a"), prepare(b, "b")
    if pa.backend != pb.backend:
        if pa.backend == "numpy":
            pa = prepare(_like(pb, pa.array), "a")
        elif pb.backend == "numpy":
            pb = prepare(_like(pa, pb.array), "b")
        else:
            msg = f"`a` is a {pa.backend} array but `b` is a {pb.backend} array; pass both from one library."
            raise TypeError(msg)
    xp = pa.xp
    dtype = xp.result_type(pa.array, pb.array)
    out_dtype = xp.result_type(pa.out_dtype, pb.out_dtype)
    return Prepared(pa.backend, xp, xp.astype(pa.array, dtype), out_dtype), xp.astype(pb.array, dtype)


def _like(prepared: Prepared, values: Array) -> Array:
    if prepared.backend == "torch":
        import torch

        return torch.as_tensor(np.asarray(values), dtype=prepared.array.dtype, device=prepared.array.device)
    return prepared.xp.asarray(np.asarray(values), dtype=prepared.array.dtype)


def pairwise(fn: Callable[..., Array], a: Any, b: Any, k: Any, **options: Any) -> Array:
    """``fn(k a, k b, 1) / k`` for the pairwise maximum and minimum (hard where ``k a`` or ``k b`` overflow); the
    power mean, whose ``k`` is an exponent and not a scale, is refused."""
    if options.get("method") == "power":
        refuse('method="power"', "k is its exponent, not a scale", k)
    prepared, b_arr = _common(a, b)
    xp, a_arr = prepared.xp, prepared.array
    k_arr = k_like(prepared, k)
    u_a, sat_a = _product(xp, a_arr, k_arr)
    u_b, sat_b = _product(xp, b_arr, k_arr)
    smooth = _over_k(xp, fn(u_a, u_b, 1.0, **options), k_arr)
    out = _where_saturated(xp, sat_a | sat_b, lambda: fn(a_arr, b_arr, math.inf, **options), smooth)
    return prepared.finish(out)


def reduction(fn: Callable[..., Array], x: Any, k: Any, axis: int | None, keepdims: bool, per_k: bool,
              **options: Any) -> Array:
    """``fn(k x, 1)`` reduced over ``axis`` (divided by ``k`` when ``per_k``). ``k`` broadcasts against ``x``
    with size 1 along the reduced axis (every axis when None): one sharpness per reduced row."""
    prepared = prepare(x)
    xp, arr = prepared.xp, prepared.array
    k_arr = k_like(prepared, k)
    k_shape, x_shape = tuple(k_arr.shape), tuple(arr.shape)
    if len(k_shape) > len(x_shape):
        msg = f"`k` must not have more axes than `x`; got k of shape {k_shape} for x of shape {x_shape}."
        raise ValueError(msg)
    padded = (1,) * (len(x_shape) - len(k_shape)) + k_shape
    if axis is not None and not -len(x_shape) <= axis < len(x_shape):
        msg = f"`axis` must be in [-{len(x_shape)}, {len(x_shape)}) for x of shape {x_shape}; got {axis!r}."
        raise ValueError(msg)
    axes = tuple(range(len(x_shape))) if axis is None else (axis % len(x_shape),)
    if any(padded[ax] != 1 for ax in axes):
        where = "every axis (axis=None)" if axis is None else f"axis {axis}"
        msg = (f"`k` must have size 1 along the reduced {where}, one sharpness per reduced row; got k of shape "
               f"{k_shape} for x of shape {x_shape}.")
        raise ValueError(msg)
    k_arr = xp.reshape(k_arr, padded)
    u, saturated = _product(xp, arr, k_arr)
    smooth = fn(u, 1.0, axis=axis, keepdims=True, **options)
    if per_k:
        smooth = _over_k(xp, smooth, k_arr)
    hard = lambda: fn(arr, math.inf, axis=axis, keepdims=True, **options)  # noqa: E731
    out = _where_saturated(xp, _rows(xp, saturated, axis), hard, smooth)
    if not keepdims:
        out = xp.squeeze(out, axis=axes)
    return prepared.finish(out)
