"""Figures of the sharpness/error/gradient trade-off (matplotlib, imported only when a plot is made).

Every function draws one figure with matplotlib's object API (``matplotlib.figure.Figure``, rendered by the
Agg
canvas; pyplot and its global state are never touched), writes it as a PNG to ``path`` and returns the path.

* :func:`plot_round` -- the paper's figure: each method against ``round`` at several ``k``;
* :func:`plot_error_vs_k` -- L1, RMS and band error against ``k`` on log-log axes, three methods;
* :func:`plot_derivatives` -- ``r'`` over a period at several ``k`` (min at the integers, max at
  half-integers);
* :func:`plot_terms` -- direct-sum pairs against Fourier harmonics needed, against ``k``;
* :func:`plot_toolbox` -- a gallery of the smoothing toolbox against the functions it replaces.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smoothround import analysis

__all__ = [
    "FIGURES",
    "plot_derivatives",
    "plot_error_vs_k",
    "plot_round",
    "plot_terms",
    "plot_toolbox",
]

_COLORS = {"window": "#1f77b4", "density": "#d62728", "tanh": "#2ca02c"}
_LABELS = {"window": "window (method 1)", "density": "density (method 2)", "tanh": "tanh (soft_round)"}


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas (no pyplot, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def _shades(n: int) -> list[float]:
    return [1.0] if n == 1 else list(np.linspace(0.35, 1.0, n))


def plot_round(
    path: str | os.PathLike[str],
    *,
    ks: Sequence[float] = (1, 2, 5, 10, 50),
    methods: Sequence[str] = analysis.METHODS,
) -> Path:
    """The paper's figure: each method's ``r_k(x)`` against ``round(x)`` on ``[-2, 2]`` at several ``k``.

    >>> import tempfile, os
    >>> p = plot_round(os.path.join(tempfile.mkdtemp(), "round.png"), ks=(2, 10))
    >>> p.stat().st_size > 10_000
    True
    """
    import smoothround

    x = np.linspace(-2.0, 2.0, 1601)
    fig = _figure(4.2 * len(methods), 4.0)
    axes = fig.subplots(1, len(methods), sharey=True, squeeze=False)[0]
    for ax, method in zip(axes, methods, strict=True):
        ax.plot(x, np.round(x), color="black", lw=1.2, ls="--", label="round(x)")
        ax.plot(x, x, color="0.6", lw=0.8, ls=":", label="x")
        for k, alpha in zip(ks, _shades(len(ks)), strict=True):
            y = np.asarray(smoothround.round(x, float(k), method=method))
            ax.plot(x, y, color=_COLORS.get(method, "C0"), alpha=alpha, lw=1.4, label=f"k = {k:g}")
        ax.set_title(_LABELS.get(method, method))
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    axes[0].set_ylabel("smooth round r_k(x)")
    return _save(fig, path)


def plot_error_vs_k(
    path: str | os.PathLike[str],
    *,
    ks: Sequence[float] | None = None,
    methods: Sequence[str] = analysis.METHODS,
    delta: float = 0.1,
) -> Path:
    """Error against ``k`` on log-log axes: L1 and RMS over a period, and the worst error at distance
    >= ``delta`` from the half-integers.

    Shaded: where the window method is the identity to float32 precision (docs/mathematics.md, Table T6).

    >>> import tempfile, os
    >>> plot_error_vs_k(os.path.join(tempfile.mkdtemp(), "e.png"), ks=(1, 10, 100)).suffix
    '.png'
    """
    k_grid = np.geomspace(0.5, 1e4, 61) if ks is None else np.asarray(ks, dtype=np.float64)
    fig = _figure(12.0, 4.4)
    ax1, ax2 = fig.subplots(1, 2)
    for method in methods:
        color = _COLORS.get(method, "C0")
        l1 = [analysis.l1_error(method, k) for k in k_grid]
        rms = [analysis.rms_error(method, k) for k in k_grid]
        band = [analysis.band_error(method, k, delta) for k in k_grid]
        ax1.loglog(k_grid, l1, color=color, lw=1.6, label=f"{method}: L1")
        ax1.loglog(k_grid, rms, color=color, lw=1.2, ls="--", label=f"{method}: RMS")
        ax2.loglog(k_grid, np.maximum(band, 1e-300), color=color, lw=1.6, label=method)
    ax1.loglog(k_grid, 2 * math.log(2) / k_grid, color="0.4", lw=0.8, ls=":", label="2 ln2 / k, ln2 / k")
    ax1.loglog(k_grid, math.log(2) / k_grid, color="0.4", lw=0.8, ls=":")
    k_id = analysis.identity_threshold("window", analysis.FLOAT32_EPS)
    for ax in (ax1, ax2):
        ax.axvspan(k_grid[0], k_id, color="0.85", zorder=0, label=f"window = identity (f32), k <= {k_id:.3g}")
        ax.set_xlabel("sharpness k")
        ax.grid(alpha=0.3, which="both")
    ax1.set_ylabel("error over a period")
    ax1.set_title("L1 (solid) and RMS (dashed) error against round")
    ax1.legend(fontsize=7)
    ax2.set_ylim(1e-30, 1.0)
    ax2.set_ylabel(f"worst |r - round| at distance >= {delta:g} from x.5")
    ax2.set_title(f"error away from the half-integers (delta = {delta:g})")
    ax2.legend(fontsize=8)
    return _save(fig, path)


def plot_derivatives(
    path: str | os.PathLike[str],
    *,
    ks: Sequence[float] = (2, 5, 10, 20),
    methods: Sequence[str] = analysis.METHODS,
) -> Path:
    """Derivative profiles ``r_k'(x)`` over one period (log scale): minimum at the integers, maximum at x.5.

    >>> import tempfile, os
    >>> plot_derivatives(os.path.join(tempfile.mkdtemp(), "d.png"), ks=(5,)).exists()
    True
    """
    import smoothround

    x = np.linspace(-1.0, 1.0, 1201)
    fig = _figure(4.2 * len(methods), 4.0)
    axes = fig.subplots(1, len(methods), sharey=True, squeeze=False)[0]
    top = 1.0
    for ax, method in zip(axes, methods, strict=True):
        for k, alpha in zip(ks, _shades(len(ks)), strict=True):
            d = np.asarray(smoothround.derivative(smoothround.round, x, float(k), method=method, wrt="x"))
            top = max(top, float(np.max(d)))
            ax.semilogy(
                x,
                np.maximum(d, 1e-12),
                color=_COLORS.get(method, "C0"),
                alpha=alpha,
                lw=1.4,
                label=f"k = {k:g}",
            )
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_title(_LABELS.get(method, method))
        ax.set_xlabel("x")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylim(1e-8, 2.0 * top)
    axes[0].set_ylabel("dr/dx")
    return _save(fig, path)


def plot_terms(
    path: str | os.PathLike[str], *, ks: Sequence[float] | None = None, tols: Sequence[float] = (1e-7, 1e-16)
) -> Path:
    """Terms needed against ``k``: direct-sum pairs against Fourier harmonics (docs/mathematics.md §3-5, Table T2b).

    >>> import tempfile, os
    >>> plot_terms(os.path.join(tempfile.mkdtemp(), "t.png"), ks=(1, 5, 20)).exists()
    True
    """
    from smoothround import _rounding_math

    k_grid = np.geomspace(0.5, 50.0, 60) if ks is None else np.asarray(ks, dtype=np.float64)
    fig = _figure(12.0, 4.4)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, method in zip(axes, ("window", "density"), strict=True):
        for tol, ls in zip(tols, ("-", "--"), strict=False):
            counts = [analysis.terms_needed(method, float(k), tol) for k in k_grid]
            ax.loglog(
                k_grid,
                [max(c.direct or 0, 0.5) for c in counts],
                color="#1f77b4",
                ls=ls,
                label=f"direct, tol {tol:g}",
            )
            ax.loglog(
                k_grid,
                [max(c.fourier or 0, 0.5) for c in counts],
                color="#ff7f0e",
                ls=ls,
                label=f"Fourier, tol {tol:g}",
            )
        switch = getattr(_rounding_math, "K_SWITCH", 4.5)
        ax.axvline(switch, color="0.3", lw=0.8, ls=":", label=f"core switches at k = {switch:g}")
        ax.set_title(f"{_LABELS[method]}: terms needed (0 drawn at 0.5)")
        ax.set_xlabel("sharpness k")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("pairs (direct) / harmonics (Fourier)")
    return _save(fig, path)


def plot_toolbox(path: str | os.PathLike[str]) -> Path:
    """Gallery of the smoothing toolbox: each surrogate against the function it replaces.

    >>> import tempfile, os
    >>> plot_toolbox(os.path.join(tempfile.mkdtemp(), "g.png")).exists()
    True
    """
    import smoothround as sr

    x = np.linspace(-3.0, 3.0, 601)
    hard = {"color": "black", "lw": 1.0, "ls": "--"}
    fig = _figure(14.4, 6.4)
    axes = fig.subplots(2, 4).ravel()

    def panel(ax: Any, title: str, exact: np.ndarray, curves: list[tuple[str, Any]]) -> None:
        ax.plot(x, exact, label="exact", **hard)
        for (label, y), alpha in zip(curves, _shades(len(curves)), strict=True):
            ax.plot(x, np.asarray(y), color="#9467bd", alpha=alpha, lw=1.4, label=label)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)

    panel(axes[0], "smooth_abs, k = 3", np.abs(x),
          [(m, sr.smooth_abs(x, 3.0, method=m)) for m in ("erf", "logcosh", "sqrt")])
    panel(axes[1], "smooth_relu (softplus)", np.maximum(x, 0), [(f"k = {k}", sr.smooth_relu(x, k)) for k in (1, 3, 10)])
    panel(axes[2], "smooth_clamp to [-1, 1]", np.clip(x, -1, 1),
          [(f"k = {k}", sr.smooth_clamp(x, lo=-1.0, hi=1.0, k=k)) for k in (2, 10)])
    panel(axes[3], "smooth_step, k = 4", (x > 0).astype(float),
          [(m, sr.smooth_step(x, 4.0, method=m)) for m in ("arctan", "erf", "logistic")])
    zero = np.zeros_like(x)
    panel(axes[4], "smooth_maximum(x, 0), k = 3", np.maximum(x, 0),
          [(m, sr.smooth_maximum(x, zero, 3.0, method=m)) for m in ("logsumexp", "boltzmann", "erf", "sqrt")])
    panel(axes[5], "smooth_minimum(x, 0), k = 3", np.minimum(x, 0),
          [(m, sr.smooth_minimum(x, zero, 3.0, method=m)) for m in ("logsumexp", "erf")])
    breakpoints = np.arange(-2.0, 4.0)
    values = np.arange(-3.0, 4.0)
    panel(axes[6], "smooth_steps: floor, logistic kernel", np.floor(x),
          [(f"width = {w}", sr.smooth_steps(x, breakpoints, values, kernel="logistic", width=w)) for w in (0.3, 0.1)])
    ax = axes[7]
    for kernel, alpha in zip(("gaussian", "cauchy", "logistic"), _shades(3), strict=True):
        ax.plot(x, sr.mollifier(x, kernel=kernel, width=0.5), color="#9467bd", alpha=alpha, lw=1.4, label=kernel)
    ax.set_title("mollifiers, width 0.5 (each integrates to 1)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


#: file name -> (title, caption) of every figure the report draws (the toolbox gallery only when it exists).
FIGURES = {
    "round_vs_k.png": (
        "Smooth round against round",
        "The paper's figure: each method against round(x) at k = 1, 2, 5, 10, 50.",
    ),
    "error_vs_k.png": (
        "Error against k",
        "L1 and RMS error over a period, and the worst error at distance >= 0.1 from the "
        "half-integers, on log-log axes; dotted: the rules 2 ln2/k and ln2/k.",
    ),
    "derivatives.png": (
        "Derivative profiles",
        "dr/dx over two periods: smallest at the integers, largest at the half-integers (property P6).",
    ),
    "terms_vs_k.png": (
        "Terms needed against k",
        "Direct-sum pairs against Fourier harmonics for float32-like (1e-7) and float64-like "
        "(1e-16) tolerances; they cross near k = 4.5 (docs/mathematics.md §3.4).",
    ),
    "toolbox_gallery.png": (
        "Smoothing toolbox gallery",
        "Toolbox surrogates (purple, darker = sharper) against the functions they replace (dashed).",
    ),
}
