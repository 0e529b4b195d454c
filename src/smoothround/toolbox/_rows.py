"""Row ops: functions of the last axis of an array (a reduction such as the smooth max, or a map such as
softmax) with closed-form derivatives, wired into each framework's autodiff.

An op has ``value(xp, x)``, ``jvp(xp, x, t)`` (linear in ``t``) and ``vjp(xp, x, g)``. PyTorch runs it as one
``autograd.Function`` (backward = ``vjp``, recomputed from the saved input); JAX as one ``custom_jvp`` (reverse
mode transposes ``jvp``); NumPy evaluates the value. torch and jax are imported only when their arrays are in
hand.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

Array = Any


class RowOp(Protocol):
    def value(self, xp: Any, x: Array) -> Array: ...

    def jvp(self, xp: Any, x: Array, t: Array) -> Array: ...

    def vjp(self, xp: Any, x: Array, g: Array) -> Array: ...


def rows_apply(op: RowOp, backend: str, xp: Any, x: Array) -> Array:
    """``op``'s value at ``x`` (last axis = the row), differentiable in ``x``'s own framework."""
    if backend == "torch":
        from smoothround.toolbox._rows_torch import rows_apply as torch_apply

        return torch_apply(op, x)
    if backend == "jax":
        from smoothround.toolbox._rows_jax import rows_apply as jax_apply

        return jax_apply(op, x)
    with np.errstate(invalid="ignore"):  # NaN rows stay NaN quietly
        return op.value(xp, x)
