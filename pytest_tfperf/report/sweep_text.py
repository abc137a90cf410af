"""Rendering of a sweep (`SweepResult.to_dict()`): `tfperf sweep`'s text, and the recorder's
sweeps (`SweepRecord`) in the terminal, Markdown and HTML reports (the HTML one with an inline
SVG chart of throughput against p99 latency; no script, nothing fetched).

Reads the records only; computes nothing but formatting and plot geometry.
"""
from __future__ import annotations

import math
import textwrap
from typing import Any, Mapping

from pytest_tfperf.inputs.described import inputs_text
from pytest_tfperf.report.tables import (
    WIDTH,
    escape,
    fit_table,
    html_table,
    markdown_cell,
    markdown_table,
    wrap_id,
)
from pytest_tfperf.wording import MISSING, format_fps, format_ms, plural

COLUMNS = ("batch", "threads", "clients", "inf/s", "95% CI", "p50 ms", "p90 ms", "p99 ms", "CPU",
           "s")
_KEYS = 3  # batch, threads and clients identify a row


def _data(table: Any) -> Mapping[str, Any]:
    return table.to_dict() if hasattr(table, "to_dict") else table


def _rate(v) -> str:
    return format_fps(v)


def _ci(ci) -> str:
    return f"{_rate(ci[0])}-{_rate(ci[1])}" if ci else MISSING


def _p99(c: Mapping[str, Any]) -> str:
    return ("~" if c.get("p99_rough") else "") + format_ms(c.get("p99_ms"))


def sweep_cells(table: Any) -> list[list[str]]:
    """One row of formatted cells per configuration, in `COLUMNS` order ("*" after the
    throughput marks the Pareto front; "~" a p99 from fewer than 1000 requests)."""
    rows = []
    for c in _data(table).get("configurations") or []:
        cpu = c.get("cpu_util")
        rows.append([str(c.get("batch")), str(c.get("intra_threads")), str(c.get("concurrency")),
                     _rate(c.get("throughput")) + ("*" if c.get("pareto") else ""),
                     _ci(c.get("throughput_ci")), format_ms(c.get("p50_ms")), format_ms(c.get("p90_ms")),
                     _p99(c), f"{100 * cpu:.0f}%" if isinstance(cpu, (int, float)) else MISSING,
                     f"{c.get('seconds') or 0:.1f}"])
    return rows


def serves(c: Mapping[str, Any], device: str = "CPU") -> str:
    """'at batch 8 (1 thread, 1 client) this CPU serves 41.2 inferences/s at p99 210 ms'."""
    threads = plural(c.get("intra_threads"), "thread")
    clients = plural(c.get("concurrency"), "client")
    return (f"at batch {c.get('batch')} ({threads}, {clients}) this {device or 'machine'} serves "
            f"{_rate(c.get('throughput'))} inferences/s at p99 {_p99(c)} ms")


def summary_lines(table: Any) -> list[str]:
    """The headline, what the best configurations serve, the Pareto front and the notes."""
    data = _data(table)
    rows = data.get("configurations") or []
    device = str(data.get("device") or "CPU")
    timed = inputs_text(data["inputs"], with_source=True, sep=", ") if data.get("inputs") else ""
    lines = [f"sweep of {data.get('model')} ({data.get('runtime')}, {plural(data.get('cores') or 1, 'core')}) "
             f"on {timed or 'its inputs'} (batch 1; each request repeats it up to its batch), "
             f"{plural(len(rows), 'configuration')} in {data.get('seconds') or 0:.0f} s"]
    for b in sorted({c.get("batch") for c in rows}):  # what each batch size serves at its best
        at = [c for c in rows if c.get("batch") == b]
        lines.append(serves(max(at, key=lambda c: c.get("throughput") or 0), device))
    best = data.get("best")
    if best and len(rows) > 1:
        lines.append(f"highest throughput: batch {best.get('batch')}, "
                     f"{plural(best.get('intra_threads'), 'thread')}, {plural(best.get('concurrency'), 'client')}")
    limit = data.get("within_p99_ms")
    if limit is not None:
        within = data.get("best_within_p99")
        lines.append(f"best within p99 <= {format_ms(limit)} ms: "
                     + (serves(within, device) if within else "none of the configurations"))
    front = [c for c in rows if c.get("pareto")]
    if front:
        lines.append("* Pareto front (throughput vs p99): " + "; ".join(
            f"b{c['batch']} t{c['intra_threads']} c{c['concurrency']}: {_rate(c.get('throughput'))}/s "
            f"at {_p99(c)} ms" for c in sorted(front, key=lambda c: c.get("throughput") or 0)))
    if any(c.get("p99_rough") for c in rows):
        lines.append("~ rough p99: fewer than 1000 requests (raise the time per configuration)")
    lines.append("inf/s: inferences per second (requests x batch), 95% CI from per-block throughputs; "
                 "latencies per request; CPU: process CPU time / wall / cores")
    lines += [f"note: {n}" for n in data.get("notes") or []]
    return lines


def _wrapped(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, max(width, 20), subsequent_indent="  ", break_on_hyphens=False) or [""]


def render_sweep(table: Any, *, width: int = WIDTH) -> str:
    """The sweep as text in `width` columns: the headline, one row per configuration
    (`terminal.fit_table`), then what the best configurations serve, the front and the notes."""
    lines = summary_lines(table)
    out = _wrapped(lines[0], width)
    out += fit_table(list(COLUMNS), sweep_cells(table), keys=_KEYS, width=width, id_col=None)
    for line in lines[1:]:
        out += _wrapped(line, width)
    return "\n".join(out)


def terminal_sweeps(records, width: int = WIDTH) -> list[str]:
    """`--tfperf-report`'s "tfperf sweeps" section: each sweep under its test id."""
    lines: list[str] = []
    for rec in records:
        lines += wrap_id(str(rec.test_id or "-"), width)
        lines += ["  " + line if line else line
                  for line in render_sweep(rec.table or {}, width=width - 2).splitlines()]
    return lines


def markdown_sweeps(records) -> list[str]:
    """The Markdown report's "Sweeps" section body."""
    out: list[str] = []
    for rec in records:
        lines = summary_lines(rec.table or {})
        out += [f"`{markdown_cell(rec.test_id or MISSING)}`: {markdown_cell(lines[0])}", ""]
        out += markdown_table(COLUMNS, sweep_cells(rec.table or {}), right=range(len(COLUMNS)))
        out += [f"- {markdown_cell(line)}" for line in lines[1:]] + [""]
    return out


def html_sweeps(records) -> str:
    """The HTML report's "Sweeps" section body: per sweep its table and a chart."""
    parts = []
    for rec in records:
        data = rec.table or {}
        lines = summary_lines(data)
        parts.append(f"<p><code>{escape(rec.test_id or MISSING)}</code>: {escape(lines[0])}</p>"
                     + html_table(COLUMNS, sweep_cells(data), num=range(len(COLUMNS)), cls="sweep")
                     + "".join(f'<p class="note">{escape(line)}</p>' for line in lines[1:])
                     + sweep_svg(data))
    return "\n".join(parts)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    raw = (hi - lo) / n if hi > lo else 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _tick_text(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1 or v == 0 else f"{v:.2g}"


_COLORS = ("#0969da", "#1a7f37", "#bf3989", "#9a6700", "#8250df", "#cf222e")


def sweep_svg(table: Any, w: int = 640, h: int = 320) -> str:
    """Throughput (y) against p99 latency (x) per configuration; colour = batch, a larger ring
    for concurrency > 1, the Pareto front joined by a line and labelled."""
    rows = [c for c in _data(table).get("configurations") or []
            if all(isinstance(c.get(k), (int, float)) and math.isfinite(c[k]) for k in ("p99_ms", "throughput"))]
    if not rows:
        return ""
    left, right, top, bottom = 56, 16, 12, 40
    xs, ys = [c["p99_ms"] for c in rows], [c["throughput"] for c in rows]
    x_hi, y_hi = max(xs) * 1.08 or 1.0, max(ys) * 1.1 or 1.0
    px = lambda v: left + v / x_hi * (w - left - right)  # noqa: E731
    py = lambda v: h - bottom - v / y_hi * (h - top - bottom)  # noqa: E731
    parts = [f'<svg class="sweep" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img"><title>throughput against p99 latency</title>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="#57606a"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#57606a"/>']
    for t in _ticks(0.0, x_hi):
        parts.append(f'<text class="axis" x="{px(t):.1f}" y="{h - bottom + 14}" text-anchor="middle">'
                     f'{_tick_text(t)}</text>')
    for t in _ticks(0.0, y_hi):
        parts.append(f'<text class="axis" x="{left - 4}" y="{py(t) + 4:.1f}" text-anchor="end">'
                     f'{_tick_text(t)}</text>')
    parts.append(f'<text class="axis" x="{(left + w - right) / 2}" y="{h - 6}" text-anchor="middle">'
                 'p99 latency per request (ms)</text>')
    parts.append(f'<text class="axis" x="12" y="{(top + h - bottom) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {(top + h - bottom) / 2})">inferences/s</text>')
    front = sorted((c for c in rows if c.get("pareto")), key=lambda c: c["p99_ms"])
    if len(front) > 1:
        pts = " ".join(f"{px(c['p99_ms']):.1f},{py(c['throughput']):.1f}" for c in front)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#cf222e" stroke-dasharray="4 3"/>')
    batches = sorted({c["batch"] for c in rows})
    for c in rows:
        color = _COLORS[batches.index(c["batch"]) % len(_COLORS)]
        r = 4 if c.get("concurrency", 1) == 1 else 6
        tip = (f"batch {c['batch']}, {plural(c.get('intra_threads'), 'thread')}, concurrency "
               f"{c.get('concurrency')}: {_rate(c['throughput'])} inferences/s, p99 {_p99(c)} ms")
        parts.append(f'<circle cx="{px(c["p99_ms"]):.1f}" cy="{py(c["throughput"]):.1f}" r="{r}" '
                     f'fill="{color}" fill-opacity="0.75"><title>{escape(tip)}</title></circle>')
        if c.get("pareto"):
            parts.append(f'<text x="{px(c["p99_ms"]) + 7:.1f}" y="{py(c["throughput"]) - 5:.1f}">'
                         f'b{c["batch"]} t{c.get("intra_threads")} c{c.get("concurrency")}</text>')
    for i, b in enumerate(batches):  # legend: colour per batch
        x = w - right - 70
        y = top + 12 + i * 14
        parts.append(f'<circle cx="{x}" cy="{y - 4}" r="4" fill="{_COLORS[i % len(_COLORS)]}"/>'
                     f'<text x="{x + 8}" y="{y}">batch {b}</text>')
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["COLUMNS", "html_sweeps", "markdown_sweeps", "render_sweep", "serves", "summary_lines",
           "sweep_cells", "sweep_svg", "terminal_sweeps"]
