"""Plain-language findings computed from the summary tables of one run (the page lists them).

Each sentence states what the numbers of this run show, with the interval rule used: a difference to the
baseline counts only when its 95% bootstrap interval excludes zero.
"""

from __future__ import annotations

import math
from typing import Any

from smoothround._report import Table


def _signif(row: dict[str, Any], low: str = "CI low", high: str = "CI high") -> int:
    """+1 when the interval is above zero, -1 below, 0 when it contains zero (or is missing)."""
    lo, hi = row.get(low), row.get(high)
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return 0
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def _qat(tables: dict[str, Table]) -> list[str]:
    out = []
    main = [r for r in tables["qat_main"].rows if r["variant"] != "STE"]
    if main:
        up = [r for r in main if _signif(r) > 0]
        down = [r for r in main if _signif(r) < 0]
        best = max(main, key=lambda r: r["diff vs STE"])
        worst = min(main, key=lambda r: r["diff vs STE"])
        out.append(
            f"QAT main grid: of {len(main)} (data set, bits, surrogate) comparisons with STE, {len(up)} are "
            f"better and {len(down)} worse beyond their 95% interval; the rest tie. Largest gain "
            f"{best['diff vs STE']:+.4f} ({best['variant']}, {best['dataset']}, {best['weight_bits']} bits), "
            f"largest loss {worst['diff vs STE']:+.4f} ({worst['variant']}, {worst['dataset']}, "
            f"{worst['weight_bits']} bits)."
        )
        learned = [r for r in main if "learned" in r["variant"]]
        if learned:
            gap = sum(r["train-mode acc"] - r["acc mean"] for r in learned) / len(learned)
            ks = [r["final k"] for r in learned if not math.isnan(r["final k"])]
            out.append(
                f"Learned k ends at k = {min(ks):.3g}-{max(ks):.3g} and its hard accuracy trails its own "
                f"training-mode accuracy by {gap:.3f} on average: left to itself k does not sharpen enough."
            )
    optimizer = tables["qat_optimizer"].rows
    collapsing = [r for r in optimizer if r["collapse rate"] > 0]
    if optimizer:
        if collapsing:
            parts = [f"{r['variant']} ({r['optimizer']} lr {r['lr']:g}, {r['step_mode']}: "
                     f"{round(r['collapse rate'] * r['seeds'])}/{r['seeds']})" for r in collapsing]
            out.append("Collapsed runs (hard accuracy near chance) occur only in: " + "; ".join(parts) + ".")
        else:
            out.append("No run of the optimizer study collapsed.")
        sgd = [r for r in optimizer if r["variant"] != "STE" and r["optimizer"] == "sgd"]
        if sgd:
            n_up = sum(_signif(r) > 0 for r in sgd)
            n_down = sum(_signif(r) < 0 for r in sgd)
            out.append(f"With SGD, the smooth and straight-through-smooth surrogates beat STE beyond the interval "
                       f"in {n_up} of {len(sgd)} settings and trail it in {n_down}.")
    acts = [r for r in tables["qat_activations"].rows if r["variant"] != "STE" and r["act_bits"] is not None]
    if acts:
        best = max(acts, key=lambda r: r["diff vs STE"])
        worse = sum(_signif(r) < 0 for r in acts)
        out.append(f"With quantized activations, {worse} of {len(acts)} surrogates trail STE beyond the interval; "
                   f"the best is {best['variant']} at {best['act_bits']}-bit activations "
                   f"({best['diff vs STE']:+.4f}).")
    sweep = tables["qat_k_sweep"].rows
    for method in sorted({r["method"] for r in sweep}):
        mine = sorted((r for r in sweep if r["method"] == method), key=lambda r: r["k_start"])
        best = max(mine, key=lambda r: r["acc mean"])
        out.append(f"Fixed k, {method}: accuracy {mine[0]['acc mean']:.3f} at k = {mine[0]['k_start']:g}, "
                   f"best {best['acc mean']:.3f} at k = {best['k_start']:g}, {mine[-1]['acc mean']:.3f} at "
                   f"k = {mine[-1]['k_start']:g} (STE difference at the best k: {best['diff vs STE']:+.4f}).")
    return out


def _cvp(tables: dict[str, Table]) -> list[str]:
    rows = tables["cvp_summary"].rows
    out: list[str] = []
    if not rows:
        return out
    by = {(r["conditioning"], r["n"], r["method"]): r for r in rows}
    cells = sorted({(r["conditioning"], r["n"]) for r in rows})

    def count(a: str, b: str) -> tuple[int, int]:
        pairs = [(by[(*c, a)]["hit rate"], by[(*c, b)]["hit rate"]) for c in cells if (*c, a) in by and (*c, b) in by]
        return sum(x > y for x, y in pairs), sum(x < y for x, y in pairs)

    for a, b in (("continuation, final", "naive rounding"), ("continuation, final", "Babai (QR)"),
                 ("continuation LLL, best seen", "Babai (LLL)"), ("K-best (LLL)", "continuation LLL, best seen")):
        wins, losses = count(a, b)
        out.append(f"Integer least squares: {a} has a higher hit rate than {b} in {wins} of {len(cells)} cells "
                   f"and a lower one in {losses}.")
    for cond in sorted({c for c, _ in cells}):
        n = max(m for c, m in cells if c == cond)
        parts = [f"{m} {by[(cond, n, m)]['hit rate']:.2f} ({by[(cond, n, m)]['median ms']:.3g} ms)"
                 for m in ("Babai (LLL)", "continuation LLL, best seen", "K-best (LLL)", "sphere decoder (exact)")
                 if (cond, n, m) in by]
        out.append(f"At n = {n}, {cond}-conditioned, hit rate (median time): " + ", ".join(parts) + ".")
    return out


def _metrics(tables: dict[str, Table]) -> list[str]:
    out = []
    for dataset in dict.fromkeys(r["dataset"] for r in tables["metrics_summary"].rows):
        mine = [r for r in tables["metrics_summary"].rows if r["dataset"] == dataset]
        best = max(mine, key=lambda r: r["F1 mean"])
        f1 = next((r for r in mine if r["loss"] == "1 - smooth F1" and r["threshold"] == "0.5"), None)
        text = f"F1 on {dataset}: best {best['loss']} at threshold {best['threshold']} ({best['F1 mean']:.3f})"
        if f1 is not None:
            verdict = {1: "better than", -1: "worse than", 0: "tied with"}[_signif(f1)]
            text += (f"; 1 - smooth F1 at 0.5 is {verdict} BCE with a tuned threshold "
                     f"({f1['diff vs BCE tuned']:+.3f} [{f1['CI low']:+.3f}, {f1['CI high']:+.3f}])")
        out.append(text + ".")
    return out


def _compression(tables: dict[str, Table]) -> list[str]:
    out = []
    rows = tables["compression_at_rate"].rows
    for rate in sorted({r["rate"] for r in rows}):
        mine = [r for r in rows if r["rate"] == rate]
        if len(mine) < 2:
            continue
        best = min(mine, key=lambda r: r["MSE mean"])
        parts = [f"{r['variant']} {r['MSE mean']:.4f}" for r in sorted(mine, key=lambda r: r["MSE mean"])]
        out.append(f"Compression at {rate:g} bits/image, MSE: " + ", ".join(parts) + f" (best: {best['variant']}).")
    return out


def findings(tables: dict[str, Table]) -> list[str]:
    """Every finding of one run, QAT first."""
    return _qat(tables) + _cvp(tables) + _metrics(tables) + _compression(tables)
