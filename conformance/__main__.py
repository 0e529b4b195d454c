"""``python -m conformance``: the worst error of every group against its tolerance, as a Markdown table.

``--suite rounding`` or ``--suite toolbox`` limits the run; ``--by`` chooses how groups are merged for the summary
(default: function, method, dtype, quantity, the README's table); ``--all`` prints every group unmerged. The exit
status is 1 when any group exceeds its tolerance.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from conformance.measures import format_pivot, format_table, merge

SUITES = ("rounding", "toolbox")
FIELDS = ("function", "method", "backend", "dtype", "k_form", "quantity")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=SUITES, action="append", help="run only this suite (repeatable)")
    parser.add_argument("--by", default="function,method,dtype,quantity",
                        help=f"comma-separated fields that define a summary row, from {', '.join(FIELDS)}")
    parser.add_argument("--all", action="store_true", help="print every group, unmerged")
    parser.add_argument("--pivot", metavar="COLUMN",
                        help="a compact table: --by fields as rows, the values of COLUMN as columns, each cell the "
                             "worst error of its groups (the README's accuracy table: --suite rounding --by "
                             "dtype,quantity --pivot method)")
    args = parser.parse_args(argv)
    by = tuple(f.strip() for f in args.by.split(",") if f.strip())
    unknown = [f for f in by if f not in FIELDS]
    if unknown:
        parser.error(f"--by: unknown field(s) {', '.join(unknown)}; choose from {', '.join(FIELDS)}")
    results = []
    for suite in args.suite or SUITES:
        module = importlib.import_module(f"conformance.{suite}")
        results.extend(module.score_all())
    if args.pivot:
        if args.pivot not in FIELDS:
            parser.error(f"--pivot: unknown field {args.pivot}; choose from {', '.join(FIELDS)}")
        default = [r for r in results if "tol=" not in r.k_form]
        asked = [r for r in results if "tol=" in r.k_form]
        print(format_pivot(default, by, args.pivot))
        if asked:  # groups called with an explicit tol, held to it: a table of their own, not mixed in
            print(f"\nCalled with an explicit tol ({', '.join(sorted({r.k_form for r in asked}))}):\n")
            print(format_pivot(asked, by, args.pivot))
    else:
        rows = results if args.all else merge(results, by)
        rows = sorted(rows, key=lambda r: tuple(str(getattr(r, f)) for f in FIELDS))
        print(format_table(rows))
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results)} groups, {sum(r.scored for r in results)} scored points, {len(failed)} over tolerance.")
    for r in failed[:40]:
        print(f"FAIL {r.key}: worst {r.worst:.3g} > {r.tolerance:.3g}; " + "; ".join(r.failures[:3]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
