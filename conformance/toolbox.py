"""Score smoothround's smoothing toolbox against the 50-digit oracle ``tests/data/oracle_toolbox.npz``.

A group is one function and method (with its configuration: clamp bounds, the breakpoints of smooth_steps, the
number of classes of soft_onehot), backend (``numpy``, ``torch``, ``jax``, ``jax.jit``) and dtype; it covers every
sharpness (or width) of the oracle. k is always a Python number (``k_form="scalar"``), as the toolbox takes it.
Inputs are the oracle's rows whose dtype bit is set: the exact numbers the dtype holds, so no allowance is made
for the rounding of an input.

Quantities (``conformance.measures``; values and partials relative to ``max(|truth|, 1)``):

* ``value`` (for the Boltzmann reduction relative to ``max(|truth|, 1, sum w_i |x_i|)``, see ``mean_errors``);
  ``d/dx`` (elementwise; for the row functions other than log-sum-exp relative to ``max(|truth|, 1, size of the
  terms summed)``, see ``sum_errors``), ``d/da`` and ``d/db`` (pairwise), ``d/dx`` of the row functions (their
  gradient; for softmax and soft_onehot the product with the oracle's fixed cotangent), and ``d/dp`` of the
  metrics. NumPy has no autodiff: its groups score the value only. torch differentiates with ``autograd.grad``;
  JAX with ``jax.vjp``, eagerly and under ``jax.jit`` (one compilation per group, every k inside it).
* ``value, relative`` and ``d/dx, relative``: ``|got - truth| / (max(|truth|, tiny) (1 + c))``, ``tiny`` the
  dtype's smallest normal number and ``c`` the truth's condition number in its inputs (``|x f'/f|``, summed over
  the inputs; the oracle's own figure for softmax and soft_onehot), which is what rounding ``k x`` once can cost.
  It holds the small values (tails, ``smooth_max([0, -40]) = 4.25e-18``) to their own scale, where the absolute
  measure would accept 0; it uses the partial-derivative tolerances.
* ``finite``: 1 at a point where the function gave NaN or inf (value or derivative) and the truth is a finite
  float64 number (also where it is beyond the dtype: the library saturates there), or where the call raised or
  warned; tolerance as for partials, so any such point fails.
* JAX runs on XLA, whose CPU backend flushes subnormal numbers to zero: there inputs below the smallest normal
  number are not scored, and the relative measures only score truths above ``tiny/eps``.
* ``bounds``: ``sr.bounds(name, k, n=n)``'s ``sup_error`` and ``gradient_lipschitz`` against the oracle's figures
  (relative error; backend ``python``).

Known limits (``KNOWN_LIMITS``): the few quantities of a group that miss the standard tolerance, each with its
region and measured worst error. ``backend_results`` holds them to that figure (a regression guard) and every other
quantity to the tolerance; ``raw_backend_results`` scores everything against the tolerance.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from conformance import measures

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "oracle_toolbox.npz"

BACKENDS, BACKEND_DTYPES = measures.BACKENDS, measures.BACKEND_DTYPES
TINY = {"float64": 2.0**-1022, "float32": 2.0**-126, "float16": 2.0**-14, "bfloat16": 2.0**-126}
K_FORM = "scalar"


@functools.cache
def oracle() -> dict[str, Any]:
    """The data file's arrays and its parsed metadata (key ``meta``)."""
    return measures.load_oracle(DATA)


# ------------------------------------------------------------------------------------------------- the calls


def _sr() -> Any:
    import smoothround

    return smoothround


def unary_call(case: dict[str, Any]) -> Callable[[Any], Any]:
    sr, f, m, p, c = _sr(), case["function"], case["method"], case["k"], case["config"]
    if f == "smooth_abs":
        return lambda x: sr.smooth_abs(x, p, method=m)
    if f == "smooth_relu":
        return lambda x: sr.smooth_relu(x, p)
    if f == "smooth_clamp":
        return lambda x: sr.smooth_clamp(x, lo=c[0], hi=c[1], k=p)
    if f in ("smooth_sign", "smooth_step"):
        return lambda x: getattr(sr, f)(x, p, method=m)
    if f in ("mollifier", "mollifier_cdf"):
        return lambda x: getattr(sr, f)(x, kernel=m, width=p)
    if f == "smooth_steps":
        return lambda x: sr.smooth_steps(x, list(c[0]), list(c[1]), kernel=m, width=p)
    raise AssertionError(f)


def pair_call(case: dict[str, Any]) -> Callable[[Any, Any], Any]:
    sr = _sr()
    fn = getattr(sr, case["function"])
    return lambda a, b: fn(a, b, case["k"], method=case["method"])


def row_call(case: dict[str, Any]) -> Callable[[Any], Any]:
    sr, f, m, k = _sr(), case["function"], case["method"], case["k"]
    if f in ("smooth_max", "smooth_min"):
        return lambda x: getattr(sr, f)(x, k, method=m)
    return lambda x: getattr(sr, f)(x, k)


def onehot_call(case: dict[str, Any]) -> Callable[[Any], Any]:
    sr = _sr()
    return lambda index: sr.soft_onehot(index, n=case["config"], k=case["k"])


def metric_call(case: dict[str, Any]) -> Callable[[Any, Any], Any]:
    sr = _sr()
    fn = getattr(sr, case["function"])
    return lambda p, y: fn(p, y, **case["kw"])


# ------------------------------------------------------------------------------------------------- backends


@dataclass
class Outcome:
    """What one backend returned for the inputs of one case: value, derivatives, problems."""

    value: np.ndarray
    grads: list[np.ndarray | None]
    problems: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _recording(problems: list[str]) -> Iterator[None]:
    """Warnings raised inside the library become problems (reported, not raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    problems.extend(f"warning: {w.category.__name__}: {w.message}" for w in caught)


def _torch_dtype(dtype: str) -> Any:
    import torch

    return getattr(torch, dtype)


def _jax_dtype(dtype: str) -> Any:
    import jax.numpy as jnp

    return getattr(jnp, dtype)


@dataclass
class Call:
    """One case's call: the function, its inputs (float64 NumPy arrays holding numbers of the dtype, or label
    arrays) and the cotangent of its output (ones when None)."""

    fn: Callable[..., Any]
    inputs: list[np.ndarray]
    cotangent: np.ndarray | None = None
    pad: bool = True  # the first axis indexes independent points (not the samples of a metric)


def evaluate(backend: str, dtype: str, calls: list[Call]) -> list[Outcome]:
    """Every call on ``backend`` in ``dtype``: value and the vector-Jacobian product for every float input, as
    float64 NumPy arrays. Under ``jax.jit`` all the calls are one compiled function. An exception or a warning
    is recorded (a failing call is retried alone, so one failure does not hide the others)."""
    if backend == "jax.jit" and len(calls) > 1:
        problems: list[str] = []
        try:
            with _recording(problems):
                outcomes = _jax_batch(dtype, calls, jit=True)
            if not problems:
                return outcomes
        except Exception:  # retried one by one below, where the failure is recorded
            pass
    return [evaluate_one(backend, dtype, call) for call in calls]


def evaluate_one(backend: str, dtype: str, call: Call) -> Outcome:
    problems: list[str] = []
    try:
        with _recording(problems):
            if backend in ("jax", "jax.jit"):
                outcome = _jax_batch(dtype, [call], jit=backend == "jax.jit")[0]
            else:
                outcome = _evaluate(backend, dtype, call)
    except Exception as err:  # the library raised: every point of the case fails with the message
        problems.append(f"{type(err).__name__}: {err}")
        nan = np.full(np.shape(call.inputs[0]), np.nan)
        return Outcome(nan, [None] * len(call.inputs), problems)
    outcome.problems.extend(problems)
    return outcome


def _float_input(v: np.ndarray) -> bool:
    return v.dtype.kind == "f"


def _evaluate(backend: str, dtype: str, call: Call) -> Outcome:
    if backend == "numpy":
        out = call.fn(*(np.asarray(v, dtype=dtype) if _float_input(v) else v for v in call.inputs))
        return Outcome(np.asarray(out, dtype=np.float64), [None] * len(call.inputs))
    import torch

    tensors = [torch.tensor(v, dtype=_torch_dtype(dtype), requires_grad=True) if _float_input(v)
               else torch.as_tensor(v) for v in call.inputs]
    out = call.fn(*tensors)
    cot = torch.ones_like(out) if call.cotangent is None else torch.tensor(call.cotangent, dtype=out.dtype)
    wrt = [t for t in tensors if t.requires_grad]
    grads = iter(torch.autograd.grad(out, wrt, grad_outputs=cot, allow_unused=True))
    return Outcome(out.detach().double().numpy(),
                   [(lambda g: None if g is None else g.double().numpy())(next(grads)) if t.requires_grad else None
                    for t in tensors])


def _jax_batch(dtype: str, calls: list[Call], *, jit: bool) -> list[Outcome]:
    import jax
    import jax.numpy as jnp

    # Eager JAX compiles every primitive once per shape: the points are padded (with copies of the first one)
    # to a power of two, so that the cases of a group share their compilations.
    sizes = [len(c.inputs[0]) for c in calls]
    padded = [_padded(c) for c in calls]
    with measures.jax_precision(dtype):
        args = [[jnp.asarray(v, dtype=_jax_dtype(dtype)) for v in c.inputs if _float_input(v)] for c in padded]

        def one(call: Call, *arrays: Any) -> tuple[Any, Any]:
            def fn(*xs: Any) -> Any:
                it = iter(xs)
                return call.fn(*(next(it) if _float_input(v) else v for v in call.inputs))

            out, pullback = jax.vjp(fn, *arrays)
            cot = jnp.ones_like(out) if call.cotangent is None else jnp.asarray(call.cotangent, dtype=out.dtype)
            return out, pullback(cot)

        def run_all(all_args: list[list[Any]]) -> list[tuple[Any, Any]]:
            return [one(call, *a) for call, a in zip(padded, all_args, strict=True)]

        results = (jax.jit(run_all) if jit else run_all)(args)
        outcomes = []
        for call, size, (out, grads) in zip(calls, sizes, results, strict=True):
            cut = (slice(0, size),) if call.pad else ()
            it = iter(grads)
            outcomes.append(Outcome(np.asarray(out, dtype=np.float64)[cut],
                                    [np.asarray(next(it), dtype=np.float64)[cut] if _float_input(v) else None
                                     for v in call.inputs]))
        return outcomes


def _padded(call: Call) -> Call:
    """The call with its points padded to a power of two (at least 16) by copies of the first point."""
    n = len(call.inputs[0])
    if not call.pad or n == 0:
        return call
    size = max(16, 1 << (n - 1).bit_length())

    def pad(v: np.ndarray | None) -> np.ndarray | None:
        if v is None:
            return None
        return np.concatenate([v, np.repeat(v[:1], size - n, axis=0)], axis=0)

    return Call(call.fn, [pad(v) for v in call.inputs], pad(call.cotangent), call.pad)


# ------------------------------------------------------------------------------------------------- scoring


@dataclass
class Collector:
    """Errors of one group, accumulated over its cases; ``score`` reduces them to Results."""

    function: str
    method: str
    backend: str
    dtype: str
    errors: dict[str, list[np.ndarray]] = field(default_factory=dict)
    describe: dict[str, list[str]] = field(default_factory=dict)

    def add(self, quantity: str, err: np.ndarray, describe: list[str]) -> None:
        if np.size(err) != len(describe):  # a failed call's placeholder: every point fails
            err = np.full(len(describe), math.inf)
        self.errors.setdefault(quantity, []).append(np.asarray(err, dtype=np.float64).ravel())
        self.describe.setdefault(quantity, []).extend(describe)

    def results(self) -> list[measures.Result]:
        out = []
        for quantity, errs in self.errors.items():
            out.append(measures.score(np.concatenate(errs), self.describe[quantity], function=self.function,
                                      method=self.method, backend=self.backend, dtype=self.dtype, k_form=K_FORM,
                                      quantity=quantity))
        return out


def _conform(out: Outcome, value: np.ndarray, grads: list[np.ndarray | None]) -> Outcome:
    """The outcome with the shapes of the truths: a failed call's placeholders become NaN (every point fails)."""
    def like(got: np.ndarray | None, truth: np.ndarray | None) -> np.ndarray | None:
        if truth is None or got is None:
            return got
        return got if np.shape(got) == np.shape(truth) else np.full(np.shape(truth), np.nan)

    return Outcome(like(out.value, value), [like(g, t) for g, t in zip(out.grads, grads, strict=False)],
                   out.problems)


def relative_errors(got: np.ndarray, truth: np.ndarray, cond: np.ndarray, dtype: str,
                    backend: str = "numpy") -> np.ndarray:
    """``|got - truth| / (max(|truth|, tiny) (1 + cond))``; NaN where not scored (truth beyond the dtype; on a
    backend that flushes subnormals, truths below tiny/eps)."""
    got, truth = np.asarray(got, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - truth) / (np.maximum(np.abs(truth), TINY[dtype]) * (1.0 + np.nan_to_num(cond)))
    scored = np.isfinite(truth) & (np.abs(truth) <= measures.FLOAT_MAX[dtype])
    if backend in FLUSHING:
        scored &= np.abs(truth) >= TINY[dtype] / measures.TOLERANCES[dtype][0]
    return np.where(scored, np.where(np.isfinite(got), err, math.inf), np.nan)


def mean_errors(got: np.ndarray, truth: np.ndarray, scale: np.ndarray, dtype: str) -> np.ndarray:
    """The Boltzmann reduction is a weighted mean: entries of both signs can cancel to a result near 0 that no
    float sum of them reaches (each weight carries its rounding, times |x|). Its error is measured relative to
    ``max(|truth|, 1, sum w_i |x_i|)``, the size of the summed terms (backward stability), instead of
    ``max(|truth|, 1)``."""
    err = measures.errors(got, truth, dtype)
    with np.errstate(invalid="ignore"):
        return err * np.maximum(np.abs(truth), 1.0) / np.maximum(np.maximum(np.abs(truth), 1.0), scale)


def sum_errors(got: np.ndarray, truth: np.ndarray, terms: np.ndarray, dtype: str) -> np.ndarray:
    """A derivative that is a sum of terms of both signs (softmax's, soft_argmax's and soft_onehot's products
    with a cotangent, the Boltzmann gradient) can cancel to a result that no float sum of its terms reaches:
    its error is measured relative to ``max(|truth|, 1, size of the terms)`` (the oracle's ``terms``), and it is
    not scored where the terms themselves are beyond the dtype (they saturate there)."""
    err = measures.errors(got, truth, dtype)
    terms = np.nan_to_num(np.asarray(terms, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        scaled = err * np.maximum(np.abs(truth), 1.0) / np.maximum(np.maximum(np.abs(truth), 1.0), terms)
    return np.where(terms <= measures.FLOAT_MAX[dtype], scaled, np.nan)


def _condition(inputs: list[np.ndarray], partials: list[np.ndarray], value: np.ndarray) -> np.ndarray:
    """``sum_i |x_i df/dx_i| / |f|`` (0 where f = 0): what a relative error of the inputs costs."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        total = sum(np.abs(x * d) for x, d in zip(inputs, partials, strict=True) if d is not None)
        return np.where(value != 0, np.asarray(total) / np.abs(value), 0.0)


def _finite_errors(outcome: Outcome, truths: list[np.ndarray | None]) -> np.ndarray:
    """1 at the points where the library gave NaN or inf and the truth is a (float64) finite number, or where
    the call raised or warned; ``truths`` are the value's and each derivative's, in the outcome's order."""
    n = len(truths[0]) if truths[0] is not None and np.ndim(truths[0]) else 1
    bad = np.zeros(n, dtype=bool)
    for got, truth in zip([outcome.value, *outcome.grads], truths, strict=False):
        if got is None or truth is None:
            continue
        bad |= (~np.isfinite(np.reshape(got, (n, -1))) & np.isfinite(np.reshape(truth, (n, -1)))).any(axis=1)
    if outcome.problems:
        bad[:] = True
    return bad.astype(np.float64)


def _label(case: dict[str, Any]) -> tuple[str, str]:
    """(function, method) labels of a group; configurations are part of the method label."""
    method, config = case["method"], case["config"]
    if case["function"] == "smooth_clamp":
        method = f"lo={config[0]:g},hi={config[1]:g}"
    elif case["function"] == "smooth_steps":
        method = f"{method},{len(config[0])} steps"
    elif case["function"] == "soft_onehot":
        method = f"n={config}"
    return case["function"], method or "-"


def _describe(case: dict[str, Any], points: list[str], problems: list[str]) -> list[str]:
    param = "width" if case.get("param") == "width" else "k"
    head = f"{param}={case['k']:g}, "
    tail = f" [{problems[0]}]" if problems else ""
    return [head + p + tail for p in points]


#: XLA's CPU backend flushes subnormal numbers to zero (FTZ/DAZ): on JAX, inputs below the dtype's smallest normal
#: number are not scored, and the relative measures score only truths above tiny/eps (whose evaluation may pass
#: through subnormal intermediates)
FLUSHING = ("jax", "jax.jit")
INPUT_COLUMNS = {"unary": ("x",), "pair": ("a", "b"), "row": ("x",), "onehot": ("index",)}


def _selected(table: str, ci: int, dtype: str, backend: str = "numpy") -> np.ndarray:
    data = oracle()
    bit = 1 << data["meta"]["dtypes"].index(dtype)
    keep = (data[f"{table}.case"] == ci) & ((data[f"{table}.mask"] & bit) > 0)
    if backend in FLUSHING:
        for column in INPUT_COLUMNS[table]:
            v = np.abs(data[f"{table}.{column}"])
            sub = (v > 0) & (v < TINY[dtype])
            keep &= ~(sub.any(axis=1) if sub.ndim > 1 else sub)
    return np.flatnonzero(keep)


#: under jax.jit (one compilation per group) only these cases of each group are evaluated: the smallest, the
#: largest and the one nearest 1 of its k (or width); every point of those, the largest inputs included
def _jit_subset(cases: list[int], params: list[float]) -> list[int]:
    chosen = {min(params), max(params), min(params, key=lambda k: abs(math.log(k)))}
    return [ci for ci, k in zip(cases, params, strict=True) if k in chosen]


@dataclass
class Job:
    """One case to evaluate and score: its call, and how to score the outcome."""

    call: Call
    score: Callable[[Outcome], None]


def _run_groups(backend: str, dtype: str, table: str, cases: list[dict[str, Any]],
                make: Callable[[int, dict[str, Any], np.ndarray, Collector], Job | None],
                collectors: dict[tuple[str, str], Collector]) -> None:
    """Evaluate the cases of ``table`` label by label (one batch, one jit compilation per label)."""
    by_label: dict[tuple[str, str], list[int]] = {}
    for ci, case in enumerate(cases):
        by_label.setdefault(_label(case), []).append(ci)
    for label, indices in by_label.items():
        if backend == "jax.jit":
            indices = _jit_subset(indices, [cases[i]["k"] for i in indices])
        col = collectors.setdefault(label, Collector(*label, backend, dtype))
        jobs = [job for ci in indices
                if (job := make(ci, cases[ci], _selected(table, ci, dtype, backend), col)) is not None]
        for job, outcome in zip(jobs, evaluate(backend, dtype, [j.call for j in jobs]), strict=True):
            job.score(outcome)


def _unary(backend: str, dtype: str, collectors: dict[tuple[str, str], Collector]) -> None:
    data = oracle()

    def make(ci: int, case: dict[str, Any], rows: np.ndarray, col: Collector) -> Job | None:
        if not rows.size:
            return None
        x = data["unary.x"][rows]
        value, d1, d2 = data["unary.value"][rows], data["unary.d_dx"][rows], data["unary.d2_dx2"][rows]

        def score(out: Outcome) -> None:
            out = _conform(out, value, [d1])
            desc = _describe(case, [f"x={v!r}" for v in x], out.problems)
            col.add("value", measures.errors(out.value, value, dtype), desc)
            col.add("value, relative", relative_errors(out.value, value, _condition([x], [d1], value), dtype, backend),
                    desc)
            if out.grads[0] is not None:
                col.add("d/dx", measures.errors(out.grads[0], d1, dtype), desc)
                col.add("d/dx, relative", relative_errors(out.grads[0], d1, _condition([x], [d2], d1), dtype, backend),
                        desc)
            col.add("finite", _finite_errors(out, [value, d1]), desc)

        return Job(Call(unary_call(case), [x]), score)

    _run_groups(backend, dtype, "unary", data["meta"]["unary_cases"], make, collectors)


def _pair(backend: str, dtype: str, collectors: dict[tuple[str, str], Collector]) -> None:
    data = oracle()

    def make(ci: int, case: dict[str, Any], rows: np.ndarray, col: Collector) -> Job | None:
        if not rows.size:
            return None
        a, b = data["pair.a"][rows], data["pair.b"][rows]
        value, da, db = data["pair.value"][rows], data["pair.d_da"][rows], data["pair.d_db"][rows]

        def score(out: Outcome) -> None:
            out = _conform(out, value, [da, db])
            desc = _describe(case, [f"a={u!r}, b={v!r}" for u, v in zip(a, b, strict=True)], out.problems)
            col.add("value", measures.errors(out.value, value, dtype), desc)
            col.add("value, relative",
                    relative_errors(out.value, value, _condition([a, b], [da, db], value), dtype, backend), desc)
            if out.grads[0] is not None:
                col.add("d/da", measures.errors(out.grads[0], da, dtype), desc)
                col.add("d/db", measures.errors(out.grads[1], db, dtype), desc)
            col.add("finite", _finite_errors(out, [value, da, db]), desc)

        return Job(Call(pair_call(case), [a, b]), score)

    _run_groups(backend, dtype, "pair", data["meta"]["pair_cases"], make, collectors)


def _rows(backend: str, dtype: str, collectors: dict[tuple[str, str], Collector]) -> None:
    data = oracle()
    cases = data["meta"]["row_cases"]
    # one job per case and row length: split the cases by length first
    split: list[dict[str, Any]] = []
    members: list[np.ndarray] = []
    for ci, case in enumerate(cases):
        rows_all = _selected("row", ci, dtype, backend)
        lengths = data["row.n"][rows_all]
        for n in sorted(set(lengths.tolist())):
            split.append(dict(case, length=n))
            members.append(rows_all[lengths == n])

    def make(si: int, case: dict[str, Any], _: np.ndarray, col: Collector) -> Job | None:
        rows, n = members[si], case["length"]
        x, cot = data["row.x"][rows, :n], data["row.cot"][rows, :n]
        vector = case["function"] == "softmax"
        grad, terms = data["row.grad"][rows, :n], data["row.terms"][rows, :n]
        scale = None
        if vector:
            value, cond = data["row.value"][rows, :n], data["row.cond"][rows, :n]
        else:
            if case["method"] == "boltzmann":
                scale = data["row.cond"][rows, 0]
            value = data["row.value"][rows, 0]
            finite_x = np.where(np.isinf(x), 0.0, x)  # -inf entries have gradient 0
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                cond = np.where(value != 0, np.sum(np.abs(finite_x * grad), axis=1) / np.abs(value), 0.0)

        def score(out: Outcome) -> None:
            out = _conform(out, value, [grad])
            desc = _describe(case, [f"x={r!r}" for r in x.tolist()], out.problems)
            per_entry = [d for d in desc for _ in range(n)]
            desc_v = per_entry if vector else desc
            col.add("value", measures.errors(out.value, value, dtype) if scale is None
                    else mean_errors(out.value, value, scale, dtype), desc_v)
            col.add("value, relative", relative_errors(out.value, value, cond, dtype, backend), desc_v)
            if out.grads[0] is not None:
                col.add("d/dx", measures.errors(out.grads[0], grad, dtype) if case["method"] == "logsumexp"
                        else sum_errors(out.grads[0], grad, terms, dtype), per_entry)
            col.add("finite", _finite_errors(out, [value, grad]), desc)

        return Job(Call(row_call(case), [x], cot if vector else None), score)

    with_rows = [i for i, m in enumerate(members) if m.size]
    _run_groups(backend, dtype, "row", [split[i] for i in with_rows],
                lambda si, case, _, col: make(with_rows[si], case, _, col), collectors)


def _onehot(backend: str, dtype: str, collectors: dict[tuple[str, str], Collector]) -> None:
    data = oracle()

    def make(ci: int, case: dict[str, Any], rows: np.ndarray, col: Collector) -> Job | None:
        if not rows.size:
            return None
        n = case["config"]
        index, cot = data["onehot.index"][rows], data["onehot.cot"][rows, :n]
        value, cond, vjp = data["onehot.value"][rows, :n], data["onehot.cond"][rows, :n], data["onehot.vjp"][rows]
        terms = data["onehot.terms"][rows]

        def score(out: Outcome) -> None:
            out = _conform(out, value, [vjp])
            desc = _describe(case, [f"index={v!r}" for v in index], out.problems)
            desc_v = [d for d in desc for _ in range(n)]
            col.add("value", measures.errors(out.value, value, dtype), desc_v)
            col.add("value, relative", relative_errors(out.value, value, cond, dtype, backend), desc_v)
            if out.grads[0] is not None:
                col.add("d/dx", sum_errors(out.grads[0], vjp, terms, dtype), desc)
            col.add("finite", _finite_errors(out, [value, vjp]), desc)

        return Job(Call(onehot_call(case), [index], cot), score)

    _run_groups(backend, dtype, "onehot", data["meta"]["onehot_cases"], make, collectors)


def _metrics(backend: str, dtype: str, collectors: dict[tuple[str, str], Collector]) -> None:
    data = oracle()
    for i, case in enumerate(data["meta"]["metric_cases"]):
        p, y = data[f"metric.{i}.{dtype}.p"], data[f"metric.{i}.y"]
        label = (case["function"], case["method"])
        col = collectors.setdefault(label, Collector(*label, backend, dtype))
        (out,) = evaluate(backend, dtype, [Call(metric_call(case), [p, y], pad=False)])
        desc = [f"p of shape {p.shape}" + (f" [{out.problems[0]}]" if out.problems else "")]
        col.add("value", measures.errors(out.value, data[f"metric.{i}.{dtype}.value"], dtype), desc)
        if out.grads[0] is not None:
            grad = data[f"metric.{i}.{dtype}.grad"]
            col.add("d/dp", measures.errors(out.grads[0], grad, dtype), [f"p[{j}]" for j in np.ndindex(p.shape)])
        col.add("finite", _finite_errors(out, [np.atleast_1d(data[f"metric.{i}.{dtype}.value"]),
                                               np.atleast_1d(data[f"metric.{i}.{dtype}.grad"]).reshape(1, -1)]),
                desc)


# ------------------------------------------------------------------------------------------------- known limits


@dataclass(frozen=True)
class KnownLimit:
    """A quantity of one group that does not meet the standard tolerance, where, and by how much.

    The group is still scored: its worst error must stay at or below ``worst``, the figure measured when the
    entry was written (a regression guard); every other quantity of every group is held to the standard
    tolerance. An entry whose quantity meets the standard tolerance must be removed
    (``tests/test_conformance_toolbox.py`` checks both). ``docs/toolbox.md`` ("Known limits") lists them.
    """

    function: str
    method: str
    backends: tuple[str, ...]
    dtype: str
    quantity: str
    region: str
    worst: float

    def matches(self, r: measures.Result) -> bool:
        return (r.function, r.method, r.dtype, r.quantity) == (self.function, self.method, self.dtype,
                                                               self.quantity) and r.backend in self.backends


_STEPS_D_DX = ("breakpoints (0, 1e-3) with the opposite jumps -10, +10 (values 5, -5, 5): the derivative "
               "-10 phi_w(x) + 10 phi_w(x - 1e-3) cancels wherever the two densities are close, at widths >= 0.13 "
               "(the gap below 1/100 of the width; Cauchy also at smaller widths, in its heavy tails far from both "
               "breakpoints). Each density is exact to rounding, their difference is not: the relative error of "
               "the tiny difference is of order eps times the density over the difference (up to 1e24 for Cauchy at "
               "|x| = 3e38); the absolute d/dx (relative to max(|truth|, 1)) is within tolerance everywhere")
_JVP_CAP = ("k = 1e39 (beyond float32's range) only: JAX differentiates the JVP, which must stay linear in the "
            "tangent, so the Jacobian coefficients k w saturate at 2^-8 of float32's largest number where the "
            "true gradient is near that number (PyTorch's VJP applies k after the product and is within tolerance)")

_LSE_TIES = ("k = 1e-300 and n = 3 equal entries -1e300 only: the result -1e300 + log(3)/k = 9.86e298 cancels, "
             "which magnifies the one rounding of log(3)/k by |x|/|result| = 10 (2.26e-15 against 8 eps with NumPy "
             "2.4.6's log1p; an earlier NumPy rounded it within tolerance). Adding log(n)/k as a double word would "
             "be the fix")


def _steps(method: str, backends: tuple[str, ...], dtype: str, worst: float) -> KnownLimit:
    return KnownLimit("smooth_steps", f"{method},2 steps", backends, dtype, "d/dx, relative", _STEPS_D_DX, worst)


#: Measured worst errors (rounded up to 3 digits). Under jax.jit only the smallest, largest and unit width are
#: evaluated (``_jit_subset``), so its figures are those of width 1.
KNOWN_LIMITS: tuple[KnownLimit, ...] = (
    _steps("logistic", ("torch",), "float64", 1.0),
    _steps("logistic", ("jax",), "float64", 1.59e7),
    _steps("logistic", ("jax.jit",), "float64", 9.86e-10),
    _steps("logistic", ("torch", "jax"), "float32", 1.0),
    _steps("logistic", ("jax.jit",), "float32", 0.145),
    _steps("logistic", ("torch",), "bfloat16", 1.0),
    _steps("gaussian", ("torch", "jax"), "float64", 1.0),
    _steps("gaussian", ("jax.jit",), "float64", 3.13e-10),
    _steps("gaussian", ("torch", "jax"), "float32", 1.0),
    _steps("gaussian", ("jax.jit",), "float32", 0.0783),
    _steps("gaussian", ("torch",), "float16", 0.00639),
    _steps("gaussian", ("torch",), "bfloat16", 1.0),
    _steps("cauchy", ("torch", "jax"), "float64", 1.0),
    _steps("cauchy", ("jax.jit",), "float64", 1.47e24),
    _steps("cauchy", ("torch", "jax"), "float32", 1.0),
    _steps("cauchy", ("jax.jit",), "float32", 878.0),
    _steps("cauchy", ("torch",), "bfloat16", 1.0),
    KnownLimit("softmax", "-", ("jax",), "float32", "d/dx", _JVP_CAP, 1.0),
    KnownLimit("soft_argmax", "-", ("jax",), "float32", "d/dx", _JVP_CAP, 1.0),
    KnownLimit("soft_onehot", "n=4", ("jax",), "float32", "d/dx", _JVP_CAP, 0.998),
    KnownLimit("smooth_max", "logsumexp", ("numpy",), "float64", "value", _LSE_TIES, 2.27e-15),
)


def known_limit(r: measures.Result) -> KnownLimit | None:
    """The known-limit entry of a result's group and quantity, if any."""
    return next((lim for lim in KNOWN_LIMITS if lim.matches(r)), None)


def _with_known_limits(results: list[measures.Result]) -> list[measures.Result]:
    """Results whose quantity has a known limit are held to its measured figure instead of the tolerance."""
    out = []
    for r in results:
        lim = known_limit(r)
        out.append(r if lim is None else replace(r, tolerance=lim.worst,
                                                 failures=r.failures if r.worst > lim.worst else []))
    return out


@functools.cache
def backend_results(backend: str) -> tuple[measures.Result, ...]:
    """Every group of one backend (evaluated once per process), known limits applied (``KNOWN_LIMITS``)."""
    return tuple(_with_known_limits(list(raw_backend_results(backend))))


@functools.cache
def raw_backend_results(backend: str) -> tuple[measures.Result, ...]:
    """Every group of one backend against the standard tolerances."""
    results: list[measures.Result] = []
    for dtype in BACKEND_DTYPES[backend]:
        collectors: dict[tuple[str, str], Collector] = {}
        for family in (_unary, _pair, _rows, _onehot, _metrics):
            family(backend, dtype, collectors)
        for col in collectors.values():
            results.extend(col.results())
    return tuple(results)


def bounds_results() -> list[measures.Result]:
    """``sr.bounds`` against the oracle's figures, relative error, one group per name."""
    sr = _sr()
    groups: dict[str, dict[str, tuple[list[float], list[str]]]] = {}
    for entry in oracle()["meta"]["bounds"]:
        name, k, n = entry["name"], entry["k"], entry["n"]
        got = sr.bounds(name, k, n=n)
        for quantity, value, truth in (("sup_error", got.sup_error, float(entry["sup_error"])),
                                       ("gradient_lipschitz", got.gradient_lipschitz, float(entry["lipschitz"]))):
            if math.isinf(truth) or math.isinf(value):
                err = 0.0 if value == truth else math.inf
            else:
                err = abs(value - truth) / max(abs(truth), 1e-300)
            errs, desc = groups.setdefault(name, {}).setdefault(quantity, ([], []))
            errs.append(err)
            desc.append(f"k={k:g}, n={n}: got {value!r}, truth {truth!r}")
    out = []
    for name, quantities in groups.items():
        function, method = name.split(":")
        for quantity, (errs, desc) in quantities.items():
            result = measures.score(np.array(errs), desc, function=f"bounds({function})", method=method,
                                    backend="python", dtype="float64", k_form=K_FORM, quantity="value")
            out.append(replace(result, quantity=quantity))
    return out


def score_all() -> list[measures.Result]:
    """Every group of every backend, and the bounds."""
    results = [r for backend in BACKENDS for r in backend_results(backend)]
    return results + bounds_results()
