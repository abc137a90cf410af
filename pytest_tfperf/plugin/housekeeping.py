"""Memory housekeeping between tests: which cached models no later test needs, and when to collect.

A frozen AlexNet-224 costs ~0.5 GB as `GraphDef` + imported `tf.Graph` and ~1.3 GB more while
a session over it is open (TensorFlow keeps ~5 copies of the weights: the session's GraphDef,
its graph, the executor's partition graph and the constant kernels' tensors). The session's
model cache keeps every model to the end of the run; `DropPlan` lets it drop a *large* model
(serialized over `DROP_LIMIT_BYTES`) after the last collected test that names it, and
`collect_if_grown` runs Python's full garbage collection after a test that dropped models or
grew the process a lot: a `tf.Graph` is a reference cycle, so its memory (C++ graph, weights)
comes back only when the collector runs, which may be many tests later on its own.

Small models stay cached (reloading is slower than keeping them), and a dropped model that a
later test loads again (`tfperf.load`) is simply loaded again: dropping costs time, never a
result. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Callable, Iterable
from typing import Any

DROP_LIMIT_BYTES = 64 * 1024 * 1024  # models larger than this leave the cache after their last test
GROWTH_BYTES = 256 * 1024 * 1024     # a test that grew the process by more is followed by a collection


@dataclasses.dataclass
class DropPlan:
    """Per test (in run order), the cache keys that a later test still names."""

    index: dict[str, int]       # nodeid -> position in the run
    last_use: dict[Any, int]    # cache key -> position of the last test that names it

    @classmethod
    def for_items(cls, items: Iterable, key_of: Callable[[Any], Any]) -> DropPlan:
        """The plan for `items` in run order; `key_of(item)` is the cache key of the model the
        item names (None for none). A key that cannot be computed (a marker error, reported when
        the test runs) counts as none: at worst that model is loaded again."""
        index, last_use = {}, {}
        for i, item in enumerate(items):
            index[item.nodeid] = i
            try:
                key = key_of(item)
            except Exception:  # noqa: BLE001 - the test itself reports a bad marker
                key = None
            if key is not None:
                last_use[key] = i
        return cls(index, last_use)

    def droppable(self, nodeid: str, models: dict) -> list:
        """Keys of `models` ({key: (ref, model)}) to drop after test `nodeid`: large models that
        no later test names (models that test loaded with `tfperf.load` included)."""
        i = self.index.get(nodeid)
        if i is None:  # not a collected item of this run (a pytester inner run...): keep all
            return []
        return [key for key, (_, model) in models.items()
                if self.last_use.get(key, -1) <= i and _size(model) > DROP_LIMIT_BYTES]


def _size(model) -> int:
    try:
        return int(getattr(model, "size_bytes", 0) or 0)
    except Exception:  # noqa: BLE001 - a model that cannot say its size is kept
        return 0


def rss_bytes() -> int | None:
    """The process's resident set size now (Linux /proc), None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def collect_if_grown(rss_at_start: int | None, *, force: bool = False) -> bool:
    """`gc.collect()` when `force` or the process grew by more than `GROWTH_BYTES` since
    `rss_at_start`; returns whether it collected."""
    now = rss_bytes() if rss_at_start is not None else None
    if force or (now is not None and now - rss_at_start > GROWTH_BYTES):
        gc.collect()
        return True
    return False
