"""HTML renderer: one self-contained page (inline CSS and SVG; no script, no network).

Per measurement a latency histogram of the raw samples marking the median and the budget; a
model comparison chart (weights, FLOPs, median latency as bars); the tables of the Markdown
report; the equivalence results. Plot geometry (bins, pixel positions) is computed here; every
number shown comes from the records.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from . import (
    MISSING,
    _finite,
    all_passed,
    budget_text,
    display_labels,
    display_path,
    first_measurement_of,
    fmt_bytes,
    fmt_count,
    fmt_ms,
    fmt_num,
    fmt_pct,
    fmt_value,
    get,
    main_verdict,
    model_key,
    model_label,
    model_labels,
    model_verdicts,
    model_weights,
    weights_notes,
    unique_models,
    verdict_text,
)

CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2328}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:8px 0 16px;max-width:100%}td:first-child{overflow-wrap:anywhere;max-width:34em}th,td{border:1px solid #d0d7de;padding:3px 8px}
th{background:#f6f8fa;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600}.FAIL,.regressed{color:#cf222e;font-weight:600}
.noise{color:#9a6700}.improved{color:#0969da}.warn{background:#fff8c5;padding:6px 10px}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{border:1px solid #d0d7de;padding:8px}
.plot h3{font-size:13px;margin:0 0 4px;word-break:break-all;max-width:480px}
code{font-size:12px}svg text{font:11px sans-serif}
"""


def _e(value: Any) -> str:
    return html.escape(MISSING if value is None or value == "" else str(value))


def _table(headers: Sequence[str], rows: list[Sequence[Any]], num: Sequence[int] = (),
           cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, tuple):  # (text, css class)
                cells.append(f'<td class="{_e(cell[1])}">{_e(cell[0])}</td>')
            else:
                cells.append(f'<td class="num">{_e(cell)}</td>' if i in num else f"<td>{_e(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _verdict(passed: Any) -> tuple[str, str]:
    text = verdict_text(passed)
    return text, text


def _budget_ms(verdict: dict | None, batch: Any) -> float | None:
    """Where a latency budget sits on the ms axis (an FPS budget drawn at batch*1000/fps)."""
    if not verdict or not _finite(verdict.get("limit")):
        return None
    if _finite(verdict.get("limit_ms")):
        return float(verdict["limit_ms"])
    unit = str(verdict.get("unit") or "").lower()
    if unit == "ms":
        return float(verdict["limit"])
    if unit == "fps" and verdict["limit"] > 0:
        return (batch if _finite(batch) else 1) * 1000.0 / verdict["limit"]
    return None


def latency_svg(samples: Sequence[float], median: Any, budget: float | None,
                w: int = 480, h: int = 150) -> str:
    """Histogram of `samples` (ms) with the median (blue) and budget (red) as vertical lines."""
    xs = [float(v) for v in samples or [] if _finite(v)]
    if not xs:
        return (f'<svg class="latency" xmlns="http://www.w3.org/2000/svg" width="{w}" height="40">'
                f'<text x="4" y="20">no samples</text></svg>')
    ordered = sorted(xs)
    lo, hi = ordered[0], ordered[-1]
    # a few outliers would squash the histogram into one bar: the axis spans the Tukey-style
    # fences (quartiles -/+ 3 IQR, at least the 5th..95th sample) and outliers pile into the
    # first/last bin (said in a note)
    n = len(ordered)
    overflow = underflow = 0
    if n >= 20:
        q1, q3 = ordered[n // 4], ordered[(3 * n) // 4]
        fence_hi = max(q3 + 3 * (q3 - q1), ordered[math.ceil(0.95 * (n - 1))])
        fence_lo = min(q1 - 3 * (q3 - q1), ordered[int(0.05 * (n - 1))])
        if hi > fence_hi:
            overflow, hi = sum(1 for v in xs if v > fence_hi), fence_hi
        if lo < fence_lo:
            underflow, lo = sum(1 for v in xs if v < fence_lo), fence_lo
    if budget is not None and lo * 0.5 <= budget <= hi * 2:
        lo, hi = min(lo, budget), max(hi, budget)
    pad = (hi - lo) * 0.05 or max(abs(hi) * 0.05, 1e-3)
    lo, hi = max(lo - pad, 0.0), hi + pad
    left, right, top, bottom = 40, 10, 10, 28
    pw, ph = w - left - right, h - top - bottom
    nbins = max(5, min(40, len(xs) // 3))
    counts = [0] * nbins
    for v in xs:
        counts[max(0, min(nbins - 1, int((v - lo) / (hi - lo) * nbins)))] += 1
    cmax = max(counts)
    sx = (lambda v: left + (v - lo) / (hi - lo) * pw)
    parts = [(f'<svg class="latency" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img">'),
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>']
    bw = pw / nbins
    for i, c in enumerate(counts):
        if c:
            bh = c / cmax * ph
            parts.append(f'<rect class="bin" x="{left + i * bw:.1f}" y="{top + ph - bh:.1f}" '
                         f'width="{max(bw - 1, 0.5):.1f}" height="{bh:.1f}" fill="#8ab4f8">'
                         f'<title>{c} samples</title></rect>')
    for v, anchor in ((lo, "start"), ((lo + hi) / 2, "middle"), (hi, "end")):
        parts.append(f'<text x="{sx(v):.1f}" y="{h - 14}" text-anchor="{anchor}">{fmt_ms(v)}</text>')
    parts.append(f'<text x="{left + pw:.1f}" y="{h - 1}" text-anchor="end">ms</text>')
    parts.append(f'<text x="2" y="{top + 8}">{cmax}</text>')
    notes = []
    if underflow:
        notes.append(f"{underflow} faster (from {fmt_ms(ordered[0])} ms) in the first bin")
    if overflow:
        notes.append(f"{overflow} slower (up to {fmt_ms(ordered[-1])} ms) in the last bin")
    for i, note in enumerate(notes):
        parts.append(f'<text class="overflow" x="{left + pw:.1f}" y="{top + 34 + 12 * i}" '
                     f'text-anchor="end" fill="#555">{note}</text>')
    if _finite(median):
        x = sx(float(median))
        parts.append(f'<line class="median" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" '
                     f'stroke="#1a56db" stroke-width="2"><title>median {fmt_ms(median)} ms</title></line>'
                     f'<text x="{x + 3:.1f}" y="{top + 10}" fill="#1a56db">median {fmt_ms(median)}</text>')
    if budget is not None:
        if lo <= budget <= hi:
            x = sx(budget)
            parts.append(f'<line class="budget" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" '
                         f'stroke="#cf222e" stroke-width="2" stroke-dasharray="5,3">'
                         f'<title>budget {fmt_ms(budget)} ms</title></line>'
                         f'<text x="{x - 3:.1f}" y="{top + 22}" fill="#cf222e" text-anchor="end">'
                         f'budget {fmt_ms(budget)}</text>')
        else:
            parts.append(f'<text class="budget" x="{left + pw:.1f}" y="{top + 22}" fill="#cf222e" '
                         f'text-anchor="end">budget {fmt_ms(budget)} ms (off scale)</text>')
    parts.append("</svg>")
    return "".join(parts)


def models_svg(rows: list[tuple[str, Any, Any, Any]], w: int = 640) -> str:
    """Bars per model for weights, FLOPs and median latency (each metric scaled to its max)."""
    metrics = [("weights", 1, fmt_count), ("FLOPs", 2, fmt_count), ("median ms", 3, fmt_ms)]
    bar_h, gap, label_w, value_w = 14, 4, 150, 80
    block = len(rows) * (bar_h + gap) + 22
    h = block * len(metrics) + 4
    colors = ("#8ab4f8", "#f6ae2d", "#33a36b")
    parts = [(f'<svg class="models" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img">')]
    for m, (title, idx, fmt) in enumerate(metrics):
        y0 = m * block
        parts.append(f'<text x="0" y="{y0 + 14}" font-weight="bold">{_e(title)}</text>')
        vmax = max([r[idx] for r in rows if _finite(r[idx])] or [0])
        for i, row in enumerate(rows):
            y = y0 + 20 + i * (bar_h + gap)
            value = row[idx]
            parts.append(f'<text x="0" y="{y + bar_h - 3}">{_e(str(row[0])[:24])}</text>')
            if _finite(value) and vmax > 0:
                bw = max(value / vmax * (w - label_w - value_w), 1)
                parts.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" '
                             f'fill="{colors[m]}"><title>{_e(row[0])}: {_e(fmt(value))}</title></rect>')
                parts.append(f'<text x="{label_w + bw + 4:.1f}" y="{y + bar_h - 3}">{_e(fmt(value))}</text>')
            else:
                parts.append(f'<text x="{label_w}" y="{y + bar_h - 3}">{MISSING}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(results, title: str = "tfperf report") -> str:
    """The whole report as one self-contained HTML document."""
    env = results.environment
    body = [f"<h1>{_e(title)}</h1>",
            (f"<p>TensorFlow {_e(env.get('tensorflow'))} · device {_e(env.get('device'))} · "
            f"machine {_e(env.get('machine_id'))}</p>")]
    if results.failures:
        body.append('<h2 id="failures">Budget failures</h2><ul>')
        body += [f"<li><code>{_e(r.get('test_id'))}</code>: {_e(r.get('message'))}</li>"
                 for r in results.failures]
        body.append("</ul>")
    if results.measurements:
        rows, plots = [], []
        labels = model_labels(results)
        for rec, label in zip(results.measurements, display_labels(results.measurements)):
            st = rec.get("stats") or {}
            v = main_verdict(rec.get("verdicts") or [])
            rows.append([label, model_label(rec, labels), fmt_ms(st.get("median_ms")), fmt_ms(st.get("p90_ms")),
                         fmt_ms(st.get("p99_ms")), fmt_num(st.get("fps"), 1), fmt_value(st.get("n")),
                         budget_text(v), fmt_pct(get(v, "headroom_pct")),
                         _verdict(all_passed(rec.get("verdicts") or []))])
            plots.append(f'<div class="plot"><h3>{_e(label)}</h3>'
                         f'{latency_svg(st.get("samples_ms") or [], st.get("median_ms"), _budget_ms(v, st.get("batch")))}'
                         f"</div>")
        body.append('<h2 id="latency">Latency</h2>')
        body.append(_table(["test", "model", "median ms", "p90 ms", "p99 ms", "FPS", "n", "budget",
                            "headroom", "verdict"], rows, num=(2, 3, 4, 5, 6, 8), cls="latency"))
        body.append('<h2 id="distributions">Latency distributions</h2><div class="plots">'
                    + "".join(plots) + "</div>")
    if results.models:
        rows, chart = [], []
        labels = model_labels(results)
        for rec in unique_models(results):
            s = rec.get("summary") or {}
            name, key = model_label(rec, labels), model_key(rec)
            median = get(first_measurement_of(results, key), "stats", "median_ms")
            rows.append([name, fmt_count(model_weights(s)), fmt_count(rec.get("flops")),
                         fmt_bytes(s.get("serialized_bytes", rec.get("size_bytes"))), fmt_value(s.get("node_count")),
                         fmt_ms(median), _verdict(all_passed(model_verdicts(results, key)))])
            chart.append((name, model_weights(s), rec.get("flops"), median))
        body.append('<h2 id="models">Models</h2>')
        body.append(_table(["model", "weights", "FLOPs", "size", "nodes", "median ms", "budgets"],
                           rows, num=(1, 2, 3, 4, 5), cls="models"))
        body.extend(f'<p class="note">{_e(note)}</p>' for note in weights_notes(results, labels))
        body.append(models_svg(chart))
    if results.equivalences:
        rows = []
        for rec in results.equivalences:
            rep = rec.get("report") or {}
            for o in rep.get("outputs") or [{}]:
                rows.append([rec.get("reference") or rep.get("reference"),
                             rec.get("candidate") or rep.get("candidate"), o.get("name"),
                             fmt_value(o.get("shape")), fmt_value(o.get("max_abs_error")),
                             fmt_value(o.get("max_rel_error")), fmt_value(o.get("top1_agreement")),
                             f"{fmt_value(rep.get('atol'))} / {fmt_value(rep.get('rtol'))}",
                             _verdict(o.get("passed", rep.get("passed")))])
        body.append('<h2 id="equivalence">Equivalence</h2>')
        body.append(_table(["reference", "candidate", "output", "shape", "max abs err",
                            "max rel err", "top-1", "atol / rtol", "result"], rows,
                           num=(4, 5, 6), cls="equivalence"))
    base = env.get("baseline") or {}
    if results.comparisons or base:
        body.append('<h2 id="comparison">Comparison with baseline</h2>')
        if base:
            body.append(f"<p>Baseline: <code>{_e(display_path(base.get('path'), env.get('rootdir')))}</code></p>")
            body += [f'<p class="warn">{_e(w)}</p>' for w in base.get("warnings") or []]
        rows = []
        for c in results.comparisons:
            p = c.get("p_value")
            verdict = str(c.get("verdict") or MISSING)
            rows.append([c.get("key") or c.get("test_id"), c.get("statistic"), fmt_ms(c.get("base_ms")),
                         fmt_ms(c.get("new_ms")), fmt_pct(c.get("change_pct")),
                         MISSING if p is None else f"{p:.2g}", c.get("threshold"), (verdict, verdict)])
        body.append(_table(["test", "stat", "base ms", "new ms", "change", "p", "threshold",
                            "verdict"], rows, num=(2, 3, 4, 5), cls="comparison"))
    if len(body) == 2:
        body.append("<p>No tfperf measurements in this run.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
