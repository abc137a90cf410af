"""`tfperf bench MODEL [--runs N] [--top N] [--image PATH] [--json]`: benchmark_model's report."""
from __future__ import annotations

import argparse

from ._common import add_model_args, dumps_json, load_model_from_args

HELP = "time a model and show where the time goes: slowest ops, time per op type, memory, FLOPs"
DESCRIPTION = """\
Run MODEL --runs times on one input (the --image, else a synthetic image of
the model's input size) with TensorFlow's per-op tracing on, after 2 warm-up
runs, and print what TensorFlow's benchmark_model tool prints:
  - the average time of one run, untraced and traced (tracing adds overhead);
  - the --top slowest nodes: op type, first and average ms, share of the run,
    memory, node name;
  - the time per op type (all Conv2D nodes together, ...), with counts;
  - run time and memory statistics, the FLOPs of one run, FLOPs/second and
    peak memory.
Op types are TensorFlow's kernels after its graph optimizer: a Conv2D fused
with its bias and activation shows as _FusedConv2D. --json prints the same
numbers as JSON."""


def register(subparsers) -> None:
    """Add the `bench` subparser."""
    p = subparsers.add_parser("bench", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)
    p.add_argument("--runs", type=int, default=50, help="traced runs to average (default 50)")
    p.add_argument("--top", type=int, default=10, help="slowest nodes to list (default 10)")
    p.add_argument("--image", help="image to run the model on, resized to its input (default: a "
                                   "synthetic image)")


def run(args) -> int:
    """Profile the model and print the report (or `OpProfile.to_dict()` as JSON); returns 0."""
    from ..profiling import bench_inputs, profile
    from ..report.profile_text import render_profile

    fg = load_model_from_args(args)
    try:
        result = profile(fg, bench_inputs(fg, getattr(args, "image", None)),
                         runs=args.runs, top=args.top)
    finally:
        fg.close()
    data = result.to_dict()
    if args.json:
        print(dumps_json(data))
    else:
        print(render_profile(data))
    return 0
