"""The ``smoothround`` command: ``report`` (the main job), ``plot``, ``table``, ``k-for`` and ``study``.

``smoothround report`` writes ``report/index.html`` with every figure (PNG) and table (CSV and HTML),
shows a progress bar on stderr and prints the error-versus-k table to stdout. Bad arguments give a
one-line error and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from smoothround import analysis

PROG = "smoothround"
TABLES = ("error", "k-for", "terms", "identity", "checks")
PLOTS = {
    "round": "round_vs_k.png",
    "error": "error_vs_k.png",
    "derivatives": "derivatives.png",
    "terms": "terms_vs_k.png",
    "toolbox": "toolbox_gallery.png",
}


class UsageError(Exception):
    """A bad command line; reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (no usage dump) by raising UsageError."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f"expected a positive number, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not (value > 0.0 and math.isfinite(value)):
        msg = f"expected a positive finite number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _sharpness(text: str) -> float:
    value = _positive(text)
    if not analysis._K_MIN <= value <= analysis._K_MAX:
        msg = f"expected k in [{analysis._K_MIN:g}, {analysis._K_MAX:g}], got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _folder(option: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not text.strip():
            msg = f"expected a folder name, got {text!r} (use {option} . for the current folder)"
            raise argparse.ArgumentTypeError(msg)
        return text

    return check


#: analysis' argument names as the k-for command spells them
_K_FOR_OPTIONS = {
    "`l1_error`": "--l1-error",
    "`error`": "--error",
    "`delta`": "--delta",
    "`min_derivative`": "--min-derivative",
}


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Smooth differentiable rounding: see how sharpness k trades error against gradients.",
        epilog="Start with `smoothround report` and open report/index.html.",
    )
    from smoothround import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    rep = sub.add_parser(
        "report",
        help="write DIR/index.html with every figure and table (the main job)",
        description="Compute every table, draw every figure and write DIR/index.html; print "
        "the error-versus-k table.",
    )
    rep.add_argument(
        "--out",
        default="report",
        type=_folder("--out"),
        metavar="DIR",
        help="output folder (default: report)",
    )
    rep.add_argument("--no-progress", action="store_true", help="do not show the progress bar")

    plot = sub.add_parser(
        "plot", help="draw figures as PNG files", description="Draw some or all of the report's figures."
    )
    plot.add_argument(
        "names",
        nargs="*",
        choices=[*PLOTS, "all"],
        default="all",
        metavar="NAME",
        help=f"which figures: {', '.join(PLOTS)} or all (default: all)",
    )
    plot.add_argument(
        "--out",
        default="figures",
        type=_folder("--out"),
        metavar="DIR",
        help="output folder (default: figures)",
    )

    table = sub.add_parser(
        "table",
        help="print a table (error vs k, k for a target, terms, identity, checks)",
        description="Print one of the report's tables.",
    )
    table.add_argument(
        "name",
        nargs="?",
        default="error",
        choices=TABLES,
        metavar="NAME",
        help=f"one of {', '.join(TABLES)} (default: error)",
    )
    table.add_argument(
        "--format", default="text", choices=("text", "csv", "markdown"), help="output format (default: text)"
    )
    table.add_argument(
        "--k",
        nargs="+",
        type=_sharpness,
        metavar="K",
        help="sharpness values for the error table, each in [1e-300, 1e300] (default: 1 2 5 10 20 50 100 1000)",
    )
    table.add_argument(
        "--method",
        nargs="+",
        choices=analysis.METHODS,
        metavar="METHOD",
        help=f"methods for the error table: {', '.join(analysis.METHODS)} (default: all)",
    )

    kfor = sub.add_parser(
        "k-for",
        help="which k meets an error target or a gradient floor",
        description="The k that meets one target (smallest k for an error target, largest k "
        "for a gradient floor at the integers).",
    )
    kfor.add_argument(
        "method", choices=analysis.METHODS, metavar="METHOD", help=f"one of {', '.join(analysis.METHODS)}"
    )
    target = kfor.add_mutually_exclusive_group(required=True)
    target.add_argument("--l1-error", type=_positive, metavar="E", help="L1 error over a period (< 0.25)")
    target.add_argument(
        "--error",
        type=_positive,
        metavar="E",
        help="worst error at distance >= --delta from the half-integers",
    )
    target.add_argument(
        "--min-derivative", type=_positive, metavar="G", help="slope floor at the integers (< 1)"
    )
    kfor.add_argument(
        "--delta", type=_positive, metavar="D", help="distance from the half-integers (with --error)"
    )
    study = sub.add_parser(
        "study",
        help="measure how the method and k matter on real tasks (QAT, integer least squares, ...)",
        description="Run the study of docs/study.md (quantization-aware training, integer least squares, "
        "metric losses, learned compression) and write its tables, figures and DIR/index.html. The full "
        "study takes about 10-15 minutes on 2 cores; --quick about a minute (not evidence: for testing).",
    )
    study.add_argument(
        "--out",
        default="report/study",
        type=_folder("--out"),
        metavar="DIR",
        help="output folder (default: report/study, linked from the report's index.html)",
    )
    study.add_argument("--quick", action="store_true", help="a few seeds and cells, about a minute")
    study.add_argument(
        "--workers", type=int, default=2, metavar="N", help="worker processes, one thread each (default: 2)"
    )
    study.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    return parser


# ======================================================================= commands


def _cmd_study(args: argparse.Namespace) -> int:
    from smoothround import study

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        msg = f"--out {out} exists and is not a folder"
        raise UsageError(msg)
    if args.workers < 1:
        msg = f"--workers must be at least 1, got {args.workers}"
        raise UsageError(msg)
    if args.no_progress:
        result = study.run(out, quick=args.quick, workers=args.workers)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("[bold]smoothround study[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
        ) as progress:
            task = progress.add_task("starting", total=None)

            def on_cell(done: int, total: int, description: str) -> None:
                progress.update(task, completed=done, total=total, description=description)

            result = study.run(out, quick=args.quick, workers=args.workers, progress=on_cell)
    for finding in result.findings:
        print(f"- {finding}")
    print(
        f"\nStudy: {out / 'index.html'} ({len(result.figures)} figures, {len(result.tables)} tables, "
        f"{result.seconds:.0f} s)"
    )
    return 0


def _render(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> str:
    if fmt == "text":
        return analysis.format_table(rows, columns)
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows([["" if r.get(c) is None else r.get(c) for c in columns] for r in rows])
        return buf.getvalue().rstrip("\n")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(analysis._fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _cmd_report(args: argparse.Namespace) -> int:
    from smoothround import _report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        msg = f"--out {out} exists and is not a folder"
        raise UsageError(msg)
    plan = _report.steps(out)
    if args.no_progress:
        report = _report.build(out, plan=plan)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("[bold]smoothround report[/]"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        ) as progress:
            task = progress.add_task("starting", total=len(plan))
            first = True

            def on_step(name: str) -> None:
                nonlocal first
                if not first:
                    progress.advance(task)
                first = False
                progress.update(task, description=name)

            report = _report.build(out, on_step=on_step, plan=plan)
            progress.update(task, completed=len(plan), description="done")
    table = report.table("error_vs_k")
    print("Error and gradients against k (L1, RMS over a period; worst error at distance >= 0.1 from x.5):")
    print(analysis.format_table(table.rows, table.columns))
    for note in report.notes:
        print(f"\n{note}")
    print(
        f"\nReport: {out / 'index.html'} ({len(report.figures)} figures, {len(report.tables)} tables, "
        f"{report.seconds:.1f} s)"
    )
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from smoothround import plots

    names = list(PLOTS) if args.names in ("all", ["all"], []) or "all" in args.names else list(args.names)
    out = Path(args.out)
    draw: dict[str, Callable[[Path], Path]] = {
        "round": plots.plot_round,
        "error": plots.plot_error_vs_k,
        "derivatives": plots.plot_derivatives,
        "terms": plots.plot_terms,
        "toolbox": plots.plot_toolbox,
    }
    for name in names:
        print(draw[name](out / PLOTS[name]))
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from smoothround import _report

    if args.name != "error" and (args.k or args.method):
        msg = "--k and --method apply to the error table only"
        raise UsageError(msg)
    if args.name == "error":
        ks = tuple(args.k) if args.k else _report.ERROR_KS
        methods = tuple(args.method) if args.method else analysis.METHODS
        try:
            rows, columns = _report.error_rows(ks, methods), list(_report.ERROR_COLUMNS)
        except (ValueError, ArithmeticError, RuntimeWarning) as exc:
            msg = f"--k {' '.join(f'{k:g}' for k in ks)}: {exc}"
            raise ValueError(msg) from exc
    elif args.name == "k-for":
        rows, columns = _report.k_for_rows(), _report.K_FOR_COLUMNS
    elif args.name == "terms":
        rows, columns = _report.terms_rows(), _report.TERMS_COLUMNS
    elif args.name == "identity":
        rows = _report.identity_rows()
        columns = ["method", "dtype", "tol", "identity for k <=", "identity at k = 1"]
    else:
        rows, columns = _report.check_rows(), _report.CHECK_COLUMNS
    print(_render(rows, columns, args.format))
    return 0


def _cmd_k_for(args: argparse.Namespace) -> int:
    if args.delta is not None and args.error is None:
        msg = "--delta goes with --error"
        raise UsageError(msg)
    if args.error is not None and args.delta is None:
        msg = "--error needs --delta (distance from the half-integers, e.g. --delta 0.1)"
        raise UsageError(msg)
    try:
        k = analysis.k_for(
            args.method,
            l1_error=args.l1_error,
            error=args.error,
            delta=args.delta,
            min_derivative=args.min_derivative,
        )
    except ValueError as exc:
        msg = str(exc)
        for name, option in _K_FOR_OPTIONS.items():
            msg = msg.replace(name, option)
        raise ValueError(msg) from None
    print(f"{k:.6g}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 failed, 2 bad arguments).

    >>> main(["k-for", "window", "--l1-error", "0.1"])
    13.8232
    0
    >>> main(["k-for", "window"])  # the one-line error goes to stderr
    2
    """
    with warnings.catch_warnings():
        # a numerical warning means a result computed from overflowed values: report it as the error it is
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return _main(argv)
        except BrokenPipeError:
            # the reader stopped reading (`smoothround report | head`): everything it asked for was delivered;
            # point stdout at /dev/null so that the interpreter's final flush does not fail again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0


#: optional dependencies and the extra that installs them
_EXTRAS = {
    "matplotlib": "report",
    "rich": "report",
    "PIL": "report",
    "torch": "torch",
    "jax": "jax",
    "sklearn": "study",
    "scipy": "study",
}


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            _parser().print_help()
            return 0
        command = {
            "report": _cmd_report,
            "plot": _cmd_plot,
            "table": _cmd_table,
            "k-for": _cmd_k_for,
            "study": _cmd_study,
        }
        return command[args.command](args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # not an error of ours: main() ends quietly
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in _EXTRAS:
            raise
        extra = _EXTRAS[top]
        print(
            f"{PROG}: error: this command needs the optional dependency {top!r}: "
            f"pip install 'smoothround[{extra}]'",
            file=sys.stderr,
        )
        return 1
    except (ValueError, TypeError, OSError, ArithmeticError, ImportError, RuntimeWarning) as exc:
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
