"""Budget verdicts and their messages: a measured value against a parsed budget (pure).

Parsing the markers' arguments lives in `markers`. `resolve_latency` is the one place a latency
limit is computed: the recorder hands its `limit_ms` to the timing engine's stopping rule, and
`latency_verdict` checks the same `ResolvedLatency`. Messages name the marker, the measured value,
the limit, the absolute excess and the model (DESIGN.md).
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from pytest_tfperf.plugin.markers import MB, FlopsBudget, LatencyBudget, MemoryBudget, ParamBudget, SizeBudget
from pytest_tfperf.wording import decimals_for, excess_text, format_ms, limit_text, plural

if TYPE_CHECKING:  # stats imports numpy: parsing markers at collection time must not
    from pytest_tfperf.timing.stats import LatencyStats

CONFIDENCE = 0.95  # = stats.CONFIDENCE, the level of every CI in messages


# --- verdicts --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BudgetVerdict:
    """One budget checked against one measured value.

    `headroom_pct = (limit - value) / limit * 100`: negative when the budget is exceeded.
    """

    marker: str
    statistic: str
    value: float
    limit: float
    unit: str
    passed: bool
    headroom_pct: float
    message: str
    model: str | None = None
    model_id: str | None = None  # the model's identity (records.model_identity): the report key
    fps_limit: float | None = None  # `latency_budget(fps=...)`'s floor (scaled); None for ms budgets

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _headroom(value: float, limit: float) -> float:
    return (limit - value) / limit * 100.0 if limit else -math.inf


@dataclasses.dataclass(frozen=True)
class ResolvedLatency:
    """A `latency_budget` resolved for one measurement: the batch it is checked at, the
    `--tfperf-budget-scale` factor and the limit in ms per call (`resolve_latency`)."""

    budget: LatencyBudget
    batch: int
    scale: float
    limit_ms: float      # the limit the stopping rule and the verdict use (scaled)
    unscaled_ms: float   # the marker's own limit at `batch` (messages under a scale)
    percentile: float    # the gated percentile (the marker's)
    regression: str | None = None  # the marker's `regression=` threshold, for the baseline gate


def resolve_latency(budget: LatencyBudget, batch: int | None, scale: float = 1.0) -> ResolvedLatency:
    """The one latency limit: `budget` at the marker's batch (else `batch`, the one the
    measurement ran), times `scale`. The stopping rule and the verdict both read its `limit_ms`."""
    batch = int(budget.batch or batch or 1)
    unscaled = budget.limit_ms_at(batch)
    return ResolvedLatency(budget=budget, batch=batch, scale=float(scale), limit_ms=unscaled * scale,
                           unscaled_ms=unscaled, percentile=budget.percentile,
                           regression=budget.regression)


def check_latency(budget: LatencyBudget, stats: LatencyStats, *, scale: float = 1.0,
                  model: str | None = None) -> BudgetVerdict:
    """Check the budget's percentile of `stats` against `budget.limit_ms * scale`
    (`latency_verdict` of `resolve_latency(budget, stats.batch, scale)`).

    Args:
        budget: the parsed `latency_budget`.
        stats: a measurement (its percentile and CI are recomputed from the samples when the
            budget gates on another percentile than the measurement did).
        scale: `--tfperf-budget-scale` (limits are multiplied by it).
        model: model name for the message (default `stats.model`).

    Returns:
        The verdict; its message reads like
        `latency_budget: p50 112.4 ms exceeds 100.0 ms by 12.4 ms (+12.4%; 8.9 FPS < 10 FPS);
        n=48 after 5 warm-up runs, 95% CI [108.1, 115.0] ms; model alexnet.pb` (the FPS part for
        an FPS budget).
    """
    return latency_verdict(resolve_latency(budget, stats.batch, scale), stats, model=model)


def latency_verdict(resolved: ResolvedLatency, stats: LatencyStats, *,
                    model: str | None = None) -> BudgetVerdict:
    """The verdict of `stats` against a resolved latency budget (see `check_latency`)."""
    budget, scale, batch, limit = resolved.budget, resolved.scale, resolved.batch, resolved.limit_ms
    stats = stats.judged() if hasattr(stats, "judged") else stats  # the clock that judges
    q = budget.percentile
    if stats.gated_percentile == q:
        value = stats.gated_ms
        (ci_lo, ci_hi), coverage = stats.gated_ci_ms, stats.gated_ci_coverage
    else:
        value = stats.percentile(q)
        ci_lo, ci_hi, coverage = stats.percentile_ci(q)
    passed = value <= limit
    headroom = _headroom(value, limit)
    label = f"p{q:g}"  # = stats.percentile_label
    model = model or stats.model or None

    fps_limit = budget.fps / scale if budget.fps is not None else None
    fps_note = ""
    if fps_limit is not None:  # an FPS budget also says it in FPS (DESIGN.md's message)
        measured_fps = batch * 1000.0 / value if value > 0 else math.inf
        fps_note = f"{measured_fps:.1f} FPS {'>=' if passed else '<'} {limit_text(fps_limit)} FPS"
    if passed:
        text = (f"{label} {format_ms(value)} ms within {format_ms(limit)} ms ({headroom:.1f}% "
                f"headroom{'; ' + fps_note if fps_note else ''})")
    else:  # the excess in ms, with the decimals it needs: never "by 0.0%"
        d = max(decimals_for(value, sig=3), decimals_for(value - limit))
        text = (f"{label} {format_ms(value, d)} ms exceeds {format_ms(limit, d)} ms by "
                + excess_text(f"{value - limit:.{d}f} ms", value, limit, also=fps_note))
    if scale != 1.0:
        text += f" (budget {format_ms(resolved.unscaled_ms)} ms x {scale:g} --tfperf-budget-scale)"
    text += "; " + _sample_text(stats, ci_lo, ci_hi, coverage, q)
    clock = _clock_text(stats)
    if clock:
        text += f"; {clock}"
    if model:
        text += f"; model {model}"
    return BudgetVerdict(marker="latency_budget", statistic=label, value=float(value),
                         limit=float(limit), unit="ms", passed=bool(passed),
                         headroom_pct=float(headroom), message=f"latency_budget: {text}",
                         model=model, fps_limit=fps_limit)


def _clock_text(stats) -> str:
    """'machine busy: wall 163 ms, CPU 58 ms (2.8x contention); judged on CPU' when the run was
    busy; 'CPU time of caller thread (wall p50 5.61 ms)' for a CPU-judged
    measurement on a quiet machine; '' for a wall-judged one on a quiet machine."""
    from pytest_tfperf.timing.clocks import busy_text

    contention = getattr(stats, "contention", None) or {}
    busy = busy_text(contention, getattr(stats, "clock", "wall"))
    if busy:
        return busy
    if getattr(stats, "samples_clock", "wall") == "cpu":
        wall = contention.get("wall_median_ms")
        what = (stats.cpu_clock or {}).get("text") or "the model's threads"
        return f"CPU time of {what}" + (f" (wall p50 {format_ms(wall)} ms)" if wall else "")
    return ""


def _sample_text(stats: LatencyStats, lo: float, hi: float, coverage: float, q: float = 50) -> str:
    from pytest_tfperf.timing.stats import rough_percentile_note

    if stats.stop_reason == "disabled":
        return "n=1 (timing disabled by --tfperf-disable: one cold call)"
    text = f"n={stats.n} after {plural(stats.warmup_n, 'warm-up run')}"
    if getattr(stats, "discarded_n", 0):
        text += (f" (quietest of several sessions; {plural(stats.discarded_n, 'call')} of noisier "
                 "ones set aside)")
    if coverage >= CONFIDENCE - 1e-9:
        text += f", {CONFIDENCE:.0%} CI [{format_ms(lo)}, {format_ms(hi)}] ms"
    else:
        text += (f", CI [{format_ms(lo)}, {format_ms(hi)}] ms (min-max: too few runs for "
                 f"{CONFIDENCE:.0%}, coverage {coverage:.0%})")
    note = rough_percentile_note(stats.n, q)
    return f"{text}; {note}" if note else text


def check_count(marker: str, value: float, limit: float, unit: str,
                model: str | None = None) -> BudgetVerdict:
    """Check a count or size against its limit (param/flops/size/memory budgets).

    Args:
        marker: "param_budget", "flops_budget", "size_budget", "memory_budget".
        value, limit: ints are shown as counts with separators (62,378,344), floats with one
            decimal and the unit (237.9 MB).
        unit: "weights", "trainable parameters", "FLOPs", "MB", ...
        model: model name for the message.

    Returns:
        The verdict; message like `param_budget: 62,378,344 weights exceed 60,000,000 by
        2,378,344 (+4.0%); model alexnet.pb` (the excess in the budget's unit, never "by 0.0%").
    """
    passed = value <= limit
    headroom = _headroom(value, limit)
    is_count = isinstance(value, int) and isinstance(limit, int)
    if is_count:
        shown, shown_limit, verb = f"{value:,} {unit}", f"{limit:,}", "exceed"
        excess = f"{value - limit:,}"
    else:
        d = 1 if passed else decimals_for(value - limit)
        shown, shown_limit, verb = f"{value:,.{d}f} {unit}", f"{limit:,.{d}f} {unit}", "exceeds"
        excess = f"{value - limit:,.{d}f} {unit}"
    if passed:
        text = f"{shown} within {shown_limit} ({headroom:.1f}% headroom)"
    else:
        text = f"{shown} {verb} {shown_limit} by {excess_text(excess, value, limit)}"
    if model:
        text += f"; model {model}"
    return BudgetVerdict(marker=marker, statistic=unit, value=value, limit=limit, unit=unit,
                         passed=bool(passed), headroom_pct=float(headroom),
                         message=f"{marker}: {text}", model=model or None)


def check_params(budget: ParamBudget, count: int, model: str | None = None) -> BudgetVerdict:
    """`param_budget` verdict for `count` parameters of `budget.kind`."""
    unit = "weights" if budget.kind == "weights" else "trainable parameters"
    return check_count("param_budget", int(count), budget.max, unit, model)


def check_flops(budget: FlopsBudget, flops: int, model: str | None = None) -> BudgetVerdict:
    """`flops_budget` verdict for `flops` FLOPs of one inference."""
    return check_count("flops_budget", int(flops), budget.max, "FLOPs", model)


def check_size(budget: SizeBudget, size_bytes: int, model: str | None = None) -> BudgetVerdict:
    """`size_budget` verdict for a serialized model of `size_bytes` bytes."""
    return check_count("size_budget", size_bytes / MB, float(budget.mb), "MB", model)


def check_memory(budget: MemoryBudget, peak_bytes: int, model: str | None = None) -> BudgetVerdict:
    """`memory_budget` verdict for a peak of `peak_bytes` bytes."""
    return check_count("memory_budget", peak_bytes / MB, float(budget.mb), "MB", model)
