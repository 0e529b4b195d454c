"""The rounding core against the independent 50-digit oracle ``tests/data/oracle_rounding.npz``.

One test per group (function, method, backend, dtype, form of k; see ``conformance/rounding.py``): every quantity
of the group within its tolerance. Each backend is evaluated once per session (cached), so the tests are cheap
after the first of each backend. Also: the data file is sane, a random sample of its rows agrees with a fresh
mpmath computation, and the scorer flags a planted error.
"""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from conformance import measures, rounding
from conformance import rounding_oracle as gen
from mpmath import mp, mpf

GROUPS = rounding.groups()


@pytest.mark.parametrize("group", GROUPS, ids=[g.key for g in GROUPS])
def test_group_within_tolerance(group: rounding.Group) -> None:
    results = rounding.group_results(group)
    assert [r.quantity for r in results] == [rounding.QUANTITY_NAMES[q] for q in group.quantities()]
    assert all(r.scored > 0 for r in results), "a quantity without a single scored point"
    bad = [r for r in results if not r.ok]
    assert not bad, f"{group.key}:\n" + "\n".join(
        f"  {r.quantity}: worst {r.worst:.3g} > tolerance {r.tolerance:.3g}; worst points: "
        + "; ".join(r.failures)
        for r in bad
    )


def test_oracle_metadata_and_shapes() -> None:
    data = rounding.oracle()
    meta = data["meta"]
    assert meta["digits"] >= 50 and meta["working_dps"] >= 60 and meta["tail"] <= 1e-60
    assert meta["mpmath"] and datetime.datetime.fromisoformat(meta["date"])
    assert all(c["digits"] >= c["need"] >= 40 for c in meta["self_check"]) and len(meta["self_check"]) >= 5
    k, x, mask = data["k"], data["x"], data["x_dtypes"]
    assert len(k) >= 300 and np.all(np.diff(k) > 0)
    assert 0.99e-4 <= k[0] <= 1.01e-4 and 0.99e8 <= k[-1] <= 1.01e8
    np.testing.assert_array_equal(k.astype(np.float32).astype(np.float64), k)  # array k float32 == Python k
    assert set(meta["k_extra"]) <= set(k.tolist())
    assert np.all(np.diff(x) > 0) and np.all(mask > 0)
    for bit, dtype in enumerate(meta["dtypes"]):
        used = x[(mask & (1 << bit)) > 0]
        assert len(used) >= 30, dtype
        assert all(gen.representable(dtype, v) for v in used), dtype
    for fn in meta["functions"]:
        for method in meta["methods"]:
            for q in meta["quantities"]:
                arr = data[f"{fn}.{method}.{q}"]
                assert arr.shape == (len(k), len(x)) and np.all(np.isfinite(arr)), (fn, method, q)
    qk = data["quantize.k"]
    assert len(qk) >= 60 and np.all(np.diff(qk) > 0)
    for ci, cfg in enumerate(meta["quantize_configs"]):
        qx = data[f"quantize.{ci}.x"]
        for method in meta["methods"]:
            for sat in cfg["saturations"]:
                prefix = f"quantize.{ci}.{method}" + (f".{sat}" if sat else "")
                for q in meta["quantize_quantities"]:
                    arr = data[f"{prefix}.{q}"]
                    assert arr.shape == (len(qk), len(qx))
                    assert np.all(np.isfinite(arr) | ((q != "value") & np.isnan(arr))), prefix  # NaN: kinks


def _close(stored: float, fresh: float, scale: float) -> bool:
    if np.isnan(stored) or np.isnan(fresh):
        return bool(np.isnan(stored) and np.isnan(fresh))
    return abs(stored - fresh) <= 1e-14 * max(abs(fresh), scale)


def test_random_rows_agree_with_a_fresh_mpmath_computation() -> None:
    """20 random rows of the data file, recomputed from the definitions (a corrupted file is caught)."""
    data = rounding.oracle()
    meta = data["meta"]
    rng = np.random.default_rng(20261202)
    k, x = data["k"], data["x"]
    with mp.workdps(gen.DPS):
        for _ in range(14):
            fn = meta["functions"][rng.integers(3)]
            method = meta["methods"][rng.integers(3)]
            i, j = rng.integers(len(k)), rng.integers(len(x))
            shift = {"round": mpf(0), "floor": -gen.HALF, "ceil": gen.HALF}[fn]
            fresh = gen.smooth_round(method, gen._exact(mpf(x[j]), shift), mpf(k[i]))
            for q, value, scale in zip(meta["quantities"], fresh, (1.0, 1.0, 1.0 / k[i]), strict=True):
                stored = data[f"{fn}.{method}.{q}"][i, j]
                assert _close(stored, float(value), scale), (fn, method, q, k[i], x[j], stored, value)
        qk = data["quantize.k"]
        for _ in range(6):
            ci = int(rng.integers(len(meta["quantize_configs"])))
            cfg = meta["quantize_configs"][ci]
            method = meta["methods"][rng.integers(3)]
            sat = cfg["saturations"][rng.integers(len(cfg["saturations"]))]
            qx = data[f"quantize.{ci}.x"]
            i, j = rng.integers(len(qk)), rng.integers(len(qx))
            fresh = gen.quantize_task((ci, method, sat, float(qk[i]), [float(qx[j])]))[:, 0]
            prefix = f"quantize.{ci}.{method}" + (f".{sat}" if sat else "")
            for n, q in enumerate(meta["quantize_quantities"]):
                stored = data[f"{prefix}.{q}"][i, j]
                scale = 1.0 / qk[i] if q == "d_dk" else 1.0
                assert _close(stored, float(fresh[n]), scale), (prefix, q, qk[i], qx[j], stored, fresh[n])


def test_scorer_passes_the_truth_and_flags_a_planted_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The measuring instrument itself: the truth (rounded to the dtype) passes, 20 tolerances at one point fail,
    and the failure names that point."""
    group = next(g for g in rounding.groups("numpy") if g.key == "round:density:numpy:float32:array")
    pts = rounding.points(group)
    exact = {q: rounding.truth(group, pts, q).astype(np.float32).astype(np.float64) for q in group.quantities()}
    monkeypatch.setitem(rounding.EVALUATORS, "numpy", lambda g, p: {q: v.copy() for q, v in exact.items()})
    assert all(r.ok for r in rounding.score_group(group))
    planted = {q: v.copy() for q, v in exact.items()}
    row, col = 7, 3
    planted["d_dx"][row, col] += 20 * measures.tolerance("float32", "d/dx") * max(abs(exact["d_dx"][row, col]), 1)
    monkeypatch.setitem(rounding.EVALUATORS, "numpy", lambda g, p: planted)
    results = {r.quantity: r for r in rounding.score_group(group)}
    assert results["value"].ok and not results["d/dx"].ok
    assert results["d/dx"].where == f"k={pts.k[row]:.9g}, x={float(pts.x[col])!r}"
    assert 19 < results["d/dx"].worst / results["d/dx"].tolerance < 21
