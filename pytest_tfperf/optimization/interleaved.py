"""Side-by-side timing of model variants: the one interleaved timing loop (`measure_interleaved`),
used by `tfperf optimize`'s table (`time_variants`), `bench/bench_optimize.py` and the edge
variant table (`edge.variants`)."""
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
    speedup: float                 # the reference row's median / this median (tfperf optimize:
                                   # the frozen original, so the figure is what the transforms bought)
    nodes: int | None              # None for Keras predict
    max_abs_error: float | None    # vs the reference row's outputs on the sample; None for it
    speedup_vs_source: float | None = None  # the source row's (Keras predict's) median / this one
    reference: bool = False        # this row is the one `speedup` and `max_abs_error` compare with
    source: bool = False           # this row is the one `speedup_vs_source` compares with

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["round_medians_ms"] = list(self.round_medians_ms)
        return data


def measure_interleaved(variants: Sequence[tuple[str, Any, Any]], *, rounds: int = 5, min_time: float = 0.15,
                        max_time: float = 0.5, warmup: int = 2, lock_path: str | None = None,
                        errors: dict[str, BaseException] | None = None,
                        ) -> list[tuple[str, float | None, list[float]]]:
    """Time several variants side by side: `rounds` short measurements of each, alternating.

    Args:
        variants: (label, target, inputs) as `timing.measure` takes them (unique labels).
        rounds: alternations; the result is the median of the per-round medians, so a burst of
            load on a shared machine hits every variant alike.
        min_time, max_time, warmup: per short measurement.
        lock_path: the xdist timing lock (`timing.timing_lock`) held while the rounds run.
        errors: when given, a variant whose timing raises is recorded here (label -> exception)
            and left out of later rounds, and a variant already in it is not timed; without it,
            the exception propagates.
    Returns:
        [(label, median of medians ms or None for a failed variant, per-round medians)] in
        `variants` order.
    """
    import numpy as np

    from pytest_tfperf.timing.engine import measure, timing_lock

    failed = errors if errors is not None else {}
    medians: dict[str, list[float]] = {label: [] for label, _, _ in variants}
    with timing_lock(lock_path):
        for _ in range(max(1, rounds)):
            for label, target, inputs in variants:
                if label in failed:
                    continue
                try:
                    stats = measure(target, inputs, batch=1, name=label, warmup=warmup,
                                    min_time=min_time, max_time=max_time, min_runs=3)
                except Exception as exc:  # noqa: BLE001  (recorded for the caller's table)
                    if errors is None:
                        raise
                    failed[label] = exc
                    continue
                medians[label].append(float(stats.median_ms))
    return [(label, float(np.median(medians[label])) if medians[label] and label not in failed
             else None, medians[label]) for label, _, _ in variants]


def time_variants(variants: Sequence[tuple[str, Any, Any]], *, reference: str,
                  source: str | None = None, rounds: int = 5) -> list[VariantTiming]:
    """`measure_interleaved`, then speed-ups and output errors against the `reference` row.

    Args:
        variants: (label, target, inputs) as `measure_interleaved` takes them; a target with a
            `graph_def` is a model run on `inputs`, any other target a zero-argument callable.
        reference: the label of the row every speed-up and max abs error is relative to
            (`tfperf optimize`: "frozen graph", so plain freezing is never credited to the
            transforms).
        source: the label of the model's own runner (Keras predict), when there is one: each
            row also gets `speedup_vs_source`, the speed-up over it.
        rounds: interleaved rounds.
    Returns:
        one `VariantTiming` per variant, in `variants` order.
    """
    import numpy as np

    from pytest_tfperf.errors import ConfigError

    labels = [label for label, _, _ in variants]
    for name, what in ((reference, "reference"), (source, "source")):
        if name is not None and name not in labels:
            raise ConfigError(f"the {what} row must be one of the variants {labels}. Received: {what}={name!r}")
    timings = {label: (median, per_round)
               for label, median, per_round in measure_interleaved(variants, rounds=rounds)}
    outputs = {label: _outputs(target, inputs) for label, target, inputs in variants}
    ref_ms = timings[reference][0]
    src_ms = timings[source][0] if source is not None else None
    rows = []
    for label, target, _inputs in variants:
        median, per_round = timings[label]
        err = None
        if label != reference:
            err = max((float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
                       if np.size(a) else 0.0 for a, b in zip(outputs[reference], outputs[label])),
                      default=0.0)
        nodes = len(target.graph_def.node) if hasattr(target, "graph_def") else None
        rows.append(VariantTiming(label, median, tuple(per_round), ref_ms / median, nodes, err,
                                  None if src_ms is None else src_ms / median, label == reference,
                                  label == source))
    return rows


def _outputs(target, inputs) -> list:
    """The target's outputs on `inputs` (a model) or of one call (a callable), as a list."""
    if hasattr(target, "graph_def"):
        return target.run(inputs)
    out = target()
    return list(out) if isinstance(out, (list, tuple)) else [out]


__all__ = ["VariantTiming", "measure_interleaved", "time_variants"]
