"""Quantization-aware training as pure functions over a parameter dict, for NumPy, PyTorch and JAX.

The quantizer of LSQ (Esser et al., 2020) and LSQ+ (Bhalgat et al., 2020) with the smooth rounding of
:func:`smoothround.quantize` in place of the straight-through round:

* :func:`init_params` makes the learnable parameters from a first batch: ``"scale"`` (LSQ's initial step
  ``2 mean|x| / sqrt(Q_P)``, per channel along ``axis`` when given), an optional ``"zero_point"`` (a float
  offset in code units, learned as in LSQ+) and an optional ``"log_k"`` (a learnable sharpness
  ``k = exp(log_k)``);
* :func:`fake_quantize` quantizes ``x`` with them: ``x_hat = (Q(x / scale + zero_point) - zero_point) * scale``
  with ``Q`` the smooth round clamped to ``[quant_min, quant_max]`` while training, and the hard
  ``clamp(round(.))`` onto the integer grid for evaluation (``training=False``).

Names follow ``torch.ao.quantization`` (``quant_min``, ``quant_max``, ``scale``, ``zero_point``, ``axis`` for
its ``ch_axis``). The parameters are plain arrays of ``x``'s library, dtype and device, so the dict is a JAX
pytree for ``jax.grad`` and ``optax``, and in PyTorch the values of ``nn.Parameter`` s
(:class:`smoothround.nn.Quantizer` is built on these functions). Nothing here imports torch or jax; each
function works in the namespace of the array it is given.

>>> import numpy as np
>>> from smoothround import qat
>>> w = np.array([[0.9, -0.3, 0.1], [0.02, -0.05, 0.01]])
>>> params = qat.init_params(w, bits=4, axis=0)         # per output channel: one scale per row
>>> params["scale"]
array([[0.32756921],
       [0.02015811]])
>>> qat.fake_quantize(params, w, k=20.0, bits=4)         # smooth, while training
array([[ 0.98040424, -0.32749194,  0.00653468],
       [ 0.02015782, -0.04844389,  0.00968399]])
>>> qat.fake_quantize(params, w, bits=4, training=False)  # hard: integer codes times the scale
array([[ 0.98270763, -0.32756921,  0.        ],
       [ 0.02015811, -0.04031621,  0.        ]])
>>> qat.quantize_codes(params, w, bits=4)
array([[ 3, -1,  0],
       [ 1, -2,  0]], dtype=int32)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from smoothround._backends import backend_of, is_jax, is_torch, namespace
from smoothround._rounding_math import METHODS
from smoothround._validation import check_choice, check_straight_through
from smoothround.rounding import SATURATIONS, quantize

__all__ = ["fake_quantize", "init_params", "lsq_grad_scale", "quant_range", "quantize_codes"]

Array = Any

PARAM_NAMES = ("scale", "zero_point", "log_k")
# the smallest initial scale, as torch.ao's observers (an all-zero batch would otherwise give scale 0)
MIN_SCALE = float(np.finfo(np.float32).eps)


# ---------------------------------------------------------------------------------------------- ranges


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        msg = f"`{name}` must be an integer; got {value!r} of type {type(value).__name__}."
        raise TypeError(msg)
    return int(value)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        msg = f"`{name}` must be True or False; got {value!r} of type {type(value).__name__}."
        raise TypeError(msg)
    return bool(value)


def quant_range(bits: int, *, signed: bool = True) -> tuple[int, int]:
    """The integer codes ``(quant_min, quant_max)`` of a ``bits``-bit quantizer.

    Signed: ``[-2^(bits-1), 2^(bits-1) - 1]``; unsigned: ``[0, 2^bits - 1]``. ``bits`` is in ``[1, 16]``.

    >>> from smoothround import qat
    >>> qat.quant_range(8), qat.quant_range(8, signed=False), qat.quant_range(3)
    ((-128, 127), (0, 255), (-4, 3))
    """
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral):
        msg = f"`bits` must be an integer in [1, 16]; got {bits!r} of type {type(bits).__name__}."
        raise TypeError(msg)
    if not 1 <= bits <= 16:
        msg = f"`bits` must be an integer in [1, 16]; got {bits!r}."
        raise ValueError(msg)
    bits = int(bits)
    if _check_bool("signed", signed):
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _levels(bits: Any, signed: Any, quant_min: Any, quant_max: Any) -> tuple[int, int]:
    """(qmin, qmax) from ``bits`` and ``signed``, or from ``quant_min`` and ``quant_max``: one or the other."""
    if bits is not None:
        if quant_min is not None or quant_max is not None:
            msg = (
                "give either `bits` (and `signed`) or both `quant_min` and `quant_max`, not both; "
                f"got bits={bits!r}, quant_min={quant_min!r}, quant_max={quant_max!r}."
            )
            raise ValueError(msg)
        return quant_range(bits, signed=signed)
    _check_bool("signed", signed)
    if quant_min is None or quant_max is None:
        msg = (
            "the quantization range is missing: give `bits` (and `signed`) or both `quant_min` and "
            f"`quant_max`; got bits=None, quant_min={quant_min!r}, quant_max={quant_max!r}."
        )
        raise TypeError(msg)
    qmin, qmax = _check_int("quant_min", quant_min), _check_int("quant_max", quant_max)
    if qmin >= qmax:
        msg = f"`quant_min` must be < `quant_max`; got quant_min={qmin}, quant_max={qmax}."
        raise ValueError(msg)
    return qmin, qmax


def _q_positive(qmin: int, qmax: int) -> int:
    """LSQ's Q_P: the largest positive code (the largest magnitude when no code is positive)."""
    return qmax if qmax >= 1 else -qmin


# ---------------------------------------------------------------------------------------------- arrays


def _namespace_and_array(x: Any) -> tuple[Any, Array]:
    """The array-API namespace of ``x`` and ``x`` as a floating array of its library (lists become NumPy).

    The library's own detection (``isinstance`` against the modules already imported), not array-api-compat's
    cached helpers, which torch.compile warns about."""
    if not hasattr(x, "shape") or isinstance(x, (bool, np.bool_)):
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as err:
            msg = f"`x` must be a real array or tensor; got {type(x).__name__}."
            raise TypeError(msg) from err
    xp = namespace(backend_of(x))
    if not xp.isdtype(x.dtype, "real floating"):
        if not xp.isdtype(x.dtype, ("integral", "bool")):
            msg = f"`x` must be a real array or tensor; got dtype {x.dtype}."
            raise TypeError(msg)
        x = x * 1.0  # a Python float promotes to the library's default floating dtype
    return xp, x


def _stop_gradient(value: Array) -> Array:
    """``value`` cut from autodiff in its own library (NumPy has no autodiff: unchanged)."""
    if is_torch(value):
        return value.detach()
    if is_jax(value):
        import jax

        return jax.lax.stop_gradient(value)
    return value


def _scaled_gradient(value: Array, factor: float) -> Array:
    """``value`` unchanged, its gradient multiplied by ``factor`` (LSQ's gradient scaling).

    The usual form ``v g + stop_gradient(v - v g)`` can be one ulp off ``v``; ``sg(v) + (v - sg(v)) g`` adds an
    exact zero, so the forward value is ``v`` bit for bit and the gradient is ``g``.
    """
    frozen = _stop_gradient(value)
    if frozen is value:
        return value
    return frozen + (value - frozen) * factor


# ---------------------------------------------------------------------------------------------- init


def _normalise_axis(axis: Any, ndim: int) -> int | None:
    if axis is None:
        return None
    axis = _check_int("axis", axis)
    if not -ndim <= axis < ndim:
        msg = f"`axis` must be in [{-ndim}, {ndim - 1}] for `x` with {ndim} dimensions; got {axis}."
        raise ValueError(msg)
    return axis % ndim


def init_params(
    x: Any,
    /,
    *,
    bits: int | None = None,
    signed: bool = True,
    quant_min: int | None = None,
    quant_max: int | None = None,
    axis: int | None = None,
    zero_point: bool = False,
    k: float | None = None,
    learn_k: bool = False,
) -> dict[str, Array]:
    """The learnable parameters of a quantizer, initialised from a first batch ``x`` (LSQ).

    * ``"scale"``: ``2 mean(|x|) / sqrt(Q_P)`` with ``Q_P = quant_max`` (LSQ's initial step size; at least
      ``2^-23``, as ``torch.ao``'s observers, so an all-zero batch still gives a usable scale). With ``axis``
      one scale per index along that axis (the mean over every other axis), shaped to broadcast against ``x``
      (e.g. ``(out, 1)`` for a ``Linear`` weight and ``axis=0``); without, a 0-d array.
    * ``"zero_point"`` (when ``zero_point=True``): a float offset in code units, of the scale's shape, starting
      at 0 (the LSQ quantizer) and learned (LSQ+'s offset ``beta = -zero_point * scale``). The fake
      quantization is then ``(clamp(Q(x / scale + zero_point)) - zero_point) * scale``.
    * ``"log_k"`` (when ``learn_k=True``): ``log(k)``, a 0-d array; the sharpness ``exp(log_k)`` is then learned
      with the rest. ``k`` (the initial sharpness) is required with ``learn_k`` and only used by it.

    The range is ``bits`` (and ``signed``) or both ``quant_min`` and ``quant_max``. The arrays have ``x``'s
    library, floating dtype and device, and carry no gradient from ``x``.

    >>> import numpy as np
    >>> from smoothround import qat
    >>> x = np.array([0.5, -1.0, 0.25, 2.25])
    >>> qat.init_params(x, bits=3)                              # 2 * 1.0 / sqrt(3)
    {'scale': array(1.15470054)}
    >>> p = qat.init_params(x, quant_min=0, quant_max=15, zero_point=True, k=10.0, learn_k=True)
    >>> p["scale"], p["zero_point"], np.exp(p["log_k"])
    (array(0.51639778), array(0.), np.float64(10.000000000000002))
    """
    qmin, qmax = _levels(bits, signed, quant_min, quant_max)
    with_zero_point = _check_bool("zero_point", zero_point)
    log_k: float | None = None
    if _check_bool("learn_k", learn_k):
        if k is None:
            msg = "`k` (the initial sharpness) is required with learn_k=True; got None."
            raise TypeError(msg)
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Real):
            msg = f"`k` must be a positive finite number; got {k!r} of type {type(k).__name__}."
            raise TypeError(msg)
        if not (k > 0 and math.isfinite(k)):
            msg = f"`k` must be a positive finite number; got {k!r}."
            raise ValueError(msg)
        log_k = math.log(float(k))
    elif k is not None:
        msg = f"`k` is the initial value of a learned sharpness and needs learn_k=True; got k={k!r}, learn_k=False."
        raise ValueError(msg)
    xp, x = _namespace_and_array(x)
    x = _stop_gradient(x)
    axis = _normalise_axis(axis, x.ndim)
    magnitude = xp.abs(x)
    if axis is None:
        mean = xp.mean(magnitude)
    else:
        others = tuple(i for i in range(x.ndim) if i != axis)
        mean = xp.mean(magnitude, axis=others, keepdims=True) if others else magnitude
    scale = xp.asarray(xp.clip(mean * (2.0 / math.sqrt(_q_positive(qmin, qmax))), MIN_SCALE, None))
    params: dict[str, Array] = {"scale": scale}
    if with_zero_point:
        params["zero_point"] = xp.zeros_like(scale)
    if log_k is not None:
        device = {"device": x.device} if is_torch(x) else {}
        params["log_k"] = xp.full((), log_k, dtype=x.dtype, **device)
    return params


# ---------------------------------------------------------------------------------------------- quantize


def _check_params(params: Any) -> None:
    if not isinstance(params, Mapping):
        msg = f"`params` must be a dict of arrays (from init_params); got {type(params).__name__}."
        raise TypeError(msg)
    unknown = sorted(set(params) - set(PARAM_NAMES))
    if "scale" not in params or unknown:
        allowed = ", ".join(repr(n) for n in PARAM_NAMES)
        msg = f"`params` must have the key 'scale' and only the keys {allowed}; got keys {sorted(params)!r}."
        raise ValueError(msg)


def lsq_grad_scale(x_shape: tuple[int, ...], scale_shape: tuple[int, ...], quant_min: int, quant_max: int) -> float:
    """LSQ's gradient scale ``1 / sqrt(N Q_P)``, ``N`` the number of elements of ``x`` per scale entry.

    For a weight ``N`` is its size (per channel: per output channel); for an activation it includes the batch,
    as common LSQ implementations do, so it depends on the batch size (LSQ's paper counts features only).

    >>> from smoothround import qat
    >>> round(qat.lsq_grad_scale((64, 100), (64, 1), -4, 3), 8)   # 1 / sqrt(100 * 3)
    0.05773503
    """
    n = math.prod(x_shape) / max(math.prod(scale_shape), 1)
    return 1.0 / math.sqrt(max(n, 1.0) * _q_positive(quant_min, quant_max))


def _grad_scale_value(grad_scale: Any, x: Array, scale: Array, qmin: int, qmax: int) -> float | None:
    if grad_scale is None:
        return None
    if isinstance(grad_scale, str):
        if grad_scale != "lsq":
            msg = f"`grad_scale` must be None, 'lsq' or a positive number; got {grad_scale!r}."
            raise ValueError(msg)
        return lsq_grad_scale(tuple(x.shape), tuple(getattr(scale, "shape", ())), qmin, qmax)
    if isinstance(grad_scale, (bool, np.bool_)) or not isinstance(grad_scale, numbers.Real):
        msg = f"`grad_scale` must be None, 'lsq' or a positive number; got {grad_scale!r} of type {type(grad_scale).__name__}."
        raise TypeError(msg)
    if not (float(grad_scale) > 0 and math.isfinite(grad_scale)):
        msg = f"`grad_scale` must be None, 'lsq' or a positive number; got {grad_scale!r}."
        raise ValueError(msg)
    return float(grad_scale)


def quantize_codes(
    params: Mapping[str, Array],
    x: Any,
    /,
    *,
    bits: int | None = None,
    signed: bool = True,
    quant_min: int | None = None,
    quant_max: int | None = None,
) -> Array:
    """The integer codes ``clamp(round(x / scale + zero_point), quant_min, quant_max)`` as int32 (ties to even).

    What an integer engine stores; ``(codes - zero_point) * scale`` is ``fake_quantize(..., training=False)``.

    >>> import numpy as np
    >>> from smoothround import qat
    >>> qat.quantize_codes({"scale": np.array(0.5)}, np.array([0.2, -0.8, 0.75, 9.0]), bits=3)
    array([ 0, -2,  2,  3], dtype=int32)
    """
    _check_params(params)
    qmin, qmax = _levels(bits, signed, quant_min, quant_max)
    xp, x = _namespace_and_array(x)
    return xp.astype(_hard_codes(xp, params, x, qmin, qmax), xp.int32)


def _hard_codes(xp: Any, params: Mapping[str, Array], x: Array, qmin: int, qmax: int) -> Array:
    y = x / params["scale"]
    if "zero_point" in params:
        y = y + params["zero_point"]
    return xp.clip(xp.round(y), qmin, qmax)


def fake_quantize(
    params: Mapping[str, Array],
    x: Any,
    /,
    *,
    k: Any = None,
    bits: int | None = None,
    signed: bool = True,
    quant_min: int | None = None,
    quant_max: int | None = None,
    method: str = "window",
    saturation: str = "clamp",
    straight_through: bool | str = False,
    training: bool = True,
    grad_scale: float | str | None = None,
    tol: float | None = None,
) -> Array:
    """Fake-quantize ``x`` with the parameters of :func:`init_params`: smooth while training, hard otherwise.

    * ``training=True``: ``offset + step Q((x - offset) / step)`` of :func:`smoothround.quantize` with
      ``step = scale`` and ``offset = -zero_point * scale``, i.e. ``(Q(x / scale + zero_point) - zero_point) *
      scale`` with ``Q`` the smooth round clamped to ``[quant_min, quant_max]`` (``saturation``, ``method``,
      ``straight_through`` and ``tol`` as there). Gradients flow to ``x``, ``scale``, ``zero_point`` and
      ``log_k``. ``k`` is a Python number or a (0-d) array, e.g. a schedule's value; with ``"log_k"`` in
      ``params`` it is ``exp(log_k)`` and ``k`` must not be given.
    * ``training=False``: hard quantization onto the integer grid,
      ``(clamp(round(x / scale + zero_point), quant_min, quant_max) - zero_point) * scale`` (ties to even);
      ``k`` is not needed.

    The result has ``x``'s floating dtype in both modes (integers are promoted to the default float).

    ``grad_scale`` multiplies the gradients of ``scale`` and ``zero_point`` (not their values): ``None`` (no
    scaling), a positive number, or ``"lsq"`` for LSQ's ``1 / sqrt(N Q_P)`` (:func:`lsq_grad_scale`).

    >>> import numpy as np
    >>> from smoothround import qat
    >>> x = np.array([0.2, 0.3, 0.9, 3.0])        # codes x / 0.25 + 0.5 = 1.3, 1.7, 4.1, 12.5 -> 7
    >>> params = {"scale": np.array(0.25), "zero_point": np.array(0.5)}
    >>> qat.fake_quantize(params, x, k=50.0, quant_min=0, quant_max=7)
    array([0.12501135, 0.37498865, 0.875     , 1.625     ])
    >>> qat.fake_quantize(params, x, quant_min=0, quant_max=7, training=False)
    array([0.125, 0.375, 0.875, 1.625])
    """
    _check_params(params)
    qmin, qmax = _levels(bits, signed, quant_min, quant_max)
    is_training = _check_bool("training", training)
    check_choice("method", method, METHODS)
    check_choice("saturation", saturation, SATURATIONS)
    check_straight_through(straight_through)
    xp, x = _namespace_and_array(x)
    factor = _grad_scale_value(grad_scale, x, params["scale"], qmin, qmax)
    if "log_k" in params and k is not None:
        msg = f"`k` must not be given when `params` has 'log_k' (k = exp(log_k) is learned); got k={k!r}."
        raise ValueError(msg)
    if not is_training:
        codes = _hard_codes(xp, params, x, qmin, qmax)
        if "zero_point" in params:
            codes = codes - params["zero_point"]
        out = codes * params["scale"]
        # x's dtype, as in training (float32 parameters must not turn bfloat16 activations into float32)
        return out if out.dtype == x.dtype else xp.astype(out, x.dtype)
    if "log_k" in params:
        k = xp.exp(params["log_k"])
    elif k is None:
        msg = "`k` (the sharpness) is required with training=True unless `params` has 'log_k'; got None."
        raise TypeError(msg)
    scale = params["scale"]
    zero_point = params.get("zero_point")
    if factor is not None:
        scale = _scaled_gradient(scale, factor)
        if zero_point is not None:
            zero_point = _scaled_gradient(zero_point, factor)
    offset = 0.0 if zero_point is None else -zero_point * scale
    return quantize(
        x,
        k,
        step=scale,
        offset=offset,
        qmin=qmin,
        qmax=qmax,
        saturation=saturation,
        method=method,
        tol=tol,
        straight_through=straight_through,
    )
