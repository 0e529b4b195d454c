"""Fused CPU kernels for large tensors: each op's own array code, compiled by ``torch.compile`` (Inductor).

Eager evaluation of an op runs a few dozen elementwise kernels where ``torch.sigmoid`` runs one. Compiled, the
same array code becomes one loop that reads ``x`` once and writes the result once. Nothing here restates a
formula: the kernels are ``op.value`` / ``op.hard`` (forward) and ``op.partials`` (backward), traced as they are.

When the fused path is taken (all of these):

* the op says it is ``fusable`` (the rounding core's ops: their compiled results are scored against the
  oracle by the conformance suite's ``torch.fused`` groups);
* enabled (the default; ``SMOOTHROUND_FUSED=0`` in the environment or ``smoothround.set_fused_kernels(False)``
  turns it off);
* ``x`` is a plain strided CPU tensor of at least :data:`MIN_NUMEL` elements, float32 or float64 (float16 and
  bfloat16 arrive here as float32), every tensor parameter has one element;
* not while torch.compile traces (the user's own compilation then fuses our code into theirs) and not inside a
  torch.func transform;
* in backward, only when no graph of the gradient is wanted (double backward takes the eager path);
* the configuration is *hot* (see ``_pick``): a one-off call never waits for a compiler. A configuration is the
  op (method, plan, options), the dtype and, for backward, which partials are wanted. Called a second time with
  the same Python-number ``k``, it gets a kernel with that ``k`` folded in (the fastest); a third call with
  another ``k`` (an annealing schedule) gets a kernel that takes ``k`` as a 0-d tensor and serves every ``k``
  whose evaluation plan (form and number of terms) is the same. The call that makes a configuration hot waits
  for the compiler; the README's "Benchmarks" gives the measured latency.

At most :data:`MAX_CONFIGURATIONS` kernels are compiled in a process. If compiling fails (no C++ compiler, say),
a warning says so once and the eager path is used from then on.
"""

from __future__ import annotations

import hashlib
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

import array_api_compat.torch as xp
import torch
from torch.autograd import forward_ad

from smoothround._backends import FUSED_KERNELS

#: Smallest number of elements for which a fused kernel is used; below it the per-call cost of a compiled
#: function (guards, a few microseconds) and the eager path's dispatch are alike.
MIN_NUMEL = 1 << 18
#: The n-th large call of one configuration with one ``k`` compiles a kernel for that ``k``.
HOT_AFTER = 2
#: The n-th large call of one configuration, whatever its ``k``, compiles a kernel taking ``k`` at run time.
RUNTIME_HOT_AFTER = 3
#: Most configurations compiled in one process (each costs a compile and a little memory).
MAX_CONFIGURATIONS = 64

_lock = threading.Lock()
_calls: dict[tuple, int] = {}
_kernels: dict[tuple, _Kernel] = {}
_broken: list[str] = []  # why compiling failed, once it has


def eligible(op: Any, x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> bool:
    if not (FUSED_KERNELS[0] and getattr(op, "fusable", False)) or _broken:
        return False
    if torch.compiler.is_compiling() or torch.jit.is_tracing():  # first: dynamo refuses some tensor attributes
        return False
    return (
        x.device.type == "cpu"
        and x.numel() >= MIN_NUMEL
        and x.dtype in (torch.float32, torch.float64)
        and x.layout == torch.strided
        and x.is_contiguous()  # other memory formats (channels_last) keep theirs on the eager path
        and type(x) in (torch.Tensor, torch.nn.Parameter)
        and all(p.numel() == 1 and type(p) in (torch.Tensor, torch.nn.Parameter) for p in params)
        and not torch._C._functorch.is_functorch_wrapped_tensor(x)
        and not torch._C._are_functorch_transforms_active()
        and all(forward_ad.unpack_dual(t).tangent is None for t in (x, *params))  # forward-mode AD: eager
    )


class _Kernel:
    """One compiled function; its first call compiles. Any failure (compiling, or a later recompilation) warns
    once and switches the fused path off: that call and every later one run eagerly."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.compiled = torch.compile(fn, fullgraph=True)
        self.ready = False
        self.calls = 0  # how often it ran (the conformance suite checks that the fused path was taken)

    def __call__(self, flat: torch.Tensor, *args: torch.Tensor) -> Any:
        try:
            if not self.ready:
                for tensor in (flat, *args):
                    if tensor.dim() == 1:
                        torch._dynamo.maybe_mark_dynamic(tensor, 0)  # one kernel for every length
            # one grad mode for every call (the kernels hold no graph): no recompilation per mode
            with torch.no_grad():
                out = self.compiled(flat, *args)
        except Exception as err:  # any compiler failure: warn once, then stay eager
            with _lock:
                _broken.append(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
            warnings.warn(
                "smoothround could not compile its fused CPU kernel and uses the slower eager path from now on "
                f"({_broken[0]}). Set SMOOTHROUND_FUSED=0 to skip the attempt.",
                RuntimeWarning,
                stacklevel=4,
            )
            return None
        self.ready = True
        self.calls += 1
        return out


def _own_code(fn: Callable[..., Any], key: tuple) -> Callable[..., Any]:
    """``fn`` with a code object of its own, named after the configuration.

    torch.compile keeps its compiled graphs per code object and stops compiling one after a few variants, so
    every configuration gets its own. It also remembers, across processes, which inputs of a function (known by
    file, line and *name*) changed between compilations and then traces them symbolically; a Python-number
    ``k`` traced so would break the kernels' Python arithmetic. A name derived from the whole configuration
    means one name, one configuration, in every process.
    """
    name = "smoothround_fused_" + hashlib.sha1(repr(key).encode()).hexdigest()[:16]
    code = fn.__code__.replace(co_name=name)
    if hasattr(code, "co_qualname"):  # Python 3.11 and later
        code = code.replace(co_qualname=name)
    return types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)


def _pick(
    kind: str, op: Any, x: torch.Tensor, params: tuple[torch.Tensor, ...], wrt: tuple[str, ...],
    make: Callable[[Any], Callable[..., Any]],
) -> tuple[_Kernel, tuple[torch.Tensor, ...]] | None:
    """The kernel for this call and its tensor arguments, or None (eager).

    A configuration called twice with the same ``k`` gets a kernel specialised to that ``k`` (its constants
    are folded in: the fastest). One whose ``k`` keeps changing (an annealing schedule) gets, on its third
    call, a kernel that takes ``k`` as a 0-d tensor, which serves every ``k`` of the same plan.
    """
    fixed_key = (kind, op, wrt, x.dtype)
    variant = getattr(op, "with_runtime_k", lambda: None)()
    runtime_key = None if variant is None else (kind, variant[0], wrt, x.dtype)
    runtime_args = None if variant is None else (*params, torch.tensor(variant[1], dtype=x.dtype, device=x.device))
    with _lock:
        if fixed_key in _kernels:
            return _kernels[fixed_key], params
        if runtime_key is not None and runtime_key in _kernels:
            return _kernels[runtime_key], runtime_args  # type: ignore[return-value]
        if len(_kernels) >= MAX_CONFIGURATIONS:
            return None
        if len(_calls) > 4096:  # a schedule of ever new k: keep the counts bounded
            _calls.clear()
        fixed_calls = _calls[fixed_key] = _calls.get(fixed_key, 0) + 1
        runtime_calls = 0
        if runtime_key is not None:
            runtime_calls = _calls[runtime_key] = _calls.get(runtime_key, 0) + 1
        if fixed_calls >= HOT_AFTER:
            key, key_op, args = fixed_key, op, params
        elif runtime_calls >= RUNTIME_HOT_AFTER:
            key, key_op, args = runtime_key, variant[0], runtime_args  # type: ignore[index,assignment]
        else:
            return None
        kernel = _kernels[key] = _Kernel(_own_code(make(key_op), key))
        return kernel, args  # type: ignore[return-value]


def _flat(params: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return tuple(p.detach().reshape(()) for p in params)


def _make_forward(op: Any) -> Callable[..., Any]:
    names = op.param_names
    evaluate = op.hard if op.straight_through else op.value

    def fused_forward(flat: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        return evaluate(xp, flat, dict(zip(names, values, strict=True)))

    return fused_forward


def forward(op: Any, x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> torch.Tensor | None:
    """The op's forward value through a fused kernel, or None (not hot yet, or compiling failed)."""
    picked = _pick("forward", op, x, params, (), _make_forward)
    if picked is None:
        return None
    kernel, args = picked
    out = kernel(x.detach().contiguous().view(-1), *_flat(args))
    if out is None:
        return None
    return out.view(torch.broadcast_shapes(x.shape, *(p.shape for p in params)))


def backward(
    op: Any, x: torch.Tensor, params: tuple[torch.Tensor, ...], wrt: tuple[str, ...], grad: torch.Tensor
) -> dict[str, torch.Tensor] | None:
    """``grad`` times each wanted partial (summed to one element for a parameter), or None."""

    def make(key_op: Any) -> Callable[..., Any]:
        names = key_op.param_names

        def fused_backward(flat: torch.Tensor, flat_grad: torch.Tensor, *values: torch.Tensor) -> tuple:
            partials = key_op.partials(xp, flat, dict(zip(names, values, strict=True)), wrt)
            return tuple(
                flat_grad * partials[name] if name == "x" else (flat_grad * partials[name]).sum() for name in wrt
            )

        return fused_backward

    picked = _pick("backward", op, x, params, wrt, make)
    if picked is None:
        return None
    kernel, args = picked
    # grad as it comes: a view where it can be one (``y.sum().backward()`` hands in a broadcast scalar, whose
    # copy would cost a full pass; the kernel reads it with stride 0 - one more compiled variant, not a copy)
    out = kernel(x.detach().contiguous().view(-1), grad.reshape(-1), *_flat(args))
    if out is None:
        return None
    shapes = dict(zip(op.param_names, (p.shape for p in params), strict=True))
    return {
        name: value.view(x.shape) if name == "x" else value.reshape(shapes[name])
        for name, value in zip(wrt, out, strict=True)
    }
