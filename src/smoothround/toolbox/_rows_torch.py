"""PyTorch adapter for the toolbox's row ops (reductions and maps along the last axis) with closed-form
derivatives: one ``autograd.Function`` whose backward recomputes the vector-Jacobian product from the saved
input (imported only when torch is in use)."""

from __future__ import annotations

from typing import Any

import array_api_compat.torch as xp
import torch


class RowFunction(torch.autograd.Function):
    """Forward: the op's value. Backward: the op's closed-form vector-Jacobian product, written in torch ops
    of the saved input, so double backward works."""

    @staticmethod
    def forward(op: Any, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return op.value(xp, x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
        op, x = inputs
        ctx.op = op
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return None, ctx.op.vjp(xp, x, grad)


def rows_apply(op: Any, x: torch.Tensor) -> torch.Tensor:
    """The op's value, through the autograd Function only when a gradient can be asked for (as the
    elementwise adapter does: without one, torch.compile traces plain tensor code)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return RowFunction.apply(op, x)
    return op.value(xp, x)
