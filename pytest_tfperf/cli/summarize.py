"""`tfperf summarize MODEL [--json] [--all-tensors]`: what is in a model (TensorFlow's
summarize_graph, corrected)."""
from __future__ import annotations

import argparse
import json

from pytest_tfperf.cli._common import add_model_args, load_model_from_args

HELP = "what is in a model: its inputs and outputs, weight count, op types and size"
DESCRIPTION = """\
Load MODEL (frozen .pb, SavedModel, Keras file, checkpoint, .tflite, ...),
freeze it if needed, and print what you need to feed and check it:
  - the inputs (name, dtype, shape; ? = any size) and the outputs (name, op);
  - the number of weight parameters (float constants that feed compute ops:
    after freezing, the source model's trainable parameter count), other
    constants, control edges;
  - how many nodes of each op type the graph has, and its serialized size.
Input and output names are detected; --inputs/--outputs choose them,
--input-shape fixes an unknown size. A .tflite model also lists its tensors
(the first and last few; --all-tensors lists every one); one that no
interpreter here can run (custom or Flex ops) is summarized from its
flatbuffer, with the reason. --json prints the same as JSON (every tensor)."""


def register(subparsers) -> None:
    """Add the `summarize` subparser."""
    p = subparsers.add_parser("summarize", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)
    p.add_argument("--all-tensors", action="store_true",
                   help=".tflite: list every tensor (default: the first and last few, and the count)")


def run(args) -> int:
    """Print the summary (text, or `GraphSummary.to_dict()` as JSON); returns the exit code (0)."""
    from pytest_tfperf.analysis.summary import summarize
    from pytest_tfperf.errors import ModelLoadError
    from pytest_tfperf.model.tflite_summary import summarize_unloadable
    from pytest_tfperf.report.summary_text import render_summary

    try:
        summary = summarize(load_model_from_args(args)).to_dict()
    except ModelLoadError as exc:  # a .tflite no interpreter here runs: its structure still shows
        unloadable = summarize_unloadable(args.model, exc)
        if unloadable is None:
            raise
        summary = unloadable.to_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
    elif summary.get("kind") == "tflite":
        from pytest_tfperf.report.tflite_text import render_tflite_summary

        print(render_tflite_summary(summary, all_tensors=getattr(args, "all_tensors", False)))
    else:
        print(render_summary(summary))
    return 0
