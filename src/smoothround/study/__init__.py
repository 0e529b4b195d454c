"""``smoothround study``: how the method and the sharpness ``k`` matter on real tasks, measured so anyone can rerun.

Four experiments, each against its simple baseline (docs/study.md explains the design and the results):

1. quantization-aware training on scikit-learn's digits, breast cancer and wine (:mod:`._qat`): STE, the
   straight-through smooth control and the window, density and tanh surrogates with a fixed, annealed or
   learned ``k``, plus factor studies of the optimizer, the step learning, ``k`` and the budget;
2. integer least squares (:mod:`._cvp`): smooth continuation against rounding, Babai, multi-candidate search
   and the exact sphere decoder;
3. metric losses on imbalanced data (:mod:`._metrics`): ``1 - smooth_f1`` against BCE with a tuned threshold;
4. learned compression (:mod:`._compression`): soft rounding with the conditional mean against additive noise
   and STE.

:func:`run` writes CSV tables (each with its settings, seeds, library versions and wall time in a JSON file
beside it), PNG figures and ``index.html`` into one folder. The work is split into cells that run in at most
``workers`` processes with one torch thread each. Nothing here imports torch until :func:`run` is called.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["StudyResult", "run"]

#: seed of the integer least-squares instances (each cell mixes in n and the conditioning)
CVP_SEED = 2025


@dataclass
class StudyResult:
    """What a study run wrote."""

    out: Path
    tables: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _tasks(design: Any) -> list[tuple[str, Any]]:
    tasks: list[tuple[str, Any]] = [("qat", c) for c in design.qat]
    tasks += [
        ("cvp", (n, cond, design.cvp_instances, CVP_SEED, design.continuation, design.cvp_timed,
                 design.cvp_milp_instances if n <= design.cvp_milp_max_n else 0))
        for n, cond in design.cvp
    ]  # fmt: skip
    tasks += [("metrics", c) for c in design.metrics]
    tasks += [("compression", c) for c in design.compression]
    return tasks


def _cost(task: tuple[str, Any]) -> float:
    kind, payload = task
    if kind == "cvp":
        n, _, instances, *_rest, milp = payload
        return instances * (0.005 + 1e-4 * n * n) + 0.5 * milp * (n / 8) ** 2
    return float(payload.cost())


def _label(task: tuple[str, Any]) -> str:
    kind, p = task
    if kind == "qat":
        acts = f"A{p.act_bits}" if p.act_bits is not None else ""
        return f"QAT {p.dataset} W{p.weight_bits}{acts} {p.variant}, {p.optimizer} {p.lr:g} {p.step_mode}, {p.steps} steps"
    if kind == "cvp":
        return f"integer least squares n={p[0]} {p[1]}"
    if kind == "metrics":
        return f"metric loss {p.loss} on {p.dataset}"
    return f"compression {p.variant}"


def _execute(task: tuple[str, Any]) -> tuple[list[dict[str, Any]], float]:
    """Run one cell (in a worker process, or inline); return its rows and seconds."""
    start = time.perf_counter()
    kind, payload = task
    if kind == "qat":
        from smoothround.study import _qat

        rows = _qat.run_cell(payload)
    elif kind == "cvp":
        from smoothround.study import _cvp

        rows = _cvp.solve_cell(*payload)
    elif kind == "metrics":
        from smoothround.study import _metrics

        rows = _metrics.run_cell(payload)
    else:
        from smoothround.study import _compression

        rows = _compression.run_cell(payload)
    return rows, time.perf_counter() - start


def _init_worker() -> None:
    # one OpenMP thread: on a shared 2-core machine a second one slowed these tiny loops 16x
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"


def _run_all(
    tasks: list[tuple[str, Any]], workers: int, progress: Callable[[int, int, str], None] | None
) -> list[tuple[list[dict[str, Any]], float]]:
    order = sorted(range(len(tasks)), key=lambda i: -_cost(tasks[i]))  # longest first: balanced workers
    results: list[tuple[list[dict[str, Any]], float] | None] = [None] * len(tasks)
    done = 0
    if progress is not None:
        progress(0, len(tasks), "starting")
    if workers <= 1:
        import torch

        threads = torch.get_num_threads()
        try:
            for i in order:
                results[i] = _execute(tasks[i])
                done += 1
                if progress is not None:
                    progress(done, len(tasks), _label(tasks[i]))
        finally:
            torch.set_num_threads(threads)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
            pending: dict[Future[Any], int] = {pool.submit(_execute, tasks[i]): i for i in order}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    i = pending.pop(future)
                    results[i] = future.result()
                    done += 1
                    if progress is not None:
                        progress(done, len(tasks), _label(tasks[i]))
    return [r for r in results if r is not None]


def run(
    out: str | os.PathLike[str],
    *,
    quick: bool = False,
    workers: int = 2,
    progress: Callable[[int, int, str], None] | None = None,
) -> StudyResult:
    """Run the study and write every table, figure and ``index.html`` into ``out`` (created if needed).

    ``quick``: a few seeds and cells (about a minute), for testing the pipeline; its numbers are not evidence.
    ``workers``: processes (1: run in this process). ``progress(done, total, description)`` is called after
    every cell.
    """
    from smoothround.study import _design, _findings, _page, _tables

    start = time.perf_counter()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    design = _design.design(quick)
    tasks = _tasks(design)
    results = _run_all(tasks, workers, progress)
    rows: dict[str, list[dict[str, Any]]] = {"qat": [], "cvp": [], "metrics": [], "compression": []}
    seconds: dict[str, float] = dict.fromkeys(rows, 0.0)
    for (kind, _), (cell_rows, cell_seconds) in zip(tasks, results, strict=True):
        rows[kind].extend(cell_rows)
        seconds[kind] += cell_seconds

    groups = {
        "qat": _tables.qat_tables(rows["qat"], design),
        "cvp": _tables.cvp_tables(rows["cvp"]),
        "metrics": _tables.metric_tables(rows["metrics"]),
        "compression": _tables.compression_tables(rows["compression"]),
    }
    result = StudyResult(folder)
    for group in groups.values():
        for table in group:
            result.tables[table.name] = table
    result.figures = _page.draw_figures(folder, result.tables)
    result.findings = _findings.findings(result.tables)
    result.seconds = time.perf_counter() - start
    versions = _page.versions()
    common = {"quick": quick, "workers": workers, "torch_threads": 1, "seeds": list(design.seeds),
              "versions": versions, "study_wall_time_s": result.seconds}  # fmt: skip
    for kind, group in groups.items():
        meta = {**common, "experiment": kind, "settings": design.settings[kind],
                "compute_time_s": seconds[kind], "cells": sum(1 for k, _ in tasks if k == kind)}  # fmt: skip
        for table in group:
            _page.write_table(folder, table, meta)
    _page.write_page(
        folder, list(result.tables.values()), result.figures, result.findings,
        {**common, "wall_time_s": result.seconds, "settings": design.settings},
    )  # fmt: skip
    return result
