"""Argument checks shared by every public function.

Every message names the argument, says what was expected and shows what was received, in one fixed
wording: ``"`k` must be positive; got -1.0."``. A wrong type raises TypeError, a wrong value ValueError.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from smoothround._backends import is_traced


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray) and value.size > 6:
        return f"array of shape {value.shape}"
    return repr(value)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise ValueError naming ``name``."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        allowed = ", ".join(repr(c) for c in options)
        msg = f"`{name}` must be one of {allowed}; got {_show(value)}."
        raise ValueError(msg)
    return value


def is_python_number(value: Any) -> bool:
    """True for Python and NumPy real scalars (not bool), which are kept as Python floats."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_real_scalar(name: str, value: Any) -> float:
    """Convert a real Python/NumPy scalar to float, or raise TypeError naming ``name``."""
    if not is_python_number(value):
        msg = f"`{name}` must be a real number; got {_show(value)} of type {type(value).__name__}."
        raise TypeError(msg)
    return float(value)


def _concrete_values(value: Any) -> np.ndarray | None:
    """The values of an array argument as NumPy, or None when they cannot be read (traced, or lazy)."""
    if is_traced(value):
        return None
    try:
        return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        return None


def check_positive(name: str, value: Any, *, allow_inf: bool = True) -> Any:
    """Check that a scalar or every element of an array is > 0 and not NaN (inf allowed if ``allow_inf``).

    Arrays traced by ``jax.jit`` or ``torch.compile`` cannot be read; they are passed through unchecked.
    """
    what = "positive and finite" if not allow_inf else "positive (inf gives the hard function)"
    if is_python_number(value):
        number = float(value)
        if math.isnan(number) or number <= 0 or (not allow_inf and math.isinf(number)):
            msg = f"`{name}` must be {what}; got {value!r}."
            raise ValueError(msg)
        return value
    values = _concrete_values(value)
    if values is None:
        return value
    bad = np.isnan(values) | (values <= 0)
    if not allow_inf:
        bad |= np.isinf(values)
    if np.any(bad):
        shown = float(values[bad].flat[0]) if values.ndim else float(values)
        where = "" if values.ndim == 0 else f" (an element of the array of shape {values.shape})"
        msg = f"`{name}` must be {what}; got {shown!r}{where}."
        raise ValueError(msg)
    return value


def check_tolerance(name: str, value: Any) -> float | None:
    """``None`` (use the dtype's eps) or a float in (0, 0.5)."""
    if value is None:
        return None
    tol = check_real_scalar(name, value)
    if not (0.0 < tol < 0.5) or math.isnan(tol):
        msg = f"`{name}` must be a number in (0, 0.5), or None for the dtype's eps; got {value!r}."
        raise ValueError(msg)
    return tol


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        msg = f"`{name}` must be True or False; got {_show(value)}."
        raise TypeError(msg)
    return bool(value)


def check_optional_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, float, np.floating)):
        msg = f"`{name}` must be an integer or None; got {_show(value)}."
        raise TypeError(msg)
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        msg = f"`{name}` must be an integer or None; got {value!r}."
        raise ValueError(msg)
    return int(value)
