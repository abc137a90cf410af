"""Graph-optimization figures (seed 002), measured side by side (interleaved) in one process.

Model: a Keras 3 CNN of Conv-BatchNorm-ReLU blocks (`zoo.keras_bn_cnn`, 112 px, filters
32/64/128/128 by default), and seed 001's TF1 raw-op convnet with FusedBatchNorm at the same size.
For each: the optimized graph's op histogram must hold no batch-norm arithmetic, outputs must match
the original within atol 1e-4 (sample + random inputs), and we report
(a) frozen-graph median / optimized-graph median (> 1 means the optimized graph is faster), and
(b) Keras `predict` at batch 1 median / frozen-graph median (seed 002: Keras 180 ms -> graph 120 ms).
Every variant is timed in short rounds, alternating, and the median of the per-round medians is
reported, so load on a shared machine hits every variant alike.

Run: .venv/bin/python bench/bench_optimize.py [--size 112] [--rounds 9] [--json]
"""
from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BN_ARITHMETIC = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Mul", "Rsqrt", "Sub",
                 "Add", "AddV2"}


def bench_model(label, frozen, image, rounds, keras_model=None) -> dict:
    from pytest_tfperf.equivalence import assert_equivalent
    from pytest_tfperf.optimization import measure_interleaved, optimize_with_report

    optimized, report = optimize_with_report(frozen, check_inputs=image, atol=1e-4, rtol=0)
    left = sorted(set(report.ops_after) & BN_ARITHMETIC)
    proof = assert_equivalent(frozen, optimized, image, atol=1e-4, rtol=0, n_random=3, seed=1)
    max_err = max(o.max_abs_error for o in proof.outputs)
    variants = []
    if keras_model is not None:
        variants.append(("keras predict (batch 1)", lambda: keras_model.predict(image, verbose=0), None))
    variants += [("frozen graph", frozen, image), ("optimized graph", optimized, image)]
    timings = {name: (median, per_round) for name, median, per_round in
               measure_interleaved(variants, rounds=rounds, min_time=0.3, max_time=1.0, warmup=3)}
    frozen_ms, opt_ms = timings["frozen graph"][0], timings["optimized graph"][0]
    result = {
        "model": label, "nodes_before": report.nodes_before, "nodes_after": report.nodes_after,
        "op_delta": report.op_delta(), "bn_ops_left": left, "max_abs_error": max_err,
        "frozen_ms": frozen_ms, "optimized_ms": opt_ms, "frozen_over_optimized": frozen_ms / opt_ms,
        "optimized_faster_rounds": sum(f > o for f, o in zip(timings["frozen graph"][1],
                                                              timings["optimized graph"][1])),
        "rounds": rounds,
    }
    if keras_model is not None:
        keras_ms = timings["keras predict (batch 1)"][0]
        result.update(keras_predict_ms=keras_ms, keras_over_frozen=keras_ms / frozen_ms,
                      keras_over_optimized=keras_ms / opt_ms)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--filters", default="32,64,128,128")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import numpy as np

    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    filters = tuple(int(f) for f in args.filters.split(","))
    image = np.random.default_rng(0).random((1, args.size, args.size, 3), dtype=np.float32)
    model = zoo.keras_bn_cnn(input_size=args.size, filters=filters)
    results = [bench_model(f"keras_bn_cnn {args.size}px {args.filters}", load(model), image,
                           args.rounds, keras_model=model)]
    graph = zoo.small_convnet_graph(input_size=args.size, channels=filters, fused_batch_norm=True)
    results.append(bench_model(f"tf1 convnet FusedBatchNorm {args.size}px {args.filters}",
                               load(graph, outputs=["logits_layer/BiasAdd"]), image, args.rounds))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"{r['model']}: {r['nodes_before']} -> {r['nodes_after']} nodes; "
              f"BN ops left: {r['bn_ops_left'] or 'none'}; max abs error {r['max_abs_error']:.2e}")
        print(f"  ops changed: {r['op_delta']}")
        print(f"  frozen {r['frozen_ms']:.3f} ms, optimized {r['optimized_ms']:.3f} ms: "
              f"frozen/optimized = {r['frozen_over_optimized']:.3f} "
              f"(optimized faster in {r['optimized_faster_rounds']}/{r['rounds']} rounds)")
        if "keras_predict_ms" in r:
            print(f"  keras predict {r['keras_predict_ms']:.2f} ms: keras/frozen = "
                  f"{r['keras_over_frozen']:.1f}x, keras/optimized = {r['keras_over_optimized']:.1f}x")


if __name__ == "__main__":
    main()
