"""Benchmarks of smoothround against the native operation of each backend, all measured in this one process.

Every row is a ratio to a baseline timed in the same run, interleaved with it round by round, so that the
noise of a shared machine hits both alike. Each time is the median over rounds; the spread column is the
ratio's range over rounds (min-max). Sections:

* torch eager, forward+backward on n float32 elements: window / tanh / density (k = 10) and the Fourier regime
  (k = 2) against ``torch.sigmoid``; bytes autograd saves per element;
* torch per-call cost, forward+backward on 1000 and 8 elements, against ``torch.sigmoid``;
* torch.compile(fullgraph=True), forward+backward, against compiled ``torch.sigmoid``;
* JAX ``jit(grad(sum f))`` against ``jax.nn.sigmoid``: window k = 10 and k = 2, density, tanh;
* NumPy forward (float64 and float32) against ``scipy.special.expit``;
* the toolbox against torch's own ops (softmax, logsumexp, softplus, abs), with saved bytes;
* peak memory growth of one forward+backward against sigmoid's.

Run: ``python benchmarks/bench.py [--n 4000000] [--rounds 5] [--device cpu] [--only torch,jax] [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import smoothround as sr

SECTIONS = ("eager", "per-call", "compile", "jax", "numpy", "toolbox", "memory")


@dataclass
class Row:
    section: str
    name: str
    baseline: str
    ratios: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # seconds, per round
    target: float | None = None
    saved: float | None = None  # bytes per element kept for backward

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def spread(self) -> str:
        return f"{min(self.ratios):.2f}-{max(self.ratios):.2f}"


def _median_time(fn: Callable[[], object], repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls (seconds), after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(
    section: str,
    baseline_name: str,
    baseline: Callable[[], object],
    candidates: dict[str, tuple[Callable[[], object], float | None]],
    *,
    rounds: int,
    repeats: int,
    sync: Callable[[], None] = lambda: None,
) -> list[Row]:
    """Interleave the baseline and each candidate over ``rounds``; one Row per candidate (and the baseline's)."""
    rows = {name: Row(section, name, baseline_name, target=target) for name, (_, target) in candidates.items()}
    base_row = Row(section, f"{baseline_name} (baseline)", baseline_name)
    for _ in range(rounds):
        base = _median_time(baseline, repeats, sync)
        base_row.times.append(base)
        base_row.ratios.append(1.0)
        for name, (fn, _) in candidates.items():
            t = _median_time(fn, repeats, sync)
            rows[name].times.append(t)
            rows[name].ratios.append(t / base)
        gc.collect()
    return [base_row, *rows.values()]


def _saved_bytes(make: Callable[[], object], numel: int) -> float:
    """Bytes of every tensor autograd keeps for backward, per element (saved-tensor hooks)."""
    import torch

    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[id(t)] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = make()
    del out
    return sum(seen.values()) / numel


# ---------------------------------------------------------------------------------------------- torch


def _forward_backward(f: Callable[[Any], Any], leaf: Any) -> Callable[[], None]:
    """One timed step: ``f(leaf).sum().backward()``, with the leaf's gradient reset first."""

    def run() -> None:
        leaf.grad = None
        f(leaf).sum().backward()

    return run


def textbook_round(x: object, k: float, radius: int = 5) -> object:
    """The paper's window formula, literally: sum over the 2*radius+1 integers around floor(x), autograd."""
    import torch

    assert isinstance(x, torch.Tensor)
    centre = torch.floor(x).detach()
    total = torch.zeros_like(x)
    for j in range(-radius, radius + 1):
        n = centre + j
        total = total + n * (torch.sigmoid(k * (x - n + 0.5)) - torch.sigmoid(k * (x - n - 0.5)))
    return total


def torch_eager(n: int, device: str, rounds: int, repeats: int) -> list[Row]:
    import torch

    x = (torch.randn(n, device=device) * 10).requires_grad_()
    sync = (lambda: torch.cuda.synchronize()) if device.startswith("cuda") else (lambda: None)

    def fwd_bwd(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        return _forward_backward(f, x)

    candidates = {
        "window, k=10": (fwd_bwd(lambda v: sr.round(v, 10.0)), 2.5),
        "tanh, k=10": (fwd_bwd(lambda v: sr.round(v, 10.0, method="tanh")), 2.5),
        "density, k=10": (fwd_bwd(lambda v: sr.round(v, 10.0, method="density")), 4.0),
        "window, k=2 (Fourier)": (fwd_bwd(lambda v: sr.round(v, 2.0)), 2.5),
        "density, k=2 (Fourier)": (fwd_bwd(lambda v: sr.round(v, 2.0, method="density")), 2.5),
        "window, k=10, annealed k": (fwd_bwd(_annealed(lambda v, k: sr.round(v, k), 10.0)), 2.5),
    }
    # the first calls of each configuration: eager, then the call that compiles its fused kernel (n >= 2^18)
    for name, (run, _) in candidates.items():
        run()
        start = time.perf_counter()
        run()
        if name != "window, k=10, annealed k":
            COMPILE_LATENCY[name] = time.perf_counter() - start
        for _ in range(3):
            run()
    candidates |= {
        "window, k=10, eager path": (_eager_path(fwd_bwd(lambda v: sr.round(v, 10.0))), None),
        "density, k=10, eager path": (_eager_path(fwd_bwd(lambda v: sr.round(v, 10.0, method="density"))), None),
        "textbook window, radius 5": (fwd_bwd(lambda v: textbook_round(v, 10.0)), None),
    }
    rows = compare("torch eager", "torch.sigmoid", fwd_bwd(torch.sigmoid), candidates,
                   rounds=rounds, repeats=repeats, sync=sync)
    makers = {"window, k=10": lambda: sr.round(x, 10.0), "tanh, k=10": lambda: sr.round(x, 10.0, method="tanh"),
              "density, k=10": lambda: sr.round(x, 10.0, method="density"),
              "textbook window, radius 5": lambda: textbook_round(x, 10.0)}
    for row in rows:
        if row.name in makers:
            row.saved = _saved_bytes(makers[row.name], n)
        if row.name.startswith("torch.sigmoid"):
            row.saved = _saved_bytes(lambda: torch.sigmoid(x), n)
    # the clamped quantizer against the unclamped round it is built on (LSQ's 4-bit grid, step 0.5), and the
    # staircase saturation and a hard fake-quant with identity gradient (torch's own STE) for scale
    quantizers = {
        'quantize, saturation="clamp"': (fwd_bwd(lambda v: sr.quantize(v, 10.0, step=0.5, qmin=-8, qmax=7)), 1.5),
        'quantize, saturation="smooth"': (
            fwd_bwd(lambda v: sr.quantize(v, 10.0, step=0.5, qmin=-8, qmax=7, saturation="smooth")), None),
        "torch.fake_quantize_per_tensor_affine (STE)": (
            fwd_bwd(lambda v: torch.fake_quantize_per_tensor_affine(v, 0.5, 0, -8, 7)), None),
    }
    rows += compare("torch quantize", "round, k=10", fwd_bwd(lambda v: sr.round(v, 10.0)), quantizers,
                    rounds=rounds, repeats=repeats, sync=sync)
    return rows


#: seconds of the call that compiled each configuration's fused kernels (printed under the table)
COMPILE_LATENCY: dict[str, float] = {}


def _annealed(f: Callable[[Any, float], Any], k0: float) -> Callable[[Any], Any]:
    """``f`` with a k that grows by 0.001 every call, as an annealing schedule does (one evaluation plan)."""
    state = {"k": k0}

    def run(v: Any) -> Any:
        state["k"] += 0.001
        return f(v, state["k"])

    return run


def _eager_path(run: Callable[[], None]) -> Callable[[], None]:
    """``run`` with the fused kernels switched off: what every call cost before them."""

    def eager() -> None:
        previous = sr.set_fused_kernels(False)
        try:
            run()
        finally:
            sr.set_fused_kernels(previous)

    return eager


def torch_per_call(device: str, rounds: int, repeats: int) -> list[Row]:
    import torch

    rows = []
    for n in (1000, 8):
        x = torch.randn(n, device=device, requires_grad=True)

        def many(f: Callable[[], None], times: int = 20) -> Callable[[], None]:
            def run() -> None:
                for _ in range(times):
                    f()

            return run

        rows += compare(
            f"torch per call, n={n}", "torch.sigmoid", many(_forward_backward(torch.sigmoid, x)),
            {f"window, k=10, n={n}": (many(_forward_backward(lambda v: sr.round(v, 10.0), x)), 3.0)},
            rounds=rounds, repeats=repeats,
        )
    return rows


def torch_compiled(n: int, device: str, rounds: int, repeats: int) -> list[Row]:
    import torch

    x = (torch.randn(n, device=device) * 10).requires_grad_()

    def fwd_bwd(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        return _forward_backward(torch.compile(f, fullgraph=True), x)

    candidates = {
        "compiled window, k=10": (fwd_bwd(lambda v: sr.round(v, 10.0)), 1.0),
        "compiled density, k=10": (fwd_bwd(lambda v: sr.round(v, 10.0, method="density")), 1.0),
        "compiled tanh, k=10": (fwd_bwd(lambda v: sr.round(v, 10.0, method="tanh")), 1.0),
    }
    return compare("torch.compile", "compiled torch.sigmoid", fwd_bwd(torch.sigmoid), candidates,
                   rounds=rounds, repeats=repeats)


# ---------------------------------------------------------------------------------------------- JAX


def jax_jit(n: int, rounds: int, repeats: int) -> list[Row]:
    import jax
    import jax.numpy as jnp

    x = jnp.asarray(np.random.default_rng(0).normal(size=n).astype(np.float32) * 10)

    def grad_of(f: Callable) -> Callable[[], None]:
        g = jax.jit(jax.grad(lambda v: f(v).sum()))

        def run() -> None:
            g(x).block_until_ready()

        return run

    candidates = {
        "jax window, k=10": (grad_of(lambda v: sr.round(v, 10.0)), 1.5),
        "jax window, k=2 (Fourier)": (grad_of(lambda v: sr.round(v, 2.0)), 1.5),
        "jax density, k=10": (grad_of(lambda v: sr.round(v, 10.0, method="density")), 1.5),
        "jax tanh, k=10": (grad_of(lambda v: sr.round(v, 10.0, method="tanh")), 1.5),
    }
    return compare("JAX jit(grad)", "jax.nn.sigmoid", grad_of(jax.nn.sigmoid), candidates,
                   rounds=rounds, repeats=repeats)


# ---------------------------------------------------------------------------------------------- NumPy


def numpy_forward(n: int, rounds: int, repeats: int) -> list[Row]:
    from scipy.special import expit

    rows = []
    for dtype in (np.float64, np.float32):
        x = (np.random.default_rng(0).normal(size=n) * 10).astype(dtype)
        name = np.dtype(dtype).name
        candidates = {
            f"numpy window, k=10, {name}": (lambda v=x: sr.round(v, 10.0), 3.0),
            f"numpy density, k=10, {name}": (lambda v=x: sr.round(v, 10.0, method="density"), 3.0),
            f"numpy tanh, k=10, {name}": (lambda v=x: sr.round(v, 10.0, method="tanh"), 3.0),
        }
        rows += compare(f"NumPy {name}", f"scipy expit {name}", lambda v=x: expit(v), candidates,
                        rounds=rounds, repeats=repeats)
    return rows


# ---------------------------------------------------------------------------------------------- toolbox


def toolbox(n: int, device: str, rounds: int, repeats: int) -> list[Row]:
    import torch

    rows = []
    width = 1000
    m = torch.randn(max(n // width, 1), width, device=device).requires_grad_()
    v = torch.randn(n, device=device).requires_grad_()

    pairs = [
        ("softmax", m, lambda a: sr.softmax(a, 5.0), lambda a: torch.softmax(5.0 * a, dim=-1)),
        ("smooth_max logsumexp", m, lambda a: sr.smooth_max(a, 5.0),
         lambda a: torch.logsumexp(5.0 * a, dim=-1) / 5.0),
        ("smooth_max boltzmann", m, lambda a: sr.smooth_max(a, 5.0, method="boltzmann"),
         lambda a: (torch.softmax(5.0 * a, dim=-1) * a).sum(-1)),
        ("smooth_relu", v, lambda a: sr.smooth_relu(a, 5.0), lambda a: torch.nn.functional.softplus(a, beta=5.0)),
        ("smooth_abs", v, lambda a: sr.smooth_abs(a, 5.0), lambda a: torch.abs(a)),
    ]
    for name, leaf, ours, native in pairs:
        got = compare("toolbox", f"native {name}", _forward_backward(native, leaf),
                      {f"{name}": (_forward_backward(ours, leaf), 1.5)}, rounds=rounds, repeats=repeats)
        got[0].saved = _saved_bytes(lambda f=native, a=leaf: f(a), leaf.numel())
        got[1].saved = _saved_bytes(lambda f=ours, a=leaf: f(a), leaf.numel())
        rows += got
    return rows


# ---------------------------------------------------------------------------------------------- memory


_MEMORY_PROBE = """
import gc, sys, torch, smoothround as sr
from pathlib import Path
torch.set_num_threads(1)
n, name = int(sys.argv[1]), sys.argv[2]
fns = {"sigmoid": torch.sigmoid, "window": lambda v: sr.round(v, 10.0),
       "density": lambda v: sr.round(v, 10.0, method="density")}
f = fns[name]
f(torch.randn(1000, requires_grad=True)).sum().backward()  # load every kernel first
x = (torch.randn(n) * 10).requires_grad_()
gc.collect()
status, clear = Path("/proc/self/status"), Path("/proc/self/clear_refs")
read = lambda field: next(int(l.split()[1]) for l in status.read_text().splitlines() if l.startswith(field))
clear.write_text("5")  # reset the high-water mark to the current resident size
base = read("VmRSS:")
f(x).sum().backward()
print((read("VmHWM:") - base) * 1024)
"""


def _peak_growth(name: str, n: int) -> float:
    """Peak resident memory growth (bytes) of one forward+backward on ``n`` float32 elements, in a fresh
    process: there the allocator has no freed memory to reuse, so the growth is the memory the call touches
    (``x`` and its gradient's buffer included for every candidate alike). NaN where /proc is not available."""
    import subprocess

    if not Path("/proc/self/clear_refs").exists():
        return float("nan")
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(n), name], capture_output=True, text=True,
                         check=True, timeout=600)
    return float(out.stdout.split()[-1])


def memory(n: int, rounds: int) -> list[Row]:
    base_row = Row("peak memory", "torch.sigmoid (baseline)", "torch.sigmoid")
    rows = {name: Row("peak memory", f"{name}, k=10", "torch.sigmoid", target=1.3) for name in ("window", "density")}
    for _ in range(min(rounds, 3)):
        base = _peak_growth("sigmoid", n)
        base_row.times.append(base)
        base_row.ratios.append(1.0)
        for name, row in rows.items():
            grown = _peak_growth(name, n)
            row.times.append(grown)
            row.ratios.append(grown / base if base > 0 else float("nan"))
    return [base_row, *rows.values()]


# ---------------------------------------------------------------------------------------------- output


def render(rows: list[Row]) -> str:
    lines = [f"{'section':26s} {'candidate':34s} {'median':>10s} {'x base':>8s} {'spread':>11s} "
             f"{'target':>7s} {'met':>4s} {'saved B/el':>10s}"]
    for row in rows:
        median = statistics.median(row.times) if row.times else float("nan")
        unit = f"{median / 2**20:7.1f} MiB" if row.section == "peak memory" else f"{median * 1e3:8.3f}ms"
        target = "" if row.target is None else f"{row.target:.1f}"
        met = "" if row.target is None else ("yes" if row.ratio <= row.target else "no")
        saved = "" if row.saved is None else f"{row.saved:.0f}"
        lines.append(f"{row.section:26s} {row.name:34s} {unit:>10s} {row.ratio:8.2f} {row.spread:>11s} "
                     f"{target:>7s} {met:>4s} {saved:>10s}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4_000_000, help="elements for the throughput rows")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (the median is reported)")
    parser.add_argument("--repeats", type=int, default=5, help="calls per round (their median is one round)")
    parser.add_argument("--device", default="cpu", help="torch device for the torch rows (cpu, cuda, ...)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one round: checks that it runs")
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    n, rounds, repeats = (20_000, 1, 2) if args.quick else (args.n, args.rounds, args.repeats)
    import torch

    print(f"n = {n:,}, {rounds} rounds x {repeats} calls; torch {torch.__version__} on {args.device}, "
          f"{torch.get_num_threads()} threads; numpy {np.__version__}; python {sys.version.split()[0]}", flush=True)
    rows: list[Row] = []
    steps = {
        "eager": lambda: torch_eager(n, args.device, rounds, repeats),
        "per-call": lambda: torch_per_call(args.device, rounds, repeats * (1 if args.quick else 10)),
        "compile": lambda: torch_compiled(n, args.device, rounds, repeats),
        "jax": lambda: jax_jit(n, rounds, repeats),
        "numpy": lambda: numpy_forward(n, rounds, repeats),
        "toolbox": lambda: toolbox(n, args.device, rounds, repeats),
        # below a few MB the allocator serves a call from memory it already holds and the growth reads 0:
        # the memory rows are measured on at least 2^22 elements, also in --quick mode
        "memory": lambda: memory(max(n, 1 << 22), rounds),
    }
    for name in SECTIONS:
        if name in only:
            rows += steps[name]()
    print(render(rows))
    if COMPILE_LATENCY:
        print("fused kernels, the call that compiles (forward and backward; the first one of the process also "
              "loads the compiler): " + ", ".join(f"{name} {t:.1f} s" for name, t in COMPILE_LATENCY.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
