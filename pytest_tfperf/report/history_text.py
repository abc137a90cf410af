"""`tfperf history` in the terminal and in Markdown: per series a sparkline of the run values,
the last value and its change points (commit before -> after, step and its 95% CI).

Reads the `history.series` dicts (`Series.to_dict()`); computes nothing but the scaling of
the sparkline.
"""
from __future__ import annotations

from collections.abc import Sequence

from pytest_tfperf.wording import format_ms as fmt_ms

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """One character per run (the latest `width` runs), scaled from the lowest to the highest;
    a flat series is a flat line."""
    vals = [float(v) for v in values][-width:]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    if hi <= lo:
        return BARS[0] * len(vals)
    return "".join(BARS[min(len(BARS) - 1, int((v - lo) / (hi - lo) * len(BARS)))] for v in vals)


def _short(commit) -> str:
    return str(commit)[:8] if commit else "-"


def _pct(x) -> str:
    return f"{x * 100:+.1f}%"


def change_point_text(cp: dict) -> str:
    """'a1b2c3d4 -> e5f6a7b8 (run 17): 2.10 -> 2.63 ms, +25.2% (95% CI +21.0% to +29.5%)'."""
    return (f"{_short(cp.get('commit_before'))} -> {_short(cp.get('commit'))} (run "
            f"{cp.get('index', 0) + 1}): {fmt_ms(cp.get('before'))} -> {fmt_ms(cp.get('after'))} "
            f"ms, {_pct(cp['change'])} (95% CI {_pct(cp['ci_low'])} to {_pct(cp['ci_high'])})")


def render_history_text(store: str, series: list[dict], width: int = 40) -> str:
    """The terminal listing: one block per series."""
    if not series:
        return f"{store}: no stored measurements match"
    lines = [f"history {store}: {len(series)} series"]
    for s in series:
        values = [p["value"] for p in s["points"]]
        lines.append("")
        lines.append(f"{s['test']}  ({s['statistic']}, {len(values)} runs)")
        lines.append(f"  {sparkline(values, width)}  last {fmt_ms(values[-1])} ms, range "
                     f"{fmt_ms(min(values))}-{fmt_ms(max(values))} ms")
        cps = s.get("change_points") or []
        if not cps:
            lines.append("  no change points")
        for cp in cps:
            lines.append(f"  change point {change_point_text(cp)}")
    return "\n".join(lines)


def render_history_markdown(store: str, series: list[dict], width: int = 40) -> str:
    """A Markdown table (for `$GITHUB_STEP_SUMMARY`): test, statistic, trend, last, change points."""
    lines = [f"### tfperf history ({len(series)} series, `{store}`)", "",
             "| test | statistic | trend | runs | last ms | change points |",
             "|---|---|---|---:|---:|---|"]
    for s in series:
        values = [p["value"] for p in s["points"]]
        cps = "<br>".join(change_point_text(cp) for cp in s.get("change_points") or []) or "none"
        test = str(s["test"]).replace("|", "\\|")
        lines.append(f"| `{test}` | {s['statistic']} | {sparkline(values, width)} | "
                     f"{len(values)} | {fmt_ms(values[-1])} | {cps} |")
    return "\n".join(lines)
