"""TFLite figures (issue 13): harness overhead, and seed 002's variant table automated.

(a) Harness overhead: `timing.measure(model, x)` median / the median of a hand loop of
    `interpreter.set_tensor` + `invoke` + `get_tensor` on the same interpreter (same threads,
    XNNPACK), timed in interleaved rounds (one block of each per round, order alternating;
    median of the per-round medians). Target: <= 1.02.
(b) The variant table (`pytest_tfperf.variants`) for the example project's Keras model
    (xception_mini, 128 px) and for seed 000's AlexNet at 224 px: every variant's median, size
    and error vs the source; which is fastest on this CPU, and whether graph `quantize_weights`
    still slows the model down as in seed 002.

AlexNet-224 conversions take ~1-2 minutes each on a loaded 2-core machine (250 MB of weights;
five conversions with the int8 debugger), so the whole run takes ~10 minutes.

Run:     .venv/bin/python bench/bench_tflite.py [--rounds 7] [--json OUT.json]
         [--only harness|variants] [--models keras,alexnet]
Smoke:   .venv/bin/python bench/bench_tflite.py --smoke     (tiny models, ~1 minute)
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def hand_loop_ratio(model, x, rounds: int, block_s: float) -> dict:
    """Harness median / hand-loop median, interleaved (the order alternates per round).

    Harness: `timing.measure(model, x)`, i.e. the model's own runner timed by the engine (no
    wrapper around it). Hand loop: `set_tensor` + `invoke` + `get_tensor` on the *same*
    interpreter, timed with `perf_counter_ns` around each call, so the ratio is the harness's
    cost alone (two interpreters of one model differ by a few % in memory placement).
    """
    import numpy as np

    from pytest_tfperf.timing.engine import measure

    measure(model, x, warmup=3, min_time=0.01, max_time=0.05)  # builds the shared interpreter
    interp = model._interpreter
    spec = model.inputs[0]
    feed = model._quantized(spec, model.feed_dict(x)[spec.name])
    in_index = model._in_index[0]
    out_index = list(model._out_index)
    clock = time.perf_counter_ns

    def hand_block(seconds: float) -> float:
        for _ in range(3):  # warm-up
            interp.set_tensor(in_index, feed)
            interp.invoke()
            [interp.get_tensor(i) for i in out_index]
        samples = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or len(samples) < 10:
            t0 = clock()
            interp.set_tensor(in_index, feed)
            interp.invoke()
            [interp.get_tensor(i) for i in out_index]
            samples.append(clock() - t0)
        return float(np.median(samples)) / 1e6

    def harness_block(seconds: float) -> float:
        return measure(model, x, warmup=3, min_time=seconds, max_time=seconds,
                       min_runs=10).median_ms

    harness_ms, hand_ms = [], []
    for k in range(rounds):
        if k % 2:
            hand_ms.append(hand_block(block_s))
            harness_ms.append(harness_block(block_s))
        else:
            harness_ms.append(harness_block(block_s))
            hand_ms.append(hand_block(block_s))
    ratios = [h / m for h, m in zip(harness_ms, hand_ms)]
    h, m = float(np.median(harness_ms)), float(np.median(hand_ms))
    return {"model": model.name, "harness_ms": h, "hand_loop_ms": m, "ratio": h / m,
            "round_ratios": ratios, "median_round_ratio": float(np.median(ratios)), "rounds": rounds, "runtime": model.runtime_info()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--block", type=float, default=0.5, help="seconds per timing block")
    parser.add_argument("--smoke", action="store_true", help="tiny models, few rounds")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    parser.add_argument("--only", choices=("harness", "variants"), help="one part only")
    parser.add_argument("--models", default="keras,alexnet",
                        help="comma-separated subset of keras,alexnet (default both)")
    args = parser.parse_args()
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"(1/5/15 min) on {os.cpu_count()} CPUs")

    from pytest_tfperf import load
    from pytest_tfperf.model import zoo
    from pytest_tfperf.atomic import write_json
    from pytest_tfperf.edge import to_tflite, variants
    from pytest_tfperf.inputs.images import sample_image_for
    from pytest_tfperf.report.variants_text import render_variants

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    photo = os.path.join(root, "example_project", "images", "astronaut.jpg")
    rounds = 2 if args.smoke else args.rounds
    block = 0.05 if args.smoke else args.block
    figures: dict = {}

    if args.smoke:
        keras_model = zoo.keras_bn_cnn(input_size=32, filters=(8, 16))
        alexnet = load(zoo.alexnet_graph(input_size=64, dense_units=256),
                       outputs=["logits_layer/BiasAdd"], input_shapes=[[1, 64, 64, 3]])
        alexnet = alexnet.with_graph_def(alexnet.graph_def, name="alexnet-64 (smoke)")
    else:
        sys.path.insert(0, os.path.join(root, "example_project"))
        from models.build import xception_mini

        keras_model = xception_mini(128)
        alexnet = load(zoo.alexnet_graph(input_size=224), outputs=["logits_layer/BiasAdd"],
                       input_shapes=[[1, 224, 224, 3]])
        alexnet = alexnet.with_graph_def(alexnet.graph_def, name="alexnet-224")

    tiny = zoo.keras_bn_cnn(input_size=32, filters=(8, 16))  # ~25 us: where overhead shows
    sources = [(k, v) for k, v in (("keras", keras_model), ("alexnet", alexnet)) if k in wanted]
    # (a) harness vs hand loop, on the fp32 TFLite of a tiny CNN, the Keras model and AlexNet
    for label, source in [("tiny", tiny)] + sources if args.only != "variants" else ():
        fg = load(source)
        x = sample_image_for(fg, photo, preprocess="unit")
        t0 = time.perf_counter()
        tfl = to_tflite(fg)
        convert_s = time.perf_counter() - t0
        ratio = hand_loop_ratio(tfl, x, rounds, block)
        ratio["convert_s"] = convert_s
        figures[f"harness_{label}"] = ratio
        print(f"[{label}] harness {ratio['harness_ms']:.4f} ms / hand loop "
              f"{ratio['hand_loop_ms']:.4f} ms = {ratio['ratio']:.3f}, median per-round ratio "
              f"{ratio['median_round_ratio']:.3f} (target <= 1.02; "
              f"{rounds} interleaved rounds, per-round ratios "
              f"{', '.join(f'{r:.3f}' for r in ratio['round_ratios'])}; "
              f"fp32 conversion {convert_s:.1f} s)")

    # (b) the variant tables
    for label, source in sources if args.only != "harness" else ():
        fg = load(source)
        x = sample_image_for(fg, photo, preprocess="unit")
        t0 = time.perf_counter()
        table = variants(fg, x, rounds=rounds, min_time=block / 2, max_time=block,
                         input_label="the sample photo (unit preprocess)")
        figures[f"variants_{label}"] = table.to_dict()
        print()
        print(render_variants(table))
        qw, frozen = table.row("graph quantize_weights"), table.row("frozen graph")
        if qw.median_ms and frozen.median_ms:
            verdict = "slower" if qw.median_ms > frozen.median_ms else "not slower"
            print(f"graph quantize_weights vs frozen graph: {qw.median_ms:.3f} / "
                  f"{frozen.median_ms:.3f} ms -> {verdict} (seed 002 found it slower)")
        print(f"built and timed in {time.perf_counter() - t0:.0f} s")

    print(f"load at the end: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f}")
    if args.json:
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
