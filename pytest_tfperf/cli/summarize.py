"""`tfperf summarize MODEL [--json]`: what summarize_graph printed, corrected."""
from __future__ import annotations

import json

from ._common import add_model_args, load_model_from_args


def register(subparsers) -> None:
    """Add the `summarize` subparser."""
    add_model_args(subparsers.add_parser("summarize", help="what summarize_graph printed, corrected"))


def run(args) -> int:
    """Print the summary (text, or `GraphSummary.to_dict()` as JSON); returns the exit code (0)."""
    from ..report.summary_text import render_summary
    from ..summary import summarize

    summary = summarize(load_model_from_args(args)).to_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
    elif summary.get("kind") == "tflite":
        from ..report.tflite_text import render_tflite_summary

        print(render_tflite_summary(summary))
    else:
        print(render_summary(summary))
    return 0
