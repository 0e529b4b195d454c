"""Benchmark: smooth round forward+backward on 4M float32 elements, against torch.sigmoid and a textbook
implementation of the paper's formula with a fixed radius of 5, all measured in this one process.

Prints medians (ms) and ratios to torch.sigmoid (eager), and the bytes saved for backward per element.
Run: .venv/bin/python benchmarks/bench_round.py [--n 4000000] [--repeats 15] [--k 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import smoothround as sr


def textbook_round(x: torch.Tensor, k: float, radius: int = 5) -> torch.Tensor:
    """The paper's window formula, literally: sum over the 2*radius+1 integers around floor(x), autograd."""
    centre = torch.floor(x).detach()
    total = torch.zeros_like(x)
    for j in range(-radius, radius + 1):
        n = centre + j
        total = total + n * (torch.sigmoid(k * (x - n + 0.5)) - torch.sigmoid(k * (x - n - 0.5)))
    return total


def time_fwd_bwd(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, repeats: int) -> float:
    """Median wall time of forward + backward (seconds), after two warm-up runs."""
    times = []
    for i in range(repeats + 2):
        x.grad = None
        start = time.perf_counter()
        out = fn(x)
        out.backward(torch.ones_like(out))
        elapsed = time.perf_counter() - start
        if i >= 2:
            times.append(elapsed)
    return statistics.median(times)


def saved_bytes_per_element(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> float:
    """Bytes of every tensor autograd keeps for backward, per element of x (saved-tensor hooks)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[id(t)] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(x)
    del out
    return sum(seen.values()) / x.numel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--k", type=float, default=10.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = (torch.randn(args.n) * 10).requires_grad_()
    k = args.k

    candidates: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "torch.sigmoid (baseline)": torch.sigmoid,
        "textbook window, radius 5": lambda v: textbook_round(v, k),
        "smoothround window": lambda v: sr.round(v, k),
        "smoothround density": lambda v: sr.round(v, k, method="density"),
        "smoothround tanh": lambda v: sr.round(v, k, method="tanh"),
        "smoothround window, k=2 (Fourier)": lambda v: sr.round(v, 2.0),
    }
    compiled = {
        "compiled torch.sigmoid": torch.compile(torch.sigmoid),
        "compiled smoothround window": torch.compile(lambda v: sr.round(v, k), fullgraph=True),
        "compiled smoothround density": torch.compile(lambda v: sr.round(v, k, method="density"), fullgraph=True),
    }
    rows = []
    # interleave the candidates over rounds so that machine noise hits all of them alike
    results: dict[str, list[float]] = {name: [] for name in [*candidates, *compiled]}
    for _ in range(3):
        for name, fn in {**candidates, **compiled}.items():
            results[name].append(time_fwd_bwd(fn, x, max(3, args.repeats // 3)))
    base = statistics.median(results["torch.sigmoid (baseline)"])
    for name, fn in {**candidates, **compiled}.items():
        median = statistics.median(results[name])
        saved = saved_bytes_per_element(fn, x) if name in candidates else float("nan")
        rows.append((name, median * 1e3, median / base, saved))
    print(f"n = {args.n:,} float32, k = {k}, forward+backward, median over rounds; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'':36s} {'ms':>9s} {'x sigmoid':>10s} {'saved B/elem':>13s}")
    for name, ms, ratio, saved in rows:
        saved_text = "-" if saved != saved else f"{saved:.0f}"
        print(f"{name:36s} {ms:9.1f} {ratio:10.2f} {saved_text:>13s}")
    textbook = statistics.median(results["textbook window, radius 5"])
    ours = statistics.median(results["smoothround window"])
    print(f"smoothround window vs textbook: {textbook / ours:.2f}x faster")


if __name__ == "__main__":
    main()
