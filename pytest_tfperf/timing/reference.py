"""The reference workload: a fixed small TF graph timed once per session (`--tfperf-normalize`),
and, under `--tfperf-normalize`, probed right before and after every measurement (`probe`).

A process's speed level varies from run to run and from machine to machine; a workload that
never changes, timed in the same process with the same thread settings, measures that level.
`--tfperf-normalize` then compares ratios model / reference with the baseline's ratios
(`baseline.compare_runs(normalize=True)`). Whether that removes more noise than the
reference's own timing noise adds is measured by `bench/bench_compare.py`, not assumed.

The record is stored in `results.environment["reference"]` (and so in every JSON report and
saved baseline): `{"workload", "version", "intra_op_threads", "inter_op_threads", "stats"}`
with `stats` a `LatencyStats.to_dict()` (blocks included).

Issue 19: a CPU second shared with a neighbour (SMT, caches) does less work, which no clock
sees; a reference timed once per session sees another moment than the measurement. `probe()`
times the reference for `PROBE_TIME` on the CPU clock of its own threads just before and just
after each measurement (`TimingSettings.reference`), and the measurement keeps both medians in
`stats.contention["reference_cpu_ms"]`; comparisons under `--tfperf-normalize` then judge the
ratio model / reference of the same moments.
"""
from __future__ import annotations

from typing import Any

from pytest_tfperf.timing.workload import (  # noqa: F401  (re-exported: the workload's names)
    MIN_TIME,
    PROBE_TIME,
    VERSION,
    WORKLOAD,
    probe,
    reference_model,
)


def time_reference(settings=None, *, intra_op: int | None = 1, inter_op: int | None = None
                   ) -> dict[str, Any]:
    """Build and time the reference workload; returns its environment record.

    Args:
        settings: the `TimingSettings` of the session (lock, CPU pinning, blocks), or None.
        intra_op, inter_op: the session's thread settings (the reference runs like the models).
    """
    from pytest_tfperf.timing.engine import measure
    from pytest_tfperf.timing.settings import TimingSettings

    base = settings or TimingSettings()
    timing = base.replace(min_time=MIN_TIME, max_time=max(MIN_TIME, 1.0), precision=0.01)
    fg, image = reference_model(intra_op, inter_op)
    try:
        stats = measure(fg, image, name="tfperf-reference", settings=timing)
    finally:
        fg.close()
    return {"workload": WORKLOAD, "version": VERSION, "intra_op_threads": intra_op,
            "inter_op_threads": inter_op, "stats": stats.to_dict()}


def ensure_reference(session) -> None:
    """Time the reference once per session, before the first measurement, when the run
    writes a JSON file or a baseline, compares, or `--tfperf-normalize` asks; else a no-op."""
    settings = session.settings
    env = session.results.environment
    stored = settings.json_path or settings.save or settings.compare is not None
    if "reference" in env or settings.disabled or not (settings.normalize or stored):
        return
    env["reference"] = None  # once, even if timing it fails
    try:
        env["reference"] = time_reference(session.timing,
                                          intra_op=settings.intra_op_threads,
                                          inter_op=settings.inter_op_threads)
    except Exception as exc:  # noqa: BLE001  (optional context: never fails the user's test)
        env["reference_error"] = f"{type(exc).__name__}: {exc}"
