"""The sampling loop of the timing engine: warm-up, blocks, the stopping rule, confirmation.

`timing.measure` builds the runner and calls `sample_blocks`; see `timing`'s module docstring
for the sequence (steps 2-5). Settings are a `timing.TimingSettings` (read, never imported
here: this module sits below `timing`). No TensorFlow, no printing.
"""
from __future__ import annotations

import dataclasses
import gc
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_tfperf.timing.stats import order_statistic_ranks

_NS_PER_MS = 1_000_000.0
_NS_PER_S = 1_000_000_000


@dataclasses.dataclass
class Sampled:
    """What `sample_blocks` timed: per-call wall and CPU ns of the reported calls (`cpu_ns`
    empty without a CPU clock; NaN for a call whose CPU could not be read), the CPU clock used
    (`clocks.CpuClock`, None without one) and the note when it changed mid-run."""

    wall_ns: list[int]
    cpu_ns: list[float]
    warmup_n: int
    reason: str
    discarded_n: int
    sizes: list[int]
    fresh: list[bool]
    cpu_clock: Any = None
    clock_note: str = ""
    tids: tuple[int, ...] = ()  # every thread found running the model (run-queue waits)
    wall_because: str = ""  # judged on wall though CPU was asked: why (`CpuClock.missed_share`)


class _CpuReader:
    """The CPU clock of the model's threads (`clocks.discover`), re-found on a fresh runner,
    falling back to the process clock if one of its threads ends."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.clock = None
        self.read: Callable[[], int] | None = None
        self.note = ""
        self.tids: list[int] = []

    def around(self, calls: Callable[[], Any]) -> Any:
        """Run `calls()` (warm-up of a runner) and find the threads that gained CPU."""
        from pytest_tfperf.timing import clocks

        t0 = time.perf_counter_ns()  # the windows span the snapshots: reading every thread
        before = clocks.thread_times()  # takes ms while a thread holds the GIL
        out = calls()
        after = clocks.thread_times()
        t1 = time.perf_counter_ns()
        self.clock = clocks.discover(before, after, self.family)
        if self.clock.misses_the_model:  # other threads ran: the model's, or background?
            time.sleep(clocks.PAUSE_S)
            paused = clocks.thread_times()
            background = clocks.background_threads(before, after, t1 - t0, paused,
                                                   time.perf_counter_ns() - t1)
            self.clock = clocks.discover(before, after, self.family, background=background)
        self.read = self.clock.reader()
        self.tids += [t for t in self.clock.tids if t not in self.tids]
        return out

    def fallback(self) -> Callable[[], int]:
        from pytest_tfperf.timing import clocks

        self.note = f"{self.clock.text if self.clock else 'a model thread'} ended mid-run: " \
                    "process CPU time from then on"
        self.clock = dataclasses.replace(clocks.PROCESS, tids=self.clock.tids if self.clock else ())
        self.read = self.clock.reader()
        return self.read


def sample_blocks(runner: Callable[[], Any], settings, *,
                  budget_ms: float | None = None, percentile: float = 50,
                  rebuild: Callable[[], Callable[[], Any]] | None = None,
                  cpu_family: str | None = None, judge_cpu: bool = False) -> Sampled:
    """Warm-up, sampling and the over-budget confirmation (`timing`'s docstring, steps 2-5).

    Args:
        runner: zero-argument callable (already called once).
        settings: the timing settings.
        budget_ms: the gated percentile's limit, or None (one block, no confirmation).
        percentile: the gated percentile.
        rebuild: a fresh runner (new TF session) per confirmation block and, with
            `settings.fresh_blocks`, per block; None: the same runner. Sessions of one model
            differ by up to ~10% here, so a verdict must hold across sessions.
        cpu_family: `clocks.discover`'s rule for the model's threads ("tensorflow",
            "litert-1", anything else: the process clock); None: wall clock only.
        judge_cpu: the stopping rule and the confirmation decide on CPU time, not wall.

    Returns:
        `Sampled`: the reported calls (both clocks), warm-up calls, why they stopped, the calls
        of the other blocks, and the reported calls' blocks (contiguous, or one per runner) and
        which ran on a fresh runner.
    """
    from pytest_tfperf.timing.blocks import block_count, split_sizes

    clock = time.perf_counter_ns
    max_ns = int(settings.max_time * _NS_PER_S)
    cpu = _CpuReader(cpu_family) if cpu_family is not None else None
    judge = judge_cpu and cpu is not None

    def block(run, block_settings, block_budget):
        return _sample_block(run, block_settings, block_budget, percentile, deadline, cpu, judge)

    def warm(run):
        return cpu.around(lambda: _warm(run, settings)) if cpu is not None else _warm(run, settings)

    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        warmup_n = 0
        start = clock()
        warmup_ns = int(settings.warmup_time * _NS_PER_S)

        def warmup_calls():
            nonlocal warmup_n
            while warmup_n < settings.warmup or clock() - start < warmup_ns:
                runner()
                warmup_n += 1
                if clock() - start >= max_ns:
                    break
        wall_because = ""
        if cpu is not None:
            cpu.around(warmup_calls)
            if judge and cpu.clock.misses_the_model:
                judge, wall_because = False, _missed_text(cpu.clock)
        else:
            warmup_calls()

        start = clock()
        deadline = start + max_ns
        if settings.fresh_blocks and rebuild is not None and settings.blocks > 1:
            best, reason, sizes = _sample_fresh_blocks(runner, rebuild, settings, budget_ms,
                                                       percentile, block, warm, judge)
            fresh = [i > 0 for i in range(len(sizes))]
        else:
            best, reason = block(runner, settings, budget_ms)
            sizes = split_sizes(len(best[0]), block_count(len(best[0]), settings.blocks))
            fresh = [False] * len(sizes)
        discarded = 0
        if budget_ms is not None and settings.confirm_time > 0:
            budget_ns = budget_ms * _NS_PER_MS
            best_value = _gated_ns(best[judge], percentile)
            confirm_end = min(start + int(settings.confirm_time * _NS_PER_S), deadline)
            while best_value > budget_ns and clock() < confirm_end:
                if rebuild is not None:
                    runner = warm(rebuild())
                again, block_reason = block(runner, settings, budget_ms)
                value = _gated_ns(again[judge], percentile)
                if value < best_value and len(again[0]) >= min(settings.min_runs, len(best[0])):
                    discarded += len(best[0])
                    best, reason, best_value = again, block_reason, value
                    sizes = split_sizes(len(best[0]), block_count(len(best[0]), settings.blocks))
                    fresh = [rebuild is not None] * len(sizes)
                else:
                    discarded += len(again[0])
        return Sampled(best[0], best[1], warmup_n, reason, discarded, sizes, fresh,
                       cpu.clock if cpu is not None else None, cpu.note if cpu is not None else "",
                       tuple(cpu.tids) if cpu is not None else (), wall_because)
    finally:
        if gc_was_enabled:
            gc.enable()


def _missed_text(clock) -> str:
    """Why a model asked to be judged on CPU is judged on wall: threads outside its clock."""
    return (f"threads outside {clock.text} ran {clock.missed_share:.0%} of the model's CPU in "
            "warm-up (TensorFlow's process-wide intra-op pool ignores a session's thread "
            "count unless TF_OVERRIDE_GLOBAL_THREADPOOL=1 is set before TensorFlow starts; "
            "pytest-tfperf sets it): CPU time is not the call's latency, judged on wall")


def _warm(runner: Callable[[], Any], settings) -> Callable[[], Any]:
    """A fresh runner's first call and warm-up calls, untimed."""
    for _ in range(max(settings.warmup, 1) + 1):
        runner()
    return runner


def _sample_fresh_blocks(runner, rebuild, settings, budget_ms, percentile, block, warm,
                         judge: bool) -> tuple[tuple[list, list], str, list[int]]:
    """`settings.blocks` blocks (the first on `runner`, the others on `rebuild()`) sharing the
    minimum time and runs, then more until the stopping rule decides:
    ((wall, cpu), reason, sizes)."""
    k = settings.blocks
    per_block = settings.replace(  # each block stops at its share (any finite CI is precise)
        min_time=settings.min_time / k, min_runs=max(1, -(-settings.min_runs // k)),
        precision=1e9)
    wall: list[int] = []
    cpu: list[float] = []
    sizes: list[int] = []
    while True:
        if sizes:
            runner = warm(rebuild())
        (w, c), reason = block(runner, per_block, None)
        wall.extend(w)
        cpu.extend(c)
        sizes.append(len(w))
        if reason in ("max_time", "max_runs") or len(wall) >= settings.max_runs:
            return (wall, cpu), reason, sizes
        if len(sizes) >= k:
            reason = stop_reason((wall, cpu)[judge], percentile, budget_ms, settings.precision)
            if reason:
                return (wall, cpu), reason, sizes


def _gated_ns(samples_ns: list, percentile: float) -> float:
    x = np.asarray(samples_ns, dtype=np.float64)
    return float(np.percentile(x[np.isfinite(x)], percentile)) if np.isfinite(x).any() else 0.0


def _sample_block(runner: Callable[[], Any], settings, budget_ms: float | None,
                  percentile: float, deadline: int, cpu: _CpuReader | None = None,
                  judge: bool = False) -> tuple[tuple[list[int], list[float]], str]:
    """Time one block: at least `min_runs` calls and `min_time` seconds, then until the
    stopping rule decides (on CPU time when `judge`), `max_runs`, or the `deadline` (a
    perf_counter_ns value). Returns `((wall_ns, cpu_ns), reason)`; the CPU clock is read
    outside the wall clock's interval, so reading it never adds to a wall sample."""
    clock = time.perf_counter_ns
    min_ns = int(settings.min_time * _NS_PER_S)
    samples: list[int] = []
    cpu_samples: list[float] = []
    append, cpu_append = samples.append, cpu_samples.append
    judged = cpu_samples if judge else samples
    min_runs = max(settings.min_runs, 1)
    next_check = min_runs
    read = cpu.read if cpu is not None else None
    start = clock()
    while True:
        if read is None:
            t0 = clock()
            runner()
            t1 = clock()
        else:
            try:
                c0 = read()
            except OSError:  # a model thread ended: the process clock from now on
                read = cpu.fallback()
                c0 = read()
            t0 = clock()
            runner()
            t1 = clock()
            try:
                cpu_append(read() - c0)
            except OSError:
                read = cpu.fallback()
                cpu_append(math.nan)
        append(t1 - t0)
        n = len(samples)
        if n < next_check:
            if t1 >= deadline:
                return (samples, cpu_samples), "max_time"
            continue
        if t1 >= deadline:
            return (samples, cpu_samples), "max_time"
        if n >= settings.max_runs:
            return (samples, cpu_samples), "max_runs"
        if t1 - start >= min_ns:
            reason = stop_reason(judged, percentile, budget_ms, settings.precision)
            if reason:
                return (samples, cpu_samples), reason
        next_check = next_check_after(n)


def next_check_after(n: int) -> int:
    """Sample count of the next stopping-rule check after one at `n` (~5% growth, >= 5)."""
    return n + max(5, n // 20)


def stop_reason(samples_ns: list[int], percentile: float, budget_ms: float | None,
                precision: float) -> str | None:
    """'budget' / 'precision' when the samples so far settle the question, else None.

    The 95% order-statistic CI of the gated percentile must have real 95% coverage (enough
    samples), then either lie entirely below or above `budget_ms`, or have both ends within
    `precision` (a fraction) of the statistic.
    """
    x = np.asarray(samples_ns, dtype=np.float64)
    if not np.isfinite(x).all():  # a CPU reading lost when a thread ended
        x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return None
    lo_rank, hi_rank, coverage = order_statistic_ranks(n, percentile / 100.0)
    if coverage < 0.95:
        return None
    lo, hi = np.partition(x, (lo_rank - 1, hi_rank - 1))[[lo_rank - 1, hi_rank - 1]]
    if budget_ms is not None:
        budget_ns = budget_ms * _NS_PER_MS
        if hi <= budget_ns or lo > budget_ns:
            return "budget"
    stat = float(np.percentile(x, percentile))
    if stat > 0 and max(stat - lo, hi - stat) <= precision * stat:
        return "precision"
    return None
