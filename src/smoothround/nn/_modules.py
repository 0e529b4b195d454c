"""The PyTorch modules: SmoothRound and Quantizer, the weight helper, and the explicit schedule step."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from smoothround import qat
from smoothround.rounding import round as smooth_round

__all__ = ["Quantizer", "SmoothRound", "advance", "quantize_weights", "set_step"]

WEIGHT_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class _Sharpness(nn.Module):
    """The sharpness ``k`` of a module, in one of three forms.

    * fixed: a Python float (a constant of any compiled graph, and the fastest form: the evaluation plan is
      chosen once for that ``k``);
    * scheduled: a callable of the training step (:mod:`smoothround.schedules`), evaluated into the 0-d buffer
      ``k`` whenever the step is set (:meth:`set_step`); the step itself is the integer buffer
      ``schedule_step``. Both are in ``state_dict``, so a checkpoint resumes the schedule where it was;
    * learned: the parameter ``log_k``, ``k = exp(log_k)``.
    """

    k: torch.Tensor
    schedule_step: torch.Tensor
    log_k: nn.Parameter | None

    def _init_sharpness(self, k: Any, learn_k: Any) -> None:
        if not isinstance(learn_k, bool):
            msg = f"`learn_k` must be True or False; got {learn_k!r} of type {type(learn_k).__name__}."
            raise TypeError(msg)
        self._k_value: float | None = None
        self.schedule: Callable[[int], float] | None = None
        self.register_parameter("log_k", None)
        if callable(k) and not isinstance(k, torch.Tensor):
            if learn_k:
                msg = "`k` must be a number (the initial value) with learn_k=True; got a schedule."
                raise ValueError(msg)
            first = _positive_float("k", k(0), "the schedule's value at step 0")
            self.schedule = k
            self.register_buffer("k", torch.tensor(first))
            self.register_buffer("schedule_step", torch.tensor(0, dtype=torch.int64))
            return
        value = _positive_float("k", k, "k", allow_inf=not learn_k)
        if learn_k:
            self.log_k = nn.Parameter(torch.tensor(math.log(value)))
        else:
            self._k_value = value

    @property
    def k_mode(self) -> str:
        """``"fixed"``, ``"scheduled"`` or ``"learned"``."""
        if self.schedule is not None:
            return "scheduled"
        return "learned" if self.log_k is not None else "fixed"

    def current_k(self) -> float | torch.Tensor:
        """The ``k`` of the next forward pass: a float (fixed), the ``k`` buffer (scheduled) or ``exp(log_k)``."""
        if self.log_k is not None:
            return self.log_k.exp()
        if self.schedule is not None:
            return self.k
        assert self._k_value is not None
        return self._k_value

    @torch.no_grad()
    def set_step(self, step: int) -> None:
        """Evaluate the schedule at ``step`` into the ``k`` buffer, in place (no recompilation), and remember
        the step. Does nothing for a fixed or learned ``k``."""
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            msg = f"`step` must be an integer; got {step!r} of type {type(step).__name__}."
            raise TypeError(msg)
        if self.schedule is None:
            return
        value = _positive_float("k", self.schedule(int(step)), f"the schedule's value at step {step}")
        self.k.fill_(value)
        self.schedule_step.fill_(int(step))

    def _sharpness_repr(self) -> str:
        if self.schedule is not None:
            return f"k={self.schedule!r}"
        if self.log_k is not None:
            return "learn_k=True"
        return f"k={self._k_value}"


def _positive_float(name: str, value: Any, what: str, *, allow_inf: bool = False) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = (
            f"`{name}` must be a positive number or a schedule (a callable of the step), and for a learned k "
            f"its initial value with learn_k=True; got {what} = {value!r} of type {type(value).__name__}."
        )
        raise TypeError(msg)
    number = float(value)
    if not (number > 0) or (math.isinf(number) and not allow_inf):
        msg = f"`{name}` must be positive{'' if allow_inf else ' and finite'}; got {what} = {value!r}."
        raise ValueError(msg)
    return number


class SmoothRound(_Sharpness):
    """Smooth round as a layer: :func:`smoothround.round` while training, the hard ``round`` in ``eval()``.

    ``k`` is a positive number, a schedule (:mod:`smoothround.schedules`, advanced by :func:`set_step`) or,
    with ``learn_k=True``, the initial value of a learned ``k``. ``hard_in_eval=False`` keeps the smooth
    function in evaluation too. ``method``, ``straight_through`` and ``tol`` as in :func:`smoothround.round`.

    >>> import torch
    >>> from smoothround.nn import SmoothRound
    >>> layer = SmoothRound(20.0)
    >>> layer(torch.tensor([0.3, 1.4, 2.6]))
    tensor([0.0180, 1.1192, 2.8808])
    >>> layer.eval()(torch.tensor([0.2, 1.4, 2.6]))
    tensor([0., 1., 3.])
    """

    def __init__(
        self,
        k: float | Callable[[int], float] = 10.0,
        *,
        learn_k: bool = False,
        method: str = "window",
        straight_through: bool | str = False,
        tol: float | None = None,
        hard_in_eval: bool = True,
    ) -> None:
        super().__init__()
        self._init_sharpness(k, learn_k)
        smooth_round(0.0, 1.0, method=method, straight_through=straight_through, tol=tol)  # validate once
        self.method = method
        self.straight_through = straight_through
        self.tol = tol
        self.hard_in_eval = bool(hard_in_eval)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training and self.hard_in_eval:
            return torch.round(x)
        return smooth_round(
            x, self.current_k(), method=self.method, straight_through=self.straight_through, tol=self.tol
        )

    def extra_repr(self) -> str:
        return f"{self._sharpness_repr()}, method={self.method!r}, straight_through={self.straight_through!r}"


class Quantizer(_Sharpness):
    """Learned-step fake quantization (LSQ / LSQ+) with smooth rounding: a layer or a weight parametrization.

    ``train()``: :func:`smoothround.qat.fake_quantize` with ``training=True``, the smooth quantizer (or
    straight-through, with ``straight_through``), differentiable in the input, ``scale``, ``zero_point`` and a
    learned ``k``. ``eval()``: hard quantization onto the integer grid,
    ``(clamp(round(x / scale + zero_point), quant_min, quant_max) - zero_point) * scale``. The formula lives in
    :mod:`smoothround.qat` only; this module holds its parameters.

    Args:
        bits: the width, with ``signed`` (``[-2^(b-1), 2^(b-1) - 1]`` or ``[0, 2^b - 1]``); or give both
            ``quant_min`` and ``quant_max`` instead (``torch.ao``'s names).
        axis: per-channel quantization along this axis (0 for the weights of ``Linear`` and ``Conv``, the
            output channels); ``None``: one scale for the tensor.
        zero_point: learn a float zero point (LSQ+ offset), e.g. for activations with a small negative part
            into an unsigned range.
        k: a positive number (fixed), a schedule (:mod:`smoothround.schedules` or any callable of the step;
            advance it with :func:`set_step` or :func:`advance`), or the initial value with ``learn_k=True``
            (then ``log_k`` is a parameter).
        method, saturation, straight_through, tol: as in :func:`smoothround.quantize`. ``straight_through=
            "identity"`` is the classic STE (hard forward, gradient 1 inside the range): LSQ itself.
        grad_scale: ``"lsq"`` (default): the gradients of ``scale`` and ``zero_point`` times
            ``1 / sqrt(N quant_max)`` (:func:`smoothround.qat.lsq_grad_scale`); ``None`` or a number.

    ``scale`` (and ``zero_point``) are initialised from the first batch seen (LSQ: ``2 mean|x| /
    sqrt(quant_max)``; as a weight parametrization, from the weight at registration). The buffer
    ``initialized`` records it, so a loaded ``state_dict`` is not overwritten by a new initialisation. Under
    ``torch.distributed`` the initial scale is averaged over the ranks (the first forward is then collective),
    so every rank starts from the scale of the global batch. Run that first forward eagerly (a calibration
    batch) before ``torch.compile``, so the compiled graph has no initialisation branch.

    >>> import torch
    >>> from smoothround.nn import Quantizer
    >>> q = Quantizer(bits=2, k=30.0)          # codes -2, -1, 0, 1
    >>> x = torch.tensor([0.1, -0.6, 0.3, 1.0])
    >>> q(x).detach().round(decimals=4)        # the first batch sets scale = 2 * mean|x| / sqrt(1)
    tensor([ 0.0000, -0.9526,  0.0025,  1.0000])
    >>> q.scale
    Parameter containing:
    tensor(1., requires_grad=True)
    >>> q.eval()(torch.tensor([0.1, -0.6, 0.3, 1.0, 5.0, -5.0]))
    tensor([ 0., -1.,  0.,  1.,  1., -2.], grad_fn=<MulBackward0>)
    """

    initialized: torch.Tensor
    zero_point: nn.Parameter | None

    def __init__(
        self,
        bits: int | None = None,
        *,
        signed: bool = True,
        quant_min: int | None = None,
        quant_max: int | None = None,
        axis: int | None = None,
        zero_point: bool = False,
        k: float | Callable[[int], float] = 10.0,
        learn_k: bool = False,
        method: str = "window",
        saturation: str = "clamp",
        straight_through: bool | str = False,
        grad_scale: float | str | None = "lsq",
        tol: float | None = None,
    ) -> None:
        super().__init__()
        self.quant_min, self.quant_max = qat._levels(bits, signed, quant_min, quant_max)
        self.bits = bits
        self.signed = signed
        if axis is not None and (isinstance(axis, bool) or not isinstance(axis, numbers.Integral)):
            msg = f"`axis` must be an integer or None; got {axis!r} of type {type(axis).__name__}."
            raise TypeError(msg)
        if not isinstance(zero_point, bool):
            msg = f"`zero_point` must be True or False; got {zero_point!r} of type {type(zero_point).__name__}."
            raise TypeError(msg)
        self.axis = axis
        self._init_sharpness(k, learn_k)
        self.method = method
        self.saturation = saturation
        self.straight_through = straight_through
        self.grad_scale = grad_scale
        self.tol = tol
        # validate every option now, not at the first forward
        probe = {"scale": torch.ones(())}
        qat.fake_quantize(
            probe, torch.zeros(1), k=1.0, quant_min=self.quant_min, quant_max=self.quant_max, method=method,
            saturation=saturation, straight_through=straight_through, grad_scale=grad_scale, tol=tol,
        )  # fmt: skip
        # placeholders until the first batch (their shape too, for per-channel scales)
        self.scale = nn.Parameter(torch.ones(()))
        self.register_parameter("zero_point", nn.Parameter(torch.zeros(())) if zero_point else None)
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))
        self._ready = False  # a Python mirror of `initialized`: torch.compile branches on it without a sync

    def qat_params(self) -> dict[str, torch.Tensor]:
        """The parameter dict of :func:`smoothround.qat.fake_quantize`: ``scale``, ``zero_point``, ``log_k``."""
        params: dict[str, torch.Tensor] = {"scale": self.scale}
        if self.zero_point is not None:
            params["zero_point"] = self.zero_point
        if self.log_k is not None:
            params["log_k"] = self.log_k
        return params

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Set ``scale`` (and ``zero_point`` to 0) from the batch ``x`` (LSQ), averaged over the ranks under
        ``torch.distributed``; called by the first forward. Call it yourself to re-initialise."""
        init = qat.init_params(
            x.detach(),
            quant_min=self.quant_min,
            quant_max=self.quant_max,
            axis=self.axis,
            zero_point=self.zero_point is not None,
        )
        scale = init["scale"]
        distributed = torch.distributed
        if distributed.is_available() and distributed.is_initialized():
            distributed.all_reduce(scale, op=distributed.ReduceOp.SUM)
            scale = scale / distributed.get_world_size()
        for name, value in (("scale", scale), ("zero_point", init.get("zero_point"))):
            param = getattr(self, name)
            if param is None or value is None:
                continue
            value = value.to(dtype=param.dtype, device=param.device)
            if param.shape == value.shape:
                param.copy_(value)
            elif torch.compiler.is_compiling():
                msg = (
                    f"a per-channel Quantizer (axis={self.axis}) takes its shape from its first batch, which "
                    "torch.compile cannot trace: run one eager forward pass (a calibration batch) first."
                )
                raise RuntimeError(msg)
            else:
                param.data = value  # same Parameter object: optimizers made before keep working
        self.initialized.fill_(1)
        self._ready = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._ready:
            self.initialize(x)
        return qat.fake_quantize(
            self.qat_params(),
            x,
            k=None if self.log_k is not None else self.current_k(),
            quant_min=self.quant_min,
            quant_max=self.quant_max,
            method=self.method,
            saturation=self.saturation,
            straight_through=self.straight_through,
            training=self.training,
            grad_scale=self.grad_scale,
            tol=self.tol,
        )

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # a per-channel scale has its shape only once initialised: take the saved one
        for name in ("scale", "zero_point"):
            param = getattr(self, name)
            saved = state_dict.get(prefix + name)
            if param is not None and isinstance(saved, torch.Tensor) and saved.shape != param.shape:
                param.data = torch.empty(saved.shape, dtype=param.dtype, device=param.device)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        self._ready = bool(self.initialized.item())

    def extra_repr(self) -> str:
        width = f"bits={self.bits}, signed={self.signed}" if self.bits is not None else ""
        levels = f"quant_min={self.quant_min}, quant_max={self.quant_max}"
        parts = [p for p in (width, levels) if p]
        if self.axis is not None:
            parts.append(f"axis={self.axis}")
        if self.zero_point is not None:
            parts.append("zero_point=True")
        parts += [self._sharpness_repr(), f"method={self.method!r}", f"saturation={self.saturation!r}"]
        if self.straight_through:
            parts.append(f"straight_through={self.straight_through!r}")
        return ", ".join(parts)


# ---------------------------------------------------------------------------------------------- helpers


def quantize_weights(model: nn.Module, /, *, bits: int | None = None, **quantizer_kwargs: Any) -> nn.Module:
    """Quantize the weight of every ``Linear``, ``Conv1d``, ``Conv2d`` and ``Conv3d`` of ``model``, in place.

    Each weight gets a :class:`Quantizer` (``bits`` and ``quantizer_kwargs``; ``axis=0``, per output channel,
    unless given) through ``torch.nn.utils.parametrize``: ``module.weight`` is then the fake-quantized weight
    and the float weight is ``module.parametrizations.weight.original``. The quantizers take the weights' dtype
    and device, and their scales are initialised from the weights now. Returns ``model``.

    >>> import torch
    >>> from smoothround.nn import quantize_weights
    >>> model = quantize_weights(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()), bits=3, k=20.0)
    >>> layer = model.eval()[0]
    >>> scale = layer.parametrizations.weight[0].scale
    >>> scale.shape                                    # one scale per output channel
    torch.Size([3, 1])
    >>> codes = layer.weight / scale                   # in eval(), integers in [-4, 3]
    >>> bool((codes == codes.round()).all()), int(codes.min()) >= -4, int(codes.max()) <= 3
    (True, True, True)
    """
    if not isinstance(model, nn.Module):
        msg = f"`model` must be a torch.nn.Module; got {type(model).__name__}."
        raise TypeError(msg)
    quantizer_kwargs.setdefault("axis", 0)
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, WEIGHT_MODULES)]
    for name, module in targets:
        if isinstance(module.weight, nn.parameter.UninitializedParameter):
            msg = f"`model` has the uninitialised lazy module {name!r}: run a forward pass before quantize_weights."
            raise ValueError(msg)
        parametrizations: Any = getattr(module, "parametrizations", {})
        existing = parametrizations["weight"] if "weight" in parametrizations else ()
        if any(isinstance(p, Quantizer) for p in existing):
            msg = f"`model` already has a weight Quantizer on {name!r}; quantize_weights applies once."
            raise ValueError(msg)
    for _, module in targets:
        weight = module.weight
        # the quantizer's parameters in the weight's dtype and on its device (the model may be .double() already)
        quantizer = Quantizer(bits, **quantizer_kwargs).to(device=weight.device, dtype=weight.dtype)
        parametrize.register_parametrization(module, "weight", quantizer)
    return model


def _sharpness_modules(model: nn.Module) -> list[_Sharpness]:
    if not isinstance(model, nn.Module):
        msg = f"`model` must be a torch.nn.Module; got {type(model).__name__}."
        raise TypeError(msg)
    return [m for m in model.modules() if isinstance(m, _Sharpness) and m.schedule is not None]


def set_step(model: nn.Module, step: int, /) -> None:
    """Set the training step of every scheduled ``k`` in ``model`` (its own modules, parametrizations included).

    Call it once per optimizer step, next to ``lr_scheduler.step()``; it writes each schedule's value into the
    module's 0-d ``k`` buffer in place, so a compiled model keeps its one graph. Forward passes never
    advance the step themselves: a weight parametrization runs at every access of the weight, gradient
    accumulation and evaluation run several forwards per step, and state changed inside a compiled graph would
    be replayed by every call.

    >>> import torch
    >>> from smoothround import schedules
    >>> from smoothround.nn import Quantizer, set_step
    >>> model = torch.nn.Sequential(Quantizer(bits=4, k=schedules.geometric(1.0, 100.0, steps=10)))
    >>> set_step(model, 5); round(float(model[0].k), 4), int(model[0].schedule_step)
    (10.0, 5)
    """
    for module in _sharpness_modules(model):
        module.set_step(step)


def advance(model: nn.Module, /, steps: int = 1) -> None:
    """Advance every scheduled ``k`` in ``model`` by ``steps`` training steps (:func:`set_step` from each
    module's own ``schedule_step`` buffer, so a loaded checkpoint continues where it was).

    >>> import torch
    >>> from smoothround import schedules
    >>> from smoothround.nn import SmoothRound, advance
    >>> layer = SmoothRound(schedules.linear(1.0, 3.0, steps=2))
    >>> advance(layer); layer.k, layer.schedule_step
    (tensor(2.), tensor(1))
    """
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        msg = f"`steps` must be an integer; got {steps!r} of type {type(steps).__name__}."
        raise TypeError(msg)
    for module in _sharpness_modules(model):
        module.set_step(int(module.schedule_step.item()) + int(steps))
