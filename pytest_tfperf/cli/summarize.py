"""`tfperf summarize MODEL [--json]`: what is in a model (TensorFlow's summarize_graph, corrected)."""
from __future__ import annotations

import argparse
import json

from pytest_tfperf.cli._common import add_model_args, load_model_from_args

HELP = "what is in a model: its inputs and outputs, weight count, op types and size"
DESCRIPTION = """\
Load MODEL (frozen .pb, SavedModel, Keras file, checkpoint, ...), freeze it
if needed, and print what you need to feed and check it:
  - the inputs (name, dtype, shape; ? = any size) and the outputs (name, op);
  - the number of weight parameters (float constants that feed compute ops:
    after freezing, the source model's trainable parameter count), other
    constants, control edges;
  - how many nodes of each op type the graph has, and its serialized size.
Input and output names are detected; --inputs/--outputs choose them,
--input-shape fixes an unknown size. --json prints the same as JSON."""


def register(subparsers) -> None:
    """Add the `summarize` subparser."""
    add_model_args(subparsers.add_parser("summarize", help=HELP, description=DESCRIPTION,
                                         formatter_class=argparse.RawDescriptionHelpFormatter))


def run(args) -> int:
    """Print the summary (text, or `GraphSummary.to_dict()` as JSON); returns the exit code (0)."""
    from pytest_tfperf.report.summary_text import render_summary
    from pytest_tfperf.analysis.summary import summarize

    summary = summarize(load_model_from_args(args)).to_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
    elif summary.get("kind") == "tflite":
        from pytest_tfperf.report.tflite_text import render_tflite_summary

        print(render_tflite_summary(summary))
    else:
        print(render_summary(summary))
    return 0
