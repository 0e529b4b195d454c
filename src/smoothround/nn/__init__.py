"""PyTorch layers for quantization-aware training with smooth rounding (imports torch; ``smoothround`` does not).

* :class:`Quantizer`: learned-step fake quantization (LSQ, LSQ+ with ``zero_point=True``) whose rounding is
  smooth while training and hard in ``eval()``; an activation layer, or a weight parametrization through
  ``torch.nn.utils.parametrize`` (see :func:`quantize_weights`).
* :class:`SmoothRound`: :func:`smoothround.round` as a layer.
* :func:`set_step` / :func:`advance`: move every scheduled ``k`` of a model to a training step, in place.

The arithmetic is :mod:`smoothround.qat`'s; these modules hold its parameters, the schedule state and the
first-batch initialisation. In short (docs/training.md has the whole loop):

>>> import torch
>>> from smoothround import schedules
>>> from smoothround.nn import Quantizer, quantize_weights, set_step
>>> k = schedules.geometric(1.0, 200.0, steps=1000)
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
...                             Quantizer(bits=4, signed=False, k=k), torch.nn.Linear(16, 1))
>>> model = quantize_weights(model, bits=3, k=k)         # 3-bit weights, 4-bit activations
>>> set_step(model, 0)                                   # in the loop: once per optimizer step
>>> model(torch.randn(64, 8)).sum().backward()          # smooth: gradients reach weights and scales
>>> model[0].parametrizations.weight.original.grad is not None, model[2].scale.grad is not None
(True, True)
>>> layer = model.eval()[0]                              # hard: integer codes times per-channel scales
>>> codes = layer.weight / layer.parametrizations.weight[0].scale
>>> bool(torch.allclose(codes, codes.round(), atol=1e-5))
True
"""

from smoothround.nn._modules import Quantizer, SmoothRound, advance, quantize_weights, set_step

__all__ = ["Quantizer", "SmoothRound", "advance", "quantize_weights", "set_step"]
