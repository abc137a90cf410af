"""CPU affinity while timing: pin every thread of this process to chosen CPUs, then restore.

`os.sched_setaffinity(0, cpus)` pins only the calling thread on Linux; TensorFlow runs ops on
its own thread pools, so every task in `/proc/self/task` is pinned (threads started later
inherit the mask of the thread that starts them). Where the platform has no affinity calls
(macOS, Windows) pinning is a no-op. Whether pinning helps is measured, not assumed
(`bench/bench_compare.py`, bench/RESULTS.md); it is off unless ini `tfperf_cpus` is set.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator


def _tasks() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


@contextlib.contextmanager
def pinned(cpus: Iterable[int] | None) -> Iterator[None]:
    """Pin all threads to `cpus` inside the block (no-op for None or without OS support)."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        yield
        return
    wanted = set(cpus)
    saved: dict[int, set[int]] = {}
    for tid in _tasks():
        try:
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, wanted)
        except OSError:  # a thread that ended meanwhile
            saved.pop(tid, None)
    try:
        yield
    finally:
        for tid, mask in saved.items():
            try:
                os.sched_setaffinity(tid, mask)
            except OSError:
                pass
