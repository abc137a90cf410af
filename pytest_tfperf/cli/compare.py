"""`tfperf compare A.json B.json [--fail EXPR] [--json]`: exit 1 on a regression."""
from __future__ import annotations

import argparse
import sys

from pytest_tfperf.errors import BaselineError


def register(subparsers) -> None:
    """Add the `compare` subparser."""
    p = subparsers.add_parser("compare", help="compare two tfperf/pytest-benchmark JSON runs")
    p.add_argument("baseline", help="A.json (before)")
    p.add_argument("candidate", help="B.json (after)")
    p.add_argument("--fail", action="append", default=[], metavar="EXPR",
                   help="regression threshold, e.g. median:10%% or p90:5ms (repeatable); default "
                        "10%% on each measurement's gated statistic")
    p.add_argument("--noise", type=float, metavar="PCT",
                   help="between-run floor per run in %% (default 4: CV of fresh-process "
                        "medians measured by bench/bench_compare.py)")
    p.add_argument("--normalize", action="store_true",
                   help="compare ratios model / reference workload (both runs must have one)")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    """Compare two runs; returns 1 on a regression, else 0.

    Both files may be ours (`--tfperf-json`/`--tfperf-save`) or plain pytest-benchmark JSON
    (`stats.data` in seconds). Without `--fail`, `DEFAULT_DISPLAY_EXPR` (10% on the gated
    statistic) decides. Verdicts are block-level (`baseline/compare.py`); a file cannot be
    re-timed, so a regression here is not confirmed the way the pytest gate confirms it.
    Measurements are matched by `fullname` (`test_id[::name]`).
    """
    from pytest_tfperf.atomic import dumps
    from pytest_tfperf.baseline import (
        DEFAULT_DISPLAY_EXPR,
        compare_runs,
        comparison_warnings,
        load_baseline,
        measurement_index,
        parse_thresholds,
    )
    from pytest_tfperf.errors import ConfigError
    from pytest_tfperf.report.compare_text import render_compare_text

    base = load_baseline(args.baseline)
    try:
        new = load_baseline(args.candidate)
    except BaselineError as exc:  # the loader says "baseline file"; this one is the candidate
        raise BaselineError(str(exc).replace("baseline file", "candidate file", 1)) from None
    thresholds = parse_thresholds(args.fail)
    if args.noise is not None and not 0 <= args.noise < 100:
        raise ConfigError(f"tfperf compare --noise is a percentage in [0, 100), e.g. 4. "
                          f"Received: --noise {args.noise!r}")
    comparisons = compare_runs(base, new, thresholds or (DEFAULT_DISPLAY_EXPR,),
                               run_noise=None if args.noise is None else args.noise / 100.0,
                               normalize=args.normalize)
    regressed = [c for c in comparisons if c.verdict == "regressed"]
    missing = sorted(set(measurement_index(base)) ^ set(measurement_index(new)))
    settings = argparse.Namespace(normalize=args.normalize)
    warnings = comparison_warnings(base, new, settings)
    if args.json:
        print(dumps({"baseline": str(args.baseline), "candidate": str(args.candidate),
                     "thresholds": [t.to_dict() for t in thresholds],
                     "comparisons": [c.to_dict() for c in comparisons],
                     "unmatched": missing, "regressed": len(regressed),
                     "summary": {v: sum(c.verdict == v for c in comparisons)
                                 for v in ("ok", "improved", "noise", "regressed")},
                     "warnings": warnings}))
    else:
        print(render_compare_text(str(args.baseline), str(args.candidate), comparisons, missing,
                                  warnings))
        sys.stdout.flush()
    return 1 if regressed else 0
