"""The reference workload itself and its probe (`reference.py` times it per session; the engine
probes it around each measurement under `--tfperf-normalize`). Apart from `reference.py`, which
imports the timing engine, so that the engine can import this module without a cycle.
"""
from __future__ import annotations

WORKLOAD = "small convnet 96x96x3, conv 16/32 + dense (zoo.small_convnet_graph, seed 0)"
VERSION = 1     # change when the workload changes: ratios across versions do not compare
MIN_TIME = 0.3  # seconds of timed calls (plus 0.1 s warm-up): ~0.5 s per session


def reference_model(intra_op: int | None = None, inter_op: int | None = None):
    """The reference workload as a `FrozenGraph` and its input (deterministic)."""
    import numpy as np

    from pytest_tfperf.model import zoo
    from pytest_tfperf.model import load

    fg = load(zoo.small_convnet_graph(input_size=96, channels=(16, 32), seed=0))
    fg.set_threads(intra_op, inter_op)
    image = np.random.default_rng(0).random((1, 96, 96, 3), dtype=np.float32)
    return fg, image


PROBE_TIME = 0.05  # seconds of timed reference calls per probe (two probes per measurement)
_PROBE: dict = {}  # (intra_op, inter_op) -> (runner, close): one reference session per process


def probe(intra_op: int | None = 1, inter_op: int | None = None) -> dict[str, float] | None:
    """Time the reference workload for `PROBE_TIME` seconds: `{"cpu_ms": median CPU time of
    its threads per call, "wall_ms": wall median}`, or None if it cannot run here."""
    import statistics
    import time

    from pytest_tfperf.timing import clocks

    key = (intra_op, inter_op)
    try:
        if key not in _PROBE:
            fg, image = reference_model(intra_op, inter_op)
            run = fg.make_callable(image)
            before = clocks.thread_times()
            for _ in range(5):
                run()
            clock = clocks.discover(before, clocks.thread_times(), "tensorflow")
            _PROBE[key] = (run, clock.reader(), fg)
        run, read, _ = _PROBE[key]
        run()
        cpu, wall = [], []
        end = time.perf_counter() + PROBE_TIME
        while time.perf_counter() < end or len(cpu) < 5:
            c0 = read()
            t0 = time.perf_counter_ns()
            run()
            t1 = time.perf_counter_ns()
            cpu.append((read() - c0) / 1e6)
            wall.append((t1 - t0) / 1e6)
    except Exception:  # noqa: BLE001  (optional context: never fails a measurement)
        _PROBE.pop(key, None)
        return None
    return {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}
