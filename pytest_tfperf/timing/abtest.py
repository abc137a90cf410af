"""A/B speed assertions in one process: `assert_faster(candidate, reference, inputs, by="10%")`.

When both sides exist, timing them side by side is the gold standard: whatever level the
process, the machine and its neighbours are at, both see it. So the two targets are timed in
interleaved *block pairs*: for each pair, a fresh runtime instance of each (a new TF session,
a new interpreter; the same runner for a plain callable), warmed up, then `ROUNDS` short
sub-blocks of each, alternating (A B B A ...), the order also alternating from pair to pair.

Each pair gives one speed-up: the reference's fastest call / the candidate's fastest call in
that pair. Contention from other processes only ever adds time to a call, so the fastest call
is the estimate of a side's own cost that a neighbour's load disturbs least (Chen & Revels,
"Robust benchmarking in noisy environments", 2016, reach the same conclusion). In a probe on a
2-core VM at load 9 (BN-folded vs original conv net), the ratio of fastest calls was 1.20-1.26
in 7 of 8 pairs, the ratio of medians 0.96-1.42. The medians are reported too. The verdict is the distribution-free CI of the median pair speed-up (order
statistics, as `stats.percentile_ci`): one pair that a burst or an odd session spoils cannot
decide it, and no normality is assumed. Never per-call samples.

Sampling stops as soon as the interval lies entirely above the required speed-up (faster) or
entirely below it (not faster); otherwise at `max_pairs` / `max_time` (inconclusive: the
assertion fails, saying so). Because the interval is checked after every pair, it is a 99%
interval (`LEVEL`), which needs at least 8 pairs and keeps the chance of a false pass under
repeated looks near the nominal one-sided 2.5%.

`by`: "10%" requires a speed-up of at least 1.10x (reference time / candidate time, i.e. the
candidate takes at most 1/1.1 of the reference's time); "1.5x" requires 1.5x; "0%" requires
only that the candidate is faster.
"""
from __future__ import annotations

import dataclasses
import gc
import math
import re
import time
from collections.abc import Callable
from typing import Any

LEVEL = 0.99
ROUNDS = 6  # sub-blocks per side in one block pair
_BY_RE = re.compile(r"^\s*(?P<num>[0-9]*\.?[0-9]+)\s*(?P<unit>%|x)\s*$")


@dataclasses.dataclass(frozen=True)
class SpeedComparison:
    """Candidate vs reference, timed in interleaved block pairs in one process.

    `speedup` = median over pairs of the reference's fastest call / the candidate's, with
    the `level` distribution-free CI of that median (`speedup_low`, `speedup_high`);
    `candidate_ms` / `reference_ms` = median over pairs of each side's median call;
    `required` = the speed-up `by` asks for; `verdict` is "faster", "not faster" or
    "inconclusive"; `passed` iff "faster".
    """

    candidate: str
    reference: str
    candidate_ms: float              # median over pairs of the candidate's median call
    reference_ms: float
    candidate_fastest_ms: float      # median over pairs of the candidate's fastest call
    reference_fastest_ms: float
    speedup: float
    speedup_low: float
    speedup_high: float
    level: float
    required: float
    by: str
    pairs: int
    pair_speedups: tuple[float, ...]
    fresh: bool                      # pairs ran on fresh runtime instances
    verdict: str
    seconds: float

    @property
    def passed(self) -> bool:
        return self.verdict == "faster"

    def message(self) -> str:
        """One line: the verdict, both medians, the speed-up and its CI, the requirement."""
        head = {"faster": f"{self.candidate} is faster than {self.reference}",
                "not faster": f"{self.candidate} is not {self.by} faster than {self.reference}",
                "inconclusive": f"{self.candidate} is not shown {self.by} faster than "
                                f"{self.reference} (inconclusive: the CI still spans "
                                f"{self.required:.2f}x after {self.seconds:.1f} s)"}[self.verdict]
        return (f"assert_faster: {head}: speed-up {self.speedup:.2f}x, {self.level:.0%} CI "
                f"[{self.speedup_low:.2f}x, {self.speedup_high:.2f}x], required >= "
                f"{self.required:.2f}x (by={self.by}); medians {_ms(self.candidate_ms)} ms vs "
                f"{_ms(self.reference_ms)} ms, fastest calls {_ms(self.candidate_fastest_ms)} "
                f"vs {_ms(self.reference_fastest_ms)} ms; {self.pairs} interleaved block pairs"
                f"{' on fresh sessions' if self.fresh else ''}")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["pair_speedups"] = list(self.pair_speedups)
        out["passed"] = self.passed
        return out


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def parse_by(by: Any) -> float:
    """The speed-up `by` requires: "10%" -> 1.10, "1.5x" -> 1.5, "0%" -> 1.0.

    Raises:
        ValueError: not of that form (the message shows the value).
    """
    m = _BY_RE.match(by) if isinstance(by, str) else None
    if not m:
        raise ValueError(f"assert_faster(by=...) must be a string like '10%' (a speed-up of "
                         f"1.10x) or '1.5x'. Received: by={by!r}")
    value = float(m.group("num"))
    required = 1.0 + value / 100.0 if m.group("unit") == "%" else value
    if required < 1.0:
        raise ValueError(f"assert_faster(by=...) must ask for a speed-up of at least 1x. "
                         f"Received: by={by!r}")
    return required


def _factory(target: Any, inputs: Any) -> tuple[Callable[[], tuple[Callable, Callable | None]], bool]:
    """`(make, fresh)`: `make()` returns `(runner, close)` on a fresh runtime instance when the
    target has one (`timing.fresh_runners`), else the same runner every time."""
    from pytest_tfperf.timing.engine import build_runner, fresh_runners

    make = fresh_runners(target, inputs)
    if make is not None:
        return make, True
    runner = build_runner(target, inputs)
    return (lambda: (runner, None)), False


def _calls(runner: Callable, seconds: float, min_calls: int, out: list[int]) -> None:
    """Time calls of `runner` into `out` (ns): at least `min_calls` and `seconds`."""
    clock = time.perf_counter_ns
    end = clock() + int(seconds * 1e9)
    n = 0
    while n < min_calls or clock() < end:
        t0 = clock()
        runner()
        out.append(clock() - t0)
        n += 1


def _pair(first: Callable, second: Callable, seconds: float, min_calls: int,
          rounds: int = ROUNDS) -> tuple[tuple[float, float], tuple[float, float]]:
    """One block pair: `rounds` short sub-blocks of each runner, alternating (first, second,
    second, first, ...); per runner `(fastest ms, median ms)` over all its calls in the pair."""
    import numpy as np

    a: list[int] = []
    b: list[int] = []
    per_calls, per_seconds = max(1, -(-min_calls // rounds)), seconds / rounds
    for r in range(rounds):
        for runner, out in ((first, a), (second, b)) if r % 2 == 0 else ((second, b), (first, a)):
            _calls(runner, per_seconds, per_calls, out)
    return ((min(a) / 1e6, float(np.median(a)) / 1e6), (min(b) / 1e6, float(np.median(b)) / 1e6))


def median_ratio_interval(ratios, level: float = LEVEL) -> tuple[float, float, float, float]:
    """`(median, low, high, coverage)`: the median of `ratios` and its distribution-free CI
    (order statistics; `coverage` < `level` when there are too few ratios to reach it)."""
    import numpy as np

    from pytest_tfperf.timing.stats import percentile_ci

    x = np.asarray(ratios, dtype=np.float64)
    low, high, coverage = percentile_ci(x, 50, level)
    return float(np.median(x)), low, high, coverage


def compare_speed(candidate: Any, reference: Any, inputs: Any = None, *, by: str = "10%",
                  reference_inputs: Any = None, min_pairs: int = 8, max_pairs: int = 40,
                  max_time: float = 30.0, block_time: float = 0.05, min_calls: int = 5,
                  warmup: int = 5, settings=None) -> SpeedComparison:
    """Time `candidate` and `reference` in interleaved block pairs (module docstring).

    Args:
        candidate, reference: FrozenGraph / Model, keras.Model, tf.function or callable (as
            `measure` takes them).
        inputs: the inputs both run on (`reference_inputs` overrides the reference's).
        by: the speed-up required ("10%", "1.5x").
        min_pairs, max_pairs, max_time: at least / at most this many pairs (a 99% CI needs 8),
            at most this many seconds in all.
        block_time, min_calls: each side of a pair times at least this long (and at least a
            quarter of the time building the pair's fresh runners took, up to 0.2 s) and this
            many calls.
        warmup: untimed calls of each fresh runner after its first call.
        settings: `TimingSettings` for the timing lock and CPU pinning (None: none).

    Returns:
        The `SpeedComparison` (never raises on a slow candidate: `assert_faster` does).
    """
    from pytest_tfperf.timing.affinity import pinned
    from pytest_tfperf.timing.engine import target_names, timing_lock

    required = parse_by(by)
    if not 2 <= min_pairs <= max_pairs:
        raise ValueError(f"compare_speed needs 2 <= min_pairs <= max_pairs. Received: "
                         f"min_pairs={min_pairs!r}, max_pairs={max_pairs!r}")
    ref_inputs = inputs if reference_inputs is None else reference_inputs
    make_c, fresh_c = _factory(candidate, inputs)
    make_r, fresh_r = _factory(reference, ref_inputs)
    c_ms: list[tuple[float, float]] = []  # per pair: (fastest, median)
    r_ms: list[tuple[float, float]] = []
    verdict, ci = "inconclusive", (math.nan, math.nan, math.nan, 0.0)
    start = time.perf_counter()
    gc_was_enabled = gc.isenabled()
    with timing_lock(getattr(settings, "lock_path", None)), pinned(getattr(settings, "cpus", None)):
        gc.disable()
        try:
            while len(c_ms) < max_pairs:
                swap = len(c_ms) % 2 == 1  # ABBA from pair to pair too
                t_build = time.perf_counter()
                built = [make_r(), make_c()] if swap else [make_c(), make_r()]
                try:
                    for runner, _ in built:  # first call + warm-up, untimed
                        for _ in range(max(warmup, 0) + 1):
                            runner()
                    # a fresh session's first call runs grappler (0.2-1 s): time each side a
                    # little longer when building is slow, up to 0.2 s
                    seconds = min(max(block_time, (time.perf_counter() - t_build) / 4), 0.2)
                    first, second = _pair(built[0][0], built[1][0], seconds, min_calls)
                finally:
                    for _, close in built:
                        if close is not None:
                            close()
                c_ms.append(second if swap else first)
                r_ms.append(first if swap else second)
                if len(c_ms) >= min_pairs:
                    ci = median_ratio_interval([r[0] / c[0] for c, r in zip(c_ms, r_ms)])
                    if ci[3] >= LEVEL and (ci[1] > required or ci[2] < required):
                        verdict = "faster" if ci[1] > required else "not faster"
                        break
                if time.perf_counter() - start > max_time and len(c_ms) >= min_pairs:
                    break
        finally:
            if gc_was_enabled:
                gc.enable()
    import numpy as np

    return SpeedComparison(
        candidate=target_names(candidate)[0] or "candidate",
        reference=target_names(reference)[0] or "reference",
        candidate_ms=float(np.median([c[1] for c in c_ms])),
        reference_ms=float(np.median([r[1] for r in r_ms])),
        candidate_fastest_ms=float(np.median([c[0] for c in c_ms])),
        reference_fastest_ms=float(np.median([r[0] for r in r_ms])),
        speedup=ci[0], speedup_low=ci[1], speedup_high=ci[2], level=LEVEL, required=required,
        by=str(by).strip(), pairs=len(c_ms),
        pair_speedups=tuple(r[0] / c[0] for c, r in zip(c_ms, r_ms)), fresh=fresh_c and fresh_r,
        verdict=verdict, seconds=time.perf_counter() - start)


def assert_faster(candidate: Any, reference: Any, inputs: Any = None, *, by: str = "10%",
                  **kwargs) -> SpeedComparison:
    """Assert that `candidate` is faster than `reference` by at least `by`, timed side by side.

    Args:
        candidate, reference: what to compare (FrozenGraph / Model, keras.Model, tf.function,
            callable).
        inputs: the inputs both run on.
        by: "10%" (speed-up >= 1.10x, the default), "1.5x", "0%" (just faster).
        kwargs: `compare_speed` options (`reference_inputs`, `min_pairs`, `max_time`, ...).

    Returns:
        The `SpeedComparison` when the candidate is shown faster.

    Raises:
        NotFasterError: (an AssertionError) the candidate is not shown faster by `by`: its
            message has both medians, the speed-up and its CI; `.result` the comparison.

    Example:
        assert_faster(optimized, original, image, by="10%")
    """
    from pytest_tfperf.errors import NotFasterError

    result = compare_speed(candidate, reference, inputs, by=by, **kwargs)
    if not result.passed:
        raise NotFasterError(result)
    return result
