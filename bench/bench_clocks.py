"""Wall vs CPU clocks per model (issue 19), in one process, side by side.

For each model (tiny: small convnet ~0.2 ms; mid: AlexNet-family 128 px ~6 ms; big: 288 px
~40 ms; `--sizes`), one intra-op thread (the plugin's default):
(a) which threads gained CPU during warm-up (name and share), and the clock `clocks.discover`
    picks from them;
(b) per-call medians of wall, the model threads' CPU and the process CPU on this machine as it
    is (the 1-minute load average is printed with every line: the machine is shared);
(c) the cost of reading the clocks: a hand `make_callable` loop with wall only vs with both
    clocks read around each call (interleaved rounds; ratio of medians, target <= 1.02);
(d) with `--numpy`, a 128x128 NumPy matmul between blocks (OpenBLAS workers spin afterwards):
    thread CPU vs process CPU.

Run: python bench/bench_clocks.py [--models tiny,mid,big] [--rounds 7] [--numpy]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_OVERRIDE_GLOBAL_THREADPOOL", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
OUTPUT = "logits_layer/BiasAdd"


def build(name: str, size: int):
    import numpy as np

    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    graph = zoo.small_convnet_graph(input_size=size, channels=(8, 16)) if name == "tiny" else \
        zoo.alexnet_graph(input_size=size, dense_units=1024)
    fg = load(graph, outputs=[OUTPUT])
    fg.set_threads(1, None)
    image = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    return fg, image


def loop(run, n: int, read_cpu=None, proc=False):
    wall, cpu, pcpu = [], [], []
    clock = time.perf_counter_ns
    pget = time.process_time_ns
    for _ in range(n):
        if read_cpu is not None:
            c0 = read_cpu()
        p0 = pget() if proc else 0
        t0 = clock()
        run()
        t1 = clock()
        if read_cpu is not None:
            cpu.append((read_cpu() - c0) / 1e6)
        if proc:
            pcpu.append((pget() - p0) / 1e6)
        wall.append((t1 - t0) / 1e6)
    return wall, cpu, pcpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="tiny,mid,big")
    p.add_argument("--sizes", default="tiny=32,mid=128,big=288")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=0.5, help="per block")
    p.add_argument("--numpy", action="store_true")
    args = p.parse_args()
    from pytest_tfperf.timing import clocks

    sizes = {k: int(v) for k, v in (s.split("=") for s in args.sizes.split(","))}
    for name in args.models.split(","):
        fg, image = build(name, sizes[name])
        run = fg.make_callable(image)
        before = clocks.thread_times()
        t_end = time.perf_counter() + 0.3
        k = 0
        while time.perf_counter() < t_end or k < 5:
            run()
            k += 1
        after = clocks.thread_times()
        clock = clocks.discover(before, after, "tensorflow")
        gained = {t: (after[t][0], after[t][1] - before.get(t, ("", 0))[1]) for t in after}
        total = sum(d for _, d in gained.values() if d > 0)
        tops = sorted(((d, n, t) for t, (n, d) in gained.items() if d > 0), reverse=True)[:6]
        print(f"\n== {name} ({sizes[name]} px), load {os.getloadavg()[0]:.2f}; caller "
              f"{threading.get_native_id()}; clock: {clock.text} (other threads "
              f"{clock.other_share:.1%} of warm-up CPU)")
        print("   warm-up CPU by thread: " + ", ".join(
            f"{n}[{t}] {d / total:.0%}" for d, n, t in tops))
        read = clock.reader()
        per = max(5, int(args.seconds * 1e3 / max(statistics.median(loop(run, 5)[0]), 1e-3)))
        rows = []
        for r in range(args.rounds):
            if args.numpy:
                import numpy as np
                a = np.random.default_rng(r).random((128, 128))
                for _ in range(20):
                    a = a @ a / 128.0
            w_only, _, _ = loop(run, per)
            w, c, pc = loop(run, per, read, proc=True)
            rows.append((statistics.median(w_only), statistics.median(w), statistics.median(c),
                         statistics.median(pc), os.getloadavg()[0]))
        med = [statistics.median(x[i] for x in rows) for i in range(4)]
        ratios = [x[1] / x[0] for x in rows]
        print(f"   per-call medians (median of {args.rounds} rounds x {per} calls): wall {med[1]:.3f} ms, "
              f"model-thread CPU {med[2]:.3f} ms ({med[2] / med[1]:.3f} of wall), process CPU "
              f"{med[3]:.3f} ms ({med[3] / med[1]:.3f})")
        print(f"   clock-reading cost: wall median with both clocks / wall only = "
              f"{statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f}); "
              f"load {min(x[4] for x in rows):.2f}-{max(x[4] for x in rows):.2f}")
        fg.close()


if __name__ == "__main__":
    main()
