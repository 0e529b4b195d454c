"""Smooth round, floor, ceil and quantize, for NumPy arrays, torch tensors and JAX arrays.

The mathematics is in :mod:`smoothround._rounding_math`; this module validates arguments, builds an elementwise
op (a frozen dataclass holding every static choice, so it is hashable for ``jax.jit`` and constant for
``torch.compile``) and hands it to the backend adapters of :mod:`smoothround._backends`.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from smoothround import _rounding_math as rm
from smoothround._backends import (
    Prepared,
    apply,
    backend_of,
    eps_of,
    is_compiling,
    is_traced,
    param_array,
    partials_numpy,
    prepare,
)
from smoothround._validation import (
    check_choice,
    check_optional_int,
    check_positive,
    check_straight_through,
    check_tolerance,
    concrete_number,
    is_python_number,
)

Array = Any

def _need(wrt: tuple[str, ...], value: bool = False) -> tuple[bool, bool, bool]:
    return (value, "x" in wrt or "offset" in wrt or "step" in wrt, "k" in wrt)


@dataclass(frozen=True)
class _Smooth:
    """Everything static about one method at one ``k``: the plan and the form of ``k`` the kernels get.

    ``k_value`` is the Python-number ``k`` (capped at a sixteenth of the compute dtype's largest number: beyond
    it every representable offset is saturated, so the function is unchanged except for floor and ceil of
    ``|x|`` below ``1e3 / cap``), or None when ``k`` is an array passed at call time.
    """

    method: str
    k_value: float | None
    plan: rm.Plan | None
    sharp: rm.Sharpness
    eps: float
    partial_max: float  # largest finite partial derivative in the output dtype

    def offset(self, xp: Any, off: rm.Offset, k: Any, need: tuple[bool, bool, bool], *,
               deviation: bool = False) -> tuple:
        """t(u), dt/du, dt/dk of the unclamped smooth round around a centre (``deviation``: t - u, dt/du - 1)."""
        return rm.evaluate(xp, off, k, self.method, self.sharp, self.plan, need, deviation=deviation)

    def runtime_k(self) -> _Smooth | None:
        """The same plan with ``k`` passed at call time as an array (a compiled kernel then serves every ``k``
        of this plan; its term counts are rounded up to a power of two, so that an annealed ``k`` meets few
        plans), or None when ``k`` is already an array or infinite."""
        if self.k_value is None or math.isinf(self.k_value):
            return None
        plan = self.plan
        if plan is not None:  # term counts rounded up to a power of two: fewer plans (kernels) for a schedule
            plan = rm.Plan(plan.form, _power_of_two_at_least(plan.fourier), _power_of_two_at_least(plan.direct))
        return dataclasses.replace(self, k_value=None, plan=plan, sharp=rm.Sharpness(None, True))

    def bounded(self, xp: Any, partial: Array) -> Array:
        """A partial derivative clipped to the output dtype's finite range (k/4 overflows float16 for large k)."""
        return rm.clip(partial, -self.partial_max, self.partial_max)


def _power_of_two_at_least(n: int) -> int:
    """0, 1, 2, 4, 8, ...: the smallest power of two >= n (0 stays 0). More terms only shrink the truncation."""
    return 0 if n == 0 else 1 << (n - 1).bit_length()


_FINFO_MAX = {"float64": float(np.finfo(np.float64).max), "float32": float(np.finfo(np.float32).max),
              "float16": 65504.0, "bfloat16": 3.3895313892515355e38}


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def _smooth(method: str, k: Any, tol: float | None, compute_dtype: Any, out_dtype: Any) -> _Smooth:
    """The static description of ``method`` at ``k`` (Python number, or an array: None), cached per (method, k,
    tol, dtypes): the plan's bounds are Python loops, and a training step calls this with the same arguments
    every time. Not cached while torch.compile traces (it compiles the result into the graph anyway)."""
    key = (method, float(k) if is_python_number(k) else None, tol, _dtype_name(compute_dtype), _dtype_name(out_dtype))
    if is_compiling():
        return _make_smooth(*key)
    cached = _SMOOTH_CACHE.get(key)
    if cached is None:
        if len(_SMOOTH_CACHE) >= 4096:  # a schedule of ever new k: keep the cache bounded
            _SMOOTH_CACHE.clear()
        cached = _SMOOTH_CACHE[key] = _make_smooth(*key)
    return cached


_SMOOTH_CACHE: dict[tuple, _Smooth] = {}


def _make_smooth(method: str, k_value: float | None, tol: float | None, name: str, out_name: str) -> _Smooth:
    eps = eps_of(name)
    partial_max = _FINFO_MAX.get(out_name, _FINFO_MAX[name])
    # the default truncation is the compute dtype's eps (float32 for float16/bfloat16): a few more terms, and
    # partials that carry no truncation error the output's rounding would not hide (quantize's step partial
    # multiplies the slope's by |y|)
    tol_value = eps if tol is None else tol
    if k_value is not None and not math.isinf(k_value):
        k_value = builtins.min(k_value, rm.FLOAT_MAX[name] / 16.0)
    sharp = rm.Sharpness.of(k_value, name)
    if method == "tanh" or (k_value is not None and math.isinf(k_value)):
        return _Smooth(method, k_value, None, sharp, eps, partial_max)
    plan = rm.plan_for(method, k_value, tol_value)
    if builtins.max(plan.fourier, plan.direct) > rm.MAX_TERMS:
        msg = f"`k`={k_value} needs {builtins.max(plan.fourier, plan.direct)} terms for tol={tol_value}; raise k or tol."
        raise ValueError(msg)
    return _Smooth(method, k_value, plan, sharp, eps, partial_max)


def _hard_round(xp: Any, x: Array, kind: str) -> Array:
    return {"round": xp.round, "floor": xp.floor, "ceil": xp.ceil}[kind](x)


def _finite_mask(xp: Any, x: Array) -> Array:
    """1.0 where x is finite (NaN included: it multiplies a NaN anyway), 0.0 at +-inf. A comparison, not the
    arithmetic (floatmax - |x|) + 1, which XLA reassociates under jit into 0 at the largest finite number."""
    return xp.astype(xp.abs(x) <= float(xp.finfo(x.dtype).max), x.dtype)


def _split_k(xp: Any, k: Array) -> tuple[Array, Array]:
    """For an array k: a finite stand-in (inf -> 1) and the mask of infinite entries (the hard function)."""
    is_inf = xp.isinf(k)
    return xp.where(is_inf, 1.0, k), is_inf


@dataclass(frozen=True)
class _RoundOp:
    #: torch may run it through a fused (compiled) kernel on large CPU tensors (``_backends/_torch_fused.py``)
    fusable: ClassVar[bool] = True

    kind: str
    smooth: _Smooth
    straight_through: str | None
    param_names: tuple[str, ...]

    def with_runtime_k(self) -> tuple[_RoundOp, float] | None:
        """This op taking its Python-number ``k`` as a trailing array parameter, and that ``k``."""
        smooth = self.smooth.runtime_k()
        k = self.smooth.k_value
        if smooth is None or k is None or "k" in self.param_names:
            return None
        return dataclasses.replace(self, smooth=smooth, param_names=(*self.param_names, "k")), k

    def _k(self, xp: Any, params: dict) -> tuple[Any, Any]:
        if "k" in params:
            return _split_k(xp, params["k"])
        return self.smooth.k_value, None

    def hard(self, xp: Any, x: Array, params: dict) -> Array:
        out = _hard_round(xp, x, self.kind)
        if "k" in params:
            out = out + 0.0 * params["k"]  # broadcast against k like the smooth function does
        return out

    def value(self, xp: Any, x: Array, params: dict) -> Array:
        k, k_inf = self._k(xp, params)
        if k_inf is None and math.isinf(k):
            return self.hard(xp, x, params)
        c, off = rm.reduce(xp, x, self.kind, self.smooth.eps)
        t, _, _ = self.smooth.offset(xp, off, k, (True, False, False))
        out = c + t
        return out if k_inf is None else xp.where(k_inf, _hard_round(xp, x, self.kind), out)

    def partials(self, xp: Any, x: Array, params: dict, wrt: tuple[str, ...]) -> dict:
        if self.straight_through == "identity":
            # the classic estimator: the hard function's gradient taken as 1 (0 at +-inf), nothing for k
            ones = _finite_mask(xp, x)
            if "k" in params:
                ones = ones + 0.0 * params["k"]
            return {name: (ones if name == "x" else 0.0 * ones) for name in wrt}
        k, k_inf = self._k(xp, params)
        if k_inf is None and math.isinf(k):
            return {name: 0.0 * x for name in wrt}
        _, off = rm.reduce(xp, x, self.kind, self.smooth.eps)
        _, du, dk = self.smooth.offset(xp, off, k, _need(wrt))
        result = {}
        finite_x = _finite_mask(xp, x)  # gradient 0 at +-inf
        if "x" in wrt:
            du = self.smooth.bounded(xp, du * finite_x)
            result["x"] = du if k_inf is None else xp.where(k_inf, 0.0, du)
        if "k" in wrt:
            result["k"] = xp.where(k_inf, 0.0, self.smooth.bounded(xp, dk * finite_x))
        return result


def _prepare_k(prepared: Prepared, k: Any) -> tuple[Any, dict]:
    """Validate ``k``; return its Python value (or None) and the array parameters."""
    if is_python_number(k):
        check_positive("k", k)
        return float(k), {}
    if isinstance(k, (bool, np.bool_)) or k is None or isinstance(k, str):
        msg = f"`k` must be a positive number or array; got {k!r}."
        raise TypeError(msg)
    check_positive("k", k)
    return None, {"k": param_array(prepared, "k", k)}


def _build_rounding(
    kind: str, x: Any, k: Any, *, method: str = "window", tol: Any = None, straight_through: Any = False
) -> tuple[_RoundOp, Prepared, dict]:
    check_choice("method", method, rm.METHODS)
    tol = check_tolerance("tol", tol)
    mode = check_straight_through(straight_through)
    prepared = prepare(x)
    k = concrete_number(k)
    _, params = _prepare_k(prepared, k)
    smooth = _smooth(method, k, tol, prepared.array.dtype, prepared.out_dtype)
    return _RoundOp(kind, smooth, mode, tuple(params)), prepared, params


def round(
    x: Any, /, k: Any, *, method: str = "window", tol: float | None = None, straight_through: bool | str = False
) -> Array:
    r"""Smooth round: converges to ``round(x)`` as ``k -> inf``; analytic, odd, ``r(x + 1) = r(x) + 1``.

    Methods (Semenov 2025, arXiv 2504.19026; docs/mathematics.md §1):

    * ``"window"`` (default): ``sum_n n [sigmoid(k(x - n + 1/2)) - sigmoid(k(x - n - 1/2))]``, i.e. ``round``
      convolved with a logistic density of scale ``1/k``. Practically the identity for ``k <= 1``.
    * ``"density"``: ``sum_n n rho(k(x - n)) / sum_n rho(k(x - n))`` with ``rho = sigmoid'``; at a given ``k``
      it is about as sharp as ``"window"`` at ``2k``.
    * ``"tanh"``: the Agustsson-Theis soft_round with ``alpha = k`` (only C^1), the common baseline.

    The infinite sums are evaluated to within ``tol`` of their exact value (default: the eps of the dtype they
    are computed in, float32 for float16 and bfloat16 input), value and slope alike, for every ``k``: a direct
    sum over the nearest integers for ``k >= 4.5``, a Fourier series below, with the number of terms taken from
    the truncation bounds, so the result has no jump above ``tol`` anywhere.
    Ties: ``r(m + 1/2) = m + 1/2`` for every finite ``k``; ``k = inf`` gives the hard ``round`` (half to even).

    Args:
        x: NumPy array, torch tensor, JAX array, Python number or nested list. float16 and bfloat16 compute in
            float32 and return their dtype; integer and bool input is promoted to the default float dtype.
        k: sharpness, ``> 0``: a Python number or an array broadcastable against ``x`` (then differentiable,
            i.e. a learnable sharpness). ``inf`` gives the hard function.
        method: ``"window"``, ``"density"`` or ``"tanh"``.
        tol: largest allowed truncation error of the value and the slope against the untruncated function, in
            ``(0, 0.5)``.
        straight_through: ``False`` (default): smooth forward and backward. ``"identity"``: the classic
            straight-through estimator, hard ``round`` forward and gradient 1 backward (what QAT tutorials and
            ``tfc.round_st`` mean; the usual choice when the forward pass must be the hard function, and the
            one that keeps a gradient at every ``x``). ``"smooth"`` (``True`` means the same): hard forward,
            the smooth function's derivative backward, which vanishes between the ties for large ``k``: use it
            with moderate ``k``, or to control the gradient's shape while evaluating the hard function.

    Returns:
        An array of the input's type, the broadcast shape of ``x`` and ``k``, and ``x``'s floating dtype.
        ``+-inf`` maps to ``+-inf`` with gradient 0, NaN to NaN.

    >>> import smoothround
    >>> smoothround.round([0.2, 0.5, 1.4, 2.6], 20.0)
    array([2.47179163e-03, 5.00000000e-01, 1.11920291e+00, 2.88079709e+00])
    >>> smoothround.round([0.2, 1.4], 20.0, method="density")
    array([6.36916451e-06, 1.01799784e+00])
    """
    return apply(*_build_rounding("round", x, k, method=method, tol=tol, straight_through=straight_through))


def floor(
    x: Any, /, k: Any, *, method: str = "window", tol: float | None = None, straight_through: bool | str = False
) -> Array:
    """Smooth floor ``F(x) = r(x - 1/2)``: thresholds at the integers, ``F(m) = m - 1/2`` (docs/mathematics.md §1, §7).

    For ``method="window"`` it is exactly ``floor`` convolved with a logistic density of scale ``1/k``:
    ``sum_n [sigmoid(k(x - n)) - 1{n <= 0}]``. Keywords as in :func:`round`.

    >>> import smoothround
    >>> smoothround.floor([0.0, 0.5, 2.999], 50.0)
    array([-0.5      ,  0.       ,  2.4875026])
    """
    return apply(*_build_rounding("floor", x, k, method=method, tol=tol, straight_through=straight_through))


def ceil(
    x: Any, /, k: Any, *, method: str = "window", tol: float | None = None, straight_through: bool | str = False
) -> Array:
    """Smooth ceil ``C(x) = r(x + 1/2) = F(x) + 1`` (docs/mathematics.md §1, §7). Keywords as in :func:`round`.

    >>> import smoothround
    >>> smoothround.ceil([0.0, 0.5, 0.001], 50.0)
    array([0.5      , 1.       , 0.5124974])
    """
    return apply(*_build_rounding("ceil", x, k, method=method, tol=tol, straight_through=straight_through))


# ================================================================================ quantize

SATURATIONS = ("clamp", "smooth")


@dataclass(frozen=True)
class _QuantizeOp:
    fusable: ClassVar[bool] = True  # as _RoundOp

    smooth: _Smooth
    step: float | None
    offset: float | None
    qmin: int | None
    qmax: int | None
    saturation: str
    clamp_terms: int
    straight_through: str | None
    param_names: tuple[str, ...]

    def _get(self, xp: Any, params: dict) -> tuple[Any, Any, Any, Any]:
        step = params.get("step", self.step)
        offset = params.get("offset", self.offset)
        if "k" in params:
            k, k_inf = _split_k(xp, params["k"])
        else:
            k, k_inf = self.smooth.k_value, None
        return k, k_inf, step, offset

    def with_runtime_k(self) -> tuple[_QuantizeOp, float] | None:
        """This op taking its Python-number ``k`` as a trailing array parameter, and that ``k`` (not for the
        smooth staircase, whose number of levels depends on ``k``)."""
        smooth = self.smooth.runtime_k()
        k = self.smooth.k_value
        if smooth is None or k is None or "k" in self.param_names or (self.clamped and self.saturation == "smooth"):
            return None
        return dataclasses.replace(self, smooth=smooth, param_names=(*self.param_names, "k")), k

    @property
    def clamped(self) -> bool:
        return self.qmin is not None or self.qmax is not None

    def _clip(self, xp: Any, y: Array, pad: float = 0.0) -> Array:
        low = None if self.qmin is None else self.qmin - pad
        high = None if self.qmax is None else self.qmax + pad
        return rm.clip(y, low, high)

    def _hard_code(self, xp: Any, y: Array) -> Array:
        return self._clip(xp, xp.round(y))

    def hard(self, xp: Any, x: Array, params: dict) -> Array:
        _, _, step, offset = self._get(xp, params)
        y = (x - offset) / step
        out = offset + step * self._hard_code(xp, y)
        if "k" in params:
            out = out + 0.0 * params["k"]
        return out

    def _code(self, xp: Any, y: Array, k: Any, need: tuple[bool, bool, bool], step: bool = False) -> tuple:
        """Q(y), dQ/dy, dQ/dk in the code domain, and with ``step`` also Q(y) - y Q'(y) (the step's partial).

        Unclamped or saturation="clamp": Q(y) = r(clamp(y)), whose y-derivative follows the clamp. Its partials
        come from the deviations t - u and t' - 1 of the smooth round, so Q - y Q' = (t - u) - y (t' - 1) inside
        the range has no cancellation at large |y| (the Fourier forms give both deviations directly).
        """
        if self.clamped and self.saturation == "smooth":
            q, dq, dk = self._staircase(xp, y, k, (need[0] or step, need[1] or step, need[2]))
            return q, dq, dk, (None if not step else q - xp.where(xp.isinf(y), 0.0, y) * dq)
        inside = None
        clipped = y
        if self.clamped:
            clipped = self._clip(xp, y)
            lo = -math.inf if self.qmin is None else self.qmin
            hi = math.inf if self.qmax is None else self.qmax
            inside = (y >= lo) & (y <= hi)  # torch.clamp's convention: the gradient passes at the bounds
        c, off = rm.reduce(xp, clipped, "round", self.smooth.eps)
        if not (need[1] or step):
            t, _, dk = self.smooth.offset(xp, off, k, need)
            return (c + t if need[0] else None), None, (None if dk is None else dk * _finite_mask(xp, clipped)), None
        dev, dev_slope, dk = self.smooth.offset(xp, off, k, (need[0] or step, True, need[2]), deviation=True)
        finite = _finite_mask(xp, clipped)
        dq = (1.0 + dev_slope) * finite
        if inside is not None:
            dq = xp.where(inside, dq, 0.0)
        q = c + (off.u + dev) if dev is not None else None
        dstep = None
        if step:
            # inside: Q - y Q' = dev - y dev'; outside: Q' = 0; at +-inf it has no limit and its gradient is 0
            inner = (dev - xp.where(xp.isinf(y), 0.0, y) * dev_slope) * finite
            dstep = inner if inside is None else xp.where(inside, inner, q)
        return q, dq, (None if dk is None else dk * finite), dstep

    def _staircase(self, xp: Any, y: Array, k: Any, need: tuple[bool, bool, bool]) -> tuple:
        """saturation="smooth": the convolved staircase sum_n clamp(n, qmin, qmax) W_n(y)."""
        method = self.smooth.method
        if method == "tanh":
            c, off = rm.reduce(xp, y, "round", self.smooth.eps)
            t, du, dk = rm.tanh_closed(xp, off, k, self.smooth.sharp, (True, need[1], need[2]))
            raw = c + t
            # soft_round is increasing and fixes the integers, so s(y) lies strictly inside (qmin, qmax) exactly
            # when y does: decided on y, not on the rounded s(y) (which reaches qmax a few ulp early)
            inside = (y > (-math.inf if self.qmin is None else self.qmin)) & (
                y < (math.inf if self.qmax is None else self.qmax)
            )
            return (
                self._clip(xp, raw),
                None if du is None else xp.where(inside, du, 0.0),
                None if dk is None else xp.where(inside, dk, 0.0),
            )
        if method == "window":
            # every sigmoid is saturated (exactly 0 or 1, derivatives 0) long before |y| = sqrt(floatmax) / 2;
            # the clip only keeps inf - inf and inf * 0 out
            reach = 0.5 * math.sqrt(float(xp.finfo(y.dtype).max))
            y_clipped = rm.clip(y, -reach, reach)
            q, du, dk = self._window_staircase(xp, y_clipped, k, self.clamp_terms, need)
        else:
            # beyond M + 1 levels past an end, Q differs from that end by less than the truncation bound
            y_clipped = self._clip(xp, y, self.clamp_terms + 1.0)
            # at small k the weighted mean runs over hundreds of levels, each weight rounded: in float32 that
            # alone costs ~1e-6, so such sums accumulate in float64 (where the namespace has it)
            wide = self.clamp_terms > 8 and y.dtype == xp.float32
            yy = xp.astype(y_clipped, xp.float64) if wide else y_clipped
            kk = xp.astype(k, xp.float64) if wide and not isinstance(k, float) else k
            c = xp.round(yy)
            off_u = yy - c
            s = xp.abs(off_u)
            off = rm.Offset(rm._sign(xp, off_u), s, 0.5 - s)
            centre = self._clip(xp, c)
            values = [self._clip(xp, c + j) - centre for j in range(-self.clamp_terms, self.clamp_terms + 1)]
            t, du, dk = rm.density_direct(xp, off, kk, self.smooth.sharp, self.clamp_terms, need, values=values)
            q = centre + t if need[0] else None
            if wide:
                q, du, dk = (None if a is None else xp.astype(a, y.dtype) for a in (q, du, dk))
        inside = y_clipped == y
        return (
            q,
            None if du is None else xp.where(inside, du, 0.0),
            None if dk is None else xp.where(inside, dk, 0.0),
        )

    def _window_staircase(self, xp: Any, y: Array, k: Any, terms: int, need: tuple) -> tuple:
        """Q1(y) = qmin + sum_{qmin < n <= qmax} sigmoid(k(y - n + 1/2)), windowed around the clamped centre in
        offset form: centre + sum over the window of [sigmoid(.) - 1{n <= centre}]."""
        need_t, need_u, need_k = need
        centre = self._clip(xp, xp.round(y))
        u = y - centre
        high = math.inf if self.qmax is None else self.qmax
        low = -math.inf if self.qmin is None else self.qmin
        t = du = dk = None
        for j in range(terms, 0, -1):
            h = j - 0.5
            up = xp.astype(centre + j <= high, y.dtype)  # level n = centre + j exists
            down = xp.astype(centre - j + 1 > low, y.dtype)  # level n = centre - j + 1 exists
            a = k * (u - h)
            b = -k * (u + h)
            if need_t:
                term = up * rm._sigmoid(xp, a) - down * rm._sigmoid(xp, b)
                t = term if t is None else t + term
            if need_u or need_k:
                ra = up * rm._rho_of(xp, a)
                rb = down * rm._rho_of(xp, b)
                if need_u:
                    du = k * (ra + rb) if du is None else du + k * (ra + rb)
                if need_k:
                    g = (u - h) * ra + (u + h) * rb
                    dk = g if dk is None else dk + g
        return (centre + t if need_t else None), du, dk

    def value(self, xp: Any, x: Array, params: dict) -> Array:
        k, k_inf, step, offset = self._get(xp, params)
        if k_inf is None and math.isinf(k):
            return self.hard(xp, x, params)
        y = (x - offset) / step
        q = self._code(xp, y, k, (True, False, False))[0]
        out = offset + step * q
        return out if k_inf is None else xp.where(k_inf, self.hard(xp, x, params), out)

    def _identity_code(self, xp: Any, y: Array, k: Any, need: tuple[bool, bool, bool], step: bool = False) -> tuple:
        """The classic straight-through estimator in the code domain: Q = clamp(round(y)), dQ/dy = 1 inside
        [qmin, qmax] (0 outside and at +-inf, as the clamp's), dQ/dk = 0. With a learned step this is LSQ."""
        dq = _finite_mask(xp, y)
        if self.clamped:
            lo = -math.inf if self.qmin is None else self.qmin
            hi = math.inf if self.qmax is None else self.qmax
            dq = xp.where((y >= lo) & (y <= hi), dq, 0.0)
        q = xp.where(xp.isinf(y), 0.0, self._hard_code(xp, y))
        return q, dq, 0.0 * dq, (q - xp.where(xp.isinf(y), 0.0, y) * dq if step else None)

    def partials(self, xp: Any, x: Array, params: dict, wrt: tuple[str, ...]) -> dict:
        k, k_inf, step, offset = self._get(xp, params)
        if k_inf is None and math.isinf(k) and self.straight_through != "identity":
            return {name: 0.0 * x for name in wrt}
        y = (x - offset) / step
        code = self._identity_code if self.straight_through == "identity" else self._code
        _, dq, dk, dstep = code(xp, y, k, (False, *_need(wrt)[1:]), step="step" in wrt)
        result = {}
        if dq is not None:
            dq = self.smooth.bounded(xp, dq)
            if k_inf is not None:
                dq = xp.where(k_inf, 0.0, dq)
        if "x" in wrt:
            result["x"] = dq
        if "offset" in wrt:
            result["offset"] = 1.0 - dq
        if "step" in wrt:
            result["step"] = self.smooth.bounded(xp, dstep)
            if k_inf is not None:  # the hard function's step partial (its slope is 0) where k is infinite
                hard = xp.where(xp.isinf(y), 0.0, self._hard_code(xp, y))
                result["step"] = xp.where(k_inf, hard, result["step"])
        if "k" in wrt:
            result["k"] = xp.where(k_inf, 0.0, self.smooth.bounded(xp, step * dk))
        return result


def _staircase_terms(method: str, k_value: float | None, k_array: Any, tol: float, qmin: Any, qmax: Any) -> int:
    """Number of terms of the convolved staircase (saturation="smooth"): the direct-sum bounds of the smallest
    k, and for the window method never more than the number of levels (then the finite sum is exact)."""
    levels = None if qmin is None or qmax is None else qmax - qmin
    if method == "tanh":  # soft_round, then the hard clamp: no sum to truncate
        return 1
    if k_value is None:
        if is_traced(k_array):
            if method == "window" and levels is not None:
                return builtins.max(levels, 1)
            msg = (
                "a traced array `k` with saturation='smooth' needs method='window' with both qmin and qmax (or "
                "method='tanh'), or a Python-number or concrete array k: how many levels are summed depends on k."
            )
            raise ValueError(msg)
        k_min = float(np.min(np.asarray(k_array.detach().cpu() if hasattr(k_array, "detach") else k_array)))
    else:
        k_min = k_value
    if method == "tanh" or math.isinf(k_min):
        return 1
    if method == "window":
        # the window's levels beyond M contribute at most sum_{i >= M} (i + 1) e^{-ki} (value; times k for the
        # slope and k * k-slope): M with max(1, k) (M + 1) e^{-kM} / (1 - e^{-k})^2 <= tol / 2
        q = math.exp(-k_min)
        terms = builtins.max(1, math.ceil(math.log(2.0 / tol) / k_min))
        while builtins.max(1.0, k_min) * (terms + 1) * math.exp(-k_min * terms) / (1.0 - q) ** 2 > tol / 2.0:
            terms += 1
            if terms > rm.MAX_TERMS:
                break
        if levels is not None:
            terms = builtins.min(terms, builtins.max(levels, 1))
    else:
        terms = rm.direct_terms("density", k_min, tol / 2.0)
    if terms > rm.MAX_TERMS:
        msg = f"`k`={k_min} with qmin/qmax needs {terms} terms for tol={tol}; raise k or tol, or narrow the levels."
        raise ValueError(msg)
    return terms


def quantize(
    x: Any,
    /,
    k: Any,
    *,
    step: Any = 1.0,
    offset: Any = 0.0,
    qmin: int | None = None,
    qmax: int | None = None,
    saturation: str = "clamp",
    method: str = "window",
    tol: float | None = None,
    straight_through: bool | str = False,
) -> Array:
    """Smooth quantization onto the grid ``offset + step * n``, ``n`` clamped to ``[qmin, qmax]`` when given.

    With ``y = (x - offset) / step`` the result is ``offset + step * Q(y)``. Without bounds ``Q`` is the smooth
    round of :func:`round`. With bounds, ``saturation`` chooses how the ends are reached:

    * ``"clamp"`` (default): ``Q(y) = r_k(clamp(y, qmin, qmax))``. It tends to ``clamp(y)`` (the identity inside
      the range) as ``k -> 0`` and to hard quantization as ``k -> inf``, so annealing ``k`` from small values
      does not shrink the weights. Outside the range the gradient in ``x`` is 0, as the clamp's is (LSQ and
      ``torch.ao`` fake quantization), and the gradient in ``step`` is ``qmin`` or ``qmax``, so a learned step
      keeps learning. At ``y = qmin`` and ``qmax`` the gradient passes, as in ``torch.clamp``.
    * ``"smooth"``: the convolved staircase ``Q(y) = sum_n clamp(n, qmin, qmax) W_n(y)``, which saturates
      smoothly: for ``"window"`` ``qmin + sum_{n = qmin+1..qmax} sigmoid(k(y - n + 1/2))`` (end bias about
      ``sigmoid(-k/2)`` at the end levels); for ``"density"`` ``sum_n clamp(n, qmin, qmax) p_n(y)``, which
      reaches ``qmin`` and ``qmax`` exactly; for ``"tanh"`` soft_round followed by the hard clamp. At small
      ``k`` it pulls every level towards the middle of the range.

    ``k`` is the steepness in code units (``k / step`` in ``x`` units). ``step`` and ``offset`` may be arrays
    (then differentiable, as in learned-step quantization); ``k`` too. Other keywords as in :func:`round`.

    >>> import smoothround
    >>> smoothround.quantize([0.26, 0.74, 5.0], 30.0, step=0.5, qmin=0, qmax=3)
    array([0.32282815, 0.67717185, 1.5       ])
    >>> smoothround.quantize([0.26, 0.74, 5.0], 30.0, step=0.5, qmin=0, qmax=3, saturation="smooth")
    array([0.32282815, 0.67717185, 1.5       ])
    """
    return apply(
        *_build_quantize(
            x,
            k,
            step=step,
            offset=offset,
            qmin=qmin,
            qmax=qmax,
            saturation=saturation,
            method=method,
            tol=tol,
            straight_through=straight_through,
        )
    )


def _build_quantize(
    x: Any,
    k: Any,
    *,
    step: Any = 1.0,
    offset: Any = 0.0,
    qmin: int | None = None,
    qmax: int | None = None,
    saturation: str = "clamp",
    method: str = "window",
    tol: float | None = None,
    straight_through: bool | str = False,
) -> tuple[_QuantizeOp, Prepared, dict]:
    check_choice("method", method, rm.METHODS)
    check_choice("saturation", saturation, SATURATIONS)
    tol = check_tolerance("tol", tol)
    mode = check_straight_through(straight_through)
    qmin = check_optional_int("qmin", qmin)
    qmax = check_optional_int("qmax", qmax)
    if qmin is not None and qmax is not None and qmin > qmax:
        msg = f"`qmin` must be <= `qmax`; got qmin={qmin}, qmax={qmax}."
        raise ValueError(msg)
    prepared = prepare(x)
    k = concrete_number(k)
    k_value, params = _prepare_k(prepared, k)
    statics: dict[str, float | None] = {}
    for name, value in (("step", concrete_number(step)), ("offset", concrete_number(offset))):
        if is_python_number(value):
            if name == "step":
                check_positive("step", value, allow_inf=False)
            elif not math.isfinite(value):
                msg = f"`offset` must be finite; got {value!r}."
                raise ValueError(msg)
            statics[name] = float(value)
        else:
            if name == "step":
                check_positive("step", value, allow_inf=False)
            params[name] = param_array(prepared, name, value)
            statics[name] = None
    smooth = _smooth(method, k, tol, prepared.array.dtype, prepared.out_dtype)
    tol_value = eps_of(prepared.array.dtype) if tol is None else tol
    terms = 0
    if saturation == "smooth" and (qmin is not None or qmax is not None):
        k_eff = None if k_value is None else smooth.k_value
        terms = _staircase_terms(method, k_eff, params.get("k"), tol_value, qmin, qmax)
    op = _QuantizeOp(
        smooth, statics["step"], statics["offset"], qmin, qmax, saturation, terms, mode, tuple(params)
    )
    return op, prepared, params


# ================================================================================ what an evaluation costs


@dataclass(frozen=True)
class EvaluationPlan:
    """How :func:`round` evaluates ``method`` at sharpness ``k``, and the error that truncation can add.

    ``form``: ``"fourier"`` (``terms`` harmonics; 0 = the identity), ``"direct"`` (``terms`` nearest-integer
    pairs; for ``"density"`` ``2 terms + 1`` weights), ``"closed"`` (the tanh method, no series) or ``"hard"``
    (``k = inf``). The bounds are guaranteed: ``truncation_bound`` on ``sup |truncated - exact|`` of the value,
    ``slope_bound`` on that of ``d/dx`` and ``k_slope_bound`` on that of ``k * d/dk``. The first two are at most
    ``tol`` (``tol / 2`` for direct sums, which jump by at most twice their value bound where their centre
    changes). A Python-number ``k`` is a constant, so no k-partial is taken and ``k_slope_bound`` is only
    reported; an array ``k`` (learnable) is evaluated with enough terms for all three.
    """

    method: str
    k: float
    tol: float
    form: str
    terms: int
    truncation_bound: float
    slope_bound: float = 0.0
    k_slope_bound: float = 0.0


def evaluation_plan(method: str, k: float, *, dtype: str = "float64", tol: float | None = None) -> EvaluationPlan:
    """The evaluation plan and guaranteed truncation errors of :func:`round` for a Python-number ``k``.

    ``dtype`` names the input's dtype ("float64", "float32", "float16", "bfloat16"): the eps of the dtype it
    is computed in (float32 for the last three) is the default ``tol``. :func:`floor`, :func:`ceil` and unbounded :func:`quantize` use the same plan.

    >>> import smoothround
    >>> plan = smoothround.evaluation_plan("window", 10.0, dtype="float32")
    >>> plan.form, plan.terms, plan.truncation_bound <= plan.tol / 2, plan.slope_bound <= plan.tol / 2
    ('direct', 2, True, True)
    >>> smoothround.evaluation_plan("density", 2.0).form, smoothround.evaluation_plan("window", 0.4).terms
    ('fourier', 0)
    """
    check_choice("method", method, rm.METHODS)
    k_value = float(check_positive("k", k)) if is_python_number(k) else None
    if k_value is None:
        msg = f"`k` must be a Python number here; got {type(k).__name__}."
        raise TypeError(msg)
    check_choice("dtype", dtype, ("float64", "float32", "float16", "bfloat16"))
    tol_value = check_tolerance("tol", tol) or eps_of("float64" if dtype == "float64" else "float32")
    if math.isinf(k_value):
        return EvaluationPlan(method, k_value, tol_value, "hard", 0, 0.0)
    if method == "tanh":
        return EvaluationPlan(method, k_value, tol_value, "closed", 0, 0.0)
    plan = rm.plan_for(method, k_value, tol_value)
    if plan.form == "fourier":
        bounds = rm.fourier_bounds(method, k_value, plan.fourier)
        return EvaluationPlan(method, k_value, tol_value, "fourier", plan.fourier, *bounds)
    bounds = rm.direct_bounds(method, k_value, plan.direct)
    return EvaluationPlan(method, k_value, tol_value, "direct", plan.direct, *bounds)


# ================================================================================ derivatives for NumPy

_BUILDERS: dict[Callable, Callable] = {
    round: functools.partial(_build_rounding, "round"),
    floor: functools.partial(_build_rounding, "floor"),
    ceil: functools.partial(_build_rounding, "ceil"),
    quantize: _build_quantize,
}


def derivative(fn: Callable, x: Any, /, k: Any, *, wrt: str = "x", **options: Any) -> Array:
    """Closed-form partial derivative of a smooth rounding function, for users without autodiff (NumPy).

    ``fn`` is :func:`round`, :func:`floor`, :func:`ceil` or :func:`quantize`; ``wrt`` names the variable:
    ``"x"``, ``"k"``, and for :func:`quantize` also ``"step"`` and ``"offset"``. The options are ``fn``'s. These
    are exactly the partials that the torch and JAX backward passes use, ``straight_through`` included: with
    ``"smooth"`` the smooth function's derivatives, with ``"identity"`` 1 (in ``x``, inside the clamp).

    >>> import smoothround
    >>> smoothround.derivative(smoothround.round, [0.0, 0.5], 20.0)
    array([1.81583231e-03, 5.00000008e+00])
    >>> smoothround.derivative(smoothround.quantize, [0.3], 20.0, wrt="step", step=0.5)
    array([-0.37912612])
    """
    build = _BUILDERS.get(fn)
    if build is None:
        msg = f"`fn` must be smoothround.round, floor, ceil or quantize; got {fn!r}."
        raise TypeError(msg)
    check_choice("wrt", wrt, ("x", "k", "step", "offset") if fn is quantize else ("x", "k"))
    if backend_of(x) != "numpy":
        msg = "`derivative` is for NumPy input; for torch and JAX use their autograd (the same closed forms)."
        raise TypeError(msg)
    if wrt == "k" and is_python_number(k):
        k = np.asarray(k, dtype=np.float64)  # a Python-number k is a constant; as an array it gets a partial
    if wrt in ("step", "offset"):
        default = 1.0 if wrt == "step" else 0.0
        options[wrt] = np.asarray(options.get(wrt, default), dtype=np.float64)
    op, prepared, params = build(x, k, **options)
    return partials_numpy(op, prepared, params, (wrt,))[wrt]
