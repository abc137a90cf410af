"""Latency statistics from raw samples: percentiles, distribution-free CIs, FPS (numpy only).

Percentiles use numpy's default linear interpolation between order statistics (Hyndman & Fan
"method 7", also R's default and Excel's PERCENTILE.INC): for sorted samples x[0..n-1] the
q-th percentile sits at rank h = (n - 1) * q / 100, interpolated between x[floor(h)] and
x[ceil(h)].

Confidence intervals for a percentile are distribution-free, from order statistics: the number
of samples below the true q-quantile is Binomial(n, q/100), so the interval
[x_(l), x_(u)] with l, u read off that binomial's 2.5% / 97.5% quantiles covers the true
quantile with probability >= 95% whatever the latency distribution (latencies are skewed and
multi-modal, so a normal-theory CI would lie). With too few samples for 95% (n < 6 for the
median, more for p90/p99) the widest interval available, [min, max], is returned together
with its real, lower coverage (`LatencyStats.gated_ci_coverage`), and messages say so.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

CONFIDENCE = 0.95  # the level of every CI tfperf reports ("95% CI" in messages)


def percentile_ci(samples: Sequence[float] | np.ndarray, q: float,
                  level: float = CONFIDENCE) -> tuple[float, float, float]:
    """Distribution-free confidence interval for the q-th percentile, from order statistics.

    Args:
        samples: the measured values (any order).
        q: the percentile, strictly between 0 and 100.
        level: the wanted coverage (0.95).

    Returns:
        `(lo, hi, coverage)`: the interval's ends (two of the samples) and its exact coverage
        probability. `coverage < level` means there were too few samples for `level`; the
        interval is then the widest available, `(min, max)`.
    """
    if not 0 < q < 100:
        raise ValueError(f"percentile_ci needs 0 < q < 100. Received: q={q!r}")
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = x.size
    if n == 0:
        raise ValueError("percentile_ci needs at least one sample. Received: samples=[]")
    lo_rank, hi_rank, coverage = order_statistic_ranks(n, q / 100.0, level)
    return float(x[lo_rank - 1]), float(x[hi_rank - 1]), coverage


def order_statistic_ranks(n: int, p: float, level: float = CONFIDENCE) -> tuple[int, int, float]:
    """1-based ranks `(l, u)` with P(x_(l) <= quantile_p <= x_(u)) >= level, and that coverage.

    B ~ Binomial(n, p) counts the samples below the true quantile; x_(l) lies above it with
    probability F(l-1) and x_(u) below it with probability 1 - F(u-1), so we take the largest l
    with F(l-1) <= alpha/2 and the smallest u with F(u-1) >= 1 - alpha/2, clipped to [1, n].
    """
    alpha = 1.0 - level
    cdf = _binomial_cdf(n, p)  # cdf[k] = P(B <= k), k = 0..n
    below = np.nonzero(cdf <= alpha / 2)[0]
    lo = int(below[-1]) + 1 if below.size else 0  # l - 1 = largest such k
    above = np.nonzero(cdf >= 1.0 - alpha / 2)[0]
    hi = int(above[0]) + 1 if above.size else n + 1
    lo, hi = max(lo, 1), min(hi, n)
    coverage = float(cdf[hi - 1] - cdf[lo - 1])
    return lo, hi, min(max(coverage, 0.0), 1.0)


def _binomial_cdf(n: int, p: float) -> np.ndarray:
    """P(B <= k) for k = 0..n, B ~ Binomial(n, p), in log space (no overflow at large n)."""
    k = np.arange(n + 1, dtype=np.float64)
    # log C(n, k) = sum_{i=1..k} log((n - i + 1) / i)
    steps = np.log((n - k[1:] + 1.0) / k[1:])
    log_comb = np.concatenate(([0.0], np.cumsum(steps)))
    log_pmf = log_comb + k * math.log(p) + (n - k) * math.log1p(-p)
    cdf = np.cumsum(np.exp(log_pmf))
    return np.minimum(cdf, 1.0)


MIN_TAIL_SAMPLES = 10  # samples a percentile needs beyond it before it is shown as a firm value


def tail_samples(n: int, q: float) -> float:
    """How many of `n` samples lie beyond the q-th percentile, on its thinner side.

    `n * min(q, 100 - q) / 100`: p99 of 35 samples has 0.35 beyond it, the median of 35 has 17.5.
    A percentile is estimated from the few samples in that tail, so this count, not `n`, says
    how far it can be trusted.
    """
    return max(int(n), 0) * min(float(q), 100.0 - float(q)) / 100.0


def percentile_supported(n: int | None, q: float, min_tail: int = MIN_TAIL_SAMPLES) -> bool:
    """Whether `n` samples support a firm q-th percentile.

    A tail percentile needs at least `min_tail` samples beyond it: p99 needs n >= 1000, p90
    n >= 100, p75 n >= 40 (with the default of 10). The median is the centre, not a tail: its
    distribution-free CI, which every message prints, already says how precise it is, so it
    only needs `min_tail` samples in all (the timing engine's default `min_runs`). Unknown `n`
    is not marked. Every renderer marks an unsupported value "~"; budget messages name it.

    Example:
        >>> percentile_supported(35, 99), percentile_supported(35, 90), percentile_supported(10, 50)
        (False, False, True)
    """
    if n is None:
        return True
    if q == 50:
        return n >= min_tail
    return tail_samples(n, q) >= min_tail - 1e-9


def rough_percentile_note(n: int | None, q: float, min_tail: int = MIN_TAIL_SAMPLES) -> str:
    """'' when `percentile_supported(n, q)`, else the reason in words, for messages:
    'p99 is rough: 0.35 of n=35 samples lie beyond it (want >= 10)'."""
    if percentile_supported(n, q, min_tail):
        return ""
    if q == 50:
        return f"p50 is rough: n={n} samples (want >= {min_tail})"
    return (f"{percentile_label(q)} is rough: {tail_samples(n, q):.3g} of n={n} samples lie beyond "
            f"it (want >= {min_tail})")


def percentile_label(q: float) -> str:
    """'p50', 'p99.9': how a percentile is named in messages and tables."""
    return f"p{q:g}"


@dataclasses.dataclass(frozen=True)
class LatencyStats:
    """Summary of one latency measurement (all times in milliseconds, per call).

    `gated_*` describe the percentile a budget gates on (p50 unless the measurement was asked
    for another); `median_ci_ms` / `gated_ci_ms` are distribution-free 95% CIs (see the module
    docstring), with their true coverage in `*_ci_coverage` (< 0.95 only when n was too small).
    `fps = batch * 1000 / median_ms`. `init_ms` (building the runner) and `first_ms` (the first,
    lazily-initialising call) are kept apart from the samples, as benchmark_model does; they
    are None when unknown (e.g. pytest-benchmark runs).
    `stop_reason`: why sampling stopped: "budget" (the CI cleared the budget), "precision" (the
    CI was narrower than the target), "max_time", "max_runs", "disabled" (one run), or
    "pytest-benchmark".
    `discarded_n`: timed calls left out because a quieter block of samples followed an
    over-budget one (the timing engine's failure confirmation); 0 when none were.
    `runtime`: what ran the calls ("tensorflow 2.21.0", "ai_edge_litert 2.3.0 (xnnpack,
    1 thread)"); "" when unknown (a plain Python callable).
    `blocks`: per-block statistics (`blocks.block_summary` dicts) of consecutive runs of the
    samples, in call order (their `n` add up to `n`): the replicates that comparisons across
    runs use (`blocks.estimate_change`); empty when unknown (pytest-benchmark, older files).

    Two clocks (`clocks.py`): `samples_ms` and every statistic above are wall clock
    (`samples_clock` "wall") unless this is the `judged()` view of a CPU-judged measurement
    (`samples_clock` "cpu"). `cpu_samples_ms`: the CPU time of the threads that ran the model,
    per call, in the same order (empty when not read; NaN for a call whose reading was lost);
    `cpu_median_ms` their median; `cpu_clock`: which clock that is (`CpuClock.to_dict()` and
    the reason for the judged clock); `clock`: the clock budgets and comparisons judge ("wall"
    or "cpu"); `contention`: what the run met (`clocks.contention_record`). Blocks carry
    `cpu_median_ms` / `cpu_gated_ms` / `cpu_mean_ms` too.
    """

    n: int
    warmup_n: int
    init_ms: float | None
    first_ms: float | None
    min_ms: float
    max_ms: float
    mean_ms: float
    std_ms: float
    median_ms: float
    iqr_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    median_ci_ms: tuple[float, float]
    gated_percentile: float
    gated_ms: float
    gated_ci_ms: tuple[float, float]
    cv: float
    batch: int
    fps: float
    samples_ms: tuple[float, ...]
    stop_reason: str
    name: str = ""
    model: str = ""
    median_ci_coverage: float = CONFIDENCE
    gated_ci_coverage: float = CONFIDENCE
    discarded_n: int = 0
    runtime: str = ""
    blocks: tuple[dict, ...] = ()
    cpu_samples_ms: tuple[float, ...] = ()
    cpu_median_ms: float | None = None
    clock: str = "wall"
    samples_clock: str = "wall"
    cpu_clock: dict = dataclasses.field(default_factory=dict)
    contention: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_samples(cls, samples_ms: Iterable[float], *, batch: int = 1, warmup_n: int = 0,
                     init_ms: float | None = None, first_ms: float | None = None,
                     gated_percentile: float = 50, stop_reason: str = "", name: str = "",
                     model: str = "", discarded_n: int = 0, runtime: str = "",
                     block_sizes: Sequence[int] | None = None,
                     block_fresh: Sequence[bool] | None = None,
                     cpu_samples_ms: Iterable[float] | None = None, clock: str = "wall",
                     cpu_clock: dict | None = None, contention: dict | None = None
                     ) -> LatencyStats:
        """Compute every statistic from raw per-call latencies in milliseconds.

        Args:
            samples_ms: one latency per timed call (at least one).
            batch: inputs per call, for `fps`.
            warmup_n, init_ms, first_ms, stop_reason, name, model, discarded_n, runtime:
                recorded as given.
            gated_percentile: the percentile a budget gates on (0 < q < 100).
            block_sizes: calls per block, in order (adding up to the samples), or None for no
                blocks; `block_fresh` says which blocks ran on a fresh runtime instance.
            cpu_samples_ms: the CPU time of each call (same order and length), or None.
            clock, cpu_clock, contention: recorded as given (see the class docstring).

        Returns:
            The `LatencyStats`.
        """
        x = np.asarray(list(samples_ms) if not isinstance(samples_ms, np.ndarray) else samples_ms,
                       dtype=np.float64)
        if x.size == 0:
            raise ValueError("LatencyStats needs at least one sample. Received: samples_ms=[]")
        q25, median, q75, p90, p95, p99, gated = np.percentile(
            x, [25, 50, 75, 90, 95, 99, gated_percentile])
        mean = float(x.mean())
        std = float(x.std(ddof=1)) if x.size > 1 else 0.0
        med_lo, med_hi, med_cov = percentile_ci(x, 50)
        g_lo, g_hi, g_cov = percentile_ci(x, gated_percentile)
        cpu = np.asarray(list(cpu_samples_ms) if cpu_samples_ms is not None else [],
                         dtype=np.float64)
        if cpu.size and cpu.size != x.size:
            raise ValueError(f"cpu_samples_ms has {cpu.size} values for {x.size} samples")
        finite = cpu[np.isfinite(cpu)]
        blocks: tuple[dict, ...] = ()
        if block_sizes:
            from pytest_tfperf.timing.blocks import blocks_from_samples

            blocks = blocks_from_samples(x, block_sizes, gated_percentile, block_fresh,
                                         cpu if cpu.size else None)
        return cls(
            n=int(x.size), warmup_n=int(warmup_n),
            init_ms=None if init_ms is None else float(init_ms),
            first_ms=None if first_ms is None else float(first_ms),
            min_ms=float(x.min()), max_ms=float(x.max()), mean_ms=mean, std_ms=std,
            median_ms=float(median), iqr_ms=float(q75 - q25), p90_ms=float(p90),
            p95_ms=float(p95), p99_ms=float(p99), median_ci_ms=(med_lo, med_hi),
            gated_percentile=float(gated_percentile), gated_ms=float(gated),
            gated_ci_ms=(g_lo, g_hi), cv=std / mean if mean > 0 else 0.0, batch=int(batch),
            fps=fps_from_ms(float(median), batch), samples_ms=tuple(float(v) for v in x),
            stop_reason=stop_reason, name=name, model=model,
            median_ci_coverage=med_cov, gated_ci_coverage=g_cov, discarded_n=int(discarded_n),
            runtime=str(runtime or ""),
            blocks=blocks,
            cpu_samples_ms=tuple(float(v) for v in cpu),
            cpu_median_ms=float(np.median(finite)) if finite.size else None,
            clock=str(clock or "wall"), cpu_clock=dict(cpu_clock or {}),
            contention=dict(contention or {}),
        )

    def judged(self) -> LatencyStats:
        """These statistics on the clock that judges them: `self` when that is wall (or this
        is already the view), else the same measurement computed from `cpu_samples_ms`
        (`samples_clock` "cpu"; a lost CPU reading counts as the CPU median)."""
        if self.clock != "cpu" or self.samples_clock == "cpu" or not self.cpu_samples_ms:
            return self
        cpu = np.asarray(self.cpu_samples_ms, dtype=np.float64)
        cpu = np.where(np.isfinite(cpu), cpu, self.cpu_median_ms or 0.0)
        sizes = [int(b.get("n") or 0) for b in self.blocks]
        view = LatencyStats.from_samples(
            cpu, batch=self.batch, warmup_n=self.warmup_n, init_ms=self.init_ms,
            first_ms=self.first_ms, gated_percentile=self.gated_percentile,
            stop_reason=self.stop_reason, name=self.name, model=self.model,
            discarded_n=self.discarded_n, runtime=self.runtime,
            block_sizes=sizes if sizes and sum(sizes) == cpu.size else None,
            block_fresh=[bool(b.get("fresh")) for b in self.blocks], cpu_samples_ms=cpu,
            clock="cpu", cpu_clock=self.cpu_clock, contention=self.contention)
        return dataclasses.replace(view, samples_clock="cpu")

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100) of the samples, numpy's linear method."""
        return float(np.percentile(np.asarray(self.samples_ms), q))

    def percentile_ci(self, q: float) -> tuple[float, float, float]:
        """`(lo, hi, coverage)`: the 95% CI of the q-th percentile (see `percentile_ci`)."""
        return percentile_ci(self.samples_ms, q)

    def fps_at(self, ms: float) -> float:
        """Throughput (inputs per second) at `ms` per call: `batch * 1000 / ms`."""
        return fps_from_ms(ms, self.batch)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples become lists; non-finite floats become None)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "blocks":
                value = [{k: _json_float(v) if isinstance(v, float) else v for k, v in b.items()}
                         for b in value]
            elif isinstance(value, tuple):
                value = [_json_float(v) for v in value]
            elif isinstance(value, dict):
                value = _json_value(value)
            elif isinstance(value, float):
                value = _json_float(value)
            out[field.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyStats:
        """Inverse of `to_dict()`; unknown keys are ignored (newer files stay readable)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in ("median_ci_ms", "gated_ci_ms", "samples_ms", "cpu_samples_ms"):
            if key in kwargs and kwargs[key] is not None:
                kwargs[key] = tuple(math.nan if v is None else float(v) for v in kwargs[key])
        for key in ("cpu_clock", "contention"):
            if key in kwargs and not isinstance(kwargs[key], dict):
                kwargs[key] = {}
        if "blocks" in kwargs:
            kwargs["blocks"] = tuple(dict(b) for b in kwargs["blocks"] or () if isinstance(b, dict))
        if kwargs.get("fps") is None and "fps" in kwargs:
            kwargs["fps"] = math.inf
        return cls(**kwargs)


def fps_from_ms(ms: float, batch: int = 1) -> float:
    """`batch * 1000 / ms` (inf for a zero latency)."""
    return batch * 1000.0 / ms if ms > 0 else math.inf


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _json_value(value: Any) -> Any:
    """Non-finite floats -> None, tuples -> lists, inside dicts and lists."""
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, float):
        return _json_float(value)
    return value

