"""`smoothround study`: the quick run's tables, settings and figures, and the solvers and statistics it uses.

The quick run (about half a minute on 2 cores) checks the pipeline and the sanity of every table; its numbers are
not evidence. The integer least-squares solvers are checked against brute force on tiny instances, the
bootstrap against known answers.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from smoothround.study import _cvp, _stats

SUMMARY_TABLES = [
    "qat_main", "qat_activations", "qat_optimizer", "qat_k_sweep", "qat_budget", "cvp_summary", "metrics_summary",
    "compression_summary", "compression_at_rate",
]
RUN_TABLES = ["qat_runs", "cvp_runs", "metrics_runs", "compression_runs"]
FIGURES = ["qat_accuracy_vs_bits.png", "qat_k_sweep.png", "qat_optimizer.png", "cvp_gap_vs_n.png",
           "compression_rd.png", "metrics_f1.png"]
#: the share of the largest class: the accuracy of a constant prediction
MAJORITY = {"digits": 0.1018, "breast_cancer": 0.6274, "wine": 0.3989}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("study") / "study"
    result = subprocess.run(
        [sys.executable, "-m", "smoothround.cli", "study", "--quick", "--no-progress", "--out", str(out)],
        capture_output=True, text=True, timeout=900, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


# ---------------------------------------------------------------------------------------------- the quick run


def test_every_table_has_its_settings_versions_and_wall_time(quick: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, result = quick
    for name in SUMMARY_TABLES + RUN_TABLES:
        rows = read_csv(out / f"{name}.csv")
        assert rows, name
        meta = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        assert meta["table"] == name
        assert meta["rows"] == len(rows)
        assert meta["quick"] is True
        assert meta["settings"], name
        assert meta["seeds"] == sorted(set(meta["seeds"])) and len(meta["seeds"]) >= 3
        assert {"python", "numpy", "torch", "scikit-learn", "scipy", "smoothround"} <= set(meta["versions"])
        assert meta["study_wall_time_s"] > 0 and meta["compute_time_s"] > 0
    assert "Study:" in result.stdout and "Traceback" not in result.stderr


def test_qat_tables(quick: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = quick
    main = read_csv(out / "qat_main.csv")
    assert {r["variant"] for r in main} >= {"STE", "ST smooth, k=5", "window, annealed", "tanh, annealed"}
    for r in main:
        acc = float(r["acc mean"])
        assert 0.0 <= acc <= 1.0
        assert acc > MAJORITY[r["dataset"]] + 0.2, r  # well above a constant prediction
        assert 0.0 <= float(r["collapse rate"]) <= 1.0
        assert float(r["CI low"]) <= float(r["diff vs STE"]) + 1e-12 <= float(r["CI high"]) + 2e-12
        if r["variant"] == "STE":
            assert float(r["diff vs STE"]) == 0.0
        else:
            assert r["final k"] == "" or "learned" in r["variant"]
    runs = read_csv(out / "qat_runs.csv")
    cells: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for r in runs:
        assert 0.0 <= float(r["acc"]) <= 1.0 and 0.0 <= float(r["float_acc"]) <= 1.0
        cells[tuple(r[k] for k in ("dataset", "weight_bits", "act_bits", "variant", "optimizer", "lr",
                                   "step_mode", "steps"))].append(int(r["seed"]))  # fmt: skip
    for key, seeds in cells.items():
        assert len(seeds) == len(set(seeds)) >= 3, key  # every seed once per cell
    # the seeds' folds differ: the same cell's accuracies are not all equal
    assert all(len({r["acc"] for r in runs if tuple(r[k] for k in ("dataset", "variant", "steps")) == k}) > 1
               for k in {("digits", "STE", "60")})  # fmt: skip
    for name in ("qat_activations", "qat_optimizer", "qat_k_sweep", "qat_budget"):
        rows = read_csv(out / f"{name}.csv")
        assert any(r.get("variant") == "STE" for r in rows) or name == "qat_k_sweep", name
        assert all(0.0 <= float(r["acc mean"]) <= 1.0 for r in rows), name


def test_cvp_tables(quick: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = quick
    summary = read_csv(out / "cvp_summary.csv")
    methods = {r["method"] for r in summary}
    assert {"naive rounding", "Babai (QR)", "Babai (LLL)", "sphere decoder (exact)", "K-best (LLL)",
            "continuation LLL, best seen"} <= methods  # fmt: skip
    for r in summary:
        assert 0.0 <= float(r["hit rate"]) <= 1.0
        assert float(r["median gap"]) >= 0.0 and float(r["median ms"]) > 0.0
        if r["method"] == "sphere decoder (exact)":
            assert float(r["hit rate"]) == 1.0
    runs = read_csv(out / "cvp_runs.csv")
    for r in runs:  # the exact optimum is never worse than any heuristic
        assert float(r["objective"]) >= float(r["optimum"]) * (1.0 - 1e-9) - 1e-12, r
    # the best point seen is never worse than the final point
    by = {(r["conditioning"], r["n"], r["instance"], r["method"]): float(r["objective"]) for r in runs}
    for (cond, n, i, method), value in by.items():
        if method.endswith("best seen"):
            assert value <= by[(cond, n, i, method.replace("best seen", "final"))] * (1 + 1e-12) + 1e-12


def test_metric_and_compression_tables(quick: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = quick
    metrics = read_csv(out / "metrics_summary.csv")
    assert {(r["loss"], r["threshold"]) for r in metrics} >= {("BCE", "tuned"), ("1 - smooth F1", "0.5")}
    for r in metrics:
        assert 0.0 < float(r["F1 mean"]) <= 1.0
    seeds = [r["seed"] for r in read_csv(out / "metrics_runs.csv") if r["loss"] == "BCE" and r["threshold"] == "0.5"
             and r["dataset"] == metrics[0]["dataset"]]  # fmt: skip
    assert len(seeds) == len(set(seeds)) >= 3
    summary = read_csv(out / "compression_summary.csv")
    assert {r["variant"] for r in summary} >= {"uniform noise", "STE", "tanh + cond. mean", "window + cond. mean"}
    for r in summary:
        assert float(r["rate mean"]) > 0.0 and float(r["model bits"]) > 0.0
        assert 0.0 < float(r["MSE mean"]) < 0.2  # pixels in [0, 1]: 0.2 is far worse than the mean image


def test_page_and_figures(quick: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = quick
    page = (out / "index.html").read_text(encoding="utf-8")
    for name in FIGURES:
        assert f'<img src="{name}"' in page, name
        with Image.open(out / name) as im:
            im.verify()
        with Image.open(out / name) as im:
            pixels = np.asarray(im.convert("RGB"), dtype=np.float64)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400, name
        assert np.mean(pixels.min(axis=2) < 200) > 0.01, name  # not blank
    for name in SUMMARY_TABLES:
        assert f'data-table="{name}"' in page and f'href="{name}.json"' in page, name
    for name in RUN_TABLES:
        assert f'href="{name}.csv"' in page, name
    assert "Findings of this run" in page and "Quick run" in page


def test_the_report_links_the_study(tmp_path: Path) -> None:
    from smoothround import _report

    _report.write_html(_report.Report(tmp_path))
    assert 'href="study/index.html"' in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_bad_workers_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smoothround.cli", "study", "--workers", "0", "--out", str(tmp_path / "s")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--workers" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------- solvers


def _brute_force(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> float:
    """The exact optimum by enumerating the box that must contain it, in the coordinates of the basis ``A T``
    (``T`` unimodular: the same lattice): |z - (A T)^-1 b|_inf <= ||(A T)^-1|| rho, with rho the distance of
    Babai's point (an upper bound on the optimum's). Objectives are evaluated at ``x = T z``, as the solvers'."""
    basis = a @ t
    q, r = np.linalg.qr(basis)
    rho = math.sqrt(_cvp.objective(basis, b, _cvp.babai(r, q.T @ b)))
    centre = np.linalg.solve(basis, b)
    radius = math.ceil(np.linalg.norm(np.linalg.inv(basis), 2) * rho)
    axes = [range(math.floor(c - radius), math.ceil(c + radius) + 1) for c in centre]
    return min(_cvp.objective(a, b, t @ np.array(z, dtype=float)) for z in itertools.product(*axes))


@pytest.mark.parametrize("conditioning", _cvp.CONDITIONINGS)
def test_solvers_against_brute_force(conditioning: str) -> None:
    rng = np.random.default_rng(7)
    for n in (2, 3):
        for _ in range(15 if n == 2 else 6):
            a, b = _cvp.make_instance(n, conditioning, rng)
            a = a * (1.0 if conditioning == "well" else 0.7)
            q, r, t = _cvp.lll_reduce(a)
            best = _brute_force(a, b, t)  # the same lattice; its reduced basis keeps the enumerated box small
            assert abs(round(np.linalg.det(t.astype(float)))) == 1  # unimodular
            assert np.allclose(a @ t, q @ r) and np.allclose(np.tril(r, -1), 0.0)
            for k in range(1, n):  # size-reduced, Lovasz condition
                assert all(abs(r[j, k]) <= 0.5 * abs(r[j, j]) + 1e-9 for j in range(k))
                assert 0.99 * r[k - 1, k - 1] ** 2 <= r[k - 1, k] ** 2 + r[k, k] ** 2 + 1e-9
            z, distance, nodes = _cvp.sphere_decode(r, q.T @ b)
            assert _cvp.objective(a, b, t @ z) == pytest.approx(best, rel=1e-9, abs=1e-12)
            assert distance == pytest.approx(best, rel=1e-9, abs=1e-12) and nodes >= n
            assert _cvp.objective(a, b, t @ _cvp.k_best(r, q.T @ b, 10_000)) == pytest.approx(best, rel=1e-9)
            babai_value = _cvp.objective(a, b, t @ _cvp.babai(r, q.T @ b))
            assert babai_value >= best * (1 - 1e-12)
            z_ls, used = _cvp.local_search(a @ t, b, _cvp.babai(r, q.T @ b), 50)
            assert _cvp.objective(a, b, t @ z_ls) <= babai_value * (1 + 1e-12) and used <= 50


def test_babai_is_exact_on_an_orthogonal_basis() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        b = rng.normal(size=4) * 5
        scales = rng.uniform(0.5, 2.0, 4)
        z = _cvp.babai(np.diag(scales), b)
        assert np.array_equal(z, np.round(b / scales))


def test_continuation_keeps_the_best_point_and_reports_its_evaluations() -> None:
    """With A = I the optimum is round(b), which is also where the continuation starts: the best point seen is
    the optimum. The last iterate need not be: the minimiser of (r_k(z) - b)^2 sits within ~1/k of a cell's
    edge at large k, and a finite step can cross it (the study reports that as "final" against "best")."""
    rng = np.random.default_rng(5)
    targets = rng.uniform(-5, 5, size=(8, 3))
    targets = np.where(np.abs(targets - np.round(targets)) > 0.45, np.round(targets) + 0.3, targets)
    bases = np.broadcast_to(np.eye(3), (8, 3, 3)).copy()
    result = _cvp.continuation(bases, targets, _cvp.Continuation(steps=200))
    assert np.array_equal(result["best"], np.round(targets))
    assert np.all(np.abs(result["final"] - np.round(targets)) <= 1)  # never beyond the neighbouring cell
    assert np.all(result["evaluations"] >= 1)
    final_cost = ((result["final"] - targets) ** 2).sum(axis=1)
    assert np.all(final_cost >= ((result["best"] - targets) ** 2).sum(axis=1))


def test_milp_l1_is_an_integer_l1_optimum() -> None:
    pytest.importorskip("scipy")
    rng = np.random.default_rng(11)
    a, b = _cvp.make_instance(3, "well", rng)
    x, proved = _cvp.milp_l1(a, b)
    assert proved and np.array_equal(x, np.round(x))
    l1 = np.abs(a @ x - b).sum()
    centre = np.round(np.linalg.solve(a, b))
    for step in itertools.product((-1, 0, 1), repeat=3):  # no better point among the neighbours of the LS point
        assert np.abs(a @ (centre + np.array(step)) - b).sum() >= l1 - 1e-9


# ---------------------------------------------------------------------------------------------- statistics


def test_bootstrap_interval() -> None:
    assert _stats.bootstrap_mean_ci([0.3] * 10) == (pytest.approx(0.3), pytest.approx(0.3))
    assert all(math.isnan(v) for v in _stats.bootstrap_mean_ci([]))
    values = np.random.default_rng(0).normal(1.0, 0.5, 40)
    lo, hi = _stats.bootstrap_mean_ci(values)
    assert lo < values.mean() < hi
    assert (lo, hi) == _stats.bootstrap_mean_ci(values)  # seeded: reproducible
    # the width is about 2 x 1.96 standard errors
    assert hi - lo == pytest.approx(2 * 1.96 * values.std(ddof=1) / math.sqrt(40), rel=0.15)
    narrow = _stats.bootstrap_mean_ci(np.random.default_rng(1).normal(1.0, 0.5, 400))
    assert narrow[1] - narrow[0] < (hi - lo) / 2


def test_bootstrap_coverage() -> None:
    """Over many samples of 30 from a known distribution the 95% interval covers the true mean about 95% of
    the time (the percentile bootstrap is a little narrow at this size)."""
    rng = np.random.default_rng(2)
    covered = 0
    trials = 300
    for i in range(trials):
        lo, hi = _stats.bootstrap_mean_ci(rng.exponential(1.0, 30), resamples=1000, seed=i)
        covered += lo <= 1.0 <= hi
    assert 0.85 <= covered / trials <= 0.99


def test_paired_difference() -> None:
    base = np.array([0.90, 0.92, 0.95, 0.91, 0.93])
    assert _stats.paired_difference(base, base) == (0.0, 0.0, 0.0)
    diff, lo, hi = _stats.paired_difference(base + 0.01, base)
    assert diff == pytest.approx(0.01) and lo == pytest.approx(0.01) and hi == pytest.approx(0.01)
    # pairing removes the spread between seeds: a constant shift is resolved even when the seeds differ a lot
    spread = np.array([0.5, 0.9, 0.7, 0.6, 0.8])
    diff, lo, hi = _stats.paired_difference(spread + np.array([0.01, 0.02, 0.01, 0.02, 0.015]), spread)
    assert 0.0 < lo <= diff <= hi
    with pytest.raises(ValueError, match="equal lengths"):
        _stats.paired_difference([1.0, 2.0], [1.0])
    mean, std = _stats.mean_std([1.0, 2.0, 3.0])
    assert (mean, std) == (2.0, 1.0)
    assert _stats.mean_std([4.0]) == (4.0, 0.0)
