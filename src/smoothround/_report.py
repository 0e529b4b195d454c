"""Build the ``smoothround report`` folder: figures (PNG), tables (CSV and HTML) and ``index.html``.

The work is a list of named steps so that the command line can show progress; nothing here prints.
"""

from __future__ import annotations

import csv
import html
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smoothround import analysis

ERROR_KS = (1, 2, 5, 10, 20, 50, 100, 1000)
ERROR_COLUMNS = (
    "k",
    "method",
    "L1",
    "k*L1",
    "RMS",
    "err(dist>=0.1)",
    "width(err>0.01)",
    "r'(0) min",
    "r'(1/2) max",
    "note",
)
TERM_KS = (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 50)
CHECK_KS = (0.5, 1, 2, 5, 10, 50, 200)
CHECK_RTOL = 1e-9


@dataclass
class Table:
    name: str
    title: str
    caption: str
    rows: list[dict[str, Any]]
    columns: list[str]


@dataclass
class Report:
    """What a report run produced."""

    out: Path
    figures: dict[str, tuple[str, str]] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    @property
    def files(self) -> list[Path]:
        return (
            [self.out / "index.html"]
            + [self.out / f for f in self.figures]
            + [self.out / f"{t.name}.csv" for t in self.tables]
        )


# ======================================================================= tables


def error_rows(
    ks: tuple[float, ...] = ERROR_KS, methods: tuple[str, ...] = analysis.METHODS
) -> list[dict[str, Any]]:
    return analysis.error_table(ks, methods, delta=0.1, threshold=1e-2)


def k_for_rows() -> list[dict[str, Any]]:
    targets: list[tuple[str, dict[str, float]]] = (
        [(f"L1 = {e:g}", {"l1_error": e}) for e in (0.1, 0.03, 0.01, 1e-3)]
        + [
            (f"err <= {e:g} when dist(x, Z+1/2) >= {d:g}", {"error": e, "delta": d})
            for d in (0.1, 0.01)
            for e in (1e-3, 1e-7)
        ]
        + [(f"r'(integer) >= {g:g}", {"min_derivative": g}) for g in (0.5, 0.1, 1e-3, 1e-6)]
    )
    rows = []
    for label, kw in targets:
        row: dict[str, Any] = {"target": label}
        for method in analysis.METHODS:
            row[f"{method} k"] = analysis.k_for(method, **kw)  # type: ignore[arg-type]
            if "min_derivative" not in kw and method != "tanh":
                row[f"{method} rule"] = analysis.k_rule(method, **kw)
        rows.append(row)
    return rows


K_FOR_COLUMNS = ["target", "window k", "window rule", "density k", "density rule", "tanh k"]


def terms_rows() -> list[dict[str, Any]]:
    from smoothround import _rounding_math

    rows = []
    for tol in (1e-7, 1e-16):
        for k in TERM_KS:
            row: dict[str, Any] = {"k": float(k), "tol": tol}
            for method in ("window", "density"):
                value = analysis.terms_needed(method, float(k), tol)
                every = analysis.terms_needed(method, float(k), tol, partials=True)
                row[f"{method} direct"] = value.direct
                row[f"{method} Fourier"] = value.fourier
                row[f"core {method} direct"] = every.direct
                row[f"core {method} Fourier"] = every.fourier
                row[f"core {method} uses"] = "Fourier" if k < _rounding_math.K_SWITCH else "direct"
            rows.append(row)
    return rows


TERMS_COLUMNS = [
    "k",
    "tol",
    "window direct",
    "window Fourier",
    "density direct",
    "density Fourier",
    "core window direct",
    "core window Fourier",
    "core density direct",
    "core density Fourier",
    "core window uses",
]


def identity_rows() -> list[dict[str, Any]]:
    rows = []
    for method in analysis.METHODS:
        for dtype, tol in (("float32", analysis.FLOAT32_EPS), ("float64", analysis.FLOAT64_EPS)):
            k_id = analysis.identity_threshold(method, tol)
            rows.append(
                {
                    "method": method,
                    "dtype": dtype,
                    "tol": tol,
                    "identity for k <=": k_id,
                    "identity at k = 1": analysis.is_identity(method, 1.0, tol),
                }
            )
    return rows


_CHECKS: dict[str, Callable[[str, float, str], float]] = {
    "L1": lambda m, k, via: analysis.l1_error(m, k, via=via),  # type: ignore[arg-type]
    "RMS": lambda m, k, via: analysis.rms_error(m, k, via=via),  # type: ignore[arg-type]
    "err(dist>=0.1)": lambda m, k, via: analysis.band_error(m, k, 0.1, via=via),  # type: ignore[arg-type]
    "width(err>0.01)": lambda m, k, via: analysis.band_width(m, k, 1e-2, via=via),  # type: ignore[arg-type]
    "r'(0) min": lambda m, k, via: analysis.derivative_min(m, k, via=via),  # type: ignore[arg-type]
    "r'(1/2) max": lambda m, k, via: analysis.derivative_max(m, k, via=via),  # type: ignore[arg-type]
}


def check_rows() -> list[dict[str, Any]]:
    """Closed forms and series (via="closed") against dense evaluation of the core (via="core")."""
    rows = []
    for method in analysis.METHODS:
        for k in CHECK_KS:
            row: dict[str, Any] = {"method": method, "k": float(k)}
            worst = 0.0
            for name, fn in _CHECKS.items():
                a, b = fn(method, float(k), "closed"), fn(method, float(k), "core")
                rel = abs(a - b) / abs(a) if a != 0 else abs(b)
                row[name] = rel
                worst = max(worst, rel)
            row["agree"] = worst <= CHECK_RTOL
            rows.append(row)
    return rows


CHECK_COLUMNS = ["method", "k", *_CHECKS, "agree"]

# ======================================================================= writing


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in rows:
            w.writerow([_cell(row.get(c)) for c in columns])


def _html_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        return f"{value:.4g}"
    return "&ndash;" if value is None else html.escape(str(value))


def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{_html_cell(r.get(c))}</td>" for c in table.columns) + "</tr>"
        for r in table.rows
    )
    return (
        f'<section id="table-{table.name}"><h3>{html.escape(table.title)}</h3>'
        f'<p>{html.escape(table.caption)} CSV: <a href="{table.name}.csv">{table.name}.csv</a></p>\n'
        f'<table class="data" data-table="{table.name}"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
        "</tbody></table></section>"
    )


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1300px;margin:1.5em auto;padding:0 1em;color:#222}
figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
table.data{border-collapse:collapse;font-size:.8em;margin:.5em 0}
table.data td,table.data th{border:1px solid #ccc;padding:2px 6px;text-align:right}
table.data th{background:#f2f2f2}.note{background:#fff7e0;border-left:4px solid #e0a000;padding:.5em 1em}
"""

# Marks the page once every image has decoded, so a headless browser can check that none is broken.
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-total', String(imgs.length));
  document.body.setAttribute('data-images-ok', String(ok));
});
"""


def write_html(report: Report) -> Path:
    figs = "\n".join(
        f'<figure id="figure-{Path(name).stem}"><h3>{html.escape(title)}</h3>'
        f'<img src="{name}" alt="{html.escape(title)}"><figcaption>{html.escape(caption)} '
        f'(<a href="{name}">{name}</a>)</figcaption></figure>'
        for name, (title, caption) in report.figures.items()
    )
    notes = "\n".join(f'<p class="note">{html.escape(n)}</p>' for n in report.notes)
    tables = "\n".join(html_table(t) for t in report.tables)
    index = "".join(
        f'<li><a href="#table-{t.name}">{html.escape(t.title)}</a> ({t.name}.csv)</li>' for t in report.tables
    )
    index += "".join(
        f'<li><a href="#figure-{Path(n).stem}">{html.escape(t)}</a> ({n})</li>'
        for n, (t, _) in report.figures.items()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>smoothround report</title>
<style>{_STYLE}</style><script>{_SCRIPT}</script></head>
<body>
<h1>smoothround: sharpness, error and gradients</h1>
<p>Smooth rounding by Semenov's window (method 1) and density (method 2) methods and the
Agustsson&ndash;Theis soft_round ("tanh"), for sharpness k. The error against round is measured over a period
(its plain sup is 1/2 for every k, at the half-integers), away from the half-integers, and through the slope
at integers and half-integers. Values come from the closed forms and series of docs/mathematics.md; the last table checks them
against dense evaluation of the library itself.</p>
{notes}
<p>How the method and k matter on real tasks (quantization-aware training, integer least squares, metric losses,
learned compression), against STE, Babai and the other simple baselines: <a href="study/index.html">the study</a>
(written into <code>study/</code> beside this page by <code>smoothround study</code>; docs/study.md).</p>
<ul>{index}</ul>
<h2>Figures</h2>
{figs}
<h2>Tables</h2>
{tables}
<p>Generated in {report.seconds:.1f} s.</p>
</body></html>
"""
    path = report.out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def identity_note(rows: list[dict[str, Any]]) -> str:
    k_id = {(r["method"], r["dtype"]): r["identity for k <="] for r in rows}
    return (
        "Practically the identity (docs/mathematics.md, Table T6): the window method is x to within float32 precision for "
        f"k <= {k_id['window', 'float32']:.3f} (float64: k <= {k_id['window', 'float64']:.3f}), "
        "so window k = 1 does nothing in float32; "
        f"the density method for k <= {k_id['density', 'float32']:.3f} "
        f"(float64: {k_id['density', 'float64']:.3f}); soft_round (tanh) only for k <= "
        f"{k_id['tanh', 'float32']:.2g} (float64: {k_id['tanh', 'float64']:.2g}). "
        "Useful rounding starts around k = 5."
    )


def steps(out: Path) -> list[tuple[str, Callable[[Report], None]]]:
    """The named steps of a report run, in order."""
    from smoothround import plots

    def figure(name: str, draw: Callable[[Path], Any]) -> Callable[[Report], None]:
        def run(report: Report) -> None:
            draw(out / name)
            report.figures[name] = plots.FIGURES[name]

        return run

    def table(
        name: str, title: str, caption: str, make: Callable[[], list[dict[str, Any]]], columns: list[str]
    ) -> Callable[[Report], None]:
        def run(report: Report) -> None:
            rows = make()
            t = Table(name, title, caption, rows, columns)
            write_csv(out / f"{name}.csv", rows, columns)
            report.tables.append(t)
            if name == "identity":
                report.notes.insert(0, identity_note(rows))

        return run

    def gallery(report: Report) -> None:
        plots.plot_toolbox(out / "toolbox_gallery.png")
        report.figures["toolbox_gallery.png"] = plots.FIGURES["toolbox_gallery.png"]

    return [
        (
            "error-vs-k table",
            table(
                "error_vs_k",
                "Error and gradients against k (Table T4a)",
                "Per method and k: L1 and RMS error over a period, worst error at distance >= 0.1 "
                "from the half-integers, width of the band where the error exceeds 0.01, and "
                "the slope's minimum (integers) and maximum (half-integers).",
                error_rows,
                list(ERROR_COLUMNS),
            ),
        ),
        (
            "identity thresholds",
            table(
                "identity",
                "Where a method is practically the identity (docs/mathematics.md, Table T6)",
                "Largest k with sup|r_k(x) - x| <= unit roundoff.",
                identity_rows,
                ["method", "dtype", "tol", "identity for k <=", "identity at k = 1"],
            ),
        ),
        (
            "k for a target",
            table(
                "k_for",
                "Which k do I need? (Table T4b)",
                "Exact k from k_for (bisection on the closed forms) and the rules of thumb; for "
                "a gradient floor, the sharpest k whose slope at the integers stays above it.",
                k_for_rows,
                K_FOR_COLUMNS,
            ),
        ),
        (
            "terms table",
            table(
                "terms",
                "Terms needed for a tolerance",
                "Direct-sum pairs (window) or half-width M (density) against Fourier harmonics, from the "
                "guaranteed truncation bounds of the value; the 'core' columns ask the slope and k times "
                "the k-slope to be within tol as well, which is what the library evaluates with.",
                terms_rows,
                TERMS_COLUMNS,
            ),
        ),
        (
            "closed forms vs core",
            table(
                "checks",
                "Closed forms against the library (relative differences)",
                f"Each quantity from the closed forms and series against dense numerical "
                f"evaluation of smoothround.round / derivative; agree = all <= "
                f"{CHECK_RTOL:g}.",
                check_rows,
                CHECK_COLUMNS,
            ),
        ),
        ("figure: round vs k", figure("round_vs_k.png", plots.plot_round)),
        ("figure: error vs k", figure("error_vs_k.png", plots.plot_error_vs_k)),
        ("figure: derivatives", figure("derivatives.png", plots.plot_derivatives)),
        ("figure: terms vs k", figure("terms_vs_k.png", plots.plot_terms)),
        ("figure: toolbox gallery", gallery),
    ]


def build(
    out: Path,
    *,
    on_step: Callable[[str], None] | None = None,
    plan: list[tuple[str, Callable[[Report], None]]] | None = None,
) -> Report:
    """Write the whole report into ``out`` (created if needed) and return what was written."""
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out)
    for name, run in plan if plan is not None else steps(out):
        if on_step is not None:
            on_step(name)
        run(report)
    report.seconds = time.perf_counter() - start
    write_html(report)
    return report
