"""The (alpha, beta)-smoothability constants of every smooth function of the toolbox, as functions of
sharpness.

A smooth surrogate ``f_k`` of a function ``f`` is described by two numbers: the uniform error
``sup_x |f_k(x) - f(x)|`` (with its side: ``f_k <= f`` is "below", ``f_k >= f`` is "above", else "both") and
the Lipschitz constant of its gradient ``sup_x ||Hessian f_k(x)||_2``. :func:`bounds` returns both for a name
and a sharpness ``k``. Every figure below is derived in ``docs/toolbox.md`` and checked on dense grids by
``tests/test_toolbox_bounds.py``: the bound holds, and the worst case measured is at least
``bound / tight_factor``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from smoothround._validation import check_choice, check_positive, check_real_scalar
from smoothround.toolbox._special import ERFC_PEAK, lambertw

_SQRT_PI = math.sqrt(math.pi)
_LOG2 = math.log(2.0)


@dataclass(frozen=True)
class Bound:
    """The guarantees of one smooth function at one sharpness.

    ``sup_error``: sup over the domain of ``|f_k - f|`` (relative to ``max(a, b)`` or ``min(a, b)`` when
    ``relative`` is True); ``side``: "below", "above" or "both"; ``gradient_lipschitz``: Lipschitz constant of
    the gradient in the Euclidean norm (``inf`` when there is none); ``tight_factor``: both numbers are within
    this factor of the true suprema (1.0: attained or approached); ``note``: what the figure means when it is
    not a vanishing error (the steps and sign are discontinuous, so their uniform error is the half-jump at
    every k).
    """

    name: str
    k: float
    sup_error: float
    side: str
    gradient_lipschitz: float
    tight_factor: float = 1.0
    relative: bool = False
    note: str = ""


_JUMP_NOTE = "discontinuous target: the uniform error is the half-jump at x -> 0 for every finite k"
_EPS_SIGN = 1.0 / (3.0 * math.sqrt(3.0))  # max |d^2/du^2 tanh(u/2)|
_ERF_SIGN = 2.0 * math.sqrt(2.0 / (math.pi * math.e))  # max |d^2/du^2 erf(u)|
_ATAN_SIGN = 9.0 / (4.0 * math.sqrt(3.0) * math.pi)  # max |d^2/du^2 (2/pi) atan(u)|


def _boltzmann_lipschitz(k: float, n: int) -> tuple[float, float]:
    if n <= 2:
        return k, 1.0
    w = lambertw((n - 1) / math.e)
    return k * (4.0 + max(1.0 / math.e, w) + 2.0 * max(2.0 / math.e, w)), 8.0


Rule = Callable[[float, int], tuple[float, str, float, float, bool, str]]

_RULES: dict[str, Rule] = {
    "smooth_abs:logcosh": lambda k, n: (_LOG2 / k, "above", k, 1.0, False, ""),
    "smooth_abs:erf": lambda k, n: (ERFC_PEAK / k, "below", 4.0 * k / _SQRT_PI, 1.0, False, ""),
    "smooth_abs:sqrt": lambda k, n: (1.0 / k, "above", k, 1.0, False, ""),
    "smooth_relu:softplus": lambda k, n: (_LOG2 / k, "above", k / 4.0, 1.0, False, ""),
    "smooth_clamp:softplus": lambda k, n: (
        _LOG2 / k,
        "both",
        k / 4.0,
        1.0,
        False,
        "tight when hi - lo >> 1/k",
    ),
    "smooth_sign:logistic": lambda k, n: (1.0, "both", _EPS_SIGN * k * k, 1.0, False, _JUMP_NOTE),
    "smooth_sign:erf": lambda k, n: (1.0, "both", _ERF_SIGN * k * k, 1.0, False, _JUMP_NOTE),
    "smooth_sign:arctan": lambda k, n: (1.0, "both", _ATAN_SIGN * k * k, 1.0, False, _JUMP_NOTE),
    "smooth_step:logistic": lambda k, n: (0.5, "both", _EPS_SIGN * k * k / 2, 1.0, False, _JUMP_NOTE),
    "smooth_step:erf": lambda k, n: (0.5, "both", _ERF_SIGN * k * k / 2, 1.0, False, _JUMP_NOTE),
    "smooth_step:arctan": lambda k, n: (0.5, "both", _ATAN_SIGN * k * k / 2, 1.0, False, _JUMP_NOTE),
    "smooth_max:logsumexp": lambda k, n: (math.log(n) / k, "above", k / 2.0, 1.0, False, ""),
    "smooth_max:boltzmann": lambda k, n: (
        lambertw((n - 1) / math.e) / k,
        "below",
        *_boltzmann_lipschitz(k, n),
        False,
        "" if n <= 2 else "gradient_lipschitz is a proven upper bound, not the exact supremum",
    ),
    "smooth_maximum:logsumexp": lambda k, n: (_LOG2 / k, "above", k / 2.0, 1.0, False, ""),
    "smooth_maximum:boltzmann": lambda k, n: (lambertw(1 / math.e) / k, "below", k, 1.0, False, ""),
    "smooth_maximum:acon": lambda k, n: (lambertw(1 / math.e) / k, "below", k, 1.0, False, ""),
    "smooth_maximum:erf": lambda k, n: (ERFC_PEAK / (2 * k), "below", 4.0 * k / _SQRT_PI, 1.0, False, ""),
    "smooth_maximum:sqrt": lambda k, n: (0.5 / k, "above", k, 1.0, False, ""),
    "smooth_maximum:power": lambda k, n: (
        2.0 ** (1.0 / k) - 1.0,
        "above",
        math.inf,
        1.0,
        True,
        "relative to max(a, b), for a, b >= 0; the gradient is not Lipschitz near 0",
    ),
    "smooth_steps:logistic": lambda k, n: (0.5, "both", _EPS_SIGN * k * k / 2, 1.0, False, _JUMP_NOTE),
    "smooth_steps:gaussian": lambda k, n: (
        0.5,
        "both",
        _ERF_SIGN * k * k / 4,
        1.0,
        False,
        _JUMP_NOTE,
    ),
    "smooth_steps:cauchy": lambda k, n: (0.5, "both", _ATAN_SIGN * k * k / 2, 1.0, False, _JUMP_NOTE),
}

_FLIP = {"above": "below", "below": "above", "both": "both"}


def _min_rule(max_name: str) -> Rule:
    def rule(k: float, n: int) -> tuple[float, str, float, float, bool, str]:
        err, side, lip, tight, relative, note = _RULES[max_name](k, n)
        if max_name.endswith(":power"):
            err, note = 1.0 - 2.0 ** (-1.0 / k), note.replace("max(a, b)", "min(a, b)")
        return err, _FLIP[side], lip, tight, relative, note

    return rule


for _name in [name for name in _RULES if name.startswith(("smooth_max:", "smooth_maximum:"))]:
    _RULES[_name.replace("_max", "_min")] = _min_rule(_name)

DEFAULT_METHOD = {
    "smooth_abs": "logcosh",
    "smooth_relu": "softplus",
    "smooth_clamp": "softplus",
    "smooth_sign": "logistic",
    "smooth_step": "logistic",
    "smooth_max": "logsumexp",
    "smooth_min": "logsumexp",
    "smooth_maximum": "logsumexp",
    "smooth_minimum": "logsumexp",
    "smooth_steps": "logistic",
}

#: Every name :func:`bounds` accepts, as "function:method".
BOUND_NAMES: tuple[str, ...] = tuple(sorted(_RULES))


def bounds(name: str, k: float, *, n: int = 2) -> Bound:
    """The uniform error and the gradient's Lipschitz constant of a smooth function at sharpness ``k``.

    ``name`` is "function:method" (one of ``BOUND_NAMES``) or a bare function name for its default method;
    ``n`` is the number of elements reduced by ``smooth_max``/``smooth_min`` (ignored otherwise). For
    ``smooth_steps`` the figures are per unit jump, with ``k = 1 / width``. ``k = inf`` gives the hard
    function (zero error, no Lipschitz gradient).

    Limit: the error of every continuous target is O(1/k) and vanishes as k grows; the Lipschitz constant
    grows like k (like k^2 for sign and steps).

    >>> b = bounds("smooth_abs:logcosh", 10.0)
    >>> round(b.sup_error, 6), b.side, b.gradient_lipschitz
    (0.069315, 'above', 10.0)
    >>> bounds("smooth_max", 100.0, n=8).sup_error == math.log(8) / 100
    True
    """
    if not isinstance(name, str):
        msg = f"`name` must be a string such as 'smooth_abs:logcosh'; got {name!r}."
        raise TypeError(msg)
    full = name if ":" in name else f"{name}:{DEFAULT_METHOD.get(name, '')}"
    check_choice("name", full if full in _RULES else name, BOUND_NAMES)
    kf = check_real_scalar("k", k)
    check_positive("k", kf)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
        msg = f"`n` must be an integer >= 2; got {n!r}."
        raise TypeError(msg)
    n = int(n)
    if n < 2:
        msg = f"`n` must be an integer >= 2; got {n!r}."
        raise ValueError(msg)
    if full.endswith(":power") and kf < 1.0:
        msg = f"`k` must be >= 1 for the power mean; got {k!r}."
        raise ValueError(msg)
    if math.isinf(kf):
        side = _RULES[full](1.0, n)[1]
        return Bound(full, kf, 0.0, side, math.inf, 1.0, full.endswith(":power"), "hard function")
    err, side, lip, tight, relative, note = _RULES[full](kf, n)
    return Bound(full, kf, err, side, lip, tight, relative, note)
