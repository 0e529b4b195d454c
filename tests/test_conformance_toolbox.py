"""The smoothing toolbox against the independent 50-digit oracle ``tests/data/oracle_toolbox.npz``.

One test per group (function and method, backend, dtype; see ``conformance/toolbox.py``): every quantity of the
group within its tolerance, or, for the few in ``toolbox.KNOWN_LIMITS``, within the worst error measured and
documented there (and each of those entries still needed: over the standard tolerance); every quantity scored
somewhere. Each backend is evaluated once per session (cached),
so the tests after the first of each backend are cheap. Also: the data file is sane, a random sample of its points
agrees with a fresh mpmath computation, the scorer flags a planted error, ``bounds`` agrees with the oracle's
constants, and ``python -m conformance --suite toolbox`` prints the table.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import math
from pathlib import Path

import numpy as np
import pytest
from conformance import __main__ as cli
from conformance import measures, toolbox
from conformance import toolbox_oracle as gen

import smoothround as sr


def _labels() -> list[tuple[str, str]]:
    meta = toolbox.oracle()["meta"]
    labels: dict[tuple[str, str], None] = {}
    for key in ("unary_cases", "pair_cases", "row_cases", "onehot_cases"):
        for case in meta[key]:
            labels[toolbox._label(case)] = None
    for case in meta["metric_cases"]:
        labels[(case["function"], case["method"])] = None
    return list(labels)


GROUPS = [(backend, dtype, function, method) for backend in toolbox.BACKENDS
          for dtype in toolbox.BACKEND_DTYPES[backend] for function, method in _labels()]


def _results(backend: str, dtype: str, function: str, method: str) -> list[measures.Result]:
    """The group's results against the standard tolerances (known limits not applied)."""
    return [r for r in toolbox.raw_backend_results(backend)
            if (r.dtype, r.function, r.method) == (dtype, function, method)]


METRICS = ("smooth_accuracy", "smooth_precision", "smooth_recall", "smooth_f1", "smooth_fbeta")


def _expected(backend: str, function: str) -> set[str]:
    """The quantities a group must score."""
    expected = {"value", "finite"} | ({"value, relative"} if function not in METRICS else set())
    if backend != "numpy":
        if function in METRICS:
            expected.add("d/dp")
        elif function in ("smooth_maximum", "smooth_minimum"):
            expected |= {"d/da", "d/db"}
        else:
            expected.add("d/dx")
    return expected


@pytest.mark.parametrize("group", GROUPS, ids=[f"{f}:{m}:{b}:{d}" for b, d, f, m in GROUPS])
def test_group_within_tolerance(group: tuple[str, str, str, str]) -> None:
    backend, dtype, function, method = group
    results = _results(backend, dtype, function, method)
    assert _expected(backend, function) <= {r.quantity for r in results}, [r.quantity for r in results]
    assert all(r.scored > 0 for r in results), "a quantity without a single scored point"
    bad = []
    for r in results:
        limit = toolbox.known_limit(r)
        bound = r.tolerance if limit is None else limit.worst  # a known limit: its measured worst error
        if not r.worst <= bound:
            kind = "tolerance" if limit is None else "the documented known limit"
            bad.append(f"  {r.quantity}: worst {r.worst:.3g} > {kind} {bound:.3g}; worst points: "
                       + "; ".join(r.failures))
    assert not bad, f"{function}:{method}:{backend}:{dtype}:\n" + "\n".join(bad)


@pytest.mark.parametrize("limit", toolbox.KNOWN_LIMITS,
                         ids=[f"{x.function}:{x.method}:{'+'.join(x.backends)}:{x.dtype}:{x.quantity}"
                              for x in toolbox.KNOWN_LIMITS])
def test_known_limit_is_still_needed(limit: toolbox.KnownLimit) -> None:
    """Every entry of the known limits is over the standard tolerance on each of its backends (an entry that
    is no longer needed must be removed), matches exactly one result per backend, and is in the docs."""
    for backend in limit.backends:
        matching = [r for r in toolbox.raw_backend_results(backend) if limit.matches(r)]
        assert len(matching) == 1, (limit, backend, len(matching))
        (r,) = matching
        assert r.worst > r.tolerance, f"{backend}: worst {r.worst:.3g} within tolerance {r.tolerance:.3g}: remove"
    assert sum(other.function == limit.function and other.method == limit.method and other.dtype == limit.dtype
               and other.quantity == limit.quantity and bool(set(other.backends) & set(limit.backends))
               for other in toolbox.KNOWN_LIMITS) == 1, "overlapping entries"
    docs = (Path(__file__).resolve().parents[1] / "docs" / "toolbox.md").read_text()
    section = docs.split("## Known limits", 1)[-1]
    assert f"{limit.worst:.3g}" in section and limit.function in section, (limit, "not in docs/toolbox.md")


def test_bounds_agree_with_the_oracle() -> None:
    results = toolbox.bounds_results()
    assert len(results) >= 2 * len(sr.BOUND_NAMES) - 4  # every name (the power mean: k >= 1 only)
    assert {r.function.removeprefix("bounds(").removesuffix(")") + ":" + r.method for r in results} == set(
        sr.BOUND_NAMES)
    bad = [r for r in results if not r.ok]
    assert not bad, "\n".join(f"{r.key}: {'; '.join(r.failures)}" for r in bad)


def test_oracle_metadata_and_shapes() -> None:
    data = toolbox.oracle()
    meta = data["meta"]
    assert meta["digits"] >= 50 and meta["dps_ladder"][0] >= 60 and meta["zero_dps"] >= 600
    assert meta["mpmath"] and datetime.datetime.fromisoformat(meta["date"])
    assert len(meta["self_check"]) >= 30 and all(c["worst"] < 1e-40 for c in meta["self_check"])
    # the k range asked for: 1e-300 to 1e300, with 1e39 beyond float32 and 1e-8, 1, 1e8 between
    ks = {c["k"] for c in meta["unary_cases"] if c["param"] == "k"}
    assert {1e-300, 1e-8, 1.0, 1e8, 1e39, 1e300} <= ks
    for table, columns in (("unary", ("x", "value", "d_dx", "d2_dx2")), ("pair", ("a", "b", "value", "d_da")),
                           ("row", ("x", "value", "grad")), ("onehot", ("index", "value", "vjp"))):
        n = len(data[f"{table}.case"])
        assert n > 1000 and np.all(data[f"{table}.mask"] > 0), table
        for c in columns:
            assert len(data[f"{table}.{c}"]) == n, (table, c)
        assert set(np.unique(data[f"{table}.case"]).tolist()) == set(range(len(meta[f"{table}_cases"]))), table
    for bit, dtype in enumerate(meta["dtypes"]):
        for table, column in (("unary", "x"), ("pair", "a"), ("pair", "b"), ("onehot", "index")):
            used = data[f"{table}.{column}"][(data[f"{table}.mask"] & (1 << bit)) > 0]
            assert len(used) >= 500 and all(gen.representable(dtype, v) for v in used[::7].tolist()), (table, dtype)
    # each dtype's largest and smallest normal numbers are inputs, and -inf entries in rows
    x = data["unary.x"]
    for dtype in ("float64", "float32", "float16"):
        info = np.finfo(dtype)
        assert float(info.max) in x and float(info.tiny) in x, dtype
    assert np.isneginf(data["row.x"]).any()


def _close(stored: float, fresh: float) -> bool:
    if math.isnan(stored) or math.isnan(fresh):
        return math.isnan(stored) and math.isnan(fresh)
    if math.isinf(stored) or math.isinf(fresh):
        return stored == fresh
    return abs(stored - fresh) <= 1e-14 * max(abs(fresh), 1e-300) or stored == fresh


def test_random_points_agree_with_a_fresh_mpmath_computation() -> None:
    """40 random points of the data file, recomputed from the definitions (a corrupted file is caught)."""
    data = toolbox.oracle()
    meta = data["meta"]
    rng = np.random.default_rng(20261203)
    for i in rng.choice(len(data["unary.x"]), 15, replace=False):
        case = meta["unary_cases"][data["unary.case"][i]]
        fresh = gen.solve(gen.unary_defs, case["function"], case["method"], case["k"], case["config"],
                          float(data["unary.x"][i]))
        stored = [data[f"unary.{c}"][i] for c in ("value", "d_dx", "d2_dx2")]
        assert all(_close(s, f) for s, f in zip(stored, fresh, strict=True)), (case, stored, fresh)
    for i in rng.choice(len(data["pair.a"]), 15, replace=False):
        case = meta["pair_cases"][data["pair.case"][i]]
        fresh = gen.solve(gen.pair_defs, case["function"], case["method"], case["k"], None,
                          float(data["pair.a"][i]), float(data["pair.b"][i]))
        stored = [data[f"pair.{c}"][i] for c in ("value", "d_da", "d_db")]
        assert all(_close(s, f) for s, f in zip(stored, fresh, strict=True)), (case, stored, fresh)
    for i in rng.choice(len(data["row.n"]), 10, replace=False):
        case, n = meta["row_cases"][data["row.case"][i]], int(data["row.n"][i])
        row, cot = tuple(data["row.x"][i, :n].tolist()), tuple(data["row.cot"][i, :n].tolist())
        fresh = gen.solve(gen.row_defs, case["function"], case["method"], case["k"], row, cot)
        if case["function"] == "softmax":
            stored = [*data["row.value"][i, :n], *data["row.grad"][i, :n], *data["row.cond"][i, :n]]
        else:
            stored = [data["row.value"][i, 0], *data["row.grad"][i, :n], data["row.cond"][i, 0]]
        stored += list(data["row.terms"][i, :n])
        assert all(_close(s, f) for s, f in zip(stored, fresh, strict=True)), (case, row, stored, fresh)


def test_scorer_flags_a_planted_error() -> None:
    data = toolbox.oracle()
    ci = next(i for i, c in enumerate(data["meta"]["unary_cases"])
              if (c["function"], c["method"], c["k"]) == ("smooth_step", "logistic", 1.0))
    rows = toolbox._selected("unary", ci, "float64")
    x, truth = data["unary.x"][rows], data["unary.value"][rows]
    (good,) = toolbox.evaluate("numpy", "float64", [toolbox.Call(lambda v: sr.smooth_step(v, 1.0), [x])])
    tol = measures.tolerance("float64", "value")
    assert np.nanmax(measures.errors(good.value, truth, "float64")) <= tol
    # an error of 16 ulp at 1, and a tail flushed to 0: the first fails the value, the second only the
    # relative measure (the absolute one cannot see it)
    planted = good.value.copy()
    planted[np.argmin(np.abs(x - 5.0))] *= 1 + 16 * 2.0**-52
    assert np.nanmax(measures.errors(planted, truth, "float64")) > tol
    flushed = np.where(good.value < 1e-15, 0.0, good.value)
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(truth != 0, np.abs(x * data["unary.d_dx"][rows]) / np.abs(truth), 0.0)
    assert np.nanmax(measures.errors(flushed, truth, "float64")) <= tol
    assert np.nanmax(toolbox.relative_errors(flushed, truth, cond, "float64")) > measures.tolerance("float64", "x")


def test_command_line_prints_the_table() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["--suite", "toolbox"])
    text = out.getvalue()
    assert status == 0, text[-3000:]
    assert "| smooth_max | logsumexp |" in text and "0 over tolerance" in text
