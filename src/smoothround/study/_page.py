"""The study's files: CSV tables with their settings beside them (JSON), PNG figures and ``index.html``."""

from __future__ import annotations

import html
import json
import math
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from smoothround import plots
from smoothround._report import _SCRIPT, _STYLE, Table, html_table, write_csv
from smoothround.study import _cvp, _qat

# display names and colours of the surrogates in the figures
_SURROGATE_COLORS = {
    "STE": "#000000", "ST smooth, k=5": "#7f7f7f", "window, annealed": "#1f77b4", "density, annealed": "#d62728",
    "tanh, annealed": "#2ca02c", "window, learned k": "#9467bd",
}
_CVP_STYLES = {
    "naive rounding": ("#7f7f7f", ":"), "Babai (QR)": ("#8c564b", ":"), "Babai (LLL)": ("#000000", "-"),
    "continuation, final": ("#aec7e8", "--"), "continuation, best seen": ("#1f77b4", "--"),
    "continuation LLL, final": ("#ff9896", "-"), "continuation LLL, best seen": ("#d62728", "-"),
    "Babai LLL + local search": ("#9467bd", "-."), "K-best (LLL)": ("#2ca02c", "-."),
}
_COMPRESSION_COLORS = {
    "uniform noise": "#000000", "STE": "#7f7f7f", "tanh + cond. mean": "#2ca02c",
    "window + cond. mean": "#1f77b4", "density + cond. mean": "#d62728",
}

FIGURES = {
    "qat_accuracy_vs_bits.png": ("QAT: hard-quantized accuracy against weight bits",
                                 "Mean and std over seeds per data set; the dashed line is the float model."),
    "qat_k_sweep.png": ("QAT: accuracy against a fixed k (digits, 2 bits)",
                        "Each method at one k for the whole run; the band is STE's mean +- std."),
    "qat_optimizer.png": ("QAT: optimizer, learning rate and step learning (digits, 2 bits)",
                          "Mean hard accuracy (colour) and collapsed runs (number, when any) per setting."),
    "cvp_gap_vs_n.png": ("Integer least squares: hit rate and optimality gap against n",
                         "Hit rate of the exact optimum and median relative gap, well- and ill-conditioned bases."),
    "compression_rd.png": ("Learned compression: rate-distortion curves",
                           "Mean over seeds per trade-off weight; rate = entropy of the integer latents."),
    "metrics_f1.png": ("Metric losses: F1 on imbalanced data",
                       "Mean and std over seeds; threshold 0.5 (hatched) and validation-tuned (solid)."),
}


# ---------------------------------------------------------------------------------------------- files


def versions() -> dict[str, str]:
    """The versions of Python, the platform and every library the study uses."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("smoothround", "numpy", "scipy", "torch", "scikit-learn", "matplotlib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def write_table(out: Path, table: Table, meta: dict[str, Any]) -> None:
    """``name.csv`` and, beside it, ``name.json``: the settings, seeds, versions and wall time behind it."""
    # NaN (e.g. the final k of a surrogate whose k is not learned) is written as an empty cell
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in table.rows]
    write_csv(out / f"{table.name}.csv", rows, table.columns)
    record = {"table": table.name, "title": table.title, "caption": table.caption, "rows": len(table.rows), **meta}
    (out / f"{table.name}.json").write_text(json.dumps(_jsonable(record), indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------- figures


def _rows(tables: dict[str, Table], name: str) -> list[dict[str, Any]]:
    return tables[name].rows if name in tables else []


def plot_accuracy_vs_bits(path: Path, tables: dict[str, Table]) -> None:
    rows = _rows(tables, "qat_main")
    datasets = [d for d in _qat.DATASETS if any(r["dataset"] == d for r in rows)]
    fig = plots._figure(4.2 * max(len(datasets), 1), 3.8)
    axes = fig.subplots(1, max(len(datasets), 1), squeeze=False)[0]
    for ax, dataset in zip(axes, datasets, strict=False):
        mine = [r for r in rows if r["dataset"] == dataset]
        bits = sorted({r["weight_bits"] for r in mine})
        for i, (variant, color) in enumerate(_SURROGATE_COLORS.items()):
            pts = sorted((r["weight_bits"], r["acc mean"], r["acc std"]) for r in mine if r["variant"] == variant)
            if not pts:
                continue
            x = np.array([p[0] for p in pts]) + 0.04 * (i - 2.5)
            ax.errorbar(x, [p[1] for p in pts], yerr=[p[2] for p in pts], color=color, marker="o", ms=4,
                        capsize=2, label=variant)
        floats = [r["float acc"] for r in mine]
        if floats:
            ax.axhline(float(np.mean(floats)), color="#555555", ls="--", lw=1, label="float model")
        ax.set_xticks(bits)
        ax.set_xlabel("weight bits")
        ax.set_ylabel("hard-quantized test accuracy")
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    plots._save(fig, path)


def plot_k_sweep(path: Path, tables: dict[str, Table]) -> None:
    rows = _rows(tables, "qat_k_sweep")
    ste = [r for r in _rows(tables, "qat_main") if r["dataset"] == "digits" and r["weight_bits"] == 2
           and r["variant"] == "STE"]
    fig = plots._figure(6.5, 4.0)
    ax = fig.subplots()
    if ste:
        m, s = ste[0]["acc mean"], ste[0]["acc std"]
        ax.axhspan(m - s, m + s, color="#cccccc", alpha=0.6, label="STE (mean +- std)")
    for method in _qat.METHODS:
        pts = sorted((r["k_start"], r["acc mean"], r["acc std"]) for r in rows if r["method"] == method)
        if pts:
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", ms=4,
                        capsize=2, color=plots._COLORS[method], label=plots._LABELS[method])
    ax.set_xscale("log")
    ax.set_xlabel("fixed k (code units)")
    ax.set_ylabel("hard-quantized test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plots._save(fig, path)


def plot_optimizer(path: Path, tables: dict[str, Table]) -> None:
    rows = _rows(tables, "qat_optimizer")
    configs = sorted({(r["optimizer"], r["lr"], r["step_mode"]) for r in rows})
    variants = [v for v in _SURROGATE_COLORS if any(r["variant"] == v for r in rows)]
    grid = np.full((len(configs), len(variants)), np.nan)
    collapsed = np.zeros_like(grid)
    for r in rows:
        if r["variant"] in variants:
            i, j = configs.index((r["optimizer"], r["lr"], r["step_mode"])), variants.index(r["variant"])
            grid[i, j], collapsed[i, j] = r["acc mean"], r["collapse rate"] * r["seeds"]
    fig = plots._figure(7.5, 1.2 + 0.32 * max(len(configs), 1))
    ax = fig.subplots()
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=np.nanmin(grid) if grid.size else 0, vmax=1.0)
    for i in range(len(configs)):
        for j in range(len(variants)):
            if math.isfinite(grid[i, j]):
                label = f"{grid[i, j]:.3f}" + (f"\n{int(collapsed[i, j])} collapsed" if collapsed[i, j] else "")
                ax.text(j, i, label, ha="center", va="center", fontsize=6,
                        color="white" if grid[i, j] < np.nanmean(grid) else "black")
    ax.set_xticks(range(len(variants)), variants, rotation=20, fontsize=7)
    ax.set_yticks(range(len(configs)), [f"{o} lr {lr:g}, {m}" for o, lr, m in configs], fontsize=7)
    fig.colorbar(image, ax=ax, label="hard accuracy")
    plots._save(fig, path)


def plot_cvp(path: Path, tables: dict[str, Table]) -> None:
    rows = _rows(tables, "cvp_summary")
    fig = plots._figure(11.0, 7.0)
    axes = fig.subplots(2, 2, squeeze=False)
    for row, cond in enumerate(_cvp.CONDITIONINGS):
        for col, (column, label) in enumerate((("hit rate", "hit rate of the optimum"),
                                               ("median gap", "median relative gap"))):
            ax = axes[row][col]
            for method, (color, style) in _CVP_STYLES.items():
                pts = sorted((r["n"], r[column]) for r in rows if r["conditioning"] == cond and r["method"] == method)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, ls=style, marker="o", ms=3,
                            label=method)
            if column == "median gap":
                ax.set_yscale("symlog", linthresh=1e-3)
            ax.set_xlabel("n")
            ax.set_ylabel(label)
            ax.set_title(f"{cond}-conditioned bases")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    plots._save(fig, path)


def plot_rate_distortion(path: Path, tables: dict[str, Table]) -> None:
    rows = _rows(tables, "compression_summary")
    fig = plots._figure(6.5, 4.2)
    ax = fig.subplots()
    for variant, color in _COMPRESSION_COLORS.items():
        pts = sorted((r["rate mean"], r["MSE mean"], r["rate std"], r["MSE std"]) for r in rows
                     if r["variant"] == variant)
        if pts:
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], xerr=[p[2] for p in pts],
                        yerr=[p[3] for p in pts], color=color, marker="o", ms=4, capsize=2, label=variant)
    ax.set_xlabel("rate (bits per image, entropy of the integer latents)")
    ax.set_ylabel("distortion (MSE per pixel)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plots._save(fig, path)


def plot_metrics(path: Path, tables: dict[str, Table]) -> None:
    rows = _rows(tables, "metrics_summary")
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    losses = list(dict.fromkeys(r["loss"] for r in rows))
    colors = ["#000000", "#1f77b4", "#2ca02c"]
    fig = plots._figure(8.0, 4.0)
    ax = fig.subplots()
    width = 0.8 / max(2 * len(losses), 1)
    for i, loss in enumerate(losses):
        for j, threshold in enumerate(("0.5", "tuned")):
            pts = [next((r for r in rows if r["dataset"] == d and r["loss"] == loss and r["threshold"] == threshold),
                        None) for d in datasets]
            x = np.arange(len(datasets)) + (2 * i + j - len(losses) + 0.5) * width
            ax.bar(x, [p["F1 mean"] if p else 0 for p in pts], width, yerr=[p["F1 std"] if p else 0 for p in pts],
                   color=colors[i % 3], alpha=1.0 if threshold == "tuned" else 0.45,
                   hatch=None if threshold == "tuned" else "//", label=f"{loss}, threshold {threshold}",
                   capsize=2, edgecolor="white")
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_ylabel("F1 (out-of-fold)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, axis="y")
    plots._save(fig, path)


_DRAW = {
    "qat_accuracy_vs_bits.png": plot_accuracy_vs_bits,
    "qat_k_sweep.png": plot_k_sweep,
    "qat_optimizer.png": plot_optimizer,
    "cvp_gap_vs_n.png": plot_cvp,
    "compression_rd.png": plot_rate_distortion,
    "metrics_f1.png": plot_metrics,
}


def draw_figures(out: Path, tables: dict[str, Table]) -> list[str]:
    for name, draw in _DRAW.items():
        draw(out / name, tables)
    return list(_DRAW)


# ---------------------------------------------------------------------------------------------- page


def write_page(
    out: Path,
    tables: Sequence[Table],
    figures: Sequence[str],
    findings: Sequence[str],
    meta: dict[str, Any],
) -> Path:
    """``index.html``: the findings computed from this run, the figures, the summary tables (every table as
    CSV with its settings as JSON), the design and the versions."""
    figs = "\n".join(
        f'<figure id="figure-{Path(name).stem}"><h3>{html.escape(FIGURES[name][0])}</h3>'
        f'<img src="{name}" alt="{html.escape(FIGURES[name][0])}"><figcaption>{html.escape(FIGURES[name][1])} '
        f'(<a href="{name}">{name}</a>)</figcaption></figure>'
        for name in figures
    )
    shown = [t for t in tables if not t.name.endswith("_runs")]
    body = "\n".join(html_table(t) + f'<p>Settings: <a href="{t.name}.json">{t.name}.json</a></p>' for t in shown)
    raw = "".join(f'<li><a href="{t.name}.csv">{t.name}.csv</a> ({len(t.rows)} rows; '
                  f'<a href="{t.name}.json">settings</a>): {html.escape(t.title)}</li>'
                  for t in tables if t.name.endswith("_runs"))
    items = "".join(f"<li>{html.escape(f)}</li>" for f in findings)
    design = html.escape(json.dumps(_jsonable(meta["settings"]), indent=1))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>smoothround study</title>
<style>{_STYLE}</style><script>{_SCRIPT}</script></head>
<body>
<h1>smoothround study: how the method and the sharpness matter on real tasks</h1>
<p>Quantization-aware training, integer least squares, metric losses and learned compression, each against
its simple baseline (STE, Babai, BCE with a tuned threshold, additive noise). Everything here was computed by
<code>smoothround study{' --quick' if meta['quick'] else ''}</code> in {meta['wall_time_s']:.0f} s
({meta['workers']} worker processes, one torch thread each); docs/study.md explains the design and the
results. {'<strong>Quick run: few seeds and cells, for testing only.</strong>' if meta['quick'] else ''}</p>
<h2>Findings of this run</h2>
<ul>{items}</ul>
<h2>Figures</h2>
{figs}
<h2>Tables</h2>
{body}
<h2>Raw results</h2>
<ul>{raw}</ul>
<h2>Design and versions</h2>
<pre>{design}</pre>
<p>Seeds: {html.escape(str(meta['seeds']))}. Versions: {html.escape(json.dumps(meta['versions']))}.</p>
</body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
