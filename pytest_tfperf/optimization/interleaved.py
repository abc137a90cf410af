"""Side-by-side timing of model variants (`tfperf optimize`'s table, `bench/bench_optimize.py`)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass(frozen=True)
class VariantTiming:
    """One row of seed 002's table: a way to run the model, timed in the same process."""

    variant: str
    median_ms: float               # median of the per-round medians
    round_medians_ms: tuple[float, ...]
    speedup: float                 # first row's median / this median
    nodes: int | None              # None for Keras predict
    max_abs_error: float | None    # vs the first row's outputs on the sample; None for the first row

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["round_medians_ms"] = list(self.round_medians_ms)
        return data


def measure_interleaved(variants: Sequence[tuple[str, Any, Any]], *, rounds: int = 5, min_time: float = 0.15,
                        max_time: float = 0.5, warmup: int = 2) -> list[tuple[str, float, list[float]]]:
    """Time several variants side by side: `rounds` short measurements of each, alternating.

    Args:
        variants: (label, target, inputs) as `timing.measure` takes them.
        rounds: alternations; the result is the median of the per-round medians, so a burst of
            load on a shared machine hits every variant alike.
        min_time, max_time, warmup: per short measurement.
    Returns:
        [(label, median of medians ms, per-round medians)] in `variants` order.
    """
    import numpy as np

    from ..timing import measure

    medians: dict[str, list[float]] = {label: [] for label, _, _ in variants}
    for _ in range(max(1, rounds)):
        for label, target, inputs in variants:
            stats = measure(target, inputs, batch=1, name=label, warmup=warmup, min_time=min_time,
                            max_time=max_time, min_runs=3)
            medians[label].append(float(stats.median_ms))
    return [(label, float(np.median(medians[label])), medians[label]) for label, _, _ in variants]


__all__ = ["VariantTiming", "measure_interleaved"]
