"""Score smoothround's rounding core against the 50-digit oracle ``tests/data/oracle_rounding.npz``.

Every group is one function (round, floor, ceil, or one quantize configuration and saturation), method, backend
(``numpy``, ``torch``, ``jax``, ``jax.jit``, and torch's fused CPU kernels ``torch.fused`` / ``torch.fused_k``),
dtype and form of k; its quantities (value, d/dx, d/dk and for
quantize d/dstep, d/doffset) are scored with :mod:`conformance.measures` at every (k, x) of the oracle whose x
belongs to the dtype.

* ``k_form="array"``: k is an array of x's shape (float32 for float16/bfloat16 inputs, x's dtype otherwise), so
  every point of the k grid is one element of one call and every partial comes out per element: NumPy through
  ``smoothround.derivative``, torch through ``.backward()`` of the sum with k (and quantize's step and offset)
  tensors requiring grad, JAX through ``jax.vjp`` (eagerly and under ``jax.jit``).
* ``k_form="scalar"``: k is a Python float, one call per k. NumPy scores every quantity (``derivative`` takes
  ``wrt="k"`` there too); torch and JAX only the value and d/dx (a Python k is a constant). JAX evaluates a
  sample of the k grid (``JAX_SCALAR_K``: every ``JAX_EAGER_EVERY``-th k plus the switch points, eagerly, and
  ``JAX_QUANTIZE_SCALAR_K`` for quantize; ``JAX_JIT_SCALAR_K`` under jit, where every k is a compilation).
* ``torch.fused`` / ``torch.fused_k``: the compiled kernels that torch uses on large CPU tensors, forced on for
  every call (each call must run a fused kernel forward and backward, or its row fails): specialised to one k, or
  taking k at run time (what an annealed k gets). Python-float k, float64 and float32, values and d/dx, on the
  sample ``FUSED_SAMPLE`` of functions, methods and k (each k or plan is a compilation).
* ``k_form="scalar,tol=0.001"`` / ``"array,tol=0.001"``: round and floor, window and density, NumPy and torch
  float64, called with ``tol=1e-3`` and held to 1e-3 in every quantity (the tolerance asked for).
* quantize with a non-dyadic step: y = (x - offset)/step is itself rounded by the float computation, so the
  allowed error grows by the conditioning term ``|d result/dx| |fl(y) - y| step`` for the value, and for every
  quantity by at least the exact change of its truth between y and fl(y) (see ``_conditioning``); fl(y) is
  computed as a float would, in the dtype (float32 for float16/bfloat16). The other configurations only have
  points where fl(y) = y exactly, so they need no allowance.
* the staircases that are infinite sums (``STAIRCASE_K_MIN``) are scored for k >= 0.05 only: the library sums
  them directly, O(1/k) terms per element, which would dominate the run time.
* a traced array k (JAX: under jit, and the vjp of eager calls) with saturation="smooth" is refused by design
  for the density method and for the window method with one bound: how many levels the sum needs depends on
  k's value, which a trace cannot read (a ValueError says so; tests/test_quantize.py checks it). Those JAX
  array-k groups are not scored (``_refused_by_design``).
* quantize's step partial ``Q(y) - y Q'(y)`` is a difference of two terms of size |y|: besides the allowance
  for a rounded y, it gets ``2 eps |y| max(1, |Q'(y)|)`` (eps of the compute dtype), the rounding of ``y Q'(y)``
  that an evaluation forming that product cannot avoid (the Fourier forms avoid it; the staircases and the tanh
  method do not).
* quantize with ``saturation=`` ("smooth", "clamp") is called only when qmin/qmax are given; a library that does
  not know the keyword fails those groups with the TypeError as the message.

An exception from the library fails the k rows it is raised at (each row is retried alone), with the exception
as the message (eager JAX: when only the vjp raises, the values of a plain call are scored and the partials
fail); warnings raised inside the library calls are recorded (not raised) and listed with the failures
of a failing group.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from conformance import measures

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "oracle_rounding.npz"

#: besides the shared backends, torch's fused CPU kernels (compiled; used on large tensors): ``torch.fused``
#: with kernels specialised to one k, ``torch.fused_k`` with the kernels that take k at run time
FUSED_BACKENDS = ("torch.fused", "torch.fused_k")
BACKENDS = (*measures.BACKENDS, *FUSED_BACKENDS)
BACKEND_DTYPES = {**measures.BACKEND_DTYPES, **dict.fromkeys(FUSED_BACKENDS, ("float64", "float32"))}
K_FORMS = ("scalar", "array")
TOL_GROUP = 1e-3
#: JAX with a Python-float k, eagerly: every JAX_EAGER_EVERY-th k of the grid plus these switch points
JAX_EAGER_EVERY = 32
JAX_SCALAR_K = (0.0025, 0.1, 1.0, 2.8, 4.5, 88.0, 128.0, 745.0, 1415.0, 1.25e7, 1e8)
#: JAX with a Python-float k under jit (one compilation per k): these only (quantize: the first of them)
JAX_JIT_SCALAR_K = (128.0, 1415.0)
#: the fused kernels: each k is a compilation for torch.fused and each evaluation plan one for torch.fused_k (3-10
#: s apiece on 2 cores), so they are scored on samples of the k grid, each function and method on every x of its
#: dtype: (backend, function, method, quantize configuration or None, k). Round across the regimes (a Fourier
#: and a direct plan; density direct only, its kernels compile slowest; tanh also at 0.0025, where its expm1
#: argument is tiny); floor and ceil, whose reduction
#: differs, with one method each; quantize unclamped (density, k = 128) and clamped (saturation="clamp", window,
#: at the switch k = 4.5).
FUSED_SAMPLE: tuple[tuple[str, str, str, int | None, tuple[float, ...]], ...] = (
    ("torch.fused", "round", "window", None, (2.8, 128.0)),
    ("torch.fused", "round", "density", None, (128.0,)),
    ("torch.fused", "round", "tanh", None, (0.0025, 128.0)),
    ("torch.fused", "floor", "window", None, (128.0,)),
    ("torch.fused", "ceil", "tanh", None, (128.0,)),
    ("torch.fused", "quantize", "density", 0, (128.0,)),
    ("torch.fused", "quantize", "window", 1, (4.5,)),
    ("torch.fused_k", "round", "window", None, (2.8, 128.0)),
    ("torch.fused_k", "round", "tanh", None, (128.0,)),
)
#: saturation of the quantize configurations in FUSED_SAMPLE
FUSED_SATURATION = {0: "", 1: "clamp"}
FUSED_QUANTIZE_CONFIGS = {0: "", 1: "clamp"}
#: quantize on JAX with a Python-float k, eagerly: these (a staircase is many eager ops at small k)
JAX_QUANTIZE_SCALAR_K = (4.5, 128.0, 1.25e7)
#: Staircases that are infinite sums (density with bounds, window with one bound, saturation="smooth") are summed
#: directly by the library, O(1/k) terms per element (it refuses beyond its term limit): they are scored from this
#: k up, to keep the suite's run time (their truths below it are in the data file all the same)
STAIRCASE_K_MIN = 0.05
#: key of an evaluator's result holding notes on what it could not evaluate (listed with the failures)
NOTES = "_notes"
QUANTITY_NAMES = {"value": "value", "d_dx": "d/dx", "d_dk": "d/dk", "d_dstep": "d/dstep", "d_doffset": "d/doffset"}


# ------------------------------------------------------------------------------------------------- the oracle


@functools.cache
def oracle() -> dict[str, Any]:
    """The data file's arrays and its parsed metadata (key ``meta``)."""
    return measures.load_oracle(DATA)


def _f32(values: Sequence[float]) -> set[float]:
    return {float(np.float32(v)) for v in values}


@dataclass(frozen=True)
class Group:
    """One scored group: what is called (``fn``, ``method``, ``config``, ``saturation``, ``tol``) and how
    (``backend``, ``dtype``, ``k_form``); ``function`` is its label (quantize labels name the configuration)."""

    function: str
    method: str
    backend: str
    dtype: str
    k_form: str
    fn: str
    config: int | None = None
    saturation: str = ""
    tol: float | None = None

    @property
    def key(self) -> str:
        return f"{self.function}:{self.method}:{self.backend}:{self.dtype}:{self.k_form}"

    @property
    def scalar(self) -> bool:
        return self.k_form.startswith("scalar")

    @property
    def truth_prefix(self) -> str:
        if self.fn != "quantize":
            return f"{self.fn}.{self.method}"
        return f"quantize.{self.config}.{self.method}" + (f".{self.saturation}" if self.saturation else "")

    def quantities(self) -> tuple[str, ...]:
        """The quantities scored in this group (data-file names)."""
        qs = ["value", "d_dx"]
        if self.backend == "numpy" or not self.scalar:
            qs.append("d_dk")
            if self.fn == "quantize":
                qs += ["d_dstep", "d_doffset"]
        return tuple(qs)


def _refused_by_design(backend: str, k_form: str, cfg: dict, sat: str, method: str) -> bool:
    """JAX with an array k traces k; quantize(saturation="smooth") refuses a traced k for the density method and
    for the window method with one bound (the number of levels summed depends on k's value)."""
    if not (backend.startswith("jax") and k_form.startswith("array") and sat == "smooth"):
        return False
    one_sided = cfg.get("qmin") is None or cfg.get("qmax") is None
    return method == "density" or (method == "window" and one_sided)


def groups(backend: str | None = None) -> list[Group]:
    """Every group (of one backend), in a stable order; quantize configurations come from the data file."""
    meta = oracle()["meta"]
    out: list[Group] = []
    for b in BACKENDS if backend is None else (backend,):
        for dtype in BACKEND_DTYPES[b]:
            if b in FUSED_BACKENDS:
                out.extend(_fused_groups(b, dtype, meta))
                continue
            for k_form in K_FORMS:
                for fn in meta["functions"]:
                    for method in meta["methods"]:
                        out.append(Group(fn, method, b, dtype, k_form, fn))
                for ci, cfg in enumerate(meta["quantize_configs"]):
                    for sat in cfg["saturations"]:
                        label = f"quantize[{cfg['name']}" + (f",{sat}]" if sat else "]")
                        for method in meta["methods"]:
                            if not _refused_by_design(b, k_form, cfg, sat, method):
                                out.append(Group(label, method, b, dtype, k_form, "quantize", ci, sat))
            if b in ("numpy", "torch") and dtype == "float64":
                for k_form in K_FORMS:
                    for fn in ("round", "floor"):
                        for method in ("window", "density"):
                            out.append(Group(fn, method, b, dtype, f"{k_form},tol={TOL_GROUP:g}", fn,
                                             tol=TOL_GROUP))
    return out


def _fused_groups(backend: str, dtype: str, meta: dict) -> list[Group]:
    """The fused kernels' groups (FUSED_SAMPLE): a Python-float k only, as the fused path takes it."""
    out = []
    for b, fn, method, config, _ in FUSED_SAMPLE:
        if b != backend:
            continue
        if config is None:
            out.append(Group(fn, method, backend, dtype, "scalar", fn))
        else:
            sat = FUSED_SATURATION[config]
            label = f"quantize[{meta['quantize_configs'][config]['name']}" + (f",{sat}]" if sat else "]")
            out.append(Group(label, method, backend, dtype, "scalar", "quantize", config, sat))
    return out


@dataclass
class Points:
    """The (k, x) grid of one group: k rows (a sample for JAX scalar k) and the dtype's x columns."""

    k: np.ndarray  # (nk,)
    x: np.ndarray  # (nx,) float64, each a number of the dtype
    rows: np.ndarray  # indices into the oracle's k grid
    cols: np.ndarray  # indices into the oracle's x grid


def points(group: Group) -> Points:
    """The oracle's grid for ``group``."""
    data = oracle()
    prefix = "" if group.fn != "quantize" else f"quantize.{group.config}."
    ks = data["quantize.k" if group.fn == "quantize" else "k"]
    xs = data[prefix + "x"]
    bit = 1 << data["meta"]["dtypes"].index(group.dtype)
    cols = np.flatnonzero(data[prefix + "x_dtypes"] & bit)
    rows = np.arange(len(ks))
    if group.fn == "quantize" and group.saturation == "smooth" and group.method != "tanh":
        cfg = data["meta"]["quantize_configs"][group.config]
        if group.method == "density" or cfg["qmin"] is None or cfg["qmax"] is None:
            rows = rows[ks >= STAIRCASE_K_MIN]
    if group.backend in FUSED_BACKENDS:
        sample = {(b, fn, method, config): ks for b, fn, method, config, ks in FUSED_SAMPLE}
        chosen = _f32(sample[group.backend, group.fn, group.method, group.config])
        rows = np.array([i for i in rows if ks[i] in chosen], dtype=int)
    if group.scalar and group.backend.startswith("jax"):
        if group.backend == "jax.jit":
            chosen = _f32(JAX_JIT_SCALAR_K)
            rows = np.array([i for i in rows if ks[i] in chosen], dtype=int)
            if group.fn == "quantize":
                rows = rows[:1]
        elif group.fn == "quantize":
            chosen = _f32(JAX_QUANTIZE_SCALAR_K)
            rows = np.array([i for i in rows if ks[i] in chosen], dtype=int)
        else:
            chosen = _f32(JAX_SCALAR_K)
            rows = np.array([i for i in rows if ks[i] in chosen or i % JAX_EAGER_EVERY == 0], dtype=int)
    return Points(ks[rows], xs[cols], rows, cols)


def truth(group: Group, pts: Points, quantity: str) -> np.ndarray:
    """The oracle's values of ``quantity`` on the group's grid, (nk, nx)."""
    return oracle()[f"{group.truth_prefix}.{quantity}"][np.ix_(pts.rows, pts.cols)]


# ------------------------------------------------------------------------------------------------- backends


def _options(group: Group) -> dict[str, Any]:
    """Keyword options of the call, except quantize's step and offset."""
    opts: dict[str, Any] = {"method": group.method}
    if group.tol is not None:
        opts["tol"] = group.tol
    if group.fn == "quantize":
        cfg = oracle()["meta"]["quantize_configs"][group.config]
        for bound in ("qmin", "qmax"):
            if cfg[bound] is not None:
                opts[bound] = cfg[bound]
        if group.saturation:
            opts["saturation"] = group.saturation
    return opts


def _step_offset(group: Group) -> tuple[float, float]:
    cfg = oracle()["meta"]["quantize_configs"][group.config]
    return float(cfg["step"]), float(cfg["offset"])


def _param_dtype(dtype: str) -> str:
    """The dtype of an array k (and of step/offset arrays): float32 for float16/bfloat16 inputs."""
    return "float32" if dtype in ("float16", "bfloat16") else dtype


def _grid(pts: Points) -> tuple[np.ndarray, np.ndarray]:
    """x and k on the full (nk, nx) grid, float64."""
    return np.broadcast_to(pts.x, (len(pts.k), len(pts.x))), np.broadcast_to(pts.k[:, None], (len(pts.k), len(pts.x)))


def eval_numpy(group: Group, pts: Points) -> dict[str, np.ndarray]:
    """NumPy: values and ``smoothround.derivative`` partials."""
    import smoothround as sr

    fn = getattr(sr, group.fn)
    opts = _options(group)
    wrts = {"d_dx": "x", "d_dk": "k", "d_dstep": "step", "d_doffset": "offset"}
    qs = group.quantities()
    dt = np.dtype(group.dtype)
    out: dict[str, np.ndarray] = {}
    if group.scalar:
        if group.fn == "quantize":
            opts["step"], opts["offset"] = _step_offset(group)
        x = pts.x.astype(dt)
        rows: dict[str, list[np.ndarray]] = {q: [] for q in qs}
        for k in pts.k:
            rows["value"].append(np.asarray(fn(x, float(k), **opts)))
            for q in qs[1:]:
                rows[q].append(np.asarray(sr.derivative(fn, x, float(k), wrt=wrts[q], **opts)))
        return {q: np.stack(v).astype(np.float64) for q, v in rows.items()}
    xg, kg = _grid(pts)
    x, k = xg.astype(dt), kg.astype(dt)
    if group.fn == "quantize":
        step, offset = _step_offset(group)
        opts["step"], opts["offset"] = np.full(x.shape, step, dtype=dt), np.full(x.shape, offset, dtype=dt)
    out["value"] = np.asarray(fn(x, k, **opts), dtype=np.float64)
    for q in qs[1:]:
        out[q] = np.asarray(sr.derivative(fn, x, k, wrt=wrts[q], **opts), dtype=np.float64)
    return out


def eval_torch(group: Group, pts: Points) -> dict[str, np.ndarray]:
    """torch: values and autograd partials (``.backward()`` of the sum)."""
    import torch

    import smoothround as sr

    fn = getattr(sr, group.fn)
    opts = _options(group)
    tdt = getattr(torch, group.dtype)
    pdt = getattr(torch, _param_dtype(group.dtype))

    def as_np(t: Any) -> np.ndarray:
        return t.detach().to(torch.float64).numpy()

    def grad_of(t: Any, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape) if t.grad is None else as_np(t.grad)

    if group.scalar:
        if group.fn == "quantize":
            opts["step"], opts["offset"] = _step_offset(group)
        values, slopes = [], []
        for k in pts.k:
            x = torch.tensor(pts.x, dtype=torch.float64).to(tdt).requires_grad_(True)
            y = fn(x, float(k), **opts)
            y.sum().backward()
            values.append(as_np(y))
            slopes.append(grad_of(x, x.shape))
        return {"value": np.stack(values), "d_dx": np.stack(slopes)}
    xg, kg = _grid(pts)
    x = torch.tensor(np.ascontiguousarray(xg)).to(tdt).requires_grad_(True)
    k = torch.tensor(np.ascontiguousarray(kg)).to(pdt).requires_grad_(True)
    leaves = {"d_dx": x, "d_dk": k}
    if group.fn == "quantize":
        step, offset = _step_offset(group)
        leaves["d_dstep"] = opts["step"] = torch.full(xg.shape, step, dtype=pdt, requires_grad=True)
        leaves["d_doffset"] = opts["offset"] = torch.full(xg.shape, offset, dtype=pdt, requires_grad=True)
    y = fn(x, k, **opts)
    y.sum().backward()
    out = {"value": as_np(y)}
    for q in group.quantities()[1:]:
        out[q] = grad_of(leaves[q], xg.shape)
    return out


def eval_jax(group: Group, pts: Points) -> dict[str, np.ndarray]:
    """JAX: values and ``jax.vjp`` partials, eagerly (backend "jax") or under ``jax.jit`` ("jax.jit")."""
    import jax
    import jax.numpy as jnp

    import smoothround as sr

    fn = getattr(sr, group.fn)
    opts = _options(group)
    jit = group.backend == "jax.jit"

    def value_and_grads(f: Callable, *args: Any) -> tuple[Any, tuple]:
        y, pullback = jax.vjp(f, *args)
        return y, pullback(jnp.ones_like(y))

    with measures.jax_precision(group.dtype):
        dt = jnp.dtype(group.dtype)
        pdt = jnp.dtype(_param_dtype(group.dtype))
        if group.scalar:
            if group.fn == "quantize":
                opts["step"], opts["offset"] = _step_offset(group)
            x = jnp.asarray(pts.x, dtype=dt)
            values, slopes = [], []
            for k in pts.k:
                def f(v: Any, k: float = float(k)) -> Any:
                    return fn(v, k, **opts)

                run = jax.jit(functools.partial(value_and_grads, f)) if jit else functools.partial(value_and_grads, f)
                y, (gx,) = run(x)
                values.append(np.asarray(y, dtype=np.float64))
                slopes.append(np.asarray(gx, dtype=np.float64))
            return {"value": np.stack(values), "d_dx": np.stack(slopes)}
        xg, kg = _grid(pts)
        args = [jnp.asarray(xg, dtype=dt), jnp.asarray(kg, dtype=pdt)]
        names = ["d_dx", "d_dk"]
        if group.fn == "quantize":
            step, offset = _step_offset(group)
            args += [jnp.full(xg.shape, step, dtype=pdt), jnp.full(xg.shape, offset, dtype=pdt)]
            names += ["d_dstep", "d_doffset"]

            def f(v: Any, k: Any, s: Any, o: Any) -> Any:
                return fn(v, k, step=s, offset=o, **opts)
        else:
            def f(v: Any, k: Any) -> Any:
                return fn(v, k, **opts)

        run = jax.jit(functools.partial(value_and_grads, f)) if jit else functools.partial(value_and_grads, f)
        try:
            y, grads = run(*args)
        except Exception as exc:
            if jit:
                raise
            # eagerly, only the vjp traces k (and step, offset): the values of a plain call are still scored
            y = f(*args)
            shape = np.shape(y)
            grads = tuple(np.full(shape, np.nan) for _ in names)
            notes = [f"partials (jax.vjp traces k): {type(exc).__name__}: {exc}"]
        else:
            notes = []
        out = {"value": np.asarray(y, dtype=np.float64)}
        out.update({n: np.asarray(g, dtype=np.float64) for n, g in zip(names, grads, strict=True)})
        return out | ({NOTES: notes} if notes else {})


@contextlib.contextmanager
def _fused_kernels(runtime_k: bool) -> Iterator[Any]:
    """Force smoothround's fused torch path on every call, whatever its size: a kernel specialised to each k, or
    (``runtime_k``) the kernels that take k at run time. Compiled kernels are dropped afterwards."""
    from smoothround._backends import _torch_fused as fused

    knobs = ("MIN_NUMEL", "HOT_AFTER", "RUNTIME_HOT_AFTER", "MAX_CONFIGURATIONS")
    saved = {name: getattr(fused, name) for name in knobs}
    never = 1 << 60
    forced = {"MIN_NUMEL": 0, "HOT_AFTER": never if runtime_k else 1, "RUNTIME_HOT_AFTER": 1 if runtime_k else never,
              "MAX_CONFIGURATIONS": never}
    for name, value in forced.items():
        setattr(fused, name, value)
    try:
        yield fused
    finally:
        for name, value in saved.items():
            setattr(fused, name, value)
        fused._kernels.clear()
        fused._calls.clear()


def eval_torch_fused(group: Group, pts: Points) -> dict[str, np.ndarray]:
    """torch through its fused CPU kernels: values and d/dx by ``.backward()``, one call per k. Each call must
    have run a fused kernel forward and backward (else it raises: the scorer then fails the row)."""
    import torch

    import smoothround as sr

    fn = getattr(sr, group.fn)
    opts = _options(group)
    if group.fn == "quantize":
        opts["step"], opts["offset"] = _step_offset(group)
    tdt = getattr(torch, group.dtype)
    values, slopes = [], []
    with _fused_kernels(group.backend == "torch.fused_k") as fused:
        for k in pts.k:
            x = torch.tensor(pts.x, dtype=torch.float64).to(tdt).requires_grad_(True)
            before = {key: kernel.calls for key, kernel in fused._kernels.items()}
            y = fn(x, float(k), **opts)
            y.sum().backward()
            ran = {key[0] for key, kernel in fused._kernels.items() if kernel.calls > before.get(key, 0)}
            if ran != {"forward", "backward"}:
                msg = f"the fused path did not run (kernels run: {sorted(ran)}, broken: {fused._broken})"
                raise RuntimeError(msg)
            values.append(y.detach().to(torch.float64).numpy())
            slopes.append(x.grad.to(torch.float64).numpy())
    return {"value": np.stack(values), "d_dx": np.stack(slopes)}


EVALUATORS: dict[str, Callable[[Group, Points], dict[str, np.ndarray]]] = {
    "numpy": eval_numpy,
    "torch": eval_torch,
    "torch.fused": eval_torch_fused,
    "torch.fused_k": eval_torch_fused,
    "jax": eval_jax,
    "jax.jit": eval_jax,
}


# ------------------------------------------------------------------------------------------------- scoring


class _Describe(Sequence[str]):
    """Lazy names of the points of an (nk, nx) grid, in row-major order: "k=..., x=..." (and y for quantize)."""

    def __init__(self, pts: Points, y: np.ndarray | None = None) -> None:
        self.pts, self.y = pts, y

    def __len__(self) -> int:
        return len(self.pts.k) * len(self.pts.x)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        r, c = divmod(int(i), len(self.pts.x))
        text = f"k={self.pts.k[r]:.9g}, x={float(self.pts.x[c])!r}"
        return text if self.y is None else f"{text} (y={self.y[c]:.17g})"


def _conditioning(group: Group, pts: Points) -> dict[str, np.ndarray]:
    """The allowance of every quantize quantity for what a floating-point evaluation cannot avoid.

    * Non-dyadic configurations: y = (x - offset)/step is rounded by the float computation (each backend may
      round it its own way, e.g. as x times 1/step). The value's allowance is the conditioning term
      ``|d result/dx| (|fl(y) - y| + ulp(y)) step``, and at least the exact change of the truth between y and
      fl(y) (the oracle stores the truths at fl(y) too): near the ties at large k, |fl(y) - y| is not small
      against the width 1/k of the transition and the linear term falls short. The partials get the exact change
      of their truth. fl(y) is computed as a float would, in the compute dtype (float32 for float16/bfloat16).
    * Every configuration: the step partial Q(y) - y Q'(y) gets ``2 eps |y| max(1, |Q'(y)|)`` (module
      docstring).
    """
    data = oracle()
    cfg = data["meta"]["quantize_configs"][group.config]
    prefix = f"quantize.{group.config}"
    y_hi, y_lo = data[f"{prefix}.y_hi"][pts.cols], data[f"{prefix}.y_lo"][pts.cols]
    t = np.float64 if group.dtype == "float64" else np.float32
    eps = float(np.finfo(t).eps)
    zero = np.zeros((len(pts.k), len(pts.x)))
    allow = {q: zero for q in ("value", "d_dx", "d_dk", "d_dstep", "d_doffset")}
    with np.errstate(invalid="ignore"):
        slope = np.abs(truth(group, pts, "d_dx")) / cfg["step"]  # |Q'(y)|
        allow["d_dstep"] = 2.0 * eps * np.abs(y_hi) * np.fmax(1.0, slope)
        if cfg.get("nondyadic"):
            fl = ((pts.x.astype(t) - t(cfg["offset"])) / t(cfg["step"])).astype(np.float64)
            dy = np.abs((fl - y_hi) - y_lo) + np.spacing(np.abs(fl).astype(t)).astype(np.float64)
            variant = "fl64" if group.dtype == "float64" else "fl32"
            for q in allow:
                change = np.abs(truth(group, pts, f"at_{variant}.{q}") - truth(group, pts, q))
                allow[q] = allow[q] + change  # the step partial's own rounding comes on top of y's
            linear = cfg["step"] * np.abs(truth(group, pts, "d_dx")) * dy
            allow["value"] = np.fmax(allow["value"], linear)
    return {q: np.nan_to_num(a, nan=0.0) for q, a in allow.items()}


def _rows(pts: Points, index: np.ndarray) -> Points:
    return Points(pts.k[index], pts.x, pts.rows[index], pts.cols)


def _evaluate_rows(group: Group, pts: Points) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """The library's results on ``pts``. When the call raises, each k row is retried alone: the rows that still
    raise come back NaN (scored as failures); returned with the k of each exception message or evaluator note."""
    evaluate = EVALUATORS[group.backend]
    try:
        got = evaluate(group, pts)
    except Exception:  # any exception of the library is a finding: find the k rows it concerns
        pass
    else:
        return got, {note: [float(k) for k in pts.k] for note in got.pop(NOTES, [])}
    shape = (len(pts.k), len(pts.x))
    got = {q: np.full(shape, np.nan) for q in group.quantities()}
    raised: dict[str, list[float]] = {}
    for i in range(len(pts.k)):
        try:
            part = evaluate(group, _rows(pts, np.array([i])))
        except Exception as exc:  # the finding of this row: its message
            message = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, TypeError) and "saturation" in str(exc):
                message += " (this smoothround has no saturation= keyword yet)"
            raised.setdefault(message, []).append(float(pts.k[i]))
            continue
        for note in part.pop(NOTES, []):
            raised.setdefault(note, []).append(float(pts.k[i]))
        for q in got:
            got[q][i] = part[q][0]
    return got, raised


def _evaluate(group: Group, pts: Points) -> tuple[dict[str, np.ndarray], list[str]]:
    """The library's results on the group's grid (see ``_evaluate_rows``). NumPy and torch evaluate an array-k
    quantize in two calls, k < 1 and k >= 1: the library sizes a staircase by the smallest k of the call, and one
    call would give every element the term count of the smallest k (the results are the same, the time is not)."""
    chunks = [np.arange(len(pts.k))]
    if group.fn == "quantize" and not group.scalar and group.backend in ("numpy", "torch"):
        chunks = [np.flatnonzero(pts.k < 1.0), np.flatnonzero(pts.k >= 1.0)]
    got = {q: np.full((len(pts.k), len(pts.x)), np.nan) for q in group.quantities()}
    raised: dict[str, list[float]] = {}
    for index in chunks:
        if len(index):
            part, part_raised = _evaluate_rows(group, _rows(pts, index))
            for q in got:
                got[q][index] = part[q]
            for message, ks in part_raised.items():
                raised.setdefault(message, []).extend(ks)
    notes = [f"at {len(ks)} of {len(pts.k)} k (k={', '.join(f'{k:.4g}' for k in ks[:4])}"
             f"{', ...' if len(ks) > 4 else ''}): {message}" for message, ks in raised.items()]
    return got, notes


def score_group(group: Group) -> list[measures.Result]:
    """Evaluate one group and score each of its quantities (the k rows where the library raised fail)."""
    pts = points(group)
    qs = group.quantities()
    fields = {"function": group.function, "method": group.method, "backend": group.backend,
              "dtype": group.dtype, "k_form": group.k_form}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got, raised = _evaluate(group, pts)
    notes = raised + sorted({f"warning: {w.category.__name__}: {w.message}" for w in caught})
    y = None
    if group.fn == "quantize":
        y = oracle()[f"quantize.{group.config}.y_hi"][pts.cols]
    describe = _Describe(pts, y)
    allowance = _conditioning(group, pts) if group.fn == "quantize" else None
    results = []
    for q in qs:
        want = truth(group, pts, q)
        k_scale = np.broadcast_to(pts.k[:, None], want.shape) if q == "d_dk" else None
        err = measures.errors(got[q], want, group.dtype, k=k_scale)
        if allowance is not None:
            scale = np.maximum(np.abs(want), 1.0 if k_scale is None else 1.0 / k_scale)
            with np.errstate(invalid="ignore"):
                err = np.where(np.isfinite(err), np.maximum(err - allowance[q] / scale, 0.0), err)
        result = measures.score(err, describe, **fields, quantity=QUANTITY_NAMES[q], tol=group.tol)
        if not result.ok:
            result.failures = notes[:3] + result.failures
        results.append(result)
    return results


@functools.cache
def backend_results(backend: str) -> tuple[measures.Result, ...]:
    """Every group of ``backend``, scored (computed once per process)."""
    return tuple(r for g in groups(backend) for r in score_group(g))


def group_results(group: Group) -> list[measures.Result]:
    """The scored quantities of ``group`` (from the cached backend run)."""
    prefix = group.key + ":"
    return [r for r in backend_results(group.backend) if r.key.startswith(prefix)]


def score_all() -> list[measures.Result]:
    """Every group of every backend, scored."""
    return [r for b in BACKENDS for r in backend_results(b)]
