"""Argument checks shared by every public function.

Every message names the argument, says what was expected and shows what was received, in one fixed
wording: ``"`k` must be positive; got -1.0."``. A wrong type raises TypeError, a wrong value ValueError.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from smoothround._backends import is_symbolic_number, is_traced


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
    """True for Python and NumPy real scalars (not bool), which are kept as Python floats; not for the symbolic
    numbers of torch.compile, which are used as 0-d tensors."""
    if is_symbolic_number(value):
        return False
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def concrete_number(value: Any) -> Any:
    """``value`` itself, except a float under torch.compile: dynamo traces a float argument symbolically once it
    has changed between calls, and the term counts need its value. Reading it exactly (``as_integer_ratio``)
    makes dynamo guard on the value instead: a new ``k`` recompiles rather than fails. To compile once for every
    ``k``, pass ``k`` as a 0-d tensor."""
    torch = sys.modules.get("torch")
    if not (isinstance(value, float) and torch is not None and torch.compiler.is_compiling()):
        return value
    if value != value or value == math.inf or value == -math.inf:  # comparisons only: they trace as guards
        return value
    numerator, denominator = value.as_integer_ratio()
    return numerator / denominator


def check_real_scalar(name: str, value: Any) -> float:
    """Convert a real Python/NumPy scalar to float, or raise TypeError naming ``name``."""
    if not is_python_number(value):
        msg = f"`{name}` must be a real number; got {_show(value)} of type {type(value).__name__}."
        raise TypeError(msg)
    return float(concrete_number(value))


def _concrete_values(value: Any) -> np.ndarray | None:
    """The values of an array argument as NumPy, or None when they cannot be read (traced, or lazy)."""
    if is_traced(value) or is_symbolic_number(value):
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


STRAIGHT_THROUGH = ("identity", "smooth")


def check_straight_through(value: Any) -> str | None:
    """``False``/``None`` -> None (smooth forward); ``"identity"`` or ``"smooth"``; ``True`` means ``"smooth"``."""
    if value is None or (isinstance(value, (bool, np.bool_)) and not value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "smooth"
    if isinstance(value, str):
        if value not in STRAIGHT_THROUGH:
            msg = f"`straight_through` must be False, 'identity' or 'smooth'; got {value!r}."
            raise ValueError(msg)
        return value
    msg = f"`straight_through` must be False, 'identity' or 'smooth'; got {_show(value)} of type {type(value).__name__}."
    raise TypeError(msg)


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
