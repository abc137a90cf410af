"""`tfperf bench MODEL [--runs N] [--top N] [--image PATH] [--json]`: benchmark_model's report."""
from __future__ import annotations

import argparse

from pytest_tfperf.cli._common import add_model_args, dumps_json, load_model_from_args

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
with its bias and activation shows as _FusedConv2D. A .tflite model gets its
init, first-call, warm-up and steady timings, op histogram, tensors and
constant parameters (LiteRT's Python API gives no time per op). --json
prints the same numbers as JSON."""


def register(subparsers) -> None:
    """Add the `bench` subparser."""
    p = subparsers.add_parser("bench", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)
    p.add_argument("--runs", type=int, default=50, help="traced runs to average (default 50)")
    p.add_argument("--top", type=int, default=10, help="slowest nodes to list (default 10)")
    p.add_argument("--image", help="image to run the model on, resized to its input (default: a "
                                   "synthetic image)")
    p.add_argument("--threads", type=int, help=".tflite: interpreter threads (default 1)")
    p.add_argument("--no-xnnpack", action="store_true",
                   help=".tflite: the builtin kernels alone (no XNNPACK delegate)")


def run(args) -> int:
    """Profile the model and print the report (or `OpProfile.to_dict()` as JSON); returns 0."""
    from pytest_tfperf.analysis.profiling import bench_inputs, profile
    from pytest_tfperf.report.profile_text import render_profile

    from pytest_tfperf.inputs.described import describe_inputs

    fg = load_model_from_args(args)
    if getattr(fg, "kind", None) == "tflite":
        return _bench_tflite(fg, args)
    try:
        feeds = bench_inputs(fg, getattr(args, "image", None))
        result = profile(fg, feeds, runs=args.runs, top=args.top)
        inputs = describe_inputs(fg, feeds, generated=True)  # tfperf chose them: dynamic dims marked
    finally:
        fg.close()
    data = result.to_dict()
    data["inputs"] = list(inputs)
    if args.json:
        print(dumps_json(data))
    else:
        print(render_profile(data))
    return 0


def _bench_tflite(model, args) -> int:
    """A `.tflite`: timings (init, first, warm-up, steady), op histogram, tensors, constant
    parameters; LiteRT's Python API gives no per-op timings (said in the output)."""
    from pytest_tfperf.edge.bench import bench_tflite
    from pytest_tfperf.analysis.profiling import bench_inputs
    from pytest_tfperf.report.tflite_text import render_tflite_bench

    if args.threads is not None or args.no_xnnpack:
        model.configure(num_threads=args.threads, use_xnnpack=False if args.no_xnnpack else None)
    from pytest_tfperf.inputs.described import describe_inputs

    feeds = bench_inputs(model, getattr(args, "image", None))
    result = bench_tflite(model, feeds, min_runs=args.runs).to_dict()
    result["inputs"] = list(describe_inputs(model, feeds, generated=True))  # what it was fed
    print(dumps_json(result) if args.json else render_tflite_bench(result, top=args.top))
    return 0
