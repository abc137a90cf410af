"""The GPU timing path in one short call (issue 19): wall clock with device synchronisation.

On a GPU the CPU thread that calls the model waits for the device, so its CPU time is not the
latency: `tfperf_clock = auto` judges on wall clock whenever TensorFlow sees a GPU, and every
timed call materialises its outputs in host memory (`.numpy()` / `Session.run` results), which
waits for the device to finish. This script checks that path on a machine with a GPU:

1. TensorFlow sees a GPU and places the model's ops on it (a frozen TF1 convnet, 224 px,
   batch 8, and a Keras model through a tf.function);
2. `tfperf.measure` judges both on wall clock (`stats.clock == "wall"`) and says why;
3. the wall median is close to a hand loop that synchronises explicitly (`.numpy()` on the
   outputs): ratio within 0.9-1.1 (no call returns before the device finished);
4. the CPU time of the calling threads is below wall (the CPU waited for the device).

It prints the figures and exits 0 when the checks hold, 1 when one fails; on a machine without
a GPU it prints "no GPU: nothing to check" and exits 0. Nothing depends on it.

Run: python bench/bench_gpu.py [--size 224] [--batch 8]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_OVERRIDE_GLOBAL_THREADPOOL", "1")  # per-session pools, as the plugin sets
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
OUTPUT = "logits_layer/BiasAdd"


def hand_loop(run, n: int) -> float:
    """Median ms of `run()` with the outputs copied to the host (explicit synchronisation)."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        result = run()
        for r in result if isinstance(result, (list, tuple)) else [result]:
            if hasattr(r, "numpy"):
                r.numpy()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print("no GPU: nothing to check (TensorFlow sees no GPU on this machine)")
        return 0
    import numpy as np

    from pytest_tfperf import load
    from pytest_tfperf.model import zoo
    from pytest_tfperf.timing.engine import TimingSettings, measure

    print(f"GPU: {[g.name for g in gpus]}; TensorFlow {tf.__version__}")
    settings = TimingSettings(min_time=0.5, max_time=3.0)
    failures = []
    fg = load(zoo.alexnet_graph(input_size=args.size, dense_units=1024), outputs=[OUTPUT])
    fg.set_threads(1, None)
    image = np.random.default_rng(0).random((args.batch, args.size, args.size, 3), dtype=np.float32)
    model = zoo.keras_bn_cnn(input_size=args.size, filters=(32, 64))
    x = tf.convert_to_tensor(image)
    fn = tf.function(lambda t: model(t, training=False))
    for name, target, inputs, hand in (
            ("frozen graph (session)", fg, image, fg.make_callable(image)),
            ("keras tf.function", fn, image, lambda: fn(x))):
        stats = measure(target, inputs, settings=settings)
        hand_ms = hand_loop(hand, max(stats.n, 20))
        ratio = stats.median_ms / hand_ms
        print(f"{name}: wall median {stats.median_ms:.3f} ms, hand loop with .numpy() "
              f"{hand_ms:.3f} ms (ratio {ratio:.3f}); CPU {stats.cpu_median_ms or float('nan'):.3f} "
              f"ms ({stats.cpu_clock.get('text')}); judged on {stats.clock}: "
              f"{stats.cpu_clock.get('why')}; n={stats.n}")
        if stats.clock != "wall":
            failures.append(f"{name}: judged on {stats.clock}, not wall")
        if not 0.9 <= ratio <= 1.1:
            failures.append(f"{name}: measure / synchronised hand loop = {ratio:.3f}")
        if stats.cpu_median_ms is not None and stats.cpu_median_ms >= stats.median_ms:
            failures.append(f"{name}: CPU {stats.cpu_median_ms:.3f} ms >= wall: did it run on the GPU?")
    with tf.compat.v1.Session(graph=fg.graph) as sess:
        devices = {d.name for d in sess.list_devices()}
    print(f"session devices: {sorted(devices)}")
    fg.close()
    for f in failures:
        print(f"FAILED: {f}")
    print("ok" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
