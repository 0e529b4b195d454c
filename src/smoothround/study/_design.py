"""What the study runs: the cells of each experiment, full and quick, and the settings recorded with them.

The full factorial of the issue (data sets x bits x surrogates x schedules x optimizers x learning rates x step
modes x budgets) is far too big for 15 minutes on 2 cores, so the QAT experiment is a fractional design: a main
grid and targeted factor studies around it, each varying one or two factors from the main grid's setting.
Cells that coincide (e.g. the main grid's digits 2-bit cells and the optimizer study's Adam 1e-2 LSQ cells) are
run once and appear in every table they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smoothround.study import _compression, _cvp, _metrics, _qat


@dataclass(frozen=True)
class Design:
    """Every cell of one study run, and the constants that define them."""

    quick: bool
    seeds: tuple[int, ...]
    qat: tuple[_qat.Cell, ...]
    cvp: tuple[tuple[int, str], ...]
    cvp_instances: int
    cvp_timed: int
    cvp_milp_max_n: int
    cvp_milp_instances: int
    continuation: _cvp.Continuation
    metrics: tuple[_metrics.Cell, ...]
    compression: tuple[_compression.Cell, ...]
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


# the main grid's setting, from which every factor study departs
MAIN_OPTIMIZER, MAIN_LR, MAIN_STEP_MODE = "adam", 1e-2, "lsq"
OPTIMIZER_VARIANTS = ("STE", "ST smooth, k=5", "window, annealed", "tanh, annealed")
ACTIVATION_VARIANTS = ("STE", "ST smooth, k=5", "window, annealed", "density, annealed", "tanh, annealed")
LONGER_VARIANTS = OPTIMIZER_VARIANTS


def _optimizer_configs(quick: bool) -> list[tuple[str, float, str]]:
    """(optimizer, learning rate, step mode): a learning-rate sweep with LSQ steps for each optimizer, plain
    (unscaled) steps for SGD (Adam is invariant to a constant gradient scale), and a slow and a frozen step at
    the middle learning rate."""
    if quick:
        return [("sgd", 0.1, "plain"), ("sgd", 0.1, "frozen")]
    configs = [("adam", lr, "lsq") for lr in (3e-3, 1e-2, 3e-2)]
    configs += [("adam", 1e-2, mode) for mode in ("slow", "frozen")]
    configs += [("sgd", lr, mode) for lr in (0.03, 0.1, 0.3) for mode in ("lsq", "plain")]
    configs += [("sgd", 0.1, mode) for mode in ("slow", "frozen")]
    return configs


def design(quick: bool) -> Design:
    seeds = tuple(range(3 if quick else 10))
    long_steps, short_steps, longer_steps = (60, 20, 120) if quick else (300, 50, 1000)
    datasets = ("digits", "breast_cancer") if quick else _qat.DATASETS
    bits = (2,) if quick else (2, 3, 4)
    main_variants = ("STE", "ST smooth, k=5", "window, annealed", "tanh, annealed", "window, learned k") if quick \
        else _qat.MAIN_VARIANTS
    cells: list[_qat.Cell] = []

    def add(dataset: str, wbits: int, abits: int | None, variant: str, opt: str = MAIN_OPTIMIZER,
            lr: float = MAIN_LR, mode: str = MAIN_STEP_MODE, steps: int = long_steps) -> None:
        cell = _qat.Cell(dataset, wbits, abits, variant, opt, lr, mode, steps, seeds)
        if cell not in cells:
            cells.append(cell)

    # 1. main grid: data sets x weight bits x surrogates, Adam, LSQ steps, the long budget
    for dataset in datasets:
        for b in bits:
            for v in main_variants:
                add(dataset, b, None, v)
    # 2. budgets: the short budget on the whole digits grid, a longer one for the hard/annealed surrogates
    for b in bits:
        for v in main_variants:
            add("digits", b, None, v, steps=short_steps)
    for v in LONGER_VARIANTS[: 2 if quick else None]:
        add("digits", 2, None, v, steps=longer_steps)
    # 3. activations quantized too (the harder task): 2-bit weights, 2- and 1-bit activations
    for abits in (2,) if quick else (2, 1):
        for v in ACTIVATION_VARIANTS[: 3 if quick else None]:
            add("digits", 2, abits, v)
    # 4. optimizer, learning rate and step learning on digits at 2 bits
    for opt, lr, mode in _optimizer_configs(quick):
        for v in OPTIMIZER_VARIANTS[: 3 if quick else None]:
            add("digits", 2, None, v, opt, lr, mode)
    # 5. fixed-k sweep on digits at 2 bits
    sweep = (3.0, 20.0) if quick else _qat.K_SWEEP
    for method in ("window",) if quick else _qat.METHODS:
        for k in sweep:
            add("digits", 2, None, f"{method}, k={k:g}")

    cvp_sizes = (4, 8) if quick else (4, 8, 12, 16, 20, 24)
    cvp = tuple((n, c) for c in _cvp.CONDITIONINGS for n in cvp_sizes)
    continuation = _cvp.Continuation(steps=100) if quick else _cvp.Continuation()

    metric_sets = ("synthetic 5%", "breast cancer 10%") if quick else _metrics.DATASETS
    metric_steps = 100 if quick else 200
    metrics = tuple(_metrics.Cell(d, loss, seeds, metric_steps, 0.05) for d in metric_sets for loss in _metrics.LOSSES)

    lambdas = (0.03, 0.3) if quick else (0.01, 0.03, 0.1, 0.3)
    comp_seeds = seeds[:2] if quick else seeds[:3]
    comp_steps = 150 if quick else 600
    compression = tuple(_compression.Cell(v, lambdas, comp_seeds, comp_steps, 3e-3) for v in _compression.VARIANTS)

    settings: dict[str, dict[str, Any]] = {
        "qat": {
            "model": f"MLP d-{_qat.HIDDEN}-classes, ReLU, biases not quantized; weights per tensor, signed",
            "float model": f"full batch Adam lr {_qat.FLOAT_LR}, {_qat.FLOAT_STEPS} steps, per seed",
            "QAT": "fine-tuning of the float model, full batch; LSQ initial steps from the float weights and "
                   "hidden activations; hard-quantized test accuracy (integer codes x step)",
            "splits": "seed s: fold s mod 5 of stratified 5-fold CV shuffled with s div 5 (10 seeds = 2 x 5-fold)",
            "main grid": f"{', '.join(datasets)} x weight bits {bits} x surrogates, {MAIN_OPTIMIZER} lr "
                         f"{MAIN_LR:g}, step mode {MAIN_STEP_MODE}, {long_steps} steps",
            "budgets (steps)": {"short": short_steps, "long": long_steps, "longer": longer_steps},
            "step modes": {"lsq": "learned, LSQ gradient scale 1/sqrt(N Q_P), optimizer's lr",
                           "plain": "learned, unscaled gradient, optimizer's lr",
                           "slow": f"learned, unscaled gradient, lr x {_qat.SLOW_FACTOR:g}",
                           "frozen": "LSQ initial step, not learned"},
            "optimizer configs": [list(c) for c in _optimizer_configs(quick)],
            "SGD": "plain (no momentum)",
            "fixed k": _qat.FIXED_K, "k sweep": list(sweep),
            "collapse": "hard test accuracy <= majority share + 0.1 x (1 - majority share), or non-finite weights",
            "min step": _qat.MIN_STEP,
            "surrogates": {name: v.describe() for name, v in _qat.VARIANTS.items()},
        },
        "cvp": {
            "instances per cell": 20 if quick else 100,
            "bases": f"well: iid Gaussian; ill: U diag(s) V^T, s log-spaced over {_cvp.ILL_CONDITION:g}; |det| = 1",
            "target": "b = A c, c uniform on [0, 10)^n",
            "continuation": continuation.__dict__,
            "continuation lr": "fixed at 0.1 with k_end 100 (picked by hand in a pilot on other instances; the pilot is not part of the study)",
            "budget of multi-candidate baselines": f"{continuation.steps} objective evaluations "
                                                   "(local search stops earlier at a local optimum; K-best keeps "
                                                   f"K = {continuation.steps // 3} paths x 3 children)",
            "LLL delta": 0.99,
            "milp (L1)": f"first {3 if quick else 10} instances of cells with n <= 8, "
                         "time limit 10 s",
            "time": "median seconds per instance, unbatched, one thread; LLL time included where used; the "
                    "continuation timed on the first few instances",
        },
        "metrics": {
            "model": "logistic regression (linear logit), full batch Adam lr 0.05, weights from 0",
            "steps": metric_steps,
            "data": f"make_classification n={_metrics.SYNTHETIC_SAMPLES}, 20 features (5 informative, "
                    "5 redundant), flip_y 0.01, fresh per seed; breast cancer with the malignant cases "
                    f"subsampled to {_metrics.BREAST_CANCER_POSITIVE_SHARE:.0%}, fresh per seed",
            "protocol": "5-fold CV per seed; a stratified quarter of each training part tunes the threshold "
                        "(max F1 on it); F1 on the pooled out-of-fold predictions",
        },
        "compression": {
            "model": f"encoder 64-{_compression.HIDDEN}-{_compression.LATENTS}, decoder "
                     f"{_compression.LATENTS}-{_compression.HIDDEN}-64, ReLU; factorized logistic prior",
            "loss": "sum of squared pixel errors + lambda x bits", "lambdas": list(lambdas),
            "training": f"Adam lr 3e-3, {comp_steps} steps of batch {_compression.BATCH}",
            "soft round schedules": {k: v for k, v in _compression.VARIANTS.items() if v[0] is not None},
            "test": "round(y) sent and decoded; rate = empirical entropy of the test latents (bits/image)",
        },
    }
    return Design(
        quick=quick, seeds=seeds, qat=tuple(cells), cvp=cvp, cvp_instances=20 if quick else 100,
        cvp_timed=2 if quick else 5, cvp_milp_max_n=8, cvp_milp_instances=3 if quick else 10,
        continuation=continuation, metrics=metrics, compression=compression, settings=settings,
    )
