"""Closed-loop load: `concurrency` runners issue requests back to back, one thread each.

This is perf_analyzer's concurrency mode: each of C clients sends a request, waits for the
answer, sends the next; C requests are in flight at every moment. Each runner is its own
runtime instance (a TF session, a LiteRT interpreter) and runs in its own thread: TF sessions
and LiteRT's `invoke` release the GIL while they compute, so the requests really overlap. On a
2-core machine, C x intra-op threads above 2 only time-share the two cores: throughput stops
growing and every request's latency grows with C (the table shows where that starts).

What is measured, per configuration:
- per request (one call of `batch` inputs): its wall latency (`perf_counter_ns` before and
  after), as `LatencyStats` (percentiles with their distribution-free CIs, `stats.py`);
- throughput: inferences (requests x batch) per second over the measured window. The window is
  cut into up to `settings.blocks` equal time blocks (`blocks.block_count`: >= 5 requests each);
  a request that straddles a block edge counts in each block by the share of its time spent
  there, so blocks add up exactly to the window. The 95% CI is Student's t over the per-block
  throughputs (`blocks.t_quantile`): calls inside a block are not independent, blocks are the
  replicates, as in `blocks.py`.
- CPU use: process CPU time over the window / wall time / the cores this process may use.

Stopping (checked as `sampling` checks latency): at least `min_runs` requests and `min_time`
seconds, then until the throughput CI lies entirely on one side of `fps_target` (and the p99's
order-statistic CI on one side of `p99_ms`, `sampling.stop_reason`), or without a target until
its half-width is within `precision` of the throughput; `max_time` caps it. Warm-up: at least
one request per runner and `warmup_time` seconds, and up to `warmup` requests per runner unless
that takes over `WARMUP_CAP_S` (a batch of 32 on a big model takes seconds a call).
No TensorFlow here; runners are zero-argument callables.
"""
from __future__ import annotations

import dataclasses
import gc
import math
import os
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pytest_tfperf.timing.blocks import LEVEL, MIN_BLOCK_RUNS, block_count, t_quantile
from pytest_tfperf.timing.sampling import next_check_after, stop_reason

_NS = 1_000_000_000
WARMUP_CAP_S = 1.0   # warm-up stops here once each runner ran once and warmup_time passed
_POLL_S = 0.02       # how often the coordinating thread checks the stopping rule (C > 1)


@dataclasses.dataclass(frozen=True)
class LoadRun:
    """What one closed-loop run measured (times in ns from `perf_counter_ns`).

    `latencies_ms`: one per request that started inside the window; `block_fps`: inferences/s
    per time block; `inferences`: requests x batch inside the window (straddling requests by
    their share); `cpu_s`: process CPU seconds over the window.
    """

    batch: int
    concurrency: int
    latencies_ms: tuple[float, ...]
    window_s: float
    inferences: float
    block_fps: tuple[float, ...]
    cpu_s: float
    warmup_n: int
    stop_reason: str

    @property
    def throughput(self) -> float:
        """Inferences per second over the window."""
        return self.inferences / self.window_s if self.window_s > 0 else math.nan

    @property
    def throughput_ci(self) -> tuple[float, float] | None:
        """95% CI of the throughput from the block spread, None with fewer than 2 blocks."""
        return throughput_interval(self.block_fps)


def throughput_interval(block_fps: Sequence[float], level: float = LEVEL) -> tuple[float, float] | None:
    """Student-t interval of the mean per-block throughput (None for fewer than two blocks).

    Blocks are equal time windows, so their mean is the window's throughput."""
    k = len(block_fps)
    if k < 2:
        return None
    x = np.asarray(block_fps, dtype=np.float64)
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = t_quantile(0.5 + level / 2, k - 1) * sd / math.sqrt(k)
    return mean - half, mean + half


def window_fps(starts: np.ndarray, ends: np.ndarray, lo: int, hi: int, k: int,
               batch: int) -> np.ndarray:
    """Inferences/s in each of `k` equal blocks of [lo, hi) ns; a request counts in a block by
    the share of its duration that falls there."""
    edges = np.linspace(lo, hi, k + 1)
    dur = np.maximum(ends - starts, 1).astype(np.float64)
    a, b = edges[:-1, None], edges[1:, None]
    overlap = np.clip(np.minimum(ends[None, :], b) - np.maximum(starts[None, :], a), 0, None)
    per_block = (overlap / dur[None, :]).sum(axis=1) * batch
    return per_block / ((hi - lo) / k / _NS)


class _Decider:
    """The stopping rule over the requests recorded so far (see the module docstring)."""

    def __init__(self, settings, batch: int, fps_target: float | None, p99_ms: float | None,
                 precision: float):
        self.s, self.batch = settings, batch
        self.fps_target, self.p99_ms, self.precision = fps_target, p99_ms, precision

    def __call__(self, starts: np.ndarray, ends: np.ndarray, lo: int, hi: int) -> str | None:
        if hi - lo < self.s.min_time * _NS:
            return None
        inside = starts >= lo
        n = int(inside.sum())
        if n < max(self.s.min_runs, 2 * MIN_BLOCK_RUNS):
            return None
        k = block_count(n, self.s.blocks)
        ci = throughput_interval(window_fps(starts, ends, lo, hi, k, self.batch))
        if ci is None:
            return None
        low, high = ci
        mean = (low + high) / 2
        if self.fps_target is not None:
            if high < self.fps_target:
                return "budget"  # too slow, whatever the latency
            if low < self.fps_target:
                return None
            if self.p99_ms is None:
                return "budget"
            lat = ((ends - starts)[inside]).tolist()
            return "budget" if stop_reason(lat, 99, self.p99_ms, self.s.precision) else None
        return "precision" if mean > 0 and (high - low) / 2 <= self.precision * mean else None


def run_closed_loop(runners: Sequence[Callable[[], Any]], *, batch: int, settings,
                    fps_target: float | None = None, p99_ms: float | None = None,
                    precision: float = 0.05) -> LoadRun:
    """Warm up and time `runners` under closed-loop load, one thread per runner.

    Args:
        runners: zero-argument callables, one independent runtime instance each (already
            called once); `len(runners)` is the concurrency.
        batch: inputs per request.
        settings: `TimingSettings` (warmup, warmup_time, min_runs, min_time, max_time, blocks,
            precision: the p99 rule's).
        fps_target, p99_ms: a throughput budget's floor and p99 limit: sampling stops as soon
            as the verdict is clear.
        precision: without `fps_target`: stop once the throughput CI's half-width is within
            this fraction of it.

    Returns:
        The `LoadRun`.
    """
    decide = _Decider(settings, batch, fps_target, p99_ms, precision)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if len(runners) == 1:
            return _inline(runners[0], batch, settings, decide)
        return _threaded(list(runners), batch, settings, decide)
    finally:
        if gc_was_enabled:
            gc.enable()


def _warm_done(n_each: Sequence[int], elapsed_ns: int, settings) -> bool:
    least = min(n_each)
    if least < 1 or elapsed_ns < settings.warmup_time * _NS:
        return False
    return least >= settings.warmup or elapsed_ns >= WARMUP_CAP_S * _NS


def _inline(runner, batch: int, settings, decide) -> LoadRun:
    """Concurrency 1: the calling thread runs the requests (no coordinating thread)."""
    clock = time.perf_counter_ns
    start, warm = clock(), 0
    while not _warm_done([warm], clock() - start, settings):
        runner()
        warm += 1
    starts, ends = array("q"), array("q")  # C int64s: numpy reads them with one memcpy
    cpu0, lo = time.process_time_ns(), clock()
    deadline = lo + int(settings.max_time * _NS)
    earliest = lo + int(settings.min_time * _NS)
    next_check, reason, max_runs = max(settings.min_runs, 1), "max_time", settings.max_runs
    while True:
        t0 = clock()
        runner()
        t1 = clock()
        starts.append(t0)
        ends.append(t1)
        if t1 >= deadline:
            break
        n = len(starts)
        if n >= max_runs:
            reason = "max_runs"
            break
        if n >= next_check and t1 >= earliest:
            found = decide(_ints(starts), _ints(ends), lo, t1)
            if found:
                reason = found
                break
            next_check = next_check_after(n)
    return _result(starts, ends, lo, ends[-1], time.process_time_ns() - cpu0, batch, 1, warm,
                   reason, settings)


def _threaded(runners: list, batch: int, settings, decide) -> LoadRun:
    """Concurrency > 1: one thread per runner; this thread watches and decides when to stop."""
    clock = time.perf_counter_ns
    stop = threading.Event()
    # per client: request starts and ends as C int64s (a start is appended before its end, so
    # the first len(ends) starts pair with the ends; slicing copies under the GIL)
    records = [(array("q"), array("q")) for _ in runners]
    errors: list[BaseException] = []

    def work(runner, starts, ends):
        add_start, add_end = starts.append, ends.append
        try:
            while not stop.is_set():
                add_start(clock())
                runner()
                add_end(clock())
        except BaseException as exc:  # shown to the caller, never lost in a thread
            errors.append(exc)
            stop.set()

    def snapshot() -> tuple[np.ndarray, np.ndarray, int]:
        """(starts, ends, the time before which every client's work is recorded)."""
        parts = [(s[:len(e)], e[:len(e)]) for s, e in records]
        hi = min((e[-1] for _, e in parts if len(e)), default=0)
        return (np.concatenate([_ints(s) for s, _ in parts]),
                np.concatenate([_ints(e) for _, e in parts]), hi)

    threads = [threading.Thread(target=work, args=(r, *rec), daemon=True, name=f"tfperf-load-{i}")
               for i, (r, rec) in enumerate(zip(runners, records))]
    start = clock()
    for t in threads:
        t.start()
    try:
        while not stop.is_set() and not _warm_done([len(e) for _, e in records], clock() - start,
                                                  settings):
            time.sleep(_POLL_S)
        cpu0, lo = time.process_time_ns(), clock()
        warm = sum(len(e) for _, e in records)
        deadline = lo + int(settings.max_time * _NS)
        earliest = lo + int(settings.min_time * _NS)
        reason = "max_time"
        while not stop.is_set():
            time.sleep(_POLL_S)
            now = clock()
            if now >= deadline:
                break
            if sum(len(e) for _, e in records) - warm >= settings.max_runs:
                reason = "max_runs"
                break
            if now < earliest:
                continue
            starts, ends, hi = snapshot()
            if hi > lo:
                found = decide(starts, ends, lo, hi)
                if found:
                    reason = found
                    break
        hi = clock()
    finally:
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    cpu = time.process_time_ns() - cpu0
    starts, ends, _ = snapshot()
    keep = ends > lo
    order = np.argsort(starts[keep], kind="stable")
    return _result(starts[keep][order], ends[keep][order], lo, hi, cpu, batch, len(runners), warm,
                   reason, settings)


def _ints(values: array) -> np.ndarray:
    """An `array('q')` as an int64 numpy array (a copy: the array may grow meanwhile)."""
    return np.frombuffer(values, dtype=np.int64).copy() if len(values) else np.zeros(0, np.int64)


def _result(starts, ends, lo: int, hi: int, cpu_ns: int, batch: int, concurrency: int,
            warm: int, reason: str, settings) -> LoadRun:
    s = _ints(starts) if isinstance(starts, array) else np.asarray(starts, dtype=np.int64)
    e = _ints(ends) if isinstance(ends, array) else np.asarray(ends, dtype=np.int64)
    inside = s >= lo
    if not inside.any():  # a window shorter than one request (--tfperf-disable): what overlapped it
        inside = e > lo
    n = max(int(inside.sum()), 1)
    k = block_count(n, settings.blocks)
    hi = max(hi, lo + 1)
    blocks = window_fps(s, e, lo, hi, k, batch)
    window_s = (hi - lo) / _NS
    return LoadRun(
        batch=batch, concurrency=concurrency,
        latencies_ms=tuple(float(v) for v in (e - s)[inside] / 1e6),
        window_s=window_s, inferences=float(blocks.mean() * window_s),
        block_fps=tuple(float(v) for v in blocks) if k > 1 else (),
        cpu_s=cpu_ns / _NS, warmup_n=warm, stop_reason=reason)


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask; `os.cpu_count()` elsewhere)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
