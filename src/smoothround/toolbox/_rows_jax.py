"""JAX adapter for the toolbox's row ops: one ``jax.custom_jvp`` whose tangent rule is the op's closed-form
Jacobian-vector product (imported only when jax is in use). The rule is linear in the tangent and written so
that its transpose, which reverse mode uses, is as free of cancellation as the rule itself."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def rows_apply(op: Any, x: jax.Array) -> jax.Array:
    return op.value(jnp, x)


@rows_apply.defjvp
def _rows_jvp(op: Any, primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return rows_apply(op, x), op.jvp(jnp, x, t)
