"""Schedules of the sharpness ``k`` over training steps: ``k = schedule(step)``.

Annealing ``k`` from small (the smooth function is nearly the identity, every gradient flows) to large (nearly
the hard function) is how the smooth rounding functions are trained. A schedule is a small immutable callable:

* a Python ``int`` (or float) step gives a Python ``float``: pass it as ``k`` to :func:`smoothround.quantize`
  in eager code (a new Python ``k`` under ``torch.compile`` or as a ``jax.jit`` static argument recompiles);
* an array step (a NumPy array, a torch tensor, a JAX array, traced or not) gives an array of the same library,
  computed with that array's own namespace: inside ``jax.jit`` pass the step as an argument and the schedule is
  part of the compiled function; in PyTorch keep ``k`` in a 0-d tensor updated in place (what
  :class:`smoothround.nn.Quantizer` does), so ``torch.compile`` compiles once for every step.

Steps outside ``[0, steps]`` are clamped to the ends. Every ``k`` must be positive and finite. Schedules are
frozen dataclasses, hashable and comparable, so they can be static arguments of ``jax.jit``.

>>> from smoothround import schedules
>>> s = schedules.geometric(1.0, 100.0, steps=1000)
>>> s(0), round(s(500), 12), s(1000), s(5000)
(1.0, 10.0, 100.0, 100.0)
>>> schedules.linear(1.0, 3.0, 4)(1)
1.5

No array library is imported here: the namespace comes from the step that is passed in.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Schedule", "constant", "cosine", "geometric", "linear", "piecewise"]

INTERPOLATIONS = ("geometric", "linear", "cosine", "constant")


# ---------------------------------------------------------------------------------------------- checks


def _check_k(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"`{name}` must be a positive finite number; got {value!r} of type {type(value).__name__}."
        raise TypeError(msg)
    number = float(value)
    if not (number > 0.0 and math.isfinite(number)):
        msg = f"`{name}` must be a positive finite number; got {value!r}."
        raise ValueError(msg)
    return number


def _check_steps(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"`steps` must be an integer >= 1; got {value!r} of type {type(value).__name__}."
        raise TypeError(msg)
    if value < 1:
        msg = f"`steps` must be an integer >= 1; got {value!r}."
        raise ValueError(msg)
    return int(value)


def _is_number(step: Any) -> bool:
    return isinstance(step, numbers.Real) and not isinstance(step, bool)


def _as_float_array(step: Any) -> tuple[Any, Any]:
    """The step's namespace and the step as a floating array of it (integers: the library's default float)."""
    if isinstance(step, bool) or (not _is_number(step) and not hasattr(step, "shape")):
        msg = f"`step` must be a number or an array; got {step!r} of type {type(step).__name__}."
        raise TypeError(msg)
    from smoothround._backends import backend_of, namespace

    xp = namespace(backend_of(step))  # isinstance against the imported libraries: no import, compile-friendly
    if not xp.isdtype(step.dtype, "real floating"):
        if xp.isdtype(step.dtype, "bool"):
            msg = f"`step` must hold numbers; got an array of dtype {step.dtype}."
            raise TypeError(msg)
        step = step * 1.0  # a Python float promotes an integer array to its library's default float dtype
    return xp, step


# ---------------------------------------------------------------------------------------------- shapes


def _fraction_number(step: float, start: float, steps: int) -> float:
    return min(max((step - start) / steps, 0.0), 1.0)


def _interpolate_number(kind: str, a: float, b: float, t: float) -> float:
    """k between ``a`` (t = 0) and ``b`` (t = 1), exact at both ends."""
    if t <= 0.0:
        return a
    if t >= 1.0:
        return b
    if kind == "geometric":
        return math.exp(math.log(a) + (math.log(b) - math.log(a)) * t)
    if kind == "constant":
        return a  # holds until the next point
    # from the nearer end, so a value close to a small end is not the difference of two large numbers
    if kind == "linear":
        return a + (b - a) * t if t < 0.5 else b + (a - b) * (1.0 - t)
    if t < 0.5:  # cosine: a + (b - a)(1 - cos(pi t))/2 = a + (b - a) sin^2(pi t / 2)
        return a + (b - a) * math.sin(0.5 * math.pi * t) ** 2
    return b + (a - b) * math.cos(0.5 * math.pi * t) ** 2


def _interpolate_array(xp: Any, kind: str, a: float, b: float, t: Any, u: Any) -> Any:
    """As :func:`_interpolate_number`, with ``u = 1 - t`` computed from the segment's end (exact in float32)."""
    if kind == "geometric":
        return xp.exp(math.log(a) + (math.log(b) - math.log(a)) * t)
    if kind == "constant":
        return 0.0 * t + a
    if kind == "linear":
        from_a, from_b = t, u
    else:
        from_a, from_b = xp.sin(0.5 * math.pi * t) ** 2, xp.sin(0.5 * math.pi * u) ** 2
    return xp.where(t < 0.5, a + (b - a) * from_a, b + (a - b) * from_b)


# ---------------------------------------------------------------------------------------------- the class


@dataclass(frozen=True)
class Schedule:
    """``k`` as a function of the training step: through ``points`` ``(step, k)``, with ``interpolation``
    between consecutive points, held constant before the first and after the last.

    Build one with :func:`constant`, :func:`linear`, :func:`geometric`, :func:`cosine` or :func:`piecewise`.
    ``schedule(step)`` returns a Python float for a Python number and an array of the step's library otherwise.
    """

    points: tuple[tuple[int, float], ...]
    interpolation: str

    def __call__(self, step: Any) -> Any:
        if _is_number(step):
            return self._number(float(step))
        xp, t = _as_float_array(step)
        return self._array(xp, t)

    def _number(self, step: float) -> float:
        points = self.points
        if step <= points[0][0]:
            return points[0][1]
        for (s0, k0), (s1, k1) in itertools.pairwise(points):
            if step < s1:
                return _interpolate_number(self.interpolation, k0, k1, _fraction_number(step, s0, s1 - s0))
        return points[-1][1]

    def _array(self, xp: Any, step: Any) -> Any:
        """Branch-free, so it traces under ``jax.jit`` and ``torch.compile``: each segment's value where the
        step has reached its start."""
        points = self.points
        out = 0.0 * step + points[0][1]
        for (s0, k0), (s1, k1) in itertools.pairwise(points):
            t = xp.clip((step - s0) / (s1 - s0), 0.0, 1.0)
            u = xp.clip((s1 - step) / (s1 - s0), 0.0, 1.0)
            out = xp.where(step >= s0, _interpolate_array(xp, self.interpolation, k0, k1, t, u), out)
        return xp.where(step >= points[-1][0], 0.0 * step + points[-1][1], out)

    @property
    def start(self) -> float:
        """``k`` at (and before) the first point."""
        return self.points[0][1]

    @property
    def end(self) -> float:
        """``k`` at (and after) the last point."""
        return self.points[-1][1]


# ---------------------------------------------------------------------------------------------- constructors


def constant(k: float) -> Schedule:
    """The same ``k`` at every step.

    >>> from smoothround import schedules
    >>> schedules.constant(10.0)(12345)
    10.0
    """
    return Schedule(((0, _check_k("k", k)),), "constant")


def linear(start: float, end: float, steps: int) -> Schedule:
    """``k`` from ``start`` (step 0) to ``end`` (step ``steps``) along a straight line.

    >>> from smoothround import schedules
    >>> s = schedules.linear(2.0, 10.0, steps=4)
    >>> [s(i) for i in range(-1, 6)]
    [2.0, 2.0, 4.0, 6.0, 8.0, 10.0, 10.0]
    """
    return Schedule(((0, _check_k("start", start)), (_check_steps(steps), _check_k("end", end))), "linear")


def geometric(start: float, end: float, steps: int) -> Schedule:
    """``k`` from ``start`` to ``end`` at a constant ratio per step (linear in ``log k``).

    The usual annealing schedule: the error of the smooth functions falls like ``1/k``, so equal ratios give
    equal relative progress. With NumPy, torch or JAX steps it returns an array:

    >>> import numpy as np
    >>> from smoothround import schedules
    >>> s = schedules.geometric(1.0, 1000.0, steps=3)
    >>> round(s(1), 12), round(s(2), 12)
    (10.0, 100.0)
    >>> s(np.array([-5, 0, 1, 3, 4])).round(12)
    array([   1.,    1.,   10., 1000., 1000.])
    """
    return Schedule(((0, _check_k("start", start)), (_check_steps(steps), _check_k("end", end))), "geometric")


def cosine(start: float, end: float, steps: int) -> Schedule:
    """``k = end + (start - end)(1 + cos(pi step / steps)) / 2``: flat at both ends, steepest in the middle.

    >>> from smoothround import schedules
    >>> s = schedules.cosine(1.0, 3.0, steps=100)
    >>> s(0), round(s(50), 12), s(100)
    (1.0, 2.0, 3.0)
    """
    return Schedule(((0, _check_k("start", start)), (_check_steps(steps), _check_k("end", end))), "cosine")


def piecewise(points: Sequence[tuple[int, float]], *, interpolation: str = "geometric") -> Schedule:
    """``k`` through ``(step, k)`` points with increasing steps, interpolated between them.

    ``interpolation`` is ``"geometric"`` (linear in ``log k``, the default), ``"linear"``, ``"cosine"`` (a
    cosine ramp on each segment) or ``"constant"`` (``k`` of the last point passed: a step function). Before the
    first point ``k`` is the first point's, after the last the last point's.

    >>> from smoothround import schedules
    >>> s = schedules.piecewise([(0, 1.0), (1000, 10.0), (5000, 100.0)])
    >>> [round(s(step), 4) for step in (-10, 500, 1000, 3000, 5000, 9999)]
    [1.0, 3.1623, 10.0, 31.6228, 100.0, 100.0]
    >>> schedules.piecewise([(0, 1.0), (10, 5.0)], interpolation="constant")(9)
    1.0
    """
    if interpolation not in INTERPOLATIONS:
        allowed = ", ".join(repr(c) for c in INTERPOLATIONS)
        msg = f"`interpolation` must be one of {allowed}; got {interpolation!r}."
        raise ValueError(msg)
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
        msg = f"`points` must be a sequence of (step, k) pairs; got {type(points).__name__}."
        raise TypeError(msg)
    if len(points) == 0:
        msg = "`points` must hold at least one (step, k) pair; got an empty sequence."
        raise ValueError(msg)
    checked: list[tuple[int, float]] = []
    for i, point in enumerate(points):
        if not isinstance(point, Sequence) or len(point) != 2:
            msg = f"`points[{i}]` must be a (step, k) pair; got {point!r}."
            raise TypeError(msg)
        step, k = point
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            msg = f"`points[{i}]` must have an integer step; got {step!r} of type {type(step).__name__}."
            raise TypeError(msg)
        if checked and step <= checked[-1][0]:
            msg = f"`points` must have strictly increasing steps; got step {step} after {checked[-1][0]}."
            raise ValueError(msg)
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            msg = f"`points[{i}]` must have a positive finite k; got {k!r} of type {type(k).__name__}."
            raise TypeError(msg)
        if not (k > 0 and math.isfinite(k)):
            msg = f"`points[{i}]` must have a positive finite k; got {k!r}."
            raise ValueError(msg)
        checked.append((int(step), float(k)))
    return Schedule(tuple(checked), interpolation)
