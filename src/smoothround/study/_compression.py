"""Learned compression, small: an autoencoder on the 8x8 digits with integer latents and a learned prior.

Encoder 64-32-8 and decoder 8-32-64 (ReLU), a factorized logistic prior per latent (learned location and scale)
whose probability of an integer ``q`` is ``sigmoid((q + 1/2 - mu) / s) - sigmoid((q - 1/2 - mu) / s)``. The loss
is ``D + lambda R``: D the squared error summed over the 64 pixels (values in [0, 1]), R the prior's code length
in bits. How the latents ``y`` are made discrete while training is the variant:

* ``uniform noise``: ``y + u``, ``u ~ U(-1/2, 1/2)`` (Balle et al.), rate at ``y + u``;
* ``STE``: ``round(y)`` forward, identity backward, rate at ``round(y)``;
* ``tanh + cond. mean`` (Agustsson and Theis): ``z = s_k(y) + u`` with the soft round ``s_k``, rate at ``z``,
  the decoder gets the conditional mean ``E[y | z]`` (:func:`smoothround.round_conditional_mean`); ``k``
  annealed;
* ``window + cond. mean``, ``density + cond. mean``: the same with the other smooth rounds.

At test time every variant sends ``round(y)`` and decodes it. Rate: the empirical entropy of the test set's
integer latents (per latent, summed: bits per image), and the prior's code length; distortion: mean squared
error per pixel. Seeds and trade-off weights are one batched model.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from smoothround import schedules
from smoothround.inverse import round_conditional_mean
from smoothround.rounding import round as smooth_round
from smoothround.study._qat import fold_indices

LATENTS = 8
HIDDEN = 32
PIXELS = 64
BATCH = 128

#: variant -> (method, k start, k end): the smooth rounds are annealed to the same L1 error (window at 2k is
#: as sharp as density and tanh at k)
VARIANTS: dict[str, tuple[str | None, float, float]] = {
    "uniform noise": (None, 0.0, 0.0),
    "STE": (None, 0.0, 0.0),
    "tanh + cond. mean": ("tanh", 1.0, 16.0),
    "window + cond. mean": ("window", 2.0, 32.0),
    "density + cond. mean": ("density", 1.0, 16.0),
}


@dataclass(frozen=True)
class Cell:
    variant: str
    lambdas: tuple[float, ...]
    seeds: tuple[int, ...]
    steps: int
    lr: float

    def cost(self) -> float:
        """A rough estimate in seconds, for scheduling the longest cells first."""
        factor = {None: 0.3, "tanh": 0.45, "window": 1.0, "density": 1.4}[VARIANTS[self.variant][0]]
        return 7e-6 * factor * self.steps * len(self.seeds) * len(self.lambdas) * BATCH


def _linear(g: torch.Generator, models: int, fan_in: int, fan_out: int) -> list[torch.Tensor]:
    bound = 1.0 / math.sqrt(fan_in)
    w = (torch.rand(models, fan_in, fan_out, generator=g) * 2 - 1) * bound
    b = (torch.rand(models, 1, fan_out, generator=g) * 2 - 1) * bound
    return [w.requires_grad_(), b.requires_grad_()]


def _bits(q: torch.Tensor, loc: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Code length in bits of ``q`` (any real value: the prior convolved with a unit uniform) per sample."""
    scale = log_scale.exp()
    upper = torch.sigmoid((q + 0.5 - loc) / scale)
    lower = torch.sigmoid((q - 0.5 - loc) / scale)
    return -torch.log2((upper - lower).clamp_min(1e-9)).sum(dim=-1)


def empirical_entropy(symbols: np.ndarray) -> float:
    """The plug-in entropy in bits of each column of integer ``symbols`` (samples x latents), summed.

    >>> empirical_entropy(np.array([[0, 1], [1, 1], [0, 1], [1, 1]]))
    1.0
    """
    total = 0.0
    for column in symbols.T:
        _, counts = np.unique(column, return_counts=True)
        p = counts / counts.sum()
        total -= float(np.sum(p * np.log2(p)))
    return total + 0.0


def run_cell(cell: Cell) -> list[dict[str, Any]]:
    """Train the autoencoders of every (seed, lambda) with this cell's variant; one row per pair."""
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    start = time.perf_counter()
    method, k_start, k_end = VARIANTS[cell.variant]
    images = load_digits().data / 16.0
    labels = load_digits().target
    pairs = [(seed, lam) for seed in cell.seeds for lam in cell.lambdas]
    models = len(pairs)
    splits = [fold_indices(labels, seed) for seed, _ in pairs]
    n_train = min(len(tr) for tr, _ in splits)
    n_test = min(len(te) for _, te in splits)
    x_train = torch.tensor(np.stack([images[tr[:n_train]] for tr, _ in splits]), dtype=torch.float32)
    x_test = torch.tensor(np.stack([images[te[:n_test]] for _, te in splits]), dtype=torch.float32)
    lam = torch.tensor([lam for _, lam in pairs], dtype=torch.float32)[:, None]

    g = torch.Generator().manual_seed(20_000 + cell.seeds[0])
    enc1, enc2 = _linear(g, models, PIXELS, HIDDEN), _linear(g, models, HIDDEN, LATENTS)
    dec1, dec2 = _linear(g, models, LATENTS, HIDDEN), _linear(g, models, HIDDEN, PIXELS)
    loc = torch.zeros(models, 1, LATENTS, requires_grad=True)
    log_scale = torch.zeros(models, 1, LATENTS, requires_grad=True)
    params = [*enc1, *enc2, *dec1, *dec2, loc, log_scale]
    opt = torch.optim.Adam(params, lr=cell.lr)

    def encode(x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(enc2[1], torch.relu(torch.baddbmm(enc1[1], x, enc1[0])), enc2[0])

    def decode(y: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(dec2[1], torch.relu(torch.baddbmm(dec1[1], y, dec1[0])), dec2[0])

    schedule = schedules.geometric(k_start, k_end, steps=cell.steps - 1) if method is not None else None
    for step in range(cell.steps):
        index = torch.randint(0, n_train, (BATCH,), generator=g)
        x = x_train[:, index]
        y = encode(x)
        noise = torch.rand(y.shape, generator=g) - 0.5
        if cell.variant == "uniform noise":
            sent = received = y + noise
        elif cell.variant == "STE":
            sent = received = smooth_round(y, 1.0, straight_through="identity")
        else:
            assert schedule is not None and method is not None
            k = schedule(step)
            sent = smooth_round(y, k, method=method) + noise
            received = round_conditional_mean(sent, k, method=method)
        distortion = ((decode(received) - x) ** 2).sum(dim=-1)  # (models, batch)
        rate = _bits(sent, loc, log_scale)
        loss = (distortion + lam * rate).mean(dim=1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    rows = []
    with torch.no_grad():
        q = torch.round(encode(x_test))
        mse = ((decode(q) - x_test) ** 2).mean(dim=(1, 2)).numpy()
        model_bits = _bits(q, loc, log_scale).mean(dim=1).numpy()
        symbols = q.numpy().astype(np.int64)
    seconds = time.perf_counter() - start
    for i, (seed, weight) in enumerate(pairs):
        rows.append(
            {
                **{k: v for k, v in asdict(cell).items() if k not in ("seeds", "lambdas")},
                "lambda": weight,
                "seed": seed,
                "rate_bits": empirical_entropy(symbols[i]),
                "model_bits": float(model_bits[i]),
                "mse": float(mse[i]),
                "test_images": n_test,
                "seconds": seconds / models,
            }
        )
    return rows
