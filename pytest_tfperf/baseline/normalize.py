"""Ratios model / reference workload in a comparison: when, and with which blocks.

A CPU second shared with a neighbour (the host's SMT sibling, caches) does less work, and no
clock sees it: the model's CPU time per call rises, a 0.16 ms graph's by 12-30% for seconds
at a time, beside neighbours and even idle (issue 19). The reference workload
(`timing/workload.py`), timed in slices *between* a measurement's calls, slows at the same
moments (window by window 1.114 against the model's 1.125 in the run that showed it). So:

- both runs interleaved the reference (`stats.contention["reference"] == "interleaved"`, one
  median per block) and its level **moved** between them by more than `REF_MOVED` with a CI
  (its blocks plus the between-run floor) that excludes no change: the change is judged on
  model / reference, block by block, and the note says by how much the reference moved;
- `--tfperf-normalize`: always on the ratio, with the interleaved or probed reference of the
  same moments when both runs have one, else the session's reference timing (`references`);
- otherwise the plain change: a reference that did not move only adds its own noise (over
  20 idle processes the ratio's CV was 2.0% against the model's 1.8%).
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence

from pytest_tfperf.results.records import MeasurementRecord  # noqa: TC001  (annotations)

REF_MOVED = 0.05  # a reference level moving less than this between runs is left alone


@dataclasses.dataclass(frozen=True)
class Normalized:
    """How a change is normalised: `new_point * scale` is compared with the base point;
    `base_blocks` / `new_blocks` replace the statistic's blocks (paired ratios per block),
    `extra` adds the reference's own spread where blocks do not pair; `note` says why."""

    scale: float
    base_blocks: Sequence[float] | None = None
    new_blocks: Sequence[float] | None = None
    extra: tuple = ()
    note: str = ""


def reference_values(record: MeasurementRecord) -> tuple[list[float], bool]:
    """`(values, interleaved)`: the reference's medians kept with a measurement on the clock
    its stats are on, one per block when interleaved, else the probes right before and after
    it; [] when it has none."""
    st = record.stats or {}
    contention = st.get("contention") or {}
    key = "reference_cpu_ms" if st.get("samples_clock") == "cpu" else "reference_wall_ms"
    values = [float(v) for v in contention.get(key) or []
              if isinstance(v, (int, float)) and v > 0]
    return values, contention.get("reference") == "interleaved" and bool(values)


def reference_change(base: MeasurementRecord, new: MeasurementRecord, noise: float):
    """The `blocks.ChangeEstimate` of the interleaved reference's level new / base, or None
    when either run did not interleave it."""
    from pytest_tfperf.timing.blocks import estimate_change

    (b_ref, b_inter), (n_ref, n_inter) = reference_values(base), reference_values(new)
    if not (b_inter and n_inter):
        return None
    return estimate_change(statistics.median(b_ref), statistics.median(n_ref), b_ref, n_ref,
                           run_noise=noise)


def moved(change) -> bool:
    """True when a reference's `ChangeEstimate` moved past `REF_MOVED` and its CI excludes
    no change."""
    if change is None or abs(math.log(change.ratio)) <= math.log1p(REF_MOVED):
        return False
    return change.low > 1.0 or change.high < 1.0


def normalization(base: MeasurementRecord, new: MeasurementRecord, b_values: Sequence[float],
                  n_values: Sequence[float], noise: float,
                  references: tuple[tuple[float | None, list[float]], ...] | None
                  ) -> Normalized | None:
    """The normalisation of one comparison (module docstring), or None to compare as is.

    Args:
        base, new: the records on the clock that judges (`compare.on_judged_clock`).
        b_values, n_values: the judged statistic per block of each run.
        noise: the between-run floor per run.
        references: `--tfperf-normalize`'s session reference timings, `(median, per-block
            medians)` for the baseline and this run; `()` when asked but missing, None when
            not asked.
    """
    (b_ref, _), (n_ref, _) = reference_values(base), reference_values(new)
    ref_change = reference_change(base, new, noise)
    if references is None and not moved(ref_change):
        return None
    note = ""
    if moved(ref_change):
        note = (f"the reference workload ran {(ref_change.ratio - 1) * 100:+.1f}% in this run "
                f"against the baseline (a CPU second did more or less work: SMT siblings, "
                f"caches, the host): judged on model / reference")
    if b_ref and n_ref:
        scale = statistics.median(b_ref) / statistics.median(n_ref)
        if len(b_ref) == len(b_values) and len(n_ref) == len(n_values):
            return Normalized(scale, [v / r for v, r in zip(b_values, b_ref)],
                              [v / r for v, r in zip(n_values, n_ref)], note=note)
        return Normalized(scale, extra=(b_ref, n_ref), note=note)
    if references:
        (ref_base, base_blocks), (ref_new, new_blocks) = references
        if ref_base and ref_new:
            return Normalized(ref_base / ref_new, extra=(base_blocks, new_blocks), note=note)
    return None
