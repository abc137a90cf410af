"""`TimingSettings`: how long and how carefully to time, and their validation.

NumPy-free and TensorFlow-free, so pytest's header (`outputs.header_lines`) can show the settings
without importing the timing engine.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any


@dataclasses.dataclass(frozen=True)
class TimingSettings:
    """How long and how carefully to time (the plugin fills it from options and ini keys).

    Attributes:
        warmup: untimed calls after the first call (default 5).
        warmup_time: minimum seconds of warm-up (default 0.1).
        min_runs: minimum timed calls (default 10).
        min_time: minimum seconds of timed calls (default 0.2).
        max_time: cap on seconds of timed calls (default 5.0).
        precision: stop once the CI half-width is within this fraction of the gated statistic
            (default 0.02, i.e. +/-2%).
        max_runs: cap on timed calls, bounding memory for microsecond-fast targets.
        confirm_time: with a budget, seconds of sampling that must all be over the budget
            before a failing verdict stands (default 1.0; 0 disables confirmation).
        blocks: at most this many blocks of >= 5 calls (`LatencyStats.blocks`; step 5).
        fresh_blocks: each block on its own fresh runner (new TF session), sharing `min_time`.
        cpus: pin every thread of the process to these CPUs while timing (`affinity.py`).
        disabled: `--tfperf-disable`: build, call once, report that single call.
        lock_path: a file lock held while warming up and timing (xdist serialisation), or None.
        clock: the clock that judges: "wall", "cpu" (the model threads' CPU time) or "auto"
            (default: CPU for TF sessions and LiteRT interpreters with one compute thread, wall
            elsewhere; `clocks.judged_clock`).
        reference: probe the reference workload right before and after sampling
            (`reference.probe`; `--tfperf-normalize`), kept in `LatencyStats.contention`.
    """

    warmup: int = 5
    warmup_time: float = 0.1
    min_runs: int = 10
    min_time: float = 0.2
    max_time: float = 5.0
    precision: float = 0.02
    max_runs: int = 1_000_000
    confirm_time: float = 1.0
    blocks: int = 8
    fresh_blocks: bool = False
    cpus: tuple[int, ...] | None = None
    disabled: bool = False
    lock_path: str | None = None
    clock: str = "auto"
    reference: bool = False

    def __post_init__(self) -> None:
        check_timing_settings(self)

    def replace(self, **changes: Any) -> TimingSettings:
        """A copy with the given fields changed; `None` values are ignored (no change: `self`)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes) if changes else self

    def to_dict(self) -> dict[str, Any]:
        """The settings a measurement ran under, for records and reports (no lock path), with
        the engine's fixed facts: `timer` and `disable_gc` (the collector is off while timing)."""
        out = dataclasses.asdict(self)
        out.pop("lock_path", None)
        return {**out, "timer": "perf_counter_ns", "disable_gc": True}


CLOCK_CHOICES = ("wall", "cpu", "auto")  # = clocks.CLOCKS (this module stays import-free)


def check_timing_settings(s) -> None:
    """`ConfigError` for values that would make a measurement meaningless (max_time=0: one call)."""
    from pytest_tfperf.errors import ConfigError

    for name in ("warmup", "min_runs", "max_runs", "blocks"):
        value, least = getattr(s, name), 0 if name == "warmup" else 1
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise ConfigError(f"timing setting {name} must be an integer >= {least}. "
                              f"Received: {name}={value!r}")
    for name in ("warmup_time", "min_time", "max_time", "precision", "confirm_time"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(value) or value < 0 or (name == "max_time" and value == 0):
            raise ConfigError(f"timing setting {name} must be a finite number "
                              f"{'> 0 (0 would time a single call)' if name == 'max_time' else '>= 0'}. "
                              f"Received: {name}={value!r}")
    if s.clock not in CLOCK_CHOICES:
        import difflib

        close = difflib.get_close_matches(str(s.clock).lower(), CLOCK_CHOICES, n=1)
        raise ConfigError(f"timing setting clock (ini tfperf_clock / --tfperf-clock) must be one of "
                          f"{', '.join(CLOCK_CHOICES)}{f' (did you mean {close[0]!r}?)' if close else ''}. "
                          f"Received: clock={s.clock!r}")
    if s.max_time < s.min_time:
        raise ConfigError(f"timing setting max_time ({s.max_time:g} s) is below min_time ({s.min_time:g} s): "
                          "sampling would stop before its minimum; raise max_time or lower min_time "
                          "(e.g. measure(..., min_time=0.05, max_time=0.1)). "
                          f"Received: min_time={s.min_time!r}, max_time={s.max_time!r}")
