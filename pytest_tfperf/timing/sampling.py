"""The sampling loop of the timing engine: warm-up, blocks, the stopping rule, confirmation.

`timing.measure` builds the runner and calls `sample_blocks`; see `timing`'s module docstring
for the sequence (steps 2-5). Settings are a `timing.TimingSettings` (read, never imported
here: this module sits below `timing`). No TensorFlow, no printing.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_tfperf.timing.stats import order_statistic_ranks

_NS_PER_MS = 1_000_000.0
_NS_PER_S = 1_000_000_000


def sample_blocks(runner: Callable[[], Any], settings, *,
                  budget_ms: float | None = None, percentile: float = 50,
                  rebuild: Callable[[], Callable[[], Any]] | None = None,
                  ) -> tuple[list[int], int, str, int, list[int], list[bool]]:
    """Warm-up, sampling and the over-budget confirmation (`timing`'s docstring, steps 2-5).

    Args:
        runner: zero-argument callable (already called once).
        settings: the timing settings.
        budget_ms: the gated percentile's limit, or None (one block, no confirmation).
        percentile: the gated percentile.
        rebuild: a fresh runner (new TF session) per confirmation block and, with
            `settings.fresh_blocks`, per block; None: the same runner. Sessions of one model
            differ by up to ~10% here, so a verdict must hold across sessions.

    Returns:
        `(samples_ns, warmup_n, stop_reason, discarded_n, block_sizes, block_fresh)`: the
        reported samples, why they stopped, the calls of the other blocks, and the reported
        samples' blocks (contiguous, or one per runner) and which ran on a fresh runner.
    """
    from pytest_tfperf.timing.blocks import block_count, split_sizes

    clock = time.perf_counter_ns
    max_ns = int(settings.max_time * _NS_PER_S)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        warmup_n = 0
        start = clock()
        warmup_ns = int(settings.warmup_time * _NS_PER_S)
        while warmup_n < settings.warmup or clock() - start < warmup_ns:
            runner()
            warmup_n += 1
            if clock() - start >= max_ns:
                break

        start = clock()
        deadline = start + max_ns
        if settings.fresh_blocks and rebuild is not None and settings.blocks > 1:
            best, reason, sizes = _sample_fresh_blocks(runner, rebuild, settings, budget_ms,
                                                       percentile, deadline)
            fresh = [i > 0 for i in range(len(sizes))]
        else:
            best, reason = _sample_block(runner, settings, budget_ms, percentile, deadline)
            sizes = split_sizes(len(best), block_count(len(best), settings.blocks))
            fresh = [False] * len(sizes)
        if budget_ms is None or settings.confirm_time <= 0:
            return best, warmup_n, reason, 0, sizes, fresh
        budget_ns = budget_ms * _NS_PER_MS
        best_value = _gated_ns(best, percentile)
        discarded = 0
        confirm_end = min(start + int(settings.confirm_time * _NS_PER_S), deadline)
        while best_value > budget_ns and clock() < confirm_end:
            if rebuild is not None:
                runner = _warm(rebuild(), settings)
            block, block_reason = _sample_block(runner, settings, budget_ms, percentile, deadline)
            value = _gated_ns(block, percentile)
            if value < best_value and len(block) >= min(settings.min_runs, len(best)):
                discarded += len(best)
                best, reason, best_value = block, block_reason, value
                sizes = split_sizes(len(best), block_count(len(best), settings.blocks))
                fresh = [rebuild is not None] * len(sizes)
            else:
                discarded += len(block)
        return best, warmup_n, reason, discarded, sizes, fresh
    finally:
        if gc_was_enabled:
            gc.enable()


def _warm(runner: Callable[[], Any], settings) -> Callable[[], Any]:
    """A fresh runner's first call and warm-up calls, untimed."""
    for _ in range(max(settings.warmup, 1) + 1):
        runner()
    return runner


def _sample_fresh_blocks(runner, rebuild, settings, budget_ms, percentile,
                         deadline: int) -> tuple[list[int], str, list[int]]:
    """`settings.blocks` blocks (the first on `runner`, the others on `rebuild()`) sharing the
    minimum time and runs, then more until the stopping rule decides: (samples, reason, sizes)."""
    k = settings.blocks
    per_block = settings.replace(  # each block stops at its share (any finite CI is precise)
        min_time=settings.min_time / k, min_runs=max(1, -(-settings.min_runs // k)),
        precision=1e9)
    samples: list[int] = []
    sizes: list[int] = []
    while True:
        if sizes:
            runner = _warm(rebuild(), settings)
        block, reason = _sample_block(runner, per_block, None, percentile, deadline)
        samples.extend(block)
        sizes.append(len(block))
        if reason in ("max_time", "max_runs") or len(samples) >= settings.max_runs:
            return samples, reason, sizes
        if len(sizes) >= k:
            reason = stop_reason(samples, percentile, budget_ms, settings.precision)
            if reason:
                return samples, reason, sizes


def _gated_ns(samples_ns: list[int], percentile: float) -> float:
    return float(np.percentile(np.asarray(samples_ns, dtype=np.float64), percentile))


def _sample_block(runner: Callable[[], Any], settings, budget_ms: float | None,
                  percentile: float, deadline: int) -> tuple[list[int], str]:
    """Time one block: at least `min_runs` calls and `min_time` seconds, then until the
    stopping rule decides, `max_runs`, or the `deadline` (a perf_counter_ns value)."""
    clock = time.perf_counter_ns
    min_ns = int(settings.min_time * _NS_PER_S)
    samples: list[int] = []
    append = samples.append
    min_runs = max(settings.min_runs, 1)
    next_check = min_runs
    start = clock()
    while True:
        t0 = clock()
        runner()
        t1 = clock()
        append(t1 - t0)
        n = len(samples)
        if n < next_check:
            if t1 >= deadline:
                return samples, "max_time"
            continue
        if t1 >= deadline:
            return samples, "max_time"
        if n >= settings.max_runs:
            return samples, "max_runs"
        if t1 - start >= min_ns:
            reason = stop_reason(samples, percentile, budget_ms, settings.precision)
            if reason:
                return samples, reason
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
    n = len(samples_ns)
    lo_rank, hi_rank, coverage = order_statistic_ranks(n, percentile / 100.0)
    if coverage < 0.95:
        return None
    x = np.asarray(samples_ns, dtype=np.float64)
    lo, hi = np.partition(x, (lo_rank - 1, hi_rank - 1))[[lo_rank - 1, hi_rank - 1]]
    if budget_ms is not None:
        budget_ns = budget_ms * _NS_PER_MS
        if hi <= budget_ns or lo > budget_ns:
            return "budget"
    stat = float(np.percentile(x, percentile))
    if stat > 0 and max(stat - lo, hi - stat) <= precision * stat:
        return "precision"
    return None
