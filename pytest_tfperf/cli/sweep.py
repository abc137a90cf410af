"""`tfperf sweep MODEL [--batch 1,4,16] [--threads 1,2] [--concurrency 1,2] [--within-p99 MS] [--json]`."""
from __future__ import annotations

import argparse
import os

from pytest_tfperf.cli._common import add_model_args, dumps_json, load_model_from_args

HELP = "throughput and latency for every batch x threads x concurrency (the cloud side)"
DESCRIPTION = """\
Time every configuration under closed-loop load, as perf_analyzer's concurrency mode does:
CONCURRENCY TensorFlow sessions (or LiteRT interpreters for a .tflite), each with THREADS
intra-op threads, issue requests of BATCH inputs back to back from their own threads.
Per configuration: inferences/s with its 95% CI (from per-block throughputs), the p50/p90/p99
latency of one request, CPU use (process CPU time / wall / cores) and the seconds it took; the
Pareto front of throughput against p99; with --within-p99 MS the best configuration whose p99
stays within MS. On a machine with K cores, concurrency x threads above K time-share the cores.
A model with a fixed batch dimension takes only its own batch size.
--json prints {"configurations": [{"batch", "intra_threads", "concurrency", "throughput",
"p50_ms", "p99_ms", ...}], "best", "best_within_p99", ...}."""


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive ints such as 1,4,16; "
                                         f"received {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive ints such as 1,4,16; "
                                         f"received {text!r}")
    return values


def register(subparsers) -> None:
    """Add the `sweep` subparser."""
    p = subparsers.add_parser("sweep", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p, json_help="print the sweep as JSON: one object per configuration")
    p.add_argument("--batch", type=_ints, default=[1, 2, 4, 8, 16, 32], metavar="B,B,...",
                   help="inputs per request (default 1,2,4,8,16,32)")
    p.add_argument("--threads", type=_ints, default=None, metavar="T,T,...",
                   help="intra-op threads per session / interpreter (default 1,<cores>)")
    p.add_argument("--concurrency", type=_ints, default=[1, 2], metavar="C,C,...",
                   help="sessions issuing requests at once, one thread each (default 1,2)")
    p.add_argument("--within-p99", type=float, default=None, metavar="MS",
                   help="also name the best configuration with p99 latency <= MS")
    p.add_argument("--min-time", type=float, default=None, metavar="S",
                   help="least seconds of timed requests per configuration (default 0.5)")
    p.add_argument("--max-time", type=float, default=None, metavar="S",
                   help="most seconds of timed requests per configuration (default 3)")


def run(args) -> int:
    """Print the sweep (text, or `SweepResult.to_dict()` as JSON); returns 0."""
    import shutil

    # per-session intra-op pools, before TensorFlow starts (it reads the variable once)
    os.environ.setdefault("TF_OVERRIDE_GLOBAL_THREADPOOL", "1")
    from pytest_tfperf.report.sweep_text import render_sweep
    from pytest_tfperf.timing.sweep import sweep

    model = load_model_from_args(args)
    result = sweep(model, batch=args.batch, intra_threads=args.threads,
                   concurrency=args.concurrency, within_p99_ms=args.within_p99,
                   min_time=args.min_time, max_time=args.max_time)
    print(dumps_json(result.to_dict()) if args.json else
          render_sweep(result, width=shutil.get_terminal_size().columns))
    return 0
