"""Regression thresholds: `--tfperf-compare-fail` / `latency_budget(regression=...)` expressions.

`STAT:N%` or `STAT:Nms` (`median:10%`, `p90:5ms`), or `N%` / `Nms` for the measurement's gated
statistic ("gated": the p90 of a p90 budget, else the median).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from pytest_tfperf.errors import ConfigError

_EXPR_RE = re.compile(r"^\s*(?:(?P<stat>[a-zA-Z][a-zA-Z0-9.]*)\s*:)?\s*(?P<num>[0-9]*\.?[0-9]+)"
                      r"\s*(?P<unit>%|ms)\s*$")


# --------------------------------------------------------------------------- thresholds
@dataclasses.dataclass(frozen=True)
class Threshold:
    """How much a statistic may grow: `percent` (of the baseline) or `ms` (absolute)."""

    statistic: str  # "median", "mean", "min", "max", "p90", ...
    kind: str       # "percent" | "ms"
    value: float

    @property
    def expr(self) -> str:
        return f"{self.statistic}:{self.value:g}{'%' if self.kind == 'percent' else 'ms'}"

    def exceeded(self, base: float, new: float) -> bool:
        """True when `new` is slower than `base` by more than the threshold."""
        if self.kind == "percent":
            return base > 0 and (new / base - 1.0) * 100.0 > self.value
        return new - base > self.value

    def improved(self, base: float, new: float) -> bool:
        """True when `new` is faster than `base` by more than the threshold."""
        if self.kind == "percent":
            return base > 0 and (1.0 - new / base) * 100.0 > self.value
        return base - new > self.value

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "kind": self.kind, "value": self.value,
                "expr": self.expr}


def _normalize_statistic(stat: str, expr: str) -> str:
    stat = stat.lower()
    if stat in ("median", "p50", "mean", "min", "max", "gated"):
        return "median" if stat == "p50" else stat
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat)
    if m and 0 < float(m.group(1)) < 100:
        return f"p{float(m.group(1)):g}"
    raise ConfigError(f"regression threshold {expr!r}: unknown statistic {stat!r}; use one of "
                      f"median, mean, min, max, gated (the test's gated percentile) or a "
                      f"percentile pNN (p90, p99). Received: {expr!r}")


def parse_fail_expr(expr: str, default_statistic: str = "gated") -> Threshold:
    """Parse a `--tfperf-compare-fail` expression.

    Args:
        expr: `STAT:N%` or `STAT:Nms` (e.g. `median:10%`, `p90:5ms`), or just `N%` / `Nms`
            for `default_statistic`.
        default_statistic: the statistic when `expr` names none: "gated" (each measurement's
            gated percentile: the p90 of a p90 budget, else the median).

    Returns:
        The `Threshold`.

    Raises:
        ConfigError: `expr` is not of that form.
    """
    if isinstance(expr, Threshold):
        return expr
    m = _EXPR_RE.match(str(expr))
    if not m:
        raise ConfigError(
            f"regression threshold {expr!r} is not STAT:N% or STAT:Nms; write e.g. median:10% "
            f"(10% slower than the baseline) or p90:5ms (5 ms slower). Received: {expr!r}")
    stat = _normalize_statistic(m.group("stat") or default_statistic, str(expr))
    return Threshold(stat, "percent" if m.group("unit") == "%" else "ms", float(m.group("num")))


def parse_thresholds(exprs: Iterable[str | Threshold] | str | None,
                     default_statistic: str = "gated") -> tuple[Threshold, ...]:
    """Several `parse_fail_expr`s (a single string may hold comma-separated expressions)."""
    if exprs is None:
        return ()
    if isinstance(exprs, (str, Threshold)):
        exprs = [exprs]
    out: list[Threshold] = []
    for item in exprs:
        parts = [item] if isinstance(item, Threshold) else [p for p in str(item).split(",") if p.strip()]
        out.extend(parse_fail_expr(p, default_statistic) for p in parts)
    return tuple(out)
