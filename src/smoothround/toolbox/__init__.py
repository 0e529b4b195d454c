"""The smoothing toolbox: smooth max/min, softmax and soft argmax, smooth abs/relu/clamp/sign/step, metric
losses, Dirac mollifiers and the smoothing of any step function, each with its guarantees (:func:`bounds`).

Every function takes its data positionally and its options by keyword, accepts NumPy arrays, PyTorch tensors
and JAX arrays, and returns the input's type and floating dtype (float16/bfloat16 are computed in float32).
"""

from smoothround.toolbox._bounds import BOUND_NAMES, Bound, bounds
from smoothround.toolbox._elementwise import smooth_abs, smooth_clamp, smooth_relu, smooth_sign, smooth_step
from smoothround.toolbox._maxmin import (
    smooth_max,
    smooth_maximum,
    smooth_min,
    smooth_minimum,
    soft_argmax,
    soft_onehot,
    softmax,
)
from smoothround.toolbox._metrics import (
    smooth_accuracy,
    smooth_f1,
    smooth_fbeta,
    smooth_precision,
    smooth_recall,
)
from smoothround.toolbox._mollifiers import mollifier, mollifier_cdf, smooth_steps

__all__ = [
    "BOUND_NAMES",
    "Bound",
    "bounds",
    "mollifier",
    "mollifier_cdf",
    "smooth_abs",
    "smooth_accuracy",
    "smooth_clamp",
    "smooth_f1",
    "smooth_fbeta",
    "smooth_max",
    "smooth_maximum",
    "smooth_min",
    "smooth_minimum",
    "smooth_precision",
    "smooth_recall",
    "smooth_relu",
    "smooth_sign",
    "smooth_step",
    "smooth_steps",
    "soft_argmax",
    "soft_onehot",
    "softmax",
]
