"""`tfperf optimize MODEL -o OUT`: graph transforms + equivalence proof + measured speed-up.

Writes the optimized `.pb` atomically, proves equivalence again on a sample image and random
inputs, and prints seed 002's table (Keras predict / frozen graph / optimized graph, measured
interleaved in one process), speed-ups against the frozen original (and Keras predict apart).
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from pytest_tfperf.cli._common import add_model_args, load_model_from_args

KERAS_ROW = "keras predict (batch 1)"
FROZEN_ROW = "frozen graph"
OPTIMIZED_ROW = "optimized graph"


HELP = ("make a model's graph faster (fold batch norms, drop training-only nodes, ...), prove "
        "it computes the same outputs, write it and time it against the original")
DESCRIPTION = """\
Freeze MODEL (variables become constants), rewrite the frozen graph with a
chain of graph transforms, check after each transform that the outputs still
match the original's, prove the final graph equivalent on the sample input and
3 random inputs, write it to -o (nothing is written if the proof fails), and
time the frozen original, the optimized graph and, for Keras models, Keras
predict, interleaved in this process.

The "vs frozen" speed-up is against the frozen original: what the transforms
bought. For a Keras model, "vs keras" is the speed-up over Keras predict, most
of which comes from freezing alone (predict's per-call overhead).

A transform that fails or changes an output beyond --atol/--rtol is dropped
and reported (--strict: the command fails instead)."""


OWN_TRANSFORMS_HELP = {
    "strip_unused_nodes": "drop nodes the outputs do not need",
    "remove_training_nodes": "splice out Identity, CheckNumerics, StopGradient",
    "fold_constants": "precompute what depends on constants only",
    "fold_batch_norms": "fold batch norms into the conv/matmul weights",
    "merge_biases": "merge additions after a conv/matmul into one BiasAdd",
}


def _transforms_epilog() -> str:
    from pytest_tfperf.optimization import DEFAULT_TRANSFORMS, TF_TRANSFORMS, transform_names

    own = [n for n in transform_names() if n not in TF_TRANSFORMS]
    lines = ['transforms: --transforms NAME,NAME(arg=value),...  ("default": the pipeline)',
             "  tfperf's own (* = in the default pipeline, which runs them in this order):"]
    lines += [f"  {'*' if n in DEFAULT_TRANSFORMS else ' '} {n:<22} {OWN_TRANSFORMS_HELP.get(n, '')}".rstrip()
              for n in own]
    lines.append("  TensorFlow's graph_transforms (run by the TransformGraph binding in the TF\n"
                 "  wheel, no Bazel; arguments as TensorFlow documents them, e.g.\n"
                 "  remove_nodes(op=Identity)):")
    lines.append(textwrap.fill(", ".join(n for n in transform_names() if n in TF_TRANSFORMS), width=78,
                               initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def register(subparsers) -> None:
    """Add the `optimize` subparser."""
    p = subparsers.add_parser("optimize", help=HELP, description=DESCRIPTION, epilog=_transforms_epilog(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="where to write the optimized .pb (.pbtxt: text)")
    p.add_argument("--transforms", metavar="NAMES",
                   help="comma-separated transforms to run, in order (default: the default pipeline; "
                        "names below)")
    p.add_argument("--atol", type=float, default=1e-4,
                   help="absolute tolerance: an output element may differ from the original's by "
                        "this much (default 1e-4); it fails only when off by more than both --atol "
                        "and --rtol x |original|")
    p.add_argument("--rtol", type=float, default=1e-3,
                   help="relative tolerance, a fraction of the original value (default 1e-3, 0.1%%)")
    p.add_argument("--image", help="sample image for the proof and the timings (default: a synthetic "
                                   "image of the model's input size)")
    p.add_argument("--strict", action="store_true",
                   help="fail instead of dropping a transform that errors or changes outputs")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (default 5)")


def run(args) -> int:
    """`tfperf optimize MODEL -o OUT [--transforms ...] [--atol] [--rtol] [--image] [--json]`.

    Optimizes the model, proves equivalence on the sample and random inputs, writes the `.pb`
    atomically (nothing is written on failure), then times Keras predict (for Keras models),
    the frozen graph and the optimized graph side by side and prints seed 002's table.

    Args:
        args: the `argparse.Namespace` from `cli.build_parser()`; optional extras read with
            defaults: `strict` (False), `rounds` (5), `n_random` (3).
    Returns:
        the exit code: 0 on success (dropped transforms are listed, not fatal unless `strict`).
    """
    from pytest_tfperf import optimization
    from pytest_tfperf.atomic import dumps
    from pytest_tfperf.equivalence import NotEquivalentError, assert_equivalent
    from pytest_tfperf.errors import OptimizeError
    from pytest_tfperf.optimization import parse_transforms, time_variants
    from pytest_tfperf.report.optimize_text import render_variant_table
    from pytest_tfperf.inputs.described import describe_inputs

    out_path = optimization.check_writable(args.output)  # fail before the slow part
    specs = parse_transforms(args.transforms)
    frozen = load_model_from_args(args)
    feed, sample_label = optimization.sample_feed(frozen, getattr(args, "image", None))
    strict = bool(getattr(args, "strict", False))
    optimized, report = optimization.optimize_with_report(
        frozen, [s.label for s in specs], check_inputs=feed, atol=args.atol, rtol=args.rtol,
        strict=strict, check_inputs_label=sample_label)
    try:
        proof = assert_equivalent(frozen, optimized, feed, atol=args.atol, rtol=args.rtol,
                                  n_random=int(getattr(args, "n_random", 3)), seed=1,
                                  inputs_label=sample_label)
    except NotEquivalentError as exc:
        raise OptimizeError(f"the optimized graph of {frozen.name} is not equivalent to the original; "
                            f"nothing was written to {out_path}.\n{exc}") from None
    optimization.write_graph_def(optimized.graph_def, out_path)

    values = [feed[s.name] for s in frozen.inputs]
    if any(v.dtype == object for v in values):  # Keras' numpy adapter takes no strings; tensors it does
        import tensorflow as tf

        values = [tf.constant(v) if v.dtype == object else v for v in values]
    variants: list[tuple[str, Any, Any]] = []
    source = None
    if frozen.keras_model is not None:
        keras_model = frozen.keras_model
        keras_x = values[0] if len(values) == 1 else values

        def keras_predict():
            return keras_model.predict(keras_x, verbose=0)
        source = KERAS_ROW
        variants.append((source, keras_predict, None))
    variants += [(FROZEN_ROW, frozen, feed), (OPTIMIZED_ROW, optimized, feed)]
    rounds = int(getattr(args, "rounds", 5))
    rows = time_variants(variants, reference=FROZEN_ROW, source=source, rounds=rounds)

    if getattr(args, "json", False):
        print(dumps({"model": frozen.source, "output": out_path, "sample": sample_label,
                     "inputs": list(describe_inputs(frozen, feed)),
                     "report": report.to_dict(), "equivalence": proof.to_dict(),
                     "speedup_reference": FROZEN_ROW, "speedup_source": source,
                     "timings": [r.to_dict() for r in rows]}))
    else:
        print(f"tfperf optimize: {frozen.source} -> {out_path}")
        print("\n".join(report.lines()))
        print(f"equivalence: {proof.message().splitlines()[0]} (sample: {sample_label})")
        print()
        print(render_variant_table(rows, sample=sample_label, rounds=rounds))
    for step in report.steps:
        if not step.kept:
            print(f"tfperf optimize: warning: transform {step.name!r} dropped: {step.reason}", file=sys.stderr)
    return 0

