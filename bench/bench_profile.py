"""Overhead of FLOP counting and per-op profiling, next to a plain measurement of the same model.

Prints, for each model: median latency from `measure`, the wall time of `count_flops`, of
`profile(runs=20)` and of `peak_memory_bytes`, and the traced/untraced per-run ratio (how much
RunMetadata tracing slows one run). Run: `.venv/bin/python bench/bench_profile.py`.
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _wall(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    import numpy as np

    from pytest_tfperf import load
    from pytest_tfperf.model import zoo
    from pytest_tfperf.analysis.flops.count import count_flops
    from pytest_tfperf.analysis.profiling import peak_memory_bytes, profile
    from pytest_tfperf.timing.engine import measure

    models = {
        "small convnet 128px": (zoo.small_convnet_graph(input_size=128, channels=(16, 32)), 128),
        "alexnet 224px": (zoo.alexnet_graph(input_size=224), 224),
    }
    print(f"{'model':22} {'median ms':>10} {'count_flops s':>14} {'profile(20) s':>14} "
          f"{'peak_mem s':>11} {'traced/untraced':>16}")
    for label, (graph, size) in models.items():
        fg = load(graph, outputs=["logits_layer/BiasAdd"])
        x = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
        stats = measure(fg, x, min_time=0.5)
        flops, t_flops = _wall(lambda fg=fg: count_flops(fg))
        prof, t_prof = _wall(lambda fg=fg, x=x: profile(fg, x, runs=20))
        _, t_mem = _wall(lambda fg=fg, x=x: peak_memory_bytes(fg, x))
        ratio = prof.traced_wall_us.avg / prof.wall_us.avg
        print(f"{label:22} {stats.median_ms:10.2f} {t_flops:14.3f} {t_prof:14.3f} {t_mem:11.3f} "
              f"{ratio:16.2f}   (FLOPs {flops.total / 1e9:.2f}G)")
        fg.close()


if __name__ == "__main__":
    main()
