"""How amounts are worded for people: plurals, milliseconds, FPS, counts, bytes, the excess over
a limit, headroom.

Pure text helpers (standard library only), shared by the budget messages (`budgets`) and the
renderers (`report/`), so that a failure message and a table cell say one thing one way:
"33.2x over" rather than "-3221.0%", "by 1 (+0.02%)" rather than "by 0.0%", "1 call" rather
than "1 calls", "≥30 FPS" rather than "p50≤33.333ms" for `latency_budget(fps=30)`.

One formatter per quantity, one rounding rule each, used by every table and message:
`format_ms` (>= 3 significant digits, >= 1 decimal), `format_fps` (1 decimal), `format_count`
(SI suffixes k/M/G/T, 2 decimals: 1.5e9 reads "1.50G" everywhere) and `format_bytes` (decimal
units, 1 decimal, 1 MB = 10^6 bytes, as `size_budget(mb)` counts them). A missing or non-finite amount
reads `MISSING` ("-").
"""
from __future__ import annotations

import math

__all__ = ["MISSING", "decimals_for", "excess_text", "format_bytes", "format_count", "format_fps",
           "format_ms", "fps_floor_text", "headroom_text", "limit_text", "percent_text", "plural",
           "ratio_text"]

MISSING = "-"  # what a missing amount reads as, in every table

OVER_RATIO = 2.0  # from twice the limit on, an excess reads as a ratio ("33.2x over")


def plural(count: float, noun: str, plural_form: str | None = None) -> str:
    """'1 call', '0 calls', '3 warm-up runs' (`plural_form` for irregular nouns)."""
    word = noun if count == 1 else (plural_form or f"{noun}s")
    shown = f"{count:,}" if isinstance(count, int) else f"{count:g}"
    return f"{shown} {word}"


def decimals_for(value: float, sig: int = 2, least: int = 1, most: int = 6) -> int:
    """Decimals that show `value` with at least `sig` significant digits (within [least, most])."""
    if not math.isfinite(value) or value == 0:
        return least
    needed = sig - 1 - math.floor(math.log10(abs(value)))
    return min(max(least, needed), most)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_ms(ms: float | None, least: int = 1) -> str:
    """Milliseconds with >= 3 significant digits and >= `least` decimals: 112.4, 1.23, 0.0456
    ('-' for None or a non-finite value). The one rounding rule for milliseconds."""
    if not _finite(ms):
        return MISSING
    return f"{ms:.{decimals_for(abs(ms), sig=3, least=least)}f}"


def format_fps(fps: float | None) -> str:
    """Frames per second with one decimal: 31.2 ('-' when missing)."""
    return f"{fps:.1f}" if _finite(fps) else MISSING


def format_count(value: float | None) -> str:
    """A count with SI suffixes: 950 -> '950', 62378344 -> '62.38M', 1.5e9 -> '1.50G'."""
    if not _finite(value):
        return MISSING
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f}{suffix}"
    return f"{int(value)}" if float(value).is_integer() else f"{value:.2f}"


def format_bytes(value: float | None) -> str:
    """Bytes in decimal units with one decimal (1 MB = 10^6 bytes, as `size_budget(mb)` counts
    them): '512 B', '1.5 kB', '249.6 MB', '1.2 GB'."""
    if not _finite(value):
        return MISSING
    for factor, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(value) >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{int(value)} B"


def percent_text(pct: float) -> str:
    """12.345 -> '12.3%'; small values keep two significant digits: 0.0213 -> '0.021%' (never
    '0.0%' for a value that is not zero)."""
    if not math.isfinite(pct):
        return f"{pct}%"
    if pct == 0 or abs(pct) >= 1:
        return f"{pct:.1f}%"
    if abs(pct) < 0.001:
        return "<0.001%"
    return f"{pct:.2g}%"


def ratio_text(ratio: float) -> str:
    """'33.2x'; from 100x on without decimals ('13912x')."""
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.1f}x"


def limit_text(limit: float) -> str:
    """A budget limit as a person writes it: 33.333 -> '33.33', 10000 -> '10000', 0.0001 -> '0.0001'."""
    if not math.isfinite(limit):
        return str(limit)
    if abs(limit) >= 1:
        return f"{limit:.2f}".rstrip("0").rstrip(".")
    return f"{limit:.4g}"


def excess_text(excess: str, value: float, limit: float, also: str = "") -> str:
    """'12.4 ms (+12.4%)' or '0.195 ms (196.0x the limit)': the absolute excess, already
    formatted by the caller in its unit, then the relative one; `also` joins the parenthesis
    ('12.4 ms (+12.4%; 8.9 FPS < 10 FPS)')."""
    if not (math.isfinite(value) and math.isfinite(limit)) or limit <= 0:
        return f"{excess} ({also})" if also else excess
    ratio = value / limit
    relative = (f"{ratio_text(ratio)} the limit" if ratio >= OVER_RATIO
                else f"+{percent_text((value - limit) / limit * 100.0)}")
    return f"{excess} ({relative}{'; ' + also if also else ''})"


def headroom_text(passed: bool | None, headroom_pct: float | None) -> str:
    """A verdict's headroom for a table cell: '99.2%' left, or '12.4% over' / '33.2x over'.

    `headroom_pct = (limit - value) / limit * 100` (`BudgetVerdict.headroom_pct`), so the value
    is `1 - headroom_pct / 100` limits.
    """
    if headroom_pct is None or not math.isfinite(headroom_pct):
        return "-"
    if passed is not False and headroom_pct >= 0:
        return percent_text(headroom_pct)
    if 1.0 - headroom_pct / 100.0 >= OVER_RATIO:
        return f"{ratio_text(1.0 - headroom_pct / 100.0)} over"
    return f"{percent_text(-headroom_pct)} over"


def fps_floor_text(fps: float, percentile: float | None = 50) -> str:
    """`latency_budget(fps=30)` as a person wrote it: '≥30 FPS' ('≥30 FPS at p90' off the median)."""
    text = f"≥{limit_text(fps)} FPS"
    if percentile is not None and float(percentile) != 50:
        text += f" at p{float(percentile):g}"
    return text
