"""`tfperf history STORE [--test PATTERN] [--since WHEN] [--json] [--html OUT] [--markdown]`
and `tfperf history import STORE RUN.json [RUN.json ...]`."""
from __future__ import annotations

import datetime as _dt
import re
import sys

from pytest_tfperf.errors import ConfigError


def register(subparsers) -> None:
    """Add the `history` subparser."""
    p = subparsers.add_parser(
        "history", help="trends and change points per test from a run history store",
        description="tfperf history STORE: per test and statistic, the trend of the stored runs "
        "and its change points (commit before and after, step and its 95%% CI). "
        "tfperf history import STORE RUN.json ...: append JSON reports, baselines or merged "
        "shard files to STORE (created if missing).")
    p.add_argument("args", nargs="+", metavar="STORE | import STORE RUN.json",
                   help="the store (a SQLite file written by --tfperf-history), or `import` "
                        "followed by the store and the files to add")
    p.add_argument("--test", metavar="PATTERN",
                   help="only measurements whose test id matches (fnmatch, e.g. '*resnet*', or a "
                        "substring)")
    p.add_argument("--since", metavar="WHEN",
                   help="only runs since an ISO date/time (2026-11-30) or N days ago (30d)")
    p.add_argument("--statistic", action="append", default=[], metavar="STAT",
                   help="median, mean, min, p90, p95, p99 or gated (each measurement's budget "
                        "statistic; the default); repeatable")
    p.add_argument("--branch", help="only runs on this git branch")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--markdown", action="store_true",
                   help="print a Markdown table (e.g. >> $GITHUB_STEP_SUMMARY)")
    p.add_argument("--html", metavar="OUT", help="write a chart per test (inline SVG) to OUT")


def parse_since(text: str | None, now: _dt.datetime | None = None) -> str | None:
    """'30d' -> the ISO time 30 days ago (UTC); an ISO date/time is kept (checked)."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+)\s*d", text.strip())
    if m:
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return (now - _dt.timedelta(days=int(m.group(1)))).isoformat(timespec="seconds")
    try:
        return _dt.datetime.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ConfigError(f"tfperf history --since takes an ISO date or time (2026-11-30, "
                          f"2026-11-30T12:00) or a number of days (30d). Received: --since "
                          f"{text!r}") from None


def run(args) -> int:
    """List (or import into) a history store; 0 on success."""
    from pytest_tfperf.atomic import dumps, write_text
    from pytest_tfperf.history import append_run, read_points, read_run_file
    from pytest_tfperf.history.series import build_series
    from pytest_tfperf.history.store import STATISTICS

    if args.args[0] == "import":
        if len(args.args) < 3:
            raise ConfigError("tfperf history import needs the store and at least one file: "
                              "tfperf history import STORE RUN.json [RUN.json ...]. Received: "
                              f"{' '.join(args.args)}")
        store = args.args[1]
        for path in args.args[2:]:
            records, info = read_run_file(path)
            run_id = append_run(store, records, info)
            print(f"{path}: {len(records)} measurements appended to {store} as run {run_id} "
                  f"(commit {str(info.commit or '-')[:8]}, branch {info.branch or '-'})")
        return 0
    if len(args.args) != 1:
        raise ConfigError(f"tfperf history takes one store (or `import STORE RUN.json ...`). "
                          f"Received: {' '.join(args.args)}")
    store = args.args[0]
    stats = tuple(args.statistic) or ("gated",)
    for stat in stats:
        if stat not in STATISTICS:
            raise ConfigError(f"tfperf history --statistic must be one of {', '.join(STATISTICS)}."
                              f" Received: --statistic {stat}")
    points = read_points(store, since=parse_since(args.since), branch=args.branch)
    series = [s.to_dict() for s in build_series(points, test=args.test, statistics=stats)]
    if args.html:
        from pytest_tfperf.report.history_html import render_history_html

        write_text(args.html, render_history_html(store, series))
    if args.json:
        print(dumps({"store": store, "series": series}))
    elif args.markdown:
        from pytest_tfperf.report.history_text import render_history_markdown

        print(render_history_markdown(store, series))
    else:
        from pytest_tfperf.report.history_text import render_history_text

        print(render_history_text(store, series))
        if args.html:
            print(f"HTML chart: {args.html}")
    sys.stdout.flush()
    return 0
