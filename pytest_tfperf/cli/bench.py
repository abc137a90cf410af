"""`tfperf bench MODEL [--runs N] [--top N] [--image PATH] [--json]`: benchmark_model's report."""
from __future__ import annotations

from ._common import add_model_args, dumps_json, load_model_from_args


def register(subparsers) -> None:
    """Add the `bench` subparser."""
    p = subparsers.add_parser("bench", help="what benchmark_model printed: timings, FLOPs, per-node-type "
                              "table (.tflite: timings, ops, tensors, constant parameters)")
    add_model_args(p)
    p.add_argument("--runs", type=int, default=50, help="profiled runs (default 50)")
    p.add_argument("--top", type=int, default=10, help="slowest nodes to list (default 10)")
    p.add_argument("--image", help="sample image path (default: a synthetic image)")
    p.add_argument("--threads", type=int, help=".tflite: interpreter threads (default 1)")
    p.add_argument("--no-xnnpack", action="store_true",
                   help=".tflite: the builtin kernels alone (no XNNPACK delegate)")


def run(args) -> int:
    """Profile the model and print the report (or `OpProfile.to_dict()` as JSON); returns 0."""
    from ..profiling import bench_inputs, profile
    from ..report.profile_text import render_profile

    from ..timed_inputs import describe_inputs

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
    from ..edge.bench import bench_tflite
    from ..profiling import bench_inputs
    from ..report.tflite_text import render_tflite_bench

    if args.threads is not None or args.no_xnnpack:
        model.configure(num_threads=args.threads, use_xnnpack=False if args.no_xnnpack else None)
    result = bench_tflite(model, bench_inputs(model, getattr(args, "image", None)),
                          min_runs=args.runs).to_dict()
    print(dumps_json(result) if args.json else render_tflite_bench(result, top=args.top))
    return 0
