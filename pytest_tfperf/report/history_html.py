"""`tfperf history --html OUT`: one inline-SVG chart per series (no script, nothing fetched),
run values as a line with points, each change point a dashed line with its step and commit, and
the level before / after it drawn as flat segments."""
from __future__ import annotations

import html
import math

from pytest_tfperf.wording import format_ms as fmt_ms
from pytest_tfperf.report.history_text import change_point_text

_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "h2{font-size:1em;font-family:monospace;word-break:break-all}"
        "svg{background:#fafafa;border:1px solid #ddd}.cp{color:#b00}")


def _e(value) -> str:
    return html.escape(str(value))


def series_svg(series: dict, w: int = 720, h: int = 220) -> str:
    """The chart of one series (`Series.to_dict()`)."""
    pts = series["points"]
    values = [p["value"] for p in pts]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or hi * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 60, 10, 10, 30
    n = len(values)

    def x(i: float) -> float:
        return left + (w - left - right) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'role="img" aria-label="{_e(series["test"])}">']
    for frac in (0.0, 0.5, 1.0):
        v = lo + (hi - lo) * frac
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     f'stroke="#e5e5e5"/><text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{_e(fmt_ms(v))}</text>')
    parts.append(f'<text x="{left}" y="{h - 8}" font-size="11">run 1</text>'
                 f'<text x="{w - right}" y="{h - 8}" font-size="11" text-anchor="end">run {n}'
                 f'</text><text x="8" y="{top + 10}" font-size="11">ms</text>')
    bounds = [0, *[cp["index"] for cp in series.get("change_points") or []], n]
    for cp in series.get("change_points") or []:
        cx = x(cp["index"] - 0.5)
        parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top}" y2="{h - bottom}" '
                     f'stroke="#b00" stroke-dasharray="4 3"><title>{_e(change_point_text(cp))}'
                     f'</title></line><text x="{cx + 3:.1f}" y="{top + 12}" font-size="11" '
                     f'fill="#b00">{cp["change"] * 100:+.1f}% at {_e(str(cp.get("commit"))[:8])}'
                     f'</text>')
    for a, b in zip(bounds, bounds[1:]):
        seg = values[a:b]
        if seg:


            level = math.exp(sum(math.log(v) for v in seg) / len(seg))
            parts.append(f'<line x1="{x(a):.1f}" x2="{x(b - 1):.1f}" y1="{y(level):.1f}" '
                         f'y2="{y(level):.1f}" stroke="#4a4" stroke-width="2" opacity="0.6"/>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts.append(f'<path d="{path}" fill="none" stroke="#2a6fdb" stroke-width="1.5"/>')
    for i, (p, v) in enumerate(zip(pts, values)):
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="#2a6fdb"><title>'
                     f'run {i + 1}: {_e(fmt_ms(v))} ms, commit {_e(str(p.get("commit"))[:8])}, '
                     f'{_e(p.get("time"))}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def render_history_html(store: str, series: list[dict]) -> str:
    """A self-contained page: one chart and its change points per series."""
    body = [f"<h1>tfperf history</h1><p>{_e(store)}: {len(series)} series</p>"]
    for s in series:
        body.append(f"<h2>{_e(s['test'])} ({_e(s['statistic'])}, {len(s['points'])} runs)</h2>")
        body.append(series_svg(s))
        cps = s.get("change_points") or []
        body.append("<ul>" + "".join(f'<li class="cp">change point {_e(change_point_text(cp))}'
                                     f"</li>" for cp in cps) + "</ul>" if cps
                    else "<p>no change points</p>")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>tfperf history</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
