"""PyTorch adapter: one ``autograd.Function`` for every elementwise op (imported only when torch is in use)."""

from __future__ import annotations

from typing import Any

import array_api_compat.torch as xp
import torch

from smoothround._backends import _torch_fused

# Eager evaluation runs a dozen elementwise kernels. On a large tensor each one would allocate (and page-fault)
# a fresh full-size temporary and stream it through memory; on blocks of 2^16 elements the temporaries stay in
# cache and the allocator reuses them. Only x and the result cross memory.
BLOCK = 1 << 16


def _blockwise(x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> bool:
    """Evaluate in blocks when it is safe and useful: eager, large, contiguous x, scalar parameters."""
    return (
        x.numel() > 2 * BLOCK
        and x.device.type == "cpu"  # on an accelerator, blocks would be thousands of small launches
        and x.is_contiguous()
        and all(p.numel() == 1 for p in params)
        and not torch.compiler.is_compiling()
        and not torch._C._functorch.is_functorch_wrapped_tensor(x)  # vmap/grad: one call, no views to fill
    )


def smooth_apply(op: Any, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
    """The op's value, through the autograd Function only when a gradient can be asked for.

    Without one (inference, ``torch.no_grad()``) the value is computed directly: nothing is saved, and
    torch.compile then traces plain tensor code (dynamo mis-binds a Function's non-tensor arguments when no
    input requires grad).
    """
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params)):
        if torch.compiler.is_compiling():  # dynamo cannot trace a Function with a custom jvp
            return SmoothElementwiseTraced.apply(op, x, *params)
        if not torch._C._are_functorch_transforms_active():
            # what Function.apply does here, minus its inspect.signature() of forward on every call (our
            # forward has no defaults to bind): tens of microseconds per call on small tensors
            return super(torch.autograd.Function, SmoothElementwise).apply(op, x, *params)
        return SmoothElementwise.apply(op, x, *params)
    return _evaluate(op, x, params)


def _evaluate(op: Any, x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> torch.Tensor:
    if _torch_fused.eligible(op, x, params):
        fused = _torch_fused.forward(op, x, params)
        if fused is not None:
            return fused
    named = dict(zip(op.param_names, params, strict=True))
    evaluate = op.hard if op.straight_through else op.value
    if not _blockwise(x, params):
        return evaluate(xp, x, named)
    flat = x.reshape(-1)
    out = torch.empty_like(flat)
    for start in range(0, flat.numel(), BLOCK):
        out[start : start + BLOCK] = evaluate(xp, flat[start : start + BLOCK], named)
    return out.view(x.shape)


class SmoothElementwiseTraced(torch.autograd.Function):
    """Forward: the op's value (or its hard limit for straight-through). Backward: the closed-form partials.

    Only the inputs are saved (``x`` and any tensor parameter such as a learnable ``k``); everything else is
    recomputed in backward, which is cheaper than storing intermediates for these few elementwise terms.
    The backward is itself differentiable (double backward works), because it is written in torch ops; and
    forward and backward are plain torch code, so torch.func derives the vmap rule (``vmap``, ``grad``,
    ``jacrev``, ``hessian``, per-sample gradients).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(op: Any, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _evaluate(op, x, params)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
        op, x, *params = inputs
        ctx.op = op
        ctx.save_for_backward(x, *params)
        ctx.save_for_forward(x, *params)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:  # type: ignore[override]
        op = ctx.op
        x, *params = ctx.saved_tensors
        names = ("x", *op.param_names)
        wrt = tuple(name for name, need in zip(names, ctx.needs_input_grad[1:], strict=True) if need)
        if not wrt:
            return (None,) * (len(names) + 1)
        named = dict(zip(op.param_names, params, strict=True))
        inputs = dict(zip(names, (x, *params), strict=True))
        fused = None
        if grad.shape == x.shape and not torch.is_grad_enabled() and _torch_fused.eligible(op, x, tuple(params)):
            fused = _torch_fused.backward(op, x, tuple(params), wrt, grad)
        if fused is not None:
            grads = fused
        elif _blockwise(x, tuple(params)) and grad.shape == x.shape and not torch.is_grad_enabled():
            grads = _blockwise_backward(op, x, named, wrt, grad.contiguous())
        else:
            partials = op.partials(xp, x, named, wrt)
            grads = {name: (grad * partials[name]).sum_to_size(inputs[name].shape) for name in wrt}
        return (None, *(grads.get(name) for name in names))


class SmoothElementwise(SmoothElementwiseTraced):
    """The eager Function: :class:`SmoothElementwiseTraced` plus forward mode (``torch.func.jvp``, ``jacfwd``,
    ``hessian``), which dynamo cannot trace."""

    @staticmethod
    def jvp(ctx: Any, _op_tangent: None, *tangents: torch.Tensor | None) -> torch.Tensor:
        """The output's tangent from the same closed-form partials as backward."""
        op = ctx.op
        x, *params = ctx.saved_tensors
        names = ("x", *op.param_names)
        given = [(name, t) for name, t in zip(names, tangents, strict=True) if t is not None]
        partials = op.partials(xp, x, dict(zip(op.param_names, params, strict=True)), tuple(n for n, _ in given))
        out = None
        for name, tangent in given:
            term = partials[name] * tangent
            out = term if out is None else out + term
        return out if out is not None else torch.zeros_like(x)


def _blockwise_backward(op: Any, x: torch.Tensor, named: dict, wrt: tuple[str, ...], grad: torch.Tensor) -> dict:
    """grad * partial for x (written block by block) and the sums of grad * partial for scalar parameters."""
    flat_x = x.reshape(-1)
    flat_grad = grad.reshape(-1)
    grad_x = torch.empty_like(flat_x) if "x" in wrt else None
    sums = {name: torch.zeros((), dtype=x.dtype, device=x.device) for name in wrt if name != "x"}
    for start in range(0, flat_x.numel(), BLOCK):
        block = slice(start, start + BLOCK)
        partials = op.partials(xp, flat_x[block], named, wrt)
        g = flat_grad[block]
        if grad_x is not None:
            torch.mul(g, partials["x"], out=grad_x[block])
        for name in sums:
            sums[name] += (g * partials[name]).sum()
    result = {name: total.reshape(named[name].shape) for name, total in sums.items()}
    if grad_x is not None:
        result["x"] = grad_x.view(x.shape)
    return result
