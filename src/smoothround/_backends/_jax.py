"""JAX adapter: one ``jax.custom_jvp`` for every elementwise op (imported only when jax is in use)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def smooth_elementwise(op: Any, x: jax.Array, *params: jax.Array) -> jax.Array:
    named = dict(zip(op.param_names, params, strict=True))
    return op.hard(jnp, x, named) if op.straight_through else op.value(jnp, x, named)


@smooth_elementwise.defjvp
def _smooth_elementwise_jvp(op: Any, primals: tuple, tangents: tuple) -> tuple:
    x, *params = primals
    out = smooth_elementwise(op, x, *params)
    named = dict(zip(op.param_names, params, strict=True))
    names = ("x", *op.param_names)
    partials = op.partials(jnp, x, named, names)
    tangent_out = jnp.zeros_like(out)
    for name, tangent in zip(names, tangents, strict=True):
        tangent_out = tangent_out + partials[name] * tangent
    return out, tangent_out
