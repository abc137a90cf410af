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
_PROBE: dict = {}  # (intra_op, inter_op) -> (runner, CPU reader, model): one session per process
# Interleaved with a measurement (`Interleave`): a slice of reference calls after every
# `EVERY_S` of the model's calls. Chosen from 800-pair runs of a 0.16 ms graph (issue 19,
# bench/RESULTS.md): where the model's CPU time per call rose 12-17% for a few seconds, the
# reference of the same moments rose 8-14%, window by window.
EVERY_S = 0.02
SLICE_S = 0.004
SLICE_CALLS = 3


def _reference(intra_op: int | None, inter_op: int | None):
    """`(run, read)`: the process's reference session for these thread settings and the CPU
    clock of the threads that run it (built once, warmed up)."""
    from pytest_tfperf.timing import clocks

    key = (intra_op, inter_op)
    if key not in _PROBE:
        fg, image = reference_model(intra_op, inter_op)
        run = fg.make_callable(image)
        before = clocks.thread_times()
        for _ in range(5):
            run()
        clock = clocks.discover(before, clocks.thread_times(), "tensorflow")
        _PROBE[key] = (run, clock.reader(), fg)
    run, read, _ = _PROBE[key]
    return run, read


def _slice(run, read, seconds: float, min_calls: int) -> tuple[list[float], list[float]]:
    """Time reference calls for `seconds` (at least `min_calls`): (CPU ms, wall ms) per call."""
    import time

    cpu, wall = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(cpu) < min_calls:
        c0 = read()
        t0 = time.perf_counter_ns()
        run()
        t1 = time.perf_counter_ns()
        cpu.append((read() - c0) / 1e6)
        wall.append((t1 - t0) / 1e6)
    return cpu, wall


def probe(intra_op: int | None = 1, inter_op: int | None = None) -> dict[str, float] | None:
    """Time the reference workload for `PROBE_TIME` seconds: `{"cpu_ms": median CPU time of
    its threads per call, "wall_ms": wall median}`, or None if it cannot run here."""
    import statistics

    try:
        run, read = _reference(intra_op, inter_op)
        run()
        cpu, wall = _slice(run, read, PROBE_TIME, 5)
    except Exception:  # noqa: BLE001  (optional context: never fails a measurement)
        _PROBE.pop((intra_op, inter_op), None)
        return None
    return {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}


class Interleave:
    """The reference workload timed *between* a measurement's calls: called after each timed
    call with the number of calls so far, it runs a slice of `SLICE_S` (at least
    `SLICE_CALLS` calls) once `EVERY_S` has passed since the last slice, and returns the
    nanoseconds it took (the sampler does not count them as the model's time). `marks` holds
    `(calls so far, [CPU ms per reference call])` per slice; `begin()` starts a new block of
    marks. A reference that fails to run stops interleaving (`error` says why), never the
    measurement."""

    def __init__(self, intra_op: int | None = 1, inter_op: int | None = None,
                 every_s: float = EVERY_S, slice_s: float = SLICE_S) -> None:
        import time

        self._run, self._read = _reference(intra_op, inter_op)
        self._clock = time.perf_counter_ns
        self.every_ns, self.slice_s = int(every_s * 1e9), slice_s
        self.marks: list[tuple[int, list[float]]] = []
        self.error = ""
        self._last = self._clock()

    def begin(self) -> None:
        """Start a block: new marks, and the first slice after `EVERY_S` of its calls."""
        self.marks = []
        self._last = self._clock()

    def __call__(self, calls: int) -> int:
        now = self._clock()
        if self.error or now - self._last < self.every_ns:
            return 0
        try:
            cpu, _ = _slice(self._run, self._read, self.slice_s, SLICE_CALLS)
        except Exception as exc:  # noqa: BLE001  (optional context: never fails a measurement)
            self.error = f"{type(exc).__name__}: {exc}"
            return 0
        self.marks.append((calls, cpu))
        self._last = self._clock()
        return self._last - now
