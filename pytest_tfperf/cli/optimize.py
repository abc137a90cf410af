"""`tfperf optimize MODEL -o OUT`: graph transforms + equivalence proof + measured speed-up.

Writes the optimized `.pb` atomically, proves equivalence again on a sample image and random
inputs, and prints seed 002's table (Keras predict / frozen graph / optimized graph, measured
interleaved in one process).
"""
from __future__ import annotations

import sys
from typing import Any

from ._common import add_model_args, load_model_from_args


def register(subparsers) -> None:
    """Add the `optimize` subparser."""
    p = subparsers.add_parser("optimize", help="graph transforms + equivalence proof + measured speed-up")
    add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="where to write the optimized .pb")
    p.add_argument("--transforms", help="comma-separated transform names (default pipeline if not given)")
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--image", help="sample image path (default: a synthetic image)")
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
    import numpy as np

    from .. import optimization
    from ..atomic import dumps
    from ..equivalence import NotEquivalentError, assert_equivalent
    from ..errors import OptimizeError
    from ..optimization import VariantTiming, measure_interleaved, parse_transforms
    from ..report.optimize_text import render_variant_table

    out_path = optimization.check_writable(args.output)  # fail before the slow part
    specs = parse_transforms(args.transforms)
    frozen = load_model_from_args(args)
    feed, sample_label = optimization.sample_feed(frozen, getattr(args, "image", None))
    strict = bool(getattr(args, "strict", False))
    optimized, report = optimization.optimize_with_report(frozen, [s.label for s in specs], check_inputs=feed,
                                             atol=args.atol, rtol=args.rtol, strict=strict)
    try:
        proof = assert_equivalent(frozen, optimized, feed, atol=args.atol, rtol=args.rtol,
                                  n_random=int(getattr(args, "n_random", 3)), seed=1)
    except NotEquivalentError as exc:
        raise OptimizeError(f"the optimized graph of {frozen.name} is not equivalent to the original; "
                            f"nothing was written to {out_path}.\n{exc}") from None
    optimization.write_graph_def(optimized.graph_def, out_path)

    values = [feed[s.name] for s in frozen.inputs]
    if any(v.dtype == object for v in values):  # Keras' numpy adapter takes no strings; tensors it does
        import tensorflow as tf

        values = [tf.constant(v) if v.dtype == object else v for v in values]
    variants: list[tuple[str, Any, Any]] = []
    if frozen.keras_model is not None:
        keras_model = frozen.keras_model
        keras_x = values[0] if len(values) == 1 else values

        def keras_predict():
            return keras_model.predict(keras_x, verbose=0)
        variants.append(("keras predict (batch 1)", keras_predict, None))
    variants += [("frozen graph", frozen, feed), ("optimized graph", optimized, feed)]
    first_outputs = _outputs(variants[0])
    rows = []
    timings = measure_interleaved(variants, rounds=int(getattr(args, "rounds", 5)))
    for (label, target, inputs), (_, median, per_round) in zip(variants, timings):
        if target is variants[0][1]:
            err = None
        else:
            got = _outputs((label, target, inputs))
            err = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
                      if np.size(a) else 0.0 for a, b in zip(first_outputs, got))
        rows.append(VariantTiming(label, median, tuple(per_round), timings[0][1] / median,
                                  len(target.graph_def.node) if hasattr(target, "graph_def") else None, err))

    if getattr(args, "json", False):
        print(dumps({"model": frozen.source, "output": out_path, "sample": sample_label,
                     "report": report.to_dict(), "equivalence": proof.to_dict(),
                     "timings": [r.to_dict() for r in rows]}))
    else:
        print(f"tfperf optimize: {frozen.source} -> {out_path}")
        print("\n".join(report.lines()))
        print(f"equivalence: {proof.message().splitlines()[0]} (sample: {sample_label})")
        print()
        print(render_variant_table(rows))
        print(f"(median of the per-round medians, {len(timings[0][2])} interleaved rounds, batch 1)")
    for step in report.steps:
        if not step.kept:
            print(f"tfperf optimize: warning: transform {step.name!r} dropped: {step.reason}", file=sys.stderr)
    return 0


def _outputs(variant) -> list:
    _label, target, inputs = variant
    if hasattr(target, "graph_def"):
        return target.run(inputs)
    out = target()
    return list(out) if isinstance(out, (list, tuple)) else [out]
