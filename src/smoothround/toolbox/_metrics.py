"""Smooth classification metrics on probabilities: accuracy, precision, recall, F1 and F-beta (binary and
macro).

Each is the hard metric with the indicator of the predicted class replaced by its probability, so it is
multilinear (accuracy) or a ratio of linear forms (the others) in the probabilities, and equals scikit-learn's
metric exactly when the probabilities are one-hot. Use ``1 - metric`` as a loss.

``from_logits=True`` takes logits instead of probabilities (the logistic function for binary, softmax over the
class axis for multi-class); a ``p`` of shape ``(N, 1)`` with ``y`` of shape ``(N,)`` is refused with a message
that says to squeeze it.

Shapes: binary when ``p.shape == y.shape`` (``p`` is the probability of class 1, ``y`` in {0, 1}); multi-class
when ``p.shape == y.shape + (C,)`` (``p`` rows on the simplex, ``y`` integer labels in [0, C)). The last axis
of ``y`` indexes samples; any axes before it are a batch, reduced by ``reduction``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from smoothround._backends import Prepared, backend_of, prepare
from smoothround._validation import _concrete_values, check_choice, check_real_scalar
from smoothround.toolbox._special import sigmoid

Array = Any
REDUCTIONS = ("mean", "sum", "none")


def _probabilities(p: Any, from_logits: bool = False) -> Prepared:
    """``p`` prepared, with its values checked to lie in [0, 1] when they can be read (not traced) and are
    probabilities (``from_logits=False``)."""
    if not isinstance(from_logits, bool):
        msg = f"`from_logits` must be True or False; got {from_logits!r}."
        raise TypeError(msg)
    prepared = prepare(p, "p")
    if from_logits:
        return prepared
    values = _concrete_values(prepared.array)
    if values is not None:
        bad = (values < 0) | (values > 1)
        if np.any(bad):
            msg = (f"`p` must hold probabilities in [0, 1]; got {float(values[bad].flat[0])!r} (for logits, pass "
                   f"from_logits=True).")
            raise ValueError(msg)
    return prepared


def _targets(prepared: Prepared, y: Any) -> tuple[Array, bool]:
    """The targets as indicators in the compute dtype (one-hot on a new last axis for multi-class)."""
    xp, p = prepared.xp, prepared.array
    by = backend_of(y)
    if by not in ("numpy", prepared.backend):
        msg = f"`y` is a {by} array but `p` is a {prepared.backend} array; pass both from one library."
        raise TypeError(msg)
    if by == "numpy":
        try:
            y = np.asarray(y)
        except (TypeError, ValueError) as err:
            msg = f"`y` must be an array of labels; got {type(y).__name__}."
            raise TypeError(msg) from err
        if y.dtype.kind not in "biuf":
            msg = f"`y` must hold integer labels; got an array of dtype {y.dtype}."
            raise TypeError(msg)
    values = _concrete_values(y)
    if prepared.backend == "torch":
        import torch

        y_arr = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
        y_arr = y_arr.to(p.device)
    else:
        y_arr = xp.asarray(np.asarray(y) if by == "numpy" else y)
    y_shape, p_shape = tuple(y_arr.shape), tuple(p.shape)
    if len(p_shape) >= 1 and p_shape[-1] == 1 and p_shape[:-1] == y_shape:
        msg = (f"`p` has shape {p_shape}, one class on its last axis, and `y` shape {y_shape}: for binary "
               f"probabilities (or logits) of class 1, squeeze that axis (`p.squeeze(-1)`); for multi-class, "
               f"pass one column per class.")
        raise ValueError(msg)
    if len(y_shape) >= 1 and y_shape[-1] == 1 and y_shape[:-1] == p_shape:
        msg = (f"`y` has shape {y_shape} and `p` shape {p_shape}: squeeze `y`'s last axis (`y.squeeze(-1)`).")
        raise ValueError(msg)
    if p_shape == y_shape:
        multiclass = False
    elif p_shape[:-1] == y_shape and len(p_shape) >= 1:
        multiclass = True
    else:
        msg = (f"`p` must have the shape of `y` (binary) or that shape plus a class axis (multi-class); "
               f"got p of shape {p_shape} and y of shape {y_shape}.")
        raise ValueError(msg)
    if len(y_shape) == 0:
        msg = "`y` must have a sample axis; got a scalar."
        raise ValueError(msg)
    n_classes = p_shape[-1] if multiclass else 2
    if values is not None:
        bad = (values != np.round(values)) | (values < 0) | (values >= n_classes) | np.isnan(values)
        if np.any(bad):
            allowed = f"integers in [0, {n_classes})" if multiclass else "0 or 1"
            msg = f"`y` must hold {allowed}; got {values[bad].flat[0]!r}."
            raise ValueError(msg)
    y_f = xp.astype(y_arr, p.dtype)
    if not multiclass:
        return y_f, False
    classes = xp.arange(n_classes, dtype=p.dtype)
    if prepared.backend == "torch":
        classes = classes.to(p.device)
    return xp.astype(y_f[..., None] == classes, p.dtype), True


def _as_probabilities(xp: Any, p: Array, multiclass: bool, from_logits: bool) -> Array:
    """``p`` itself, or from logits: the logistic function (binary) or softmax over the class axis."""
    if not from_logits:
        return p
    if not multiclass:
        return sigmoid(xp, p)
    from smoothround.toolbox._maxmin import softmax  # the toolbox's own: exact, and +-inf logits are limits

    return softmax(p, 1.0, axis=-1)


def _reduce(xp: Any, values: Array, reduction: str, keep_last: bool) -> Array:
    if reduction == "none":
        return values
    axes = tuple(range(values.ndim - (1 if keep_last else 0)))
    if not axes:
        return values
    return xp.mean(values, axis=axes) if reduction == "mean" else xp.sum(values, axis=axes)


def smooth_accuracy(p: Array, y: Array, /, *, reduction: str = "mean", from_logits: bool = False) -> Array:
    """Smooth accuracy: the probability given to the true class, ``<onehot(y), p>``, averaged over samples.

    Definition: per sample ``p[y]`` (multi-class) or ``p y + (1 - p)(1 - y)`` (binary); ``reduction`` "mean"
    (the accuracy), "sum" or "none" (per-sample values, shape of ``y``). Limit and guarantee: equal to
    ``sklearn.metrics.accuracy_score`` when ``p`` is one-hot (or in {0, 1}); linear in ``p`` with gradient
    ``onehot(y) / n`` (0-Lipschitz).

    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    >>> smooth_accuracy(p, np.array([0, 1, 1])).round(4)
    np.float64(0.6667)
    """
    reduction = check_choice("reduction", reduction, REDUCTIONS)
    prepared = _probabilities(p, from_logits)
    xp = prepared.xp
    target, multiclass = _targets(prepared, y)
    pa = _as_probabilities(xp, prepared.array, multiclass, from_logits)
    per_sample = xp.sum(pa * target, axis=-1) if multiclass else pa * target + (1.0 - pa) * (1.0 - target)
    return prepared.finish(_reduce(xp, per_sample, reduction, False))


def _ratio(p: Any, y: Any, kind: str, beta: float, average: str, reduction: str, zero_division: Any,
           from_logits: bool) -> Array:
    average = check_choice("average", average, ("macro", "none"))
    reduction = check_choice("reduction", reduction, REDUCTIONS)
    zd = check_real_scalar("zero_division", zero_division)
    prepared = _probabilities(p, from_logits)
    xp = prepared.xp
    target, multiclass = _targets(prepared, y)
    pa = _as_probabilities(xp, prepared.array, multiclass, from_logits)
    sample_axis = -2 if multiclass else -1
    tp = xp.sum(pa * target, axis=sample_axis)
    predicted = xp.sum(pa, axis=sample_axis)
    actual = xp.sum(target, axis=sample_axis)
    if kind == "precision":
        num, den = tp, predicted
    elif kind == "recall":
        num, den = tp, actual
    else:  # (1 + b^2) tp / (b^2 actual + predicted) = tp / (c actual + (1 - c) predicted): no b^2 to overflow
        b2 = beta * beta  # inf or 0 beyond float range: the weights below are then 1 and 0, the limits
        weight_actual, weight_predicted = (1.0 / (1.0 + 1.0 / b2) if b2 > 0 else 0.0), 1.0 / (1.0 + b2)
        num, den = tp, weight_actual * actual + weight_predicted * predicted
    ok = den > 0
    score = xp.where(ok, num / xp.where(ok, den, xp.ones_like(den)), xp.zeros_like(den) + zd)
    if multiclass and average == "macro":
        score = xp.mean(score, axis=-1)
    return prepared.finish(_reduce(xp, score, reduction, multiclass and average == "none"))


_RATIO_DOC = """
    ``from_logits=True`` takes logits instead of probabilities (the logistic function for binary, softmax over the
class axis for multi-class); a ``p`` of shape ``(N, 1)`` with ``y`` of shape ``(N,)`` is refused with a message
that says to squeeze it.

Shapes: binary when ``p.shape == y.shape`` (probability of class 1, the positive class), multi-class when
    ``p`` has an extra last class axis; sums run over the last axis of ``y`` (samples). ``average`` "macro"
    (mean over classes, all C classes counted, as sklearn with ``labels=range(C)``) or "none" (one value per
    class); ``reduction`` "mean", "sum" or "none" over leading batch axes; ``zero_division`` is the value when
    the denominator is 0 (the gradient there is 0). ``from_logits=True``: ``p`` holds logits, turned into
    probabilities by the logistic function (binary) or a softmax over the class axis (multi-class).
"""


def smooth_precision(p: Array, y: Array, /, *, average: str = "macro", reduction: str = "mean",
                     zero_division: float = 0.0, from_logits: bool = False) -> Array:
    """Smooth precision ``sum p y / sum p`` (per class: soft true positives over soft predicted positives).

    Limit and guarantee: equal to ``sklearn.metrics.precision_score`` when ``p`` is one-hot; a smooth ratio of
    linear forms wherever ``sum p > 0``.

    >>> import numpy as np
    >>> smooth_precision(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0])).round(4)
    np.float64(0.5294)
    """
    return _ratio(p, y, "precision", 1.0, average, reduction, zero_division, from_logits)


def smooth_recall(p: Array, y: Array, /, *, average: str = "macro", reduction: str = "mean",
                  zero_division: float = 0.0, from_logits: bool = False) -> Array:
    """Smooth recall ``sum p y / sum y`` (per class: soft true positives over actual positives).

    Limit and guarantee: equal to ``sklearn.metrics.recall_score`` when ``p`` is one-hot; linear in ``p``.

    >>> import numpy as np
    >>> smooth_recall(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 1])).round(4)
    np.float64(0.75)
    """
    return _ratio(p, y, "recall", 1.0, average, reduction, zero_division, from_logits)


def smooth_fbeta(p: Array, y: Array, /, *, beta: float, average: str = "macro", reduction: str = "mean",
                 zero_division: float = 0.0, from_logits: bool = False) -> Array:
    """Smooth F-beta ``(1 + beta^2) sum p y / (beta^2 sum y + sum p)``.

    Limit and guarantee: equal to ``sklearn.metrics.fbeta_score`` when ``p`` is one-hot; smooth wherever the
    denominator is positive.

    >>> import numpy as np
    >>> smooth_fbeta(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 1]), beta=2.0).round(4)
    np.float64(0.7732)
    """
    b = check_real_scalar("beta", beta)
    if not b > 0 or b == float("inf"):
        msg = f"`beta` must be positive and finite; got {beta!r}."
        raise ValueError(msg)
    return _ratio(p, y, "fbeta", b, average, reduction, zero_division, from_logits)


def smooth_f1(p: Array, y: Array, /, *, average: str = "macro", reduction: str = "mean",
              zero_division: float = 0.0, from_logits: bool = False) -> Array:
    """Smooth F1 ``2 sum p y / sum (p + y)``: :func:`smooth_fbeta` with beta = 1.

    Limit and guarantee: equal to ``sklearn.metrics.f1_score`` when ``p`` is one-hot.

    >>> import numpy as np
    >>> p = np.array([[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]])
    >>> smooth_f1(p, np.array([0, 1, 1])).round(4)
    np.float64(0.7222)
    >>> smooth_f1(np.array([2.0, -1.0, 0.5]), np.array([1, 0, 1]), from_logits=True).round(4)  # binary logits
    np.float64(0.797)
    """
    return _ratio(p, y, "fbeta", 1.0, average, reduction, zero_division, from_logits)


for _f in (smooth_precision, smooth_recall, smooth_fbeta, smooth_f1):
    _f.__doc__ = (_f.__doc__ or "").rstrip() + "\n" + _RATIO_DOC
