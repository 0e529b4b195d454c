"""Quantization-aware training: many seeds of a small MLP trained at once, as one batched model.

Every seed has its own cross-validation fold, initialisation and float model; the weights of all seeds are
stacked along a leading axis and multiplied with ``torch.baddbmm``, so one optimizer step trains every seed
(the per-seed losses are summed, so each seed gets exactly its own gradient; Adam and SGD act per element).
The quantizer is :func:`smoothround.qat.fake_quantize` with one learned step per tensor and seed (a ``(S, 1, 1)``
scale): nothing here re-implements it.

A cell is one setting (data set, bits, surrogate, optimizer, step learning, budget) over all its seeds:
:func:`run_cell` fine-tunes the float model of each seed with QAT and returns one row per seed with the
hard-quantized test accuracy (``fake_quantize(training=False)``: integer codes times the step).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from smoothround import qat, schedules

DATASETS = ("digits", "breast_cancer", "wine")
HIDDEN = 32
#: full-batch steps of the float model every QAT run starts from (Adam, lr 1e-2)
FLOAT_STEPS = 300
FLOAT_LR = 1e-2
FOLDS = 5
#: learned steps are kept at or above this after every update (quantize needs step > 0; a projection, as
#: torch.ao keeps its scales above eps)
MIN_STEP = 1e-6
STEP_MODES = ("lsq", "plain", "slow", "frozen")
SLOW_FACTOR = 0.01


@dataclass(frozen=True)
class Variant:
    """A rounding surrogate: the method, the forward (``straight_through``) and how ``k`` is set.

    ``k_mode`` is ``"none"`` (STE: ``k`` unused), ``"fixed"`` (``k_start``), ``"annealed"`` (geometric from
    ``k_start`` to ``k_end`` over the run) or ``"learned"`` (``log_k`` learned per tensor and seed, starting at
    ``k_start``)."""

    name: str
    method: str
    straight_through: bool | str
    k_mode: str
    k_start: float = 1.0
    k_end: float = 1.0

    def describe(self) -> str:
        forward = {False: "smooth forward", "identity": "hard forward, identity backward (STE)",
                   "smooth": "hard forward, smooth backward"}[self.straight_through]
        k = {
            "none": "k unused",
            "fixed": f"k = {self.k_start:g}",
            "annealed": f"k geometric {self.k_start:g} -> {self.k_end:g}",
            "learned": f"k learned from {self.k_start:g}",
        }[self.k_mode]
        return f"{self.method}, {forward}, {k}"


METHODS = ("window", "density", "tanh")
#: the fixed k of the main grid, and the values of the fixed-k sweep
FIXED_K = 20.0
K_SWEEP = (1.0, 3.0, 10.0, 20.0, 50.0, 200.0)


def _variants() -> dict[str, Variant]:
    out = {
        "STE": Variant("STE", "window", "identity", "none"),
        "ST smooth, k=5": Variant("ST smooth, k=5", "window", "smooth", "fixed", 5.0),
        "ST smooth, annealed": Variant("ST smooth, annealed", "window", "smooth", "annealed", 1.0, 20.0),
    }
    for method in METHODS:
        for v in (
            Variant(f"{method}, k={FIXED_K:g}", method, False, "fixed", FIXED_K),
            Variant(f"{method}, annealed", method, False, "annealed", 1.0, 200.0),
            Variant(f"{method}, learned k", method, False, "learned", 5.0),
        ):
            out[v.name] = v
    for method in METHODS:
        for k in K_SWEEP:
            out.setdefault(f"{method}, k={k:g}", Variant(f"{method}, k={k:g}", method, False, "fixed", k))
    return out


#: every surrogate by name; the main grid uses the first twelve
VARIANTS = _variants()
MAIN_VARIANTS = tuple(VARIANTS)[:12]


@dataclass(frozen=True)
class Cell:
    """One QAT setting over its seeds."""

    dataset: str
    weight_bits: int
    act_bits: int | None
    variant: str
    optimizer: str
    lr: float
    step_mode: str
    steps: int
    seeds: tuple[int, ...]

    def cost(self) -> float:
        """A rough estimate in seconds, for scheduling the longest cells first."""
        size = {"digits": 1.0, "breast_cancer": 0.25, "wine": 0.12}[self.dataset]
        if self.act_bits is not None:  # the activations are 20x the weights, and density is twice window
            size *= 8.0 if VARIANTS[self.variant].method == "density" else 4.5
        return self.steps * len(self.seeds) * size / 1500.0


# ---------------------------------------------------------------------------------------------- data


@dataclass
class _Data:
    x_train: torch.Tensor  # (S, n, d), zero-padded
    w_train: torch.Tensor  # (S, n): 1 for a sample, 0 for padding
    y_train: torch.Tensor  # (S, n) int64
    x_test: torch.Tensor
    w_test: torch.Tensor
    y_test: torch.Tensor
    classes: int
    majority: float  # the largest class share: the accuracy of a constant prediction


def _load(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
              "wine": datasets.load_wine}[dataset]
    bunch = loader()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def fold_indices(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seed ``s``: fold ``s mod 5`` of a stratified 5-fold split shuffled with ``s div 5`` (so 10 seeds are two
    repeats of 5-fold cross-validation: every sample is tested twice)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(FOLDS, shuffle=True, random_state=seed // FOLDS)
    train, test = list(splitter.split(np.zeros(len(labels)), labels))[seed % FOLDS]
    return train, test


def _pad(arrays: list[np.ndarray], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(a) for a in arrays)
    shape = (len(arrays), n, *arrays[0].shape[1:])
    out = np.zeros(shape, dtype=arrays[0].dtype)
    mask = np.zeros((len(arrays), n))
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
        mask[i, : len(a)] = 1.0
    return torch.tensor(out, dtype=dtype), torch.tensor(mask, dtype=torch.float32)


def _data(dataset: str, seeds: tuple[int, ...]) -> _Data:
    x, y = _load(dataset)
    xs_tr, ys_tr, xs_te, ys_te = [], [], [], []
    for seed in seeds:
        tr, te = fold_indices(y, seed)
        if dataset == "digits":
            scale_lo, scale = 0.0, 16.0  # pixel values 0..16
            a_tr, a_te = (x[tr] - scale_lo) / scale, (x[te] - scale_lo) / scale
        else:  # standardised with the training fold's statistics
            mu, sd = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-12
            a_tr, a_te = (x[tr] - mu) / sd, (x[te] - mu) / sd
        xs_tr.append(a_tr)
        xs_te.append(a_te)
        ys_tr.append(y[tr])
        ys_te.append(y[te])
    x_train, w_train = _pad(xs_tr, torch.float32)
    x_test, w_test = _pad(xs_te, torch.float32)
    y_train, _ = _pad(ys_tr, torch.int64)
    y_test, _ = _pad(ys_te, torch.int64)
    classes = int(y.max()) + 1
    majority = float(np.bincount(y).max() / len(y))
    return _Data(x_train, w_train, y_train, x_test, w_test, y_test, classes, majority)


# ---------------------------------------------------------------------------------------------- model


def _init_weights(seeds: tuple[int, ...], d: int, classes: int) -> dict[str, torch.Tensor]:
    """``nn.Linear``'s default initialisation (uniform, bound 1/sqrt(fan_in)) for each seed."""
    tensors: dict[str, list[torch.Tensor]] = {"w1": [], "b1": [], "w2": [], "b2": []}
    for seed in seeds:
        g = torch.Generator().manual_seed(10_000 + seed)
        for name, fan_in, shape in (("w1", d, (d, HIDDEN)), ("b1", d, (1, HIDDEN)),
                                    ("w2", HIDDEN, (HIDDEN, classes)), ("b2", HIDDEN, (1, classes))):
            bound = 1.0 / math.sqrt(fan_in)
            tensors[name].append((torch.rand(shape, generator=g) * 2.0 - 1.0) * bound)
    return {name: torch.stack(ts) for name, ts in tensors.items()}


def _loss(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The sum over seeds of each seed's mean cross-entropy over its (unpadded) samples."""
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (S, n)
    return ((ce * w).sum(dim=1) / w.sum(dim=1)).sum()


def _accuracy(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> np.ndarray:
    """Each seed's share of correctly classified (unpadded) samples, counted in integers."""
    right = ((logits.argmax(dim=-1) == y) & (w > 0)).sum(dim=1).numpy()
    return right / w.sum(dim=1).numpy().round()


def _forward(
    weights: dict[str, torch.Tensor], x: torch.Tensor, quant: Any | None = None
) -> torch.Tensor:
    w1, w2 = weights["w1"], weights["w2"]
    if quant is not None:
        w1, w2 = quant("w1", w1), quant("w2", w2)
    h = torch.relu(torch.baddbmm(weights["b1"], x, w1))
    if quant is not None:
        h = quant("act", h)
    return torch.baddbmm(weights["b2"], h, w2)


@functools.lru_cache(maxsize=4)
def _float_model(dataset: str, seeds: tuple[int, ...]) -> tuple[_Data, dict[str, torch.Tensor], np.ndarray]:
    """The data and the trained float model of each seed (full batch, Adam), kept in this process's memory
    (every cell of a data set starts from it) and the float test accuracy."""
    torch.set_num_threads(1)
    data = _data(dataset, seeds)
    weights = {k: v.requires_grad_() for k, v in _init_weights(seeds, data.x_train.shape[2], data.classes).items()}
    opt = torch.optim.Adam(weights.values(), lr=FLOAT_LR)
    for _ in range(FLOAT_STEPS):
        loss = _loss(_forward(weights, data.x_train), data.y_train, data.w_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = _accuracy(_forward(weights, data.x_test), data.y_test, data.w_test)
    return data, {k: v.detach() for k, v in weights.items()}, acc


# ---------------------------------------------------------------------------------------------- QAT


def _ranges(cell: Cell) -> dict[str, tuple[int, int]]:
    ranges = {"w1": qat.quant_range(cell.weight_bits), "w2": qat.quant_range(cell.weight_bits)}
    if cell.act_bits is not None:
        ranges["act"] = qat.quant_range(cell.act_bits, signed=False)
    return ranges


def run_cell(cell: Cell) -> list[dict[str, Any]]:
    """Fine-tune the float model of every seed with QAT in this cell's setting; one row per seed."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    variant = VARIANTS[cell.variant]
    data, float_weights, float_acc = _float_model(cell.dataset, cell.seeds)
    seeds = len(cell.seeds)
    ranges = _ranges(cell)
    weights = {k: v.clone().requires_grad_() for k, v in float_weights.items()}

    # LSQ's initial steps: weights from the float weights, activations from the float model's hidden layer
    params: dict[str, dict[str, torch.Tensor]] = {}
    with torch.no_grad():
        hidden = torch.relu(torch.baddbmm(float_weights["b1"], data.x_train, float_weights["w1"]))
    for name, (qmin, qmax) in ranges.items():
        source = hidden if name == "act" else float_weights[name]
        init = qat.init_params(source, quant_min=qmin, quant_max=qmax, axis=0)  # (S, 1, 1): one step per seed
        entry = {"scale": init["scale"].clone().requires_grad_(cell.step_mode != "frozen")}
        if variant.k_mode == "learned":
            entry["log_k"] = torch.full((seeds, 1, 1), math.log(variant.k_start), requires_grad=True)
        params[name] = entry

    # PTQ: the float model with hard quantization at the initial steps
    def hard(name: str, value: torch.Tensor) -> torch.Tensor:
        if name not in ranges:
            return value
        qmin, qmax = ranges[name]
        return qat.fake_quantize({"scale": params[name]["scale"]}, value, quant_min=qmin, quant_max=qmax,
                                 training=False)

    with torch.no_grad():
        ptq_acc = _accuracy(_forward(float_weights, data.x_test, hard), data.y_test, data.w_test)

    schedule = (
        schedules.geometric(variant.k_start, variant.k_end, steps=max(cell.steps - 1, 1))
        if variant.k_mode == "annealed"
        else None
    )
    grad_scale = "lsq" if cell.step_mode == "lsq" else None
    current_k: list[Any] = [None]

    def smooth(name: str, value: torch.Tensor) -> torch.Tensor:
        if name not in ranges:
            return value
        qmin, qmax = ranges[name]
        return qat.fake_quantize(params[name], value, k=current_k[0], quant_min=qmin, quant_max=qmax,
                                 method=variant.method, straight_through=variant.straight_through,
                                 grad_scale=grad_scale)

    weight_lr = cell.lr
    step_lr = cell.lr * (SLOW_FACTOR if cell.step_mode == "slow" else 1.0)
    groups = [{"params": list(weights.values()), "lr": weight_lr}]
    scales = [p["scale"] for p in params.values() if p["scale"].requires_grad]
    if scales:
        groups.append({"params": scales, "lr": step_lr})
    log_ks = [p["log_k"] for p in params.values() if "log_k" in p]
    if log_ks:
        groups.append({"params": log_ks, "lr": weight_lr})
    opt: torch.optim.Optimizer = (
        torch.optim.Adam(groups) if cell.optimizer == "adam" else torch.optim.SGD(groups)
    )
    for step in range(cell.steps):
        if variant.k_mode == "fixed":
            current_k[0] = variant.k_start
        elif variant.k_mode == "annealed":
            assert schedule is not None
            current_k[0] = schedule(step)
        elif variant.k_mode == "none":
            current_k[0] = 1.0  # unused by the identity straight-through backward
        loss = _loss(_forward(weights, data.x_train, smooth), data.y_train, data.w_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for s in scales:
                s.nan_to_num_(nan=MIN_STEP).clamp_(min=MIN_STEP)

    with torch.no_grad():
        acc = _accuracy(_forward(weights, data.x_test, hard), data.y_test, data.w_test)
        train_mode_acc = _accuracy(_forward(weights, data.x_test, smooth), data.y_test, data.w_test)
    finite = np.array([
        bool(torch.isfinite(torch.stack([w[i].abs().sum() for w in weights.values()])).all())
        for i in range(seeds)
    ])
    chance_band = data.majority + 0.1 * (1.0 - data.majority)
    seconds = time.perf_counter() - start
    rows = []
    for i, seed in enumerate(cell.seeds):
        steps_final = [float(p["scale"][i].detach()) for p in params.values()]
        k_final = [float(p["log_k"][i].detach().exp()) for p in params.values() if "log_k" in p]
        rows.append(
            {
                **{k: v for k, v in asdict(cell).items() if k != "seeds"},
                "method": variant.method,
                "straight_through": str(variant.straight_through),
                "k_mode": variant.k_mode,
                "k_start": variant.k_start,
                "k_end": variant.k_end,
                "surrogate": variant.describe(),
                "seed": seed,
                "float_acc": float(float_acc[i]),
                "ptq_acc": float(ptq_acc[i]),
                "acc": float(acc[i]),
                "train_mode_acc": float(train_mode_acc[i]),
                "collapsed": bool(acc[i] <= chance_band or not finite[i]),
                "step_min": min(steps_final),
                "step_max": max(steps_final),
                "k_final": float(np.mean(k_final)) if k_final else math.nan,
                "test_size": int(data.w_test[i].sum()),
                "seconds": seconds / seeds,
            }
        )
    return rows
