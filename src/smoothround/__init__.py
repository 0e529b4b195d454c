"""smoothround: smooth, differentiable rounding and smoothing with guaranteed error, for NumPy, PyTorch, JAX."""

from smoothround import qat, schedules
from smoothround._backends import set_fused_kernels
from smoothround.inverse import round_conditional_mean, round_inverse
from smoothround.rounding import EvaluationPlan, ceil, derivative, evaluation_plan, floor, quantize, round
from smoothround.toolbox import *  # noqa: F403
from smoothround.toolbox import __all__ as _toolbox_all

__all__ = [
    "EvaluationPlan",
    "ceil",
    "derivative",
    "evaluation_plan",
    "floor",
    "qat",
    "quantize",
    "round",
    "round_conditional_mean",
    "round_inverse",
    "schedules",
    "set_fused_kernels",
    *_toolbox_all,
]
__version__ = "0.1.0"
