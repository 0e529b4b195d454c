"""Error measures and tolerances shared by every conformance suite.

* values and x-partials (and the partials in ``step`` and ``offset``): ``|got - truth| / max(|truth|, 1)``,
  because the mean slope of a smooth rounding is 1, so 1 is the natural scale near 0;
* k-partials: ``|got - truth| / max(|truth|, 1/k)``, the same measure for ``k * d/dk``;
* a truth beyond the dtype's largest finite number is not scored; a NaN or inf result where the truth is finite
  scores ``inf`` (it always fails).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: every backend a suite scores, with the dtypes each one is scored in
BACKENDS = ("numpy", "torch", "jax", "jax.jit")
BACKEND_DTYPES = {
    "numpy": ("float64", "float32"),
    "torch": ("float64", "float32", "float16", "bfloat16"),
    "jax": ("float64", "float32"),
    "jax.jit": ("float64", "float32"),
}


def load_oracle(path: Path) -> dict[str, Any]:
    """An oracle data file's arrays and its parsed metadata (key ``meta``)."""
    with np.load(path) as data:
        out: dict[str, Any] = {key: data[key] for key in data.files}
    out["meta"] = json.loads(str(out["meta"]))
    return out


@contextlib.contextmanager
def jax_precision(dtype: str) -> Iterator[None]:
    """float64 work under ``jax.enable_x64(True)``, float32 work under the default (x64 off)."""
    import jax

    with jax.enable_x64(dtype == "float64"):
        yield

#: dtype -> (tolerance for values, tolerance for partial derivatives)
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (8 * 2.0**-52, 1e-12),
    "float32": (1e-6, 1e-4),
    "float16": (2.0**-9, 2.0**-8),
    "bfloat16": (2.0**-6, 2.0**-5),
}

#: largest finite number of each dtype
FLOAT_MAX = {
    "float64": float(np.finfo(np.float64).max),
    "float32": float(np.finfo(np.float32).max),
    "float16": 65504.0,
    "bfloat16": 3.3895313892515355e38,
}


def tolerance(dtype: str, quantity: str) -> float:
    """The tolerance of ``quantity`` ("value", or a partial such as "d/dx", "d/dk") in ``dtype``."""
    value_tol, partial_tol = TOLERANCES[dtype]
    return value_tol if quantity == "value" else partial_tol


def errors(got: np.ndarray, truth: np.ndarray, dtype: str, *, k: np.ndarray | None = None) -> np.ndarray:
    """Elementwise error of ``got`` against ``truth``; NaN where the point is not scored.

    ``k`` given: the k-partial measure ``|got - truth| / max(|truth|, 1/k)``; otherwise ``max(|truth|, 1)``.
    """
    got = np.asarray(got, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    scale = np.maximum(np.abs(truth), 1.0 if k is None else 1.0 / np.asarray(k, dtype=np.float64))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - truth) / scale
    scored = np.isfinite(truth) & (np.abs(truth) <= FLOAT_MAX[dtype])
    err = np.where(np.isfinite(got), err, math.inf)
    return np.where(scored, err, np.nan)


@dataclass
class Result:
    """The worst error of one group (function, method, backend, dtype, form of k, quantity)."""

    function: str
    method: str
    backend: str
    dtype: str
    k_form: str
    quantity: str
    worst: float
    tolerance: float
    where: str = ""  # the worst point, e.g. "k=128, x=0.5"
    scored: int = 0
    failures: list[str] = field(default_factory=list)  # the worst failing points, described

    @property
    def ok(self) -> bool:
        return self.worst <= self.tolerance

    @property
    def key(self) -> str:
        return f"{self.function}:{self.method}:{self.backend}:{self.dtype}:{self.k_form}:{self.quantity}"


def score(
    err: np.ndarray,
    describe: Sequence[str],
    *,
    function: str,
    method: str,
    backend: str,
    dtype: str,
    k_form: str,
    quantity: str,
    keep: int = 5,
    tol: float | None = None,
) -> Result:
    """Reduce elementwise errors (NaN = not scored) to a :class:`Result`; ``describe[i]`` names point ``i``.

    ``tol`` replaces the dtype's tolerance, for groups held to a tolerance the caller asked for (``tol=``).
    """
    err = np.asarray(err, dtype=np.float64).ravel()
    tol = tolerance(dtype, quantity) if tol is None else tol
    mask = ~np.isnan(err)
    if not mask.any():
        return Result(function, method, backend, dtype, k_form, quantity, 0.0, tol, "", 0)
    index = np.flatnonzero(mask)
    order = index[np.argsort(-err[index], kind="stable")]
    worst = float(err[order[0]])
    failures = [f"{describe[i]}: error {err[i]:.3g}" for i in order[:keep] if err[i] > tol]
    return Result(function, method, backend, dtype, k_form, quantity, worst, tol, describe[order[0]],
                  int(mask.sum()), failures)


def merge(results: Iterable[Result], by: tuple[str, ...]) -> list[Result]:
    """The worst result of each group of ``results`` sharing the attributes ``by`` (others become "*")."""
    groups: dict[tuple, Result] = {}
    fields = ("function", "method", "backend", "dtype", "k_form", "quantity")
    for r in results:
        key = tuple(getattr(r, f) for f in by)
        best = groups.get(key)
        if best is None or r.worst / r.tolerance > best.worst / best.tolerance:
            groups[key] = Result(*(getattr(r, f) if f in by else "*" for f in fields), r.worst, r.tolerance,
                                 r.where, r.scored, r.failures)
    return list(groups.values())


def format_table(results: Sequence[Result]) -> str:
    """A Markdown table: one row per result, worst error, tolerance, ratio and where it was attained."""
    head = "| function | method | backend | dtype | k | quantity | worst error | tolerance | worst / tol | at |"
    rule = "|---|---|---|---|---|---|---|---|---|---|"
    rows = [
        f"| {r.function} | {r.method} | {r.backend} | {r.dtype} | {r.k_form} | {r.quantity} | {r.worst:.3g} "
        f"| {r.tolerance:.3g} | {r.worst / r.tolerance:.3g}{'' if r.ok else ' FAIL'} | {r.where} |"
        for r in results
    ]
    return "\n".join([head, rule, *rows])


def format_pivot(results: Sequence[Result], rows: tuple[str, ...], column: str) -> str:
    """A Markdown table with one row per combination of the ``rows`` attributes and one column per value of
    ``column``; each cell is the worst error over its groups (``FAIL`` when any is over its tolerance), and the
    last column the tolerance (the largest among the row's groups)."""
    columns = sorted({str(getattr(r, column)) for r in results})
    cells: dict[tuple, dict[str, list[Result]]] = {}
    for r in results:
        cells.setdefault(tuple(str(getattr(r, f)) for f in rows), {}).setdefault(str(getattr(r, column)), []).append(r)
    head = "| " + " | ".join([*rows, *columns, "tolerance"]) + " |"
    rule = "|" + "---|" * (len(rows) + len(columns) + 1)
    lines = [head, rule]
    for key in sorted(cells):
        row = cells[key]
        entries = []
        for name in columns:
            group = row.get(name, [])
            if not group:
                entries.append("")
                continue
            worst = max(g.worst for g in group)
            entries.append(f"{worst:.2g}" + ("" if all(g.ok for g in group) else " FAIL"))
        tol = max(g.tolerance for groups in row.values() for g in groups)
        lines.append("| " + " | ".join([*key, *entries, f"{tol:.2g}"]) + " |")
    return "\n".join(lines)
