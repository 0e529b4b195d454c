"""The study's tables: per-run rows of every experiment and their summaries (mean, spread, paired differences).

Rows are plain dicts; :class:`smoothround._report.Table` carries them with their columns, so the report's CSV
and HTML writers serve the study too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from smoothround._report import Table
from smoothround.study import _cvp, _design, _qat
from smoothround.study._stats import mean_std, paired_difference

Row = dict[str, Any]

#: the fields of a QAT cell except the surrogate: runs that share them are paired with that context's STE run
QAT_CONTEXT = ("dataset", "weight_bits", "act_bits", "optimizer", "lr", "step_mode", "steps")
QAT_COLUMNS = [
    "seeds", "acc mean", "acc std", "collapse rate", "acc mean (not collapsed)", "diff vs STE", "CI low",
    "CI high", "float acc", "PTQ acc", "train-mode acc", "final k", "final steps",
]
QAT_RUN_COLUMNS = [
    "dataset", "weight_bits", "act_bits", "variant", "method", "straight_through", "k_mode", "k_start", "k_end",
    "optimizer", "lr", "step_mode", "steps", "seed", "test_size", "float_acc", "ptq_acc", "acc",
    "train_mode_acc", "collapsed", "step_min", "step_max", "k_final", "seconds",
]


def _group(rows: Iterable[Row], keys: Sequence[str]) -> dict[tuple[Any, ...], list[Row]]:
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in keys)].append(row)
    return groups


def _nanmean(values: Iterable[float]) -> float:
    a = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    return float(a.mean()) if a.size else math.nan


def _paired(rows: list[Row], baseline: list[Row], value: str, seed_key: str = "seed") -> tuple[float, float, float]:
    by_seed = {r[seed_key]: r[value] for r in baseline}
    common = [r for r in rows if r[seed_key] in by_seed]
    if not common or rows is baseline:
        return (0.0, 0.0, 0.0) if rows is baseline else (math.nan, math.nan, math.nan)
    return paired_difference([r[value] for r in common], [by_seed[r[seed_key]] for r in common])


# ---------------------------------------------------------------------------------------------- QAT


def qat_summary(runs: list[Row], select: Callable[[Row], bool], keys: Sequence[str]) -> list[Row]:
    """One row per group of ``keys`` among the selected runs: accuracy over seeds, collapse rate, and the
    paired difference to the STE run of the same context (same seeds)."""
    chosen = [r for r in runs if select(r)]
    baselines = _group((r for r in runs if r["variant"] == "STE"), QAT_CONTEXT)
    out = []
    for key, group in _group(chosen, keys).items():
        group.sort(key=lambda r: r["seed"])
        context = tuple(group[0][k] for k in QAT_CONTEXT)
        base = baselines.get(context, [])
        base = group if group[0]["variant"] == "STE" else sorted(base, key=lambda r: r["seed"])
        acc = [r["acc"] for r in group]
        mean, std = mean_std(acc)
        diff, lo, hi = _paired(group, base, "acc")
        ok = [r["acc"] for r in group if not r["collapsed"]]
        out.append(
            {
                **dict(zip(keys, key, strict=True)),
                "seeds": len(group),
                "acc mean": mean,
                "acc std": std,
                "collapse rate": float(np.mean([r["collapsed"] for r in group])),
                "acc mean (not collapsed)": float(np.mean(ok)) if ok else math.nan,
                "diff vs STE": diff,
                "CI low": lo,
                "CI high": hi,
                "float acc": float(np.mean([r["float_acc"] for r in group])),
                "PTQ acc": float(np.mean([r["ptq_acc"] for r in group])),
                "train-mode acc": float(np.mean([r["train_mode_acc"] for r in group])),
                "final k": _nanmean(r["k_final"] for r in group),
                "final steps": f"{min(r['step_min'] for r in group):.3g}-{max(r['step_max'] for r in group):.3g}",
            }
        )
    return out


def _is_main_setting(r: Row, long_steps: int) -> bool:
    return (
        r["optimizer"] == _design.MAIN_OPTIMIZER
        and r["lr"] == _design.MAIN_LR
        and r["step_mode"] == _design.MAIN_STEP_MODE
        and r["steps"] == long_steps
        and r["act_bits"] is None
    )


def qat_tables(runs: list[Row], design: _design.Design) -> list[Table]:
    long_steps = design.settings["qat"]["budgets (steps)"]["long"]
    main_variants = set(_qat.MAIN_VARIANTS)
    order = {name: i for i, name in enumerate(_qat.VARIANTS)}

    def sort(rows: list[Row], keys: Sequence[str]) -> list[Row]:
        def key(r: Row) -> tuple[Any, ...]:
            return tuple(order.get(r[k], 0) if k == "variant" else (-1 if r[k] is None else r[k]) for k in keys)

        return sorted(rows, key=key)

    main = qat_summary(runs, lambda r: _is_main_setting(r, long_steps) and r["variant"] in main_variants,
                       ["dataset", "weight_bits", "variant"])
    budget = qat_summary(
        runs,
        lambda r: r["dataset"] == "digits" and r["act_bits"] is None and r["optimizer"] == _design.MAIN_OPTIMIZER
        and r["lr"] == _design.MAIN_LR and r["step_mode"] == _design.MAIN_STEP_MODE and r["variant"] in main_variants,
        ["steps", "weight_bits", "variant"],
    )
    activations = qat_summary(
        runs,
        lambda r: r["dataset"] == "digits" and r["weight_bits"] == 2 and r["variant"] in _design.ACTIVATION_VARIANTS
        and (r["act_bits"] is not None or _is_main_setting(r, long_steps)),
        ["act_bits", "variant"],
    )
    optimizer = qat_summary(
        runs,
        lambda r: r["dataset"] == "digits" and r["weight_bits"] == 2 and r["act_bits"] is None
        and r["steps"] == long_steps and r["variant"] in _design.OPTIMIZER_VARIANTS,
        ["optimizer", "lr", "step_mode", "variant"],
    )
    sweep = qat_summary(
        runs,
        lambda r: r["dataset"] == "digits" and r["weight_bits"] == 2 and _is_main_setting(r, long_steps)
        and r["k_mode"] == "fixed" and r["straight_through"] == "False",
        ["method", "k_start"],
    )
    bits_caption = (
        "Hard-quantized test accuracy over seeds (mean, std), the share of collapsed runs, and the mean paired "
        "difference to STE in the same setting and seeds with its 95% bootstrap interval. float acc: the float "
        "model QAT starts from; PTQ acc: that model quantized at LSQ's initial steps without training; "
        "train-mode acc: the training-time (smooth) quantizer on the test set; final k: learned k at the end."
    )
    return [
        Table("qat_main", "QAT main grid: data set x weight bits x surrogate (Adam, LSQ steps)", bits_caption,
              sort(main, ["dataset", "weight_bits", "variant"]), ["dataset", "weight_bits", "variant", *QAT_COLUMNS]),
        Table("qat_activations", "QAT with activations quantized too (digits, 2-bit weights)",
              "act_bits: bits of the hidden activations (unsigned, learned step); empty: weights only. "
              + bits_caption, sort(activations, ["act_bits", "variant"]), ["act_bits", "variant", *QAT_COLUMNS]),
        Table("qat_optimizer", "QAT: optimizer, learning rate and how the step is learned (digits, 2 bits)",
              "step_mode: lsq = learned with LSQ's gradient scale; plain = learned, unscaled; slow = unscaled at "
              "lr x 0.01; frozen = LSQ's initial step. " + bits_caption,
              sort(optimizer, ["optimizer", "lr", "step_mode", "variant"]),
              ["optimizer", "lr", "step_mode", "variant", *QAT_COLUMNS]),
        Table("qat_k_sweep", "QAT: fixed k (digits, 2 bits, Adam)",
              "Each smooth method at a fixed k through the whole run (k_start). " + bits_caption,
              sort(sweep, ["method", "k_start"]), ["method", "k_start", *QAT_COLUMNS]),
        Table("qat_budget", "QAT: training budget (digits, Adam)", "steps: full-batch fine-tuning steps. "
              + bits_caption, sort(budget, ["steps", "weight_bits", "variant"]),
              ["steps", "weight_bits", "variant", *QAT_COLUMNS]),
        Table("qat_runs", "QAT: every run (one row per seed)", "The raw results every QAT table summarises.",
              runs, QAT_RUN_COLUMNS),
    ]


# ---------------------------------------------------------------------------------------------- CVP

CVP_COLUMNS = ["conditioning", "n", "method", "instances", "hit rate", "median gap", "90% gap", "mean gap",
               "median ms", "mean evaluations", "notes"]
CVP_RUN_COLUMNS = ["conditioning", "n", "instance", "method", "objective", "optimum", "gap", "hit", "evaluations",
                   "seconds", "note"]


def cvp_tables(runs: list[Row]) -> list[Table]:
    out = []
    order = {m: i for i, m in enumerate(_cvp.METHODS)}
    groups = _group(runs, ["conditioning", "n", "method"])
    for (cond, n, method), group in sorted(
        groups.items(), key=lambda kv: (_cvp.CONDITIONINGS.index(kv[0][0]), kv[0][1], order[kv[0][2]])
    ):
        gaps = np.array([r["gap"] for r in group])
        evaluations = [r["evaluations"] for r in group if r["evaluations"] is not None]
        notes = sorted({r["note"] for r in group if r["note"]})
        out.append(
            {
                "conditioning": cond,
                "n": n,
                "method": method,
                "instances": len(group),
                "hit rate": float(np.mean([r["hit"] for r in group])),
                "median gap": float(np.median(gaps)),
                "90% gap": float(np.quantile(gaps, 0.9)),
                "mean gap": float(gaps.mean()),
                "median ms": 1e3 * float(np.median([r["seconds"] for r in group])),
                "mean evaluations": float(np.mean(evaluations)) if evaluations else None,
                "notes": "; ".join(f"{sum(r['note'] == n_ for r in group)} x {n_}" for n_ in notes),
            }
        )
    return [
        Table("cvp_summary", "Integer least squares: hit rate, optimality gap and time",
              "hit rate: share of instances where the method's objective equals the exact optimum (sphere "
              "decoding, relative tolerance 1e-9); gap: (objective - optimum) / optimum; median ms: unbatched "
              "time per instance (LLL included where used); mean evaluations: integer points whose objective "
              "was computed (sphere decoder: tree nodes). The L1 optimum (milp) answers a different problem: "
              "its row shows how often the L1 minimiser is also the L2 one, and what a generic MILP costs.",
              out, CVP_COLUMNS),
        Table("cvp_runs", "Integer least squares: every instance and method", "One row per instance and method.",
              runs, CVP_RUN_COLUMNS),
    ]


# ---------------------------------------------------------------------------------------------- metrics

METRIC_COLUMNS = ["dataset", "loss", "threshold", "seeds", "F1 mean", "F1 std", "diff vs BCE tuned", "CI low",
                  "CI high", "positives"]
METRIC_RUN_COLUMNS = ["dataset", "loss", "threshold", "seed", "f1", "positives", "samples", "steps", "lr",
                      "seconds"]


def metric_tables(runs: list[Row]) -> list[Table]:
    out = []
    baseline = _group((r for r in runs if r["loss"] == "BCE" and r["threshold"] == "tuned"), ["dataset"])
    for (dataset, loss, threshold), group in _group(runs, ["dataset", "loss", "threshold"]).items():
        mean, std = mean_std([r["f1"] for r in group])
        base = baseline.get((dataset,), [])
        diff, lo, hi = _paired(group, group if (loss, threshold) == ("BCE", "tuned") else base, "f1")
        out.append(
            {
                "dataset": dataset, "loss": loss, "threshold": threshold, "seeds": len(group), "F1 mean": mean,
                "F1 std": std, "diff vs BCE tuned": diff, "CI low": lo, "CI high": hi,
                "positives": float(np.mean([r["positives"] for r in group])),
            }
        )
    return [
        Table("metrics_summary", "Metric losses on imbalanced data: F1",
              "F1 on the pooled out-of-fold predictions of 5-fold CV per seed, at threshold 0.5 and at the "
              "threshold that maximises F1 on a held-out quarter of each training part; the paired difference "
              "to BCE with a tuned threshold (same seeds and folds) with its 95% bootstrap interval. "
              "positives: positive cases per seed (label noise included).", out, METRIC_COLUMNS),
        Table("metrics_runs", "Metric losses: every run (one row per seed and threshold)", "The raw results.",
              runs, METRIC_RUN_COLUMNS),
    ]


# ---------------------------------------------------------------------------------------------- compression

COMPRESSION_COLUMNS = ["variant", "lambda", "seeds", "rate mean", "rate std", "model bits", "MSE mean", "MSE std"]
COMPRESSION_AT_RATE_COLUMNS = ["variant", "rate", "seeds", "MSE mean", "MSE std", "diff vs uniform noise",
                               "CI low", "CI high"]
COMPRESSION_RUN_COLUMNS = ["variant", "lambda", "seed", "rate_bits", "model_bits", "mse", "test_images", "steps",
                           "lr", "seconds"]
#: rates (bits per image) at which every curve is compared
TARGET_RATES = (4.0, 8.0, 12.0, 16.0, 20.0)


def _mse_at_rate(points: list[Row], rate: float) -> float:
    """log-MSE interpolated linearly in rate along one seed's curve (NaN outside its range of rates)."""
    pts = sorted((r["rate_bits"], r["mse"]) for r in points)
    rates = np.array([p[0] for p in pts])
    if rates.size < 2 or not rates[0] <= rate <= rates[-1]:
        return math.nan
    return float(np.exp(np.interp(rate, rates, np.log([p[1] for p in pts]))))


def compression_tables(runs: list[Row]) -> list[Table]:
    summary = []
    for (variant, lam), group in _group(runs, ["variant", "lambda"]).items():
        r_mean, r_std = mean_std([r["rate_bits"] for r in group])
        d_mean, d_std = mean_std([r["mse"] for r in group])
        summary.append({"variant": variant, "lambda": lam, "seeds": len(group), "rate mean": r_mean, "rate std": r_std,
                        "model bits": float(np.mean([r["model_bits"] for r in group])), "MSE mean": d_mean,
                        "MSE std": d_std})
    curves = _group(runs, ["variant", "seed"])
    at_rate = []
    for rate in TARGET_RATES:
        per_variant: dict[str, dict[int, float]] = {}
        for (variant, seed), points in curves.items():
            per_variant.setdefault(variant, {})[seed] = _mse_at_rate(points, rate)
        base = per_variant.get("uniform noise", {})
        for variant, by_seed in per_variant.items():
            seeds = sorted(s for s, v in by_seed.items() if not math.isnan(v) and not math.isnan(base.get(s, math.nan)))
            if not seeds:
                continue
            values = [by_seed[s] for s in seeds]
            mean, std = mean_std(values)
            diff, lo, hi = paired_difference(values, [base[s] for s in seeds])
            at_rate.append({"variant": variant, "rate": rate, "seeds": len(seeds), "MSE mean": mean, "MSE std": std,
                            "diff vs uniform noise": diff, "CI low": lo, "CI high": hi})
    return [
        Table("compression_summary", "Learned compression: rate and distortion per trade-off weight",
              "rate: empirical entropy of the test set's integer latents, bits per image; model bits: the learned "
              "prior's code length; MSE per pixel (pixels in [0, 1]).", summary, COMPRESSION_COLUMNS),
        Table("compression_at_rate", "Learned compression: distortion at equal rate",
              "Each seed's rate-distortion curve interpolated (log MSE, linear in rate) at these rates, and the "
              "paired difference to uniform noise with its 95% bootstrap interval (seeds whose curves span the "
              "rate).", at_rate, COMPRESSION_AT_RATE_COLUMNS),
        Table("compression_runs", "Learned compression: every run", "One row per seed and trade-off weight.",
              runs, COMPRESSION_RUN_COLUMNS),
    ]
