"""`tfperf compare A.json B.json [--fail EXPR] [--json]`: exit 1 on a regression."""
from __future__ import annotations

import sys

from ..errors import BaselineError


def register(subparsers) -> None:
    """Add the `compare` subparser."""
    p = subparsers.add_parser("compare", help="compare two tfperf/pytest-benchmark JSON runs")
    p.add_argument("baseline", help="A.json (before)")
    p.add_argument("candidate", help="B.json (after)")
    p.add_argument("--fail", action="append", default=[], metavar="EXPR",
                   help="regression threshold, e.g. median:10%% or p90:5ms (repeatable)")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    """Compare two runs; returns 1 on a regression, else 0.

    Both files may be ours (`--tfperf-json`/`--tfperf-save`) or plain pytest-benchmark JSON
    (`stats.data` in seconds). Without `--fail`, `DEFAULT_DISPLAY_EXPR` (median:10%) decides.
    Measurements are matched by `fullname` (`test_id[::name]`).
    """
    from ..atomic import dumps
    from ..baseline import (
        ALPHA,
        DEFAULT_DISPLAY_EXPR,
        compare_runs,
        load_baseline,
        measurement_index,
        parse_thresholds,
    )
    from ..report.compare_text import render_compare_text

    base = load_baseline(args.baseline)
    try:
        new = load_baseline(args.candidate)
    except BaselineError as exc:  # the loader says "baseline file"; this one is the candidate
        raise BaselineError(str(exc).replace("baseline file", "candidate file", 1)) from None
    thresholds = parse_thresholds(args.fail)
    comparisons = compare_runs(base, new, thresholds or (DEFAULT_DISPLAY_EXPR,))
    regressed = [c for c in comparisons if c.verdict == "regressed"]
    missing = sorted(set(measurement_index(base)) ^ set(measurement_index(new)))
    if args.json:
        print(dumps({"baseline": str(args.baseline), "candidate": str(args.candidate),
                     "thresholds": [t.to_dict() for t in thresholds],
                     "comparisons": [c.to_dict() for c in comparisons],
                     "unmatched": missing, "regressed": len(regressed)}))
    else:
        print(render_compare_text(str(args.baseline), str(args.candidate),
                                  [c.to_dict() for c in comparisons], missing, len(regressed), ALPHA))
        sys.stdout.flush()
    return 1 if regressed else 0
