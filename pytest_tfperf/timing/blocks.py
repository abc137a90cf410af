"""Blocks: the unit at which timing noise is replicated, and the statistics that use them.

A measurement's timed calls come in *blocks*: consecutive runs of calls (on a fresh runtime
instance where the engine makes one), each summarised by its own statistics (`block_summary`).
Calls inside one block are not independent replicates of anything a comparison cares about:
a process, a TF session, a neighbour's burst shifts all of them together. So every statistic
that decides *across runs* here works on per-block values, never on per-call samples:

- `estimate_change(base, new)`: the ratio new/base of a statistic (e.g. the p90), with a 95%
  CI built from the spread of per-block values on each side (log scale, Student t with
  Welch-Satterthwaite degrees of freedom) plus a *between-run floor*: the run-to-run spread of a
  process's level that no in-process replicate can see (CV of fresh-process medians measured
  by `bench/bench_compare.py`; default `DEFAULT_RUN_NOISE`). A baseline and a new run are two
  processes, so the floor enters twice: var(log ratio) = s_b^2/B_b + s_n^2/B_n + 2 f^2.
Interleaved block pairs of two targets in one process (`abtest.assert_faster`) need no floor:
both targets see the same process and the same moment, so the process level cancels.

Pure numpy (no TensorFlow), deterministic.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

# Run-to-run spread (SD of log level, ~CV) assumed for one process when a comparison cannot
# measure it: fresh-process medians on a 2-core VM, one intra-op thread, idle, had CV 4.3-5.7%
# (bench/RESULTS.md: gate reliability, issue 12); 4% with the blocks' own spread on top.
DEFAULT_RUN_NOISE = 0.04
# The same for the CPU time of one thread that runs a model alone (an inline one-intra-op-thread
# TF session, a one-thread LiteRT interpreter): fresh idle processes had CV 0.7-2.2% there
# (0.16 ms, 9.3 ms and 42 ms graphs; bench/RESULTS.md, issue 19), where the thread pools' handoffs
# had made it 3.9-15.6%; a later 20-process run 1.7-4.0% (robust 2.1-3.4%), and with this floor
# and the half-threshold rule (`baseline.compare.verdict_of`) still 0/20 false regressions idle.
CPU_RUN_NOISE = 0.02


def run_floor(base_stats: dict | None, new_stats: dict | None) -> float:
    """The between-run floor of a comparison of two measurements' `stats`: `CPU_RUN_NOISE`
    when both judged on the CPU clock of one thread that ran the model alone, else
    `DEFAULT_RUN_NOISE` (wall clock, thread pools, files from before issue 19)."""
    def one_thread(st) -> bool:
        st = st or {}
        clock = st.get("cpu_clock") or {}
        return st.get("clock") == "cpu" and clock.get("source") == "threads" \
            and clock.get("threads") == 1 and bool(st.get("cpu_samples_ms"))
    return CPU_RUN_NOISE if one_thread(base_stats) and one_thread(new_stats) else DEFAULT_RUN_NOISE


DEFAULT_BLOCKS = 8        # blocks a measurement's samples are cut into (at most)
MIN_BLOCK_RUNS = 5        # fewer calls than this per block: fewer blocks
LEVEL = 0.95              # the level of every interval here
BLOCK_KEYS = ("n", "median_ms", "mean_ms", "min_ms", "max_ms", "p90_ms", "p95_ms", "p99_ms",
              "gated_ms", "fresh")
CPU_BLOCK_KEYS = ("cpu_median_ms", "cpu_gated_ms", "cpu_mean_ms")  # blocks with a CPU clock


def block_summary(samples_ms: Sequence[float] | np.ndarray, percentile: float = 50,
                  fresh: bool = False, cpu_ms: Sequence[float] | np.ndarray | None = None
                  ) -> dict[str, Any]:
    """Per-block statistics of one block of per-call latencies (ms).

    Args:
        samples_ms: the block's calls, at least one.
        percentile: the gated percentile (`gated_ms`).
        fresh: whether the block ran on a fresh runtime instance (a new TF session).
        cpu_ms: the same calls' CPU times (`clocks.py`), or None.

    Returns:
        A JSON-able dict with `BLOCK_KEYS`, and `CPU_BLOCK_KEYS` when `cpu_ms` has a finite
        value (its lost readings, NaN, are left out).
    """
    x = np.asarray(samples_ms, dtype=np.float64)
    if x.size == 0:
        raise ValueError("block_summary needs at least one sample. Received: samples_ms=[]")
    median, p90, p95, p99, gated = np.percentile(x, [50, 90, 95, 99, percentile])
    out = {"n": int(x.size), "median_ms": float(median), "mean_ms": float(x.mean()),
           "min_ms": float(x.min()), "max_ms": float(x.max()), "p90_ms": float(p90),
           "p95_ms": float(p95), "p99_ms": float(p99), "gated_ms": float(gated),
           "fresh": bool(fresh)}
    if cpu_ms is not None:
        c = np.asarray(cpu_ms, dtype=np.float64)
        c = c[np.isfinite(c)]
        if c.size:
            c_median, c_gated = np.percentile(c, [50, percentile])
            out.update(cpu_median_ms=float(c_median), cpu_gated_ms=float(c_gated),
                       cpu_mean_ms=float(c.mean()))
    return out


def block_count(n: int, max_blocks: int = DEFAULT_BLOCKS, min_runs: int = MIN_BLOCK_RUNS) -> int:
    """How many contiguous blocks `n` calls make: `max_blocks`, fewer when a block would hold
    fewer than `min_runs` calls, at least 1. (Small blocks are noisy, but that noise is part
    of the between-block spread that comparisons use, so it is accounted for.)"""
    return max(1, min(int(max_blocks), int(n) // max(int(min_runs), 1)))


def split_sizes(n: int, k: int) -> list[int]:
    """Sizes of `k` contiguous blocks of `n` calls, as equal as possible (earlier ones larger)."""
    k = max(1, min(int(k), int(n)))
    base, extra = divmod(int(n), k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def blocks_from_samples(samples_ms: Sequence[float], sizes: Sequence[int], percentile: float = 50,
                        fresh: Sequence[bool] | None = None,
                        cpu_ms: Sequence[float] | None = None) -> tuple[dict[str, Any], ...]:
    """`block_summary` of each contiguous segment of `samples_ms` (in call order), with the
    same segments of `cpu_ms` when given."""
    if sum(sizes) != len(samples_ms):
        raise ValueError(f"block sizes {list(sizes)} do not add up to the {len(samples_ms)} samples")
    out, start = [], 0
    for i, size in enumerate(sizes):
        if size > 0:
            out.append(block_summary(samples_ms[start:start + size], percentile,
                                     bool(fresh[i]) if fresh is not None else False,
                                     cpu_ms[start:start + size] if cpu_ms is not None else None))
        start += size
    return tuple(out)


def block_values(blocks: Iterable[dict], statistic: str) -> list[float]:
    """The per-block values of `statistic` ("median", "mean", "min", "max", "p90"...; "gated").

    Blocks without that statistic (or with a non-positive value) are skipped.
    """
    key = {"median": "median_ms", "p50": "median_ms", "mean": "mean_ms", "min": "min_ms",
           "max": "max_ms", "gated": "gated_ms"}.get(statistic, f"{statistic}_ms")
    out = []
    for block in blocks:
        value = block.get(key) if isinstance(block, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 \
                and math.isfinite(value):
            out.append(float(value))
    return out


# --------------------------------------------------------------------------- intervals
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta (modified Lentz, Numerical Recipes)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom (any real df > 0; inf: normal)."""
    if df is None or not math.isfinite(df) or df > 1e7:
        return NormalDist().cdf(t)
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Quantile `p` of Student's t with `df` degrees of freedom (inf: the normal); bisection
    on `t_cdf`, exact to ~1e-10."""
    if not 0 < p < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1. Received: p={p!r}")
    if df is None or not math.isfinite(df) or df > 1e7:
        return NormalDist().inv_cdf(p)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


@dataclasses.dataclass(frozen=True)
class ChangeEstimate:
    """A change new/base of one statistic with its 95% CI (ratios; 1.10 = 10% slower).

    `sd_log`: the standard error of log(ratio); `df`: its degrees of freedom; `base_blocks` /
    `new_blocks`: blocks used per side; `run_noise`: the between-run floor used (per run);
    `p_value`: two-sided, for "no change" under the same model.
    """

    ratio: float
    low: float
    high: float
    sd_log: float
    df: float
    base_blocks: int
    new_blocks: int
    run_noise: float
    p_value: float

    @property
    def noise_pct(self) -> float:
        """Half-width of the CI in percent of the ratio (the '+-X%' of a 'noise' verdict)."""
        return (math.sqrt(self.high / self.low) - 1.0) * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "noise_pct": self.noise_pct}


def _log_spread(values: Sequence[float]) -> float | None:
    """Sample SD of log(values), None with fewer than two values."""
    if len(values) < 2:
        return None
    return float(np.std(np.log(np.asarray(values, dtype=np.float64)), ddof=1))


def estimate_change(base_point: float, new_point: float, base_blocks: Sequence[float],
                    new_blocks: Sequence[float], *, run_noise: float = DEFAULT_RUN_NOISE,
                    base_sd: float | None = None, new_sd: float | None = None,
                    extra_blocks: Sequence[Sequence[float]] = (),
                    level: float = LEVEL, fallback_df: float | None = None) -> ChangeEstimate:
    """The ratio `new_point / base_point` with a CI from block spread and the between-run floor.

    Args:
        base_point, new_point: the statistic of each run (the value reports show, e.g. the
            p90 of all calls), > 0.
        base_blocks, new_blocks: the same statistic per block of each run.
        run_noise: between-run floor, the SD of log level of one process (0.04 = 4%).
        base_sd, new_sd: the standard error of log(point) to use for a side with fewer than
            two blocks (e.g. from its per-call CI); None: that side adds the floor only.
        extra_blocks: more sides whose spread adds to the variance (a reference workload's
            blocks when ratios are normalised by it).
        level: CI level.
        fallback_df: the degrees of freedom of `base_sd` / `new_sd` when they are estimates
            (a run-to-run SD from N past runs: N - 1); None: they count as known.

    Returns:
        The `ChangeEstimate` (t quantile with Welch-Satterthwaite degrees of freedom from the
        sides with blocks; the floor and fallback terms count as known, i.e. infinite df).
    """
    if not (base_point > 0 and new_point > 0):
        raise ValueError(f"estimate_change needs positive statistics. Received: "
                         f"base_point={base_point!r}, new_point={new_point!r}")
    if run_noise < 0:
        raise ValueError(f"run_noise must be >= 0. Received: run_noise={run_noise!r}")
    known = 2.0 * run_noise * run_noise  # variance terms with infinite df
    terms = []  # (variance of a side's mean log, its degrees of freedom)
    for values, fallback in ((base_blocks, base_sd), (new_blocks, new_sd),
                             *((v, None) for v in extra_blocks)):
        s = _log_spread(values)
        if s is not None:
            terms.append((s * s / len(values), len(values) - 1))
        elif fallback is not None and fallback_df:
            terms.append((fallback * fallback, float(fallback_df)))
        elif fallback is not None:
            known += fallback * fallback
    var = known + sum(v for v, _ in terms)
    denom = sum(v * v / d for v, d in terms)
    df = (var * var / denom) if denom > 0 else math.inf
    log_ratio = math.log(new_point / base_point)
    sd = math.sqrt(var)
    ratio = math.exp(log_ratio)
    if sd == 0:  # no floor and no spread anywhere: the ratio is all there is
        return ChangeEstimate(ratio, ratio, ratio, 0.0, df, len(base_blocks), len(new_blocks),
                              run_noise, 1.0 if log_ratio == 0 else 0.0)
    half = t_quantile(0.5 + level / 2, df) * sd
    p = 2.0 * (1.0 - t_cdf(abs(log_ratio) / sd, df))
    return ChangeEstimate(
        ratio=ratio, low=math.exp(log_ratio - half), high=math.exp(log_ratio + half),
        sd_log=sd, df=df, base_blocks=len(base_blocks), new_blocks=len(new_blocks),
        run_noise=run_noise, p_value=min(max(p, 0.0), 1.0))
