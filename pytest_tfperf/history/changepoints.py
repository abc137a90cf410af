"""Change points of one test's series of run values, found by `ruptures` (PELT).

A run's value (e.g. its median) is one point; the between-run noise is what the series itself
shows, so the penalty that decides whether a split is worth it is scaled by a robust estimate of
that noise (the MAD of successive differences, which a step barely moves). PELT runs on log
values with the L1 cost (distance to each segment's median): a busy machine's runs come with
bursts several times slower, which the L2 cost would cut into segments of their own (bench:
with 10% of runs slowed 1.5-8x, 434 false change points in 40 series of noise with L2, 16 with
L1). Each candidate is kept only when the step's 95% CI, from the runs on either side of it
(`timing.blocks.estimate_change`: Welch t on log values, no floor: the runs *are* the
replicates), excludes no change. `ruptures` is imported inside `change_points` only (the
plugin's start-up never pays for it). Why ruptures and not Apache Otava's or MongoDB's
E-divisive: bench/bench_changepoints.py and the issue-22 note.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

MIN_SEGMENT = 4     # runs on each side of a change point (a step must last that long)
PENALTY = 4.0       # x noise SD x log(n) (L1 cost): 0 false change points in 100 runs of noise


@dataclasses.dataclass(frozen=True)
class ChangePoint:
    """A step in a series: `index` is the first run after it (0-based).

    `before` / `after`: the median of the runs between the neighbouring change points;
    `change`: after / before - 1 (0.15 = 15% slower); `ci_low` / `ci_high`: its 95% CI (same
    units); `runs_before` / `runs_after`: the runs those come from.
    """

    index: int
    before: float
    after: float
    change: float
    ci_low: float
    ci_high: float
    runs_before: int
    runs_after: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def noise_sd(log_values: Sequence[float]) -> float:
    """Robust SD of one run's log value: MAD of successive differences / sqrt(2) (a step moves
    one difference, a drift shifts them all a little; neither inflates it much)."""
    import numpy as np

    d = np.diff(np.asarray(log_values, dtype=np.float64))
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def _tamed(values: Sequence[float], sd: float) -> list[float]:
    """`values` pulled to within 3 noise SDs (log) of their median: a burst run counts as a
    slow run, not as evidence that the segment's spread is huge (winsorising)."""
    import numpy as np

    logs = np.log(np.asarray(values, dtype=np.float64))
    mid = float(np.median(logs))
    return [float(v) for v in np.exp(np.clip(logs, mid - 3 * sd, mid + 3 * sd))]


def change_points(values: Sequence[float], *, penalty: float = PENALTY,
                  min_segment: int = MIN_SEGMENT) -> list[ChangePoint]:
    """The change points of a series of positive run values, oldest first.

    Args:
        values: one value per run (ms), oldest first.
        penalty: PELT's penalty in units of noise SD x log(n).
        min_segment: the fewest runs between two change points.

    Returns:
        The significant change points, by index (none for fewer than `2 * min_segment` runs).
    """
    import numpy as np

    from pytest_tfperf.timing.blocks import estimate_change

    x = [float(v) for v in values]
    if len(x) < 2 * min_segment or any(not (v > 0 and math.isfinite(v)) for v in x):
        return []
    logs = np.log(np.asarray(x))
    sd = noise_sd(logs)
    if sd == 0:
        sd = float(np.std(logs)) or 1e-12
    import ruptures

    algo = ruptures.Pelt(model="l1", min_size=min_segment, jump=1).fit(logs.reshape(-1, 1))
    ends = algo.predict(pen=penalty * sd * math.log(len(x)))
    bounds = [0, *ends]  # segment starts ... len(x)
    out = []
    for i in range(1, len(bounds) - 1):
        left, right = x[bounds[i - 1]:bounds[i]], x[bounds[i]:bounds[i + 1]]
        before, after = float(np.median(left)), float(np.median(right))
        est = estimate_change(before, after, _tamed(left, sd), _tamed(right, sd), run_noise=0.0)
        if est.low <= 1.0 <= est.high:
            continue  # PELT's split is not a significant step
        out.append(ChangePoint(index=bounds[i], before=before, after=after,
                               change=est.ratio - 1.0, ci_low=est.low - 1.0,
                               ci_high=est.high - 1.0, runs_before=len(left),
                               runs_after=len(right)))
    return out
