"""Metric losses on imbalanced data: 1 - smooth_f1, binary cross-entropy, and their sum.

A logistic-regression model (linear logit, sigmoid) is trained full batch with Adam for each loss. Every seed
draws its data (a fresh ``make_classification`` sample, or a fresh subsample of breast cancer's malignant
cases) and runs 5-fold cross-validation; within each fold a stratified quarter of the training part is held out
to tune the decision threshold. All seeds x folds are one batched model. F1 is computed per seed on the pooled
out-of-fold predictions, at threshold 0.5 and at the validation-tuned threshold, so every loss gets the same
chance to pick its threshold.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from smoothround.toolbox import smooth_f1

LOSSES = ("BCE", "1 - smooth F1", "BCE + (1 - smooth F1)")
DATASETS = ("synthetic 1%", "synthetic 5%", "synthetic 20%", "breast cancer 10%")
FOLDS = 5
SYNTHETIC_SAMPLES = 5_000
BREAST_CANCER_POSITIVE_SHARE = 0.10


@dataclass(frozen=True)
class Cell:
    dataset: str
    loss: str
    seeds: tuple[int, ...]
    steps: int
    lr: float

    def cost(self) -> float:
        """A rough estimate in seconds, for scheduling the longest cells first."""
        n = SYNTHETIC_SAMPLES if self.dataset.startswith("synthetic") else 400
        return 2.7e-7 * self.steps * len(self.seeds) * n


def draw(dataset: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The features and 0/1 labels of one seed's data set (positives = the minority class)."""
    if dataset.startswith("synthetic"):
        from sklearn.datasets import make_classification

        share = float(dataset.split()[1].rstrip("%")) / 100.0
        x, y = make_classification(
            n_samples=SYNTHETIC_SAMPLES, n_features=20, n_informative=5, n_redundant=5, weights=[1.0 - share],
            flip_y=0.01, class_sep=1.0, random_state=seed,
        )
        return x, y.astype(np.int64)
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    x, y = bunch.data, (bunch.target == 0).astype(np.int64)  # positive: malignant (target 0)
    rng = np.random.default_rng(seed)
    negatives = np.flatnonzero(y == 0)
    keep = round(BREAST_CANCER_POSITIVE_SHARE * len(negatives) / (1.0 - BREAST_CANCER_POSITIVE_SHARE))
    positives = rng.choice(np.flatnonzero(y == 1), size=keep, replace=False)
    index = np.concatenate([negatives, positives])
    return x[index], y[index]


def _splits(dataset: str, seeds: tuple[int, ...]) -> list[dict[str, np.ndarray]]:
    """One entry per (seed, fold): standardised train / validation / test arrays and the test indices."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    parts = []
    for seed in seeds:
        x, y = draw(dataset, seed)
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y)
        for fold, (train, test) in enumerate(folds):
            fit, val = train_test_split(train, test_size=0.25, stratify=y[train], random_state=seed * FOLDS + fold)
            mu, sd = x[fit].mean(axis=0), x[fit].std(axis=0) + 1e-12
            parts.append(
                {
                    "seed": np.array(seed),
                    "x_fit": (x[fit] - mu) / sd, "y_fit": y[fit],
                    "x_val": (x[val] - mu) / sd, "y_val": y[val],
                    "x_test": (x[test] - mu) / sd, "y_test": y[test],
                }
            )
    return parts


def _stack(arrays: list[np.ndarray], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(a) for a in arrays)
    out = np.zeros((len(arrays), n, *arrays[0].shape[1:]), dtype=np.float64)
    mask = np.zeros((len(arrays), n))
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
        mask[i, : len(a)] = 1.0
    return torch.tensor(out, dtype=dtype), torch.tensor(mask, dtype=torch.float32)


def f1_score(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Binary F1 of 0/1 predictions (0 when there is no positive, predicted or true).

    >>> f1_score(np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1]))
    0.8
    """
    tp = float(np.sum(predicted * truth))
    denominator = float(np.sum(predicted) + np.sum(truth))
    return 2.0 * tp / denominator if denominator > 0 else 0.0


def tuned_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The threshold on the validation probabilities ``p`` that maximises F1 (midpoints between sorted
    distinct values, and 0.5; the smallest of equally good ones)."""
    values = np.unique(p)
    candidates = np.concatenate([(values[1:] + values[:-1]) / 2.0, [0.5]]) if values.size > 1 else np.array([0.5])
    scores = [f1_score((p >= t).astype(np.int64), y) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def run_cell(cell: Cell) -> list[dict[str, Any]]:
    """Train every (seed, fold) model with this cell's loss; one row per seed with its out-of-fold F1."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    parts = _splits(cell.dataset, cell.seeds)
    x_fit, w_fit = _stack([p["x_fit"] for p in parts], torch.float32)
    y_fit, _ = _stack([p["y_fit"] for p in parts], torch.float32)
    models = len(parts)
    weight = torch.zeros(models, x_fit.shape[2], 1, requires_grad=True)
    bias = torch.zeros(models, 1, 1, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=cell.lr)
    count = w_fit.sum(dim=1)
    for _ in range(cell.steps):
        logit = torch.baddbmm(bias, x_fit, weight)[..., 0]
        loss = torch.zeros(())
        if cell.loss in ("BCE", "BCE + (1 - smooth F1)"):
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, y_fit, reduction="none")
            loss = loss + ((bce * w_fit).sum(dim=1) / count).sum()
        if cell.loss in ("1 - smooth F1", "BCE + (1 - smooth F1)"):
            # padded samples get p = 0 and y = 0, which add nothing to F1's sums
            loss = loss + (1.0 - smooth_f1(torch.sigmoid(logit) * w_fit, y_fit, reduction="none")).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def probabilities(x: np.ndarray, i: int) -> np.ndarray:
        with torch.no_grad():
            xt = torch.tensor(x, dtype=torch.float32)
            return torch.sigmoid(xt @ weight[i, :, 0] + bias[i, 0, 0]).numpy().astype(np.float64)

    seconds = time.perf_counter() - start
    rows = []
    for seed in cell.seeds:
        predicted: dict[str, list[np.ndarray]] = {"0.5": [], "tuned": []}
        truth: list[np.ndarray] = []
        for i, part in enumerate(parts):
            if int(part["seed"]) != seed:
                continue
            threshold = tuned_threshold(probabilities(part["x_val"], i), part["y_val"])
            p_test = probabilities(part["x_test"], i)
            predicted["0.5"].append((p_test >= 0.5).astype(np.int64))
            predicted["tuned"].append((p_test >= threshold).astype(np.int64))
            truth.append(part["y_test"])
        y_all = np.concatenate(truth)
        for mode, preds in predicted.items():
            rows.append(
                {
                    **{k: v for k, v in asdict(cell).items() if k != "seeds"},
                    "threshold": mode,
                    "seed": seed,
                    "f1": f1_score(np.concatenate(preds), y_all),
                    "positives": int(y_all.sum()),
                    "samples": int(y_all.size),
                    "seconds": seconds / len(cell.seeds),
                }
            )
    return rows
