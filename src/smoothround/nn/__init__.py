"""PyTorch layers for quantization-aware training with smooth rounding (imports torch; ``smoothround`` does not).

* :class:`Quantizer`: learned-step fake quantization (LSQ, LSQ+ with ``zero_point=True``) whose rounding is
  smooth while training and hard in ``eval()``; an activation layer, or a weight parametrization through
  ``torch.nn.utils.parametrize`` (see :func:`quantize_weights`).
* :class:`SmoothRound`: :func:`smoothround.round` as a layer.
* :func:`set_step` / :func:`advance`: move every scheduled ``k`` of a model to a training step, in place.

The arithmetic is :mod:`smoothround.qat`'s; these modules hold its parameters, the schedule state and the
first-batch initialisation. A short training loop:

>>> import torch
>>> from smoothround import schedules
>>> from smoothround.nn import Quantizer, quantize_weights, set_step
>>> _ = torch.manual_seed(0)
>>> k = schedules.geometric(2.0, 200.0, steps=50)
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
...                             Quantizer(bits=4, signed=False, k=k), torch.nn.Linear(16, 1))
>>> model = quantize_weights(model, bits=3, k=k)
>>> opt = torch.optim.Adam(model.parameters(), lr=1e-2)
>>> x, y = torch.randn(64, 8), torch.randn(64, 1)
>>> for step in range(50):
...     set_step(model, step)
...     loss = torch.nn.functional.mse_loss(model(x), y)
...     opt.zero_grad(); loss.backward(); opt.step()
>>> hard = torch.nn.functional.mse_loss(model.eval()(x), y)   # hard 3-bit weights, 4-bit activations
>>> bool(hard < torch.nn.functional.mse_loss(torch.zeros_like(y), y))
True
"""

from smoothround.nn._modules import Quantizer, SmoothRound, advance, quantize_weights, set_step

__all__ = ["Quantizer", "SmoothRound", "advance", "quantize_weights", "set_step"]
