"""Validation of `timing.TimingSettings`: values that would make a measurement meaningless are a
`ConfigError` naming the setting and the value (options, ini keys and the API all end here)."""
from __future__ import annotations

import numpy as np


def check_timing_settings(s) -> None:
    """`ConfigError` for values that would make a measurement meaningless (max_time=0: one call)."""
    from .errors import ConfigError

    for name in ("warmup", "min_runs", "max_runs"):
        value, least = getattr(s, name), 0 if name == "warmup" else 1
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ConfigError(f"timing setting {name} must be an integer >= {least}. "
                              f"Received: {name}={value!r}")
    for name in ("warmup_time", "min_time", "max_time", "precision", "confirm_time"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not np.isfinite(value) or value < 0 or (name == "max_time" and value == 0):
            raise ConfigError(f"timing setting {name} must be a finite number "
                              f"{'> 0 (0 would time a single call)' if name == 'max_time' else '>= 0'}. "
                              f"Received: {name}={value!r}")
    if s.max_time < s.min_time:
        raise ConfigError(f"timing setting max_time ({s.max_time:g} s) is below min_time ({s.min_time:g} s): "
                          "sampling would stop before its minimum; raise max_time or lower min_time "
                          "(e.g. measure(..., min_time=0.05, max_time=0.1)). "
                          f"Received: min_time={s.min_time!r}, max_time={s.max_time!r}")
