"""PyTorch adapter: one ``autograd.Function`` for every elementwise op (imported only when torch is in use)."""

from __future__ import annotations

from typing import Any

import array_api_compat.torch as xp
import torch


class SmoothElementwise(torch.autograd.Function):
    """Forward: the op's value (or its hard limit for straight-through). Backward: the closed-form partials.

    Only the inputs are saved (``x`` and any tensor parameter such as a learnable ``k``); everything else is
    recomputed in backward, which is cheaper than storing intermediates for these few elementwise terms.
    The backward is itself differentiable (double backward works), because it is written in torch ops.
    """

    @staticmethod
    def forward(op: Any, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        named = dict(zip(op.param_names, params, strict=True))
        return op.hard(xp, x, named) if op.straight_through else op.value(xp, x, named)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
        op, x, *params = inputs
        ctx.op = op
        ctx.save_for_backward(x, *params)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:  # type: ignore[override]
        op = ctx.op
        x, *params = ctx.saved_tensors
        names = ("x", *op.param_names)
        wrt = tuple(name for name, need in zip(names, ctx.needs_input_grad[1:], strict=True) if need)
        if not wrt:
            return (None,) * (len(names) + 1)
        named = dict(zip(op.param_names, params, strict=True))
        partials = op.partials(xp, x, named, wrt)
        grads: list[torch.Tensor | None] = [None]
        for name, tensor in zip(names, (x, *params), strict=True):
            if name in partials:
                grads.append((grad * partials[name]).sum_to_size(tensor.shape))
            else:
                grads.append(None)
        return tuple(grads)
