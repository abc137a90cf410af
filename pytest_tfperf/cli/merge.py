"""`tfperf merge A.json B.json ... -o ALL.json [--html PATH] [--markdown PATH]`.

CI shards -> one report: joins the JSON files that `pytest --tfperf-json` wrote in each job of
a CI matrix (pytest-benchmark's `--benchmark-json` files too) into one file of the same format,
and renders one HTML / Markdown report from it. The work is `results.merge`; this module reads
the files (`results.file`, the one reader), writes the outputs and prints one line per file
written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from pytest_tfperf.errors import TfperfError

DESCRIPTION = """\
Join the JSON results of CI shards (one file per job, as pytest --tfperf-json or
--benchmark-json wrote them) into one file of the same format, which pytest-benchmark compare,
tfperf compare and --tfperf-compare read like any run. Every benchmark keeps the machine and the
commit of the shard it ran in (extra_info.shard / machine_info / commit_info). A test id that ran
in two shards is kept twice, renamed <test id>@<shard>, listed under tfperf.merge.duplicates and
named in a warning. Shards are labelled by file name, or by folder when every file has the same
name (GitHub artifacts: tfperf-linux/results.json -> tfperf-linux)."""


def register(subparsers) -> None:
    """Add the `merge` subcommand to the `tfperf` parser."""
    p = subparsers.add_parser(
        "merge", help="join CI shards' JSON results into one file and one HTML/Markdown report",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shards", nargs="+", metavar="SHARD.json",
                   help="JSON files written by pytest --tfperf-json in each shard")
    p.add_argument("-o", "--output", required=True, metavar="ALL.json",
                   help="where to write the merged JSON")
    p.add_argument("--html", metavar="PATH", help="also write the HTML report of all shards")
    p.add_argument("--markdown", metavar="PATH",
                   help="also write the Markdown report (e.g. >> $GITHUB_STEP_SUMMARY's file)")
    p.add_argument("--title", default="tfperf report", help="report title (default: tfperf report)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a test id ran in more than one shard or the shards ran on "
                        "different commits (default: warn and exit 0)")
    p.add_argument("--json", action="store_true",
                   help="print a machine-readable summary (shards, counts, duplicates, warnings)")


def run(args) -> int:
    """Merge, write the outputs, print one line per file written; returns the exit code."""
    try:
        return _run(args)
    except TfperfError as exc:
        print(f"tfperf merge: error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from pytest_tfperf.atomic import write_text
    from pytest_tfperf.results.file import read_result_file, write_result_file
    from pytest_tfperf.results.merge import merge_documents, merged_results, shard_labels

    labels = shard_labels(args.shards)
    docs = [read_result_file(path, "shard file").document for path in args.shards]
    result = merge_documents(list(zip(labels, docs)))
    for line in result.warnings:
        print(f"tfperf merge: warning: {line}", file=sys.stderr)
    written = [("merged JSON", str(write_result_file(args.output, result.document)))]
    if args.html or args.markdown:
        results = merged_results(result.document)
        if results is None or results.is_empty():
            print("tfperf merge: warning: no shard has tfperf records (plain pytest-benchmark "
                  "files): the reports list no tests", file=sys.stderr)
            from pytest_tfperf.results.session import SessionResults

            results = SessionResults()
        if args.html:
            from pytest_tfperf.report import html

            written.append(("HTML report", str(write_text(args.html, html.render(results, title=args.title)))))
        if args.markdown:
            from pytest_tfperf.report import markdown

            written.append(("Markdown report",
                            str(write_text(args.markdown, markdown.render(results, title=args.title)))))
    if args.json:
        summary = result.to_dict()
        summary["written"] = {kind: path for kind, path in written}
        print(json.dumps(summary, indent=2))
    else:
        print(f"tfperf merge: {len(result.shards)} shards ({', '.join(result.shards)}), "
              f"{result.benchmarks} benchmarks, {len(result.duplicates)} duplicate test ids")
        for kind, path in written:
            print(f"tfperf merge: wrote {kind} {_shown(path)}")
    strict_fail = result.duplicates or any(w.startswith("shards ran on different commits")
                                           for w in result.warnings)
    return 1 if args.strict and strict_fail else 0


def _shown(path: str) -> str:
    """`path` relative to the current directory when it lies inside it, else absolute."""
    rel = os.path.relpath(path)
    return path if rel == ".." or rel.startswith(".." + os.sep) else rel
