"""Backend detection, dtype policy and the thin autograd adapters.

The mathematics lives once, in modules that take an array namespace ``xp`` (the array API standard, bound to
NumPy, PyTorch or JAX by array-api-compat). This module only decides which namespace a call uses, casts to the
compute dtype and back, and wires an *elementwise op* into each framework's autodiff:

* NumPy: the value (and, through :func:`smoothround.derivative`, the partial derivatives);
* PyTorch: one ``torch.autograd.Function`` for every op, whose backward recomputes the closed-form partials from
  the saved input, so nothing but the input is kept for backward;
* JAX: one ``jax.custom_jvp`` whose tangent rule uses the same closed-form partials.

torch and jax are imported only when a tensor of theirs is already in hand (einops' habit), so
``import smoothround`` imports neither.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

Array = Any


class ElementwiseOp(Protocol):
    """What an adapter needs from an op: its value, its hard limit and its partial derivatives.

    ``params`` maps the names in ``param_names`` to arrays broadcastable against ``x`` (already in the compute
    dtype); Python-number parameters are fields of the op itself and get no gradient.
    """

    @property
    def param_names(self) -> tuple[str, ...]: ...

    @property
    def straight_through(self) -> bool | str | None:
        """Falsy: the smooth value forward; otherwise the hard value forward (the partials say what backward
        uses)."""

    def value(self, xp: Any, x: Array, params: dict[str, Array]) -> Array: ...

    def hard(self, xp: Any, x: Array, params: dict[str, Array]) -> Array: ...

    def partials(
        self, xp: Any, x: Array, params: dict[str, Array], wrt: tuple[str, ...]
    ) -> dict[str, Array]: ...


# ---------------------------------------------------------------------------------------------- fused kernels

#: Whether torch on the CPU may use fused (compiled) kernels for large tensors; see ``_torch_fused``.
FUSED_KERNELS = [os.environ.get("SMOOTHROUND_FUSED", "1").strip().lower() not in ("0", "false", "off", "no")]


def set_fused_kernels(enabled: bool) -> bool:
    """Allow (True, the default) or forbid fused CPU kernels for large torch tensors; returns the previous setting.

    With them, round, floor, ceil and quantize of a torch CPU tensor of at least 2^18 elements run as one
    compiled loop (through ``torch.compile``) from the second call of a configuration on; that call waits for
    the compiler once (seconds; the README's "Benchmarks" gives the measured figures). Forbidden, every call runs eagerly. The
    environment variable ``SMOOTHROUND_FUSED=0`` forbids them from the start. Results agree with the eager
    path to within the stated tolerance.
    """
    if not isinstance(enabled, bool):
        msg = f"`enabled` must be True or False; got {enabled!r}."
        raise TypeError(msg)
    previous = FUSED_KERNELS[0]
    FUSED_KERNELS[0] = enabled
    return previous


# ---------------------------------------------------------------------------------------------- detection


def is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_jax(x: Any) -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.Array)


def is_traced(x: Any) -> bool:
    """True when ``x``'s values cannot be read now (a JAX tracer, or a tensor inside torch.compile)."""
    jax_core = sys.modules.get("jax.core")
    if jax_core is not None and isinstance(x, jax_core.Tracer):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return bool(torch.compiler.is_compiling())
    return False


def is_compiling() -> bool:
    """True while torch.compile traces (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and bool(torch.compiler.is_compiling())


def is_symbolic_number(x: Any) -> bool:
    """True for a torch.SymFloat/SymInt: a Python number that torch.compile traces symbolically (it does so when
    a float argument changes between calls). Its value cannot be read without recompiling, so it is treated as
    a 0-d tensor."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, (torch.SymFloat, torch.SymInt))


def backend_of(x: Any) -> str:
    if is_torch(x):
        return "torch"
    if is_jax(x):
        return "jax"
    return "numpy"


def namespace(backend: str) -> Any:
    """The array-API namespace of a backend name ('numpy', 'torch' or 'jax'); imports are cached by Python."""
    if backend == "torch":
        import array_api_compat.torch as xp_torch

        return xp_torch
    if backend == "jax":
        import jax.numpy as jnp

        return jnp
    import array_api_compat.numpy as xp_numpy

    return xp_numpy


# ---------------------------------------------------------------------------------------------- dtypes


@dataclass(frozen=True)
class Prepared:
    """An input converted to its backend's compute dtype, with what is needed to convert the result back."""

    backend: str
    xp: Any
    array: Array
    out_dtype: Any

    def finish(self, value: Array) -> Array:
        if value.dtype != self.out_dtype:
            value = self.xp.astype(value, self.out_dtype)
        return value


def _default_float(backend: str, xp: Any) -> Any:
    if backend == "torch":
        import torch

        return torch.get_default_dtype()
    if backend == "jax":
        import jax

        return xp.float64 if getattr(jax.config, "jax_enable_x64", False) else xp.float32
    return xp.float64


def prepare(x: Any, name: str = "x") -> Prepared:
    """Convert ``x`` (array, tensor, scalar or nested list) to an array of its backend in the compute dtype.

    float64 and float32 compute as they are; float16 and bfloat16 compute in float32 and return their own dtype;
    integer and bool inputs are promoted to the backend's default floating dtype (float64 for NumPy,
    ``torch.get_default_dtype()``, JAX's default float) and returned in it. Complex input raises TypeError.
    """
    backend = backend_of(x)
    xp = namespace(backend)
    if backend == "numpy":
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as err:
            msg = f"`{name}` must be a real array, tensor or number; got {type(x).__name__}."
            raise TypeError(msg) from err
        if x.dtype == object or x.dtype.kind in "USVMmO":
            msg = f"`{name}` must hold real numbers; got an array of dtype {x.dtype}."
            raise TypeError(msg)
    dtype = x.dtype
    if xp.isdtype(dtype, "complex floating"):
        msg = f"`{name}` must be real; got complex dtype {dtype}."
        raise TypeError(msg)
    if xp.isdtype(dtype, "real floating"):
        if dtype in (xp.float64, xp.float32):
            return Prepared(backend, xp, x, dtype)
        return Prepared(backend, xp, xp.astype(x, xp.float32), dtype)
    if xp.isdtype(dtype, ("integral", "bool")):
        out = _default_float(backend, xp)
        return Prepared(backend, xp, xp.astype(x, out), out)
    # low-precision floats that the array API does not list (bfloat16 in NumPy via ml_dtypes, jax's float8...)
    try:
        converted = xp.astype(x, xp.float32)
    except (TypeError, ValueError) as err:
        msg = f"`{name}` must have a real dtype; got {dtype}."
        raise TypeError(msg) from err
    return Prepared(backend, xp, converted, dtype)


def eps_of(dtype: Any) -> float:
    """Machine epsilon of a (possibly low-precision) floating dtype of any backend."""
    name = str(dtype).rsplit(".", 1)[-1]
    table = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}
    return table.get(name, 2.0**-23)


def param_array(prepared: Prepared, name: str, value: Any) -> Array:
    """Convert an array parameter (``k``, ``step``...) to ``x``'s backend, device and compute dtype."""
    backend = backend_of(value)
    if backend not in ("numpy", prepared.backend):
        msg = f"`{name}` is a {backend} array but `x` is a {prepared.backend} array; pass both from one library."
        raise TypeError(msg)
    xp = prepared.xp
    compute = prepared.array.dtype
    if prepared.backend == "torch":
        import torch

        if isinstance(value, torch.Tensor):
            return value.to(device=prepared.array.device, dtype=compute)
        if is_symbolic_number(value):
            return torch.scalar_tensor(value, dtype=compute, device=prepared.array.device)
        return torch.as_tensor(
            np.asarray(value, dtype=np.float64), dtype=compute, device=prepared.array.device
        )
    return xp.astype(xp.asarray(value), compute)


# ---------------------------------------------------------------------------------------------- adapters


def apply(op: ElementwiseOp, prepared: Prepared, params: dict[str, Array]) -> Array:
    """Evaluate ``op`` on a prepared input, differentiably in the input's own framework."""
    x = prepared.array
    args = [params[name] for name in op.param_names]
    out: Array
    if prepared.backend == "torch":
        from smoothround._backends._torch import smooth_apply

        out = smooth_apply(op, x, *args)
    elif prepared.backend == "jax":
        from smoothround._backends._jax import smooth_elementwise

        out = smooth_elementwise(op, x, *args)
    else:
        out = _numpy_value(op, prepared.xp, x, params)
    return prepared.finish(out)


#: NumPy evaluates large arrays in blocks of this many elements: the op's dozens of temporaries then stay in
#: cache instead of each streaming a full-size array through memory (as torch's eager path does)
NUMPY_BLOCK = 1 << 14


def _numpy_value(op: ElementwiseOp, xp: Any, x: np.ndarray, params: dict[str, Array]) -> np.ndarray:
    evaluate = op.hard if op.straight_through else op.value
    # inf - inf in discarded where-branches; (x - offset) / step overflowing to +-inf, which the ops handle
    with np.errstate(invalid="ignore", over="ignore"):
        if x.size <= 2 * NUMPY_BLOCK or any(np.size(p) != 1 for p in params.values()):
            return np.asarray(evaluate(xp, x, params))
        shape = np.broadcast_shapes(x.shape, *(np.shape(p) for p in params.values()))
        flat = np.ascontiguousarray(x).reshape(-1)
        scalars = {name: np.reshape(p, ()) for name, p in params.items()}
        out = np.empty(flat.shape, dtype=x.dtype)
        for start in range(0, flat.size, NUMPY_BLOCK):
            out[start : start + NUMPY_BLOCK] = evaluate(xp, flat[start : start + NUMPY_BLOCK], scalars)
        return out.reshape(shape)


def partials_numpy(
    op: ElementwiseOp, prepared: Prepared, params: dict[str, Array], wrt: tuple[str, ...]
) -> dict:
    """The closed-form partial derivatives of ``op`` (what backward uses), in the output's dtype."""
    xp = prepared.xp
    with np.errstate(invalid="ignore"):  # inf - inf in discarded where-branches
        result = op.partials(xp, prepared.array, params, wrt)
    shape = np.broadcast_shapes(prepared.array.shape, *(np.shape(p) for p in params.values()))
    return {
        name: prepared.finish(xp.broadcast_to(xp.asarray(value), shape)) for name, value in result.items()
    }
