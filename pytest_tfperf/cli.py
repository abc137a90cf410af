"""`tfperf` console script: summarize | bench | optimize | compare.

Argument parsing only; each command lives with the module that owns its work and returns an exit
code. TensorFlow is imported by those modules, not here.
"""
from __future__ import annotations

import argparse
import sys

from .errors import TfperfError


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model reference: .pb, .pbtxt, SavedModel dir, .keras/.h5, checkpoint prefix")
    p.add_argument("--inputs", help="comma-separated input names (default: detected)")
    p.add_argument("--outputs", help="comma-separated output names (default: detected)")
    p.add_argument("--input-shape", action="append", default=[], metavar="[NAME=]D,D,...",
                   help="pin an input shape, e.g. 1,224,224,3 or input_node=1,224,224,3 (repeatable)")
    p.add_argument("--signature", help="SavedModel signature (default serving_default)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--unsafe-keras", action="store_true",
                   help="load Keras files with safe_mode=False (runs code stored in the file, e.g. "
                        "Lambda layers): only for files you trust")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tfperf", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("summarize", help="what summarize_graph printed, corrected")
    _add_model_args(p)

    p = sub.add_parser("bench", help="what benchmark_model printed: timings, FLOPs, per-node-type table")
    _add_model_args(p)
    p.add_argument("--runs", type=int, default=50, help="profiled runs (default 50)")
    p.add_argument("--top", type=int, default=10, help="slowest nodes to list (default 10)")
    p.add_argument("--image", help="sample image path (default: a synthetic image)")

    p = sub.add_parser("optimize", help="graph transforms + equivalence proof + measured speed-up")
    _add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="where to write the optimized .pb")
    p.add_argument("--transforms", help="comma-separated transform names (default pipeline if not given)")
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--image", help="sample image path (default: a synthetic image)")
    p.add_argument("--strict", action="store_true",
                   help="fail instead of dropping a transform that errors or changes outputs")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (default 5)")

    p = sub.add_parser("compare", help="compare two tfperf/pytest-benchmark JSON runs")
    p.add_argument("baseline", help="A.json (before)")
    p.add_argument("candidate", help="B.json (after)")
    p.add_argument("--fail", action="append", default=[], metavar="EXPR",
                   help="regression threshold, e.g. median:10%% or p90:5ms (repeatable)")
    p.add_argument("--json", action="store_true")
    return parser


def parse_shapes(items: list[str]) -> dict | list | None:
    """['1,224,224,3'] -> [[1,224,224,3]]; ['x=1,2'] -> {'x': [1,2]}; [] -> None."""
    from .session import parse_shape_items

    return parse_shape_items(items, "--input-shape")


def load_model_from_args(args):
    """`load()` with the common model arguments of every command."""
    from .model import load

    return load(args.model, inputs=args.inputs, outputs=args.outputs,  # "a,b" strings are split
                input_shapes=parse_shapes(args.input_shape), signature=args.signature,
                safe_mode=not getattr(args, "unsafe_keras", False))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tfperf` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "summarize":
            from .summary import summarize_command as command
        elif args.command == "bench":
            from .profiling import bench_command as command
        elif args.command == "optimize":
            from .optimize import optimize_command as command
        else:
            from .baseline import compare_command as command
        return command(args)
    except TfperfError as exc:
        print(f"tfperf {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
