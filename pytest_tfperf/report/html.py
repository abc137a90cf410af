"""HTML renderer: one self-contained page (inline CSS and SVG; no script, no network).

Per measurement a latency histogram of the raw samples marking the median and the budget; a
model comparison chart (weights, FLOPs, median latency as bars); the tables of the Markdown
report; the equivalence results. Plot geometry (bins, pixel positions) is computed here; every
number shown comes from the records.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from typing import Any

from pytest_tfperf.report import (
    expected_and_rerun,
    MISSING,
    ROUGH_LEGEND,
    clock_notes,
    _finite,
    budget_verdicts,
    display_path,
    fmt_budget_value,
    fmt_change_ci,
    fmt_pct,
    fmt_value,
    guessed_legend,
    headroom_cell,
    is_rough,
    model_label,
    model_labels,
    outcome_parts,
    run_tally,
    verdict_text,
    weights_notes,
)
from pytest_tfperf.report.rows import latency_rows, model_rows
from pytest_tfperf.report.tables import Id, escape, html_table, id_html
from pytest_tfperf.report.variants_text import html_variants
from pytest_tfperf.wording import format_count, format_ms

CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2328}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:8px 0 16px;max-width:100%}td:first-child{overflow-wrap:break-word;max-width:34em}th,td{border:1px solid #d0d7de;padding:3px 8px}
th{background:#f6f8fa;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600}.FAIL,.regressed{color:#cf222e;font-weight:600}
.noise{color:#9a6700}.improved{color:#0969da}.warn{background:#fff8c5;padding:6px 10px}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{border:1px solid #d0d7de;padding:8px}
.plot h3{font-size:13px;margin:0 0 2px;overflow-wrap:break-word;max-width:480px}
.plot .sub{font-size:12px;color:#57606a;margin:0 0 4px}
code{font-size:12px}svg text{font:11px sans-serif}svg text.axis{fill:#57606a}
.meta{color:#57606a;margin:2px 0}.meta code{color:#1f2328;overflow-wrap:anywhere}
.summary{font-size:15px;padding:8px 12px;border-radius:6px;margin:12px 0}
.summary.ok{background:#dafbe1;color:#1a7f37}.summary.FAIL{background:#ffebe9;color:#cf222e}
.summary.none{background:#f6f8fa;color:#57606a;font-weight:400}
"""


def _verdict(passed: Any) -> tuple[str, str]:
    text = verdict_text(passed)
    return text, text


def _budget_ms(verdict: dict | None) -> float | None:
    """Where a latency budget sits on the ms axis (an FPS budget's verdict holds its limit in
    ms too: `budgets.check_latency`)."""
    if not verdict or not _finite(verdict.get("limit")):
        return None
    return float(verdict["limit"]) if str(verdict.get("unit") or "").lower() == "ms" else None


def _ticks(lo: float, hi: float, n: int = 5) -> tuple[list[float], int]:
    """Round tick values (1-2-2.5-5 steps) between lo and hi, and the decimals to print them with."""
    raw = (hi - lo) / max(n, 1)
    if not raw > 0:
        return [lo], 2
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if round(step / mag, 3) == 2.5 else 0)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]
    return ticks, decimals


def _label_side(x: float, chars: int, others: Sequence[float], x_min: float, x_max: float) -> tuple[str, float]:
    """Which side of its line a label goes ("start": right of it, "end": left of it), so that it
    crosses none of the `others` lines and stays inside the plot; the roomier side when both fail."""
    width = chars * 6.2 + 6  # 11 px sans-serif: ~6 px a character
    if x + width <= x_max and not any(x < o < x + width for o in others):
        return "start", x + 3
    if x - width >= x_min and not any(x - width < o < x for o in others):
        return "end", x - 3
    return ("start", x + 3) if x_max - x >= x - x_min else ("end", x - 3)


def latency_svg(samples: Sequence[float], median: Any, budget: float | None,
                w: int = 480, h: int | None = None, *, gated: tuple[str, Any] | None = None,
                batch: Any = None) -> str:
    """Histogram of `samples` (ms per run) with the median (blue), the gated percentile
    (purple, when the budget gates another one, e.g. p90) and the budget (red, dashed).

    Labels sit in a band above the plot, one row each, so they never cover the bars; the axes
    say what they count (runs) and in what (ms per run, batch N).
    """
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

    gated_label = gated_value = None
    if gated is not None and _finite(gated[1]):
        gated_label, gated_value = str(gated[0]), float(gated[1])
    gated_is_median = gated_label in ("p50", "median")
    # label rows of the band above the plot: budget, gated percentile, median (those present)
    rows = [k for k, present in (("budget", budget is not None),
                                 ("gated", gated_value is not None and not gated_is_median),
                                 ("median", _finite(median))) if present]
    row_y = {k: 12 + 13 * i for i, k in enumerate(rows)}
    left, right, ph = 48, 14, 100
    top = 12 + 13 * len(rows)
    pw = w - left - right
    notes = []
    if underflow:
        notes.append(f"{underflow} faster runs (from {format_ms(ordered[0])} ms) counted in the first bin")
    if overflow:
        notes.append(f"{overflow} slower runs (up to {format_ms(ordered[-1])} ms) counted in the last bin")
    height = h or top + ph + 34 + 13 * len(notes)
    nbins = max(5, min(40, len(xs) // 3))
    counts = [0] * nbins
    for v in xs:
        counts[max(0, min(nbins - 1, int((v - lo) / (hi - lo) * nbins)))] += 1
    cmax = max(counts)
    sx = (lambda v: left + (v - lo) / (hi - lo) * pw)
    base = top + ph
    parts = [(f'<svg class="latency" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" '
             f'viewBox="0 0 {w} {height}" role="img">'),
             f'<line x1="{left}" y1="{base}" x2="{left + pw}" y2="{base}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#888"/>']
    bw = pw / nbins
    for i, c in enumerate(counts):
        if c:
            bh = c / cmax * ph
            parts.append(f'<rect class="bin" x="{left + i * bw:.1f}" y="{base - bh:.1f}" '
                         f'width="{max(bw - 1, 0.5):.1f}" height="{bh:.1f}" fill="#8ab4f8">'
                         f'<title>{c} runs</title></rect>')
    ticks, decimals = _ticks(lo, hi)
    for v in ticks:
        x = sx(v)
        parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#888"/>'
                     f'<text class="tick" x="{x:.1f}" y="{base + 15}" text-anchor="middle">{v:.{decimals}f}</text>')
    per = f", batch {batch}" if _finite(batch) and batch != 1 else ""
    parts.append(f'<text class="axis" x="{left + pw / 2:.1f}" y="{base + 29}" text-anchor="middle">'
                 f'ms per run{per}</text>')
    for value, y in ((0, base), (cmax, top)):
        parts.append(f'<text class="tick" x="{left - 4}" y="{y + 4}" text-anchor="end">{value}</text>')
    parts.append(f'<text class="axis" x="12" y="{top + ph / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2:.1f})">runs</text>')
    for i, note in enumerate(notes):
        parts.append(f'<text class="overflow" x="{left}" y="{base + 42 + 13 * i}" fill="#555">{note}</text>')

    marks = []  # (kind, value, text, color, dash)
    if _finite(median):
        marks.append(("median", float(median),
                      f"median {format_ms(median)} ms" + (" (gated)" if gated_is_median else ""), "#1a56db", ""))
    if "gated" in rows:
        marks.append(("gated", gated_value, f"{gated_label} {format_ms(gated_value)} ms (gated)", "#8250df", ""))
    if budget is not None and lo <= budget <= hi:
        marks.append(("budget", budget, f"budget {format_ms(budget)} ms", "#cf222e", "5,3"))
    xs_of = {kind: sx(value) for kind, value, _, _, _ in marks}
    for kind, _value, text, color, dash in marks:
        x = xs_of[kind]
        # the connectors of the labels in the rows above pass through this label's row
        above = [xs_of[k] for k in xs_of if row_y[k] < row_y[kind]]
        anchor, tx = _label_side(x, len(text), above, 0, w)
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line class="{kind}" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" '
                     f'stroke="{color}" stroke-width="2"{dashes}><title>{escape(text)}</title></line>'
                     f'<line class="connector" x1="{x:.1f}" y1="{row_y[kind] + 2}" x2="{x:.1f}" y2="{top}" '
                     f'stroke="{color}" stroke-width="1"/>'
                     f'<text class="{kind}-label" x="{tx:.1f}" y="{row_y[kind]}" fill="{color}" '
                     f'text-anchor="{anchor}">{escape(text)}</text>')
    if budget is not None and not lo <= budget <= hi:
        side, anchor, x = ("\u25c0 ", "start", left) if budget < lo else ("", "end", left + pw)
        arrow = "" if budget < lo else " \u25b6"
        parts.append(f'<text class="budget" x="{x}" y="{row_y["budget"]}" fill="#cf222e" '
                     f'text-anchor="{anchor}">{side}budget {format_ms(budget)} ms (off scale){arrow}</text>')
    parts.append("</svg>")
    return "".join(parts)


def models_svg(rows: list[tuple[str, Any, Any, Any]], w: int = 640) -> str:
    """Bars per model for weights, FLOPs and median latency (each metric scaled to its max)."""
    metrics = [("weights", 1, format_count), ("FLOPs", 2, format_count), ("median ms", 3, format_ms)]
    bar_h, gap, label_w, value_w = 14, 4, 150, 80
    block = len(rows) * (bar_h + gap) + 22
    h = block * len(metrics) + 4
    colors = ("#8ab4f8", "#f6ae2d", "#33a36b")
    parts = [(f'<svg class="models" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img">')]
    for m, (title, idx, fmt) in enumerate(metrics):
        y0 = m * block
        parts.append(f'<text x="0" y="{y0 + 14}" font-weight="bold">{escape(title)}</text>')
        vmax = max([r[idx] for r in rows if _finite(r[idx])] or [0])
        for i, row in enumerate(rows):
            y = y0 + 20 + i * (bar_h + gap)
            value = row[idx]
            parts.append(f'<text x="0" y="{y + bar_h - 3}">{escape(str(row[0])[:24])}</text>')
            if _finite(value) and vmax > 0:
                bw = max(value / vmax * (w - label_w - value_w), 1)
                parts.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" '
                             f'fill="{colors[m]}"><title>{escape(row[0])}: {escape(fmt(value))}</title></rect>')
                parts.append(f'<text x="{label_w + bw + 4:.1f}" y="{y + bar_h - 3}">{escape(fmt(value))}</text>')
            else:
                parts.append(f'<text x="{label_w}" y="{y + bar_h - 3}">{MISSING}</text>')
    parts.append("</svg>")
    return "".join(parts)


BUDGET_NAMES = {"latency_budget": "latency", "param_budget": "parameters", "flops_budget": "FLOPs",
                "size_budget": "size", "memory_budget": "peak memory", "throughput_budget": "throughput"}


def _when(iso: Any) -> str | None:
    """'2026-12-02T16:44:36+00:00' -> '2026-12-02 16:44:36 UTC' (other zones as given)."""
    if not iso:
        return None
    try:
        t = _dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    zone = "UTC" if t.utcoffset() == _dt.timedelta(0) else (t.strftime("%z") or "")
    return f"{t:%Y-%m-%d %H:%M:%S} {zone}".strip()


def _header(results) -> list[str]:
    """Run facts (time stamp, versions, machine), the command line and the pass/fail line."""
    env = results.environment
    facts = [f"run started {escape(_when(env.get('started')))}" if env.get("started") else None,
             f"TensorFlow {escape(env.get('tensorflow'))}", f"device {escape(env.get('device'))}",
             f"machine {escape(env.get('machine_id'))}"]
    out = [f'<p class="meta">{" · ".join(f for f in facts if f)}</p>']
    if env.get("command"):
        out.append(f'<p class="meta">command: <code>{escape(env.get("command"))}</code></p>')
    t = run_tally(results)
    parts = []
    if t["budgets"]:
        text = f"{t['budgets_failed']} of {t['budgets']} budgets failed" if t["budgets_failed"] else \
            f"all {t['budgets']} budgets passed" if not t["budgets_xfailed"] else \
            f"{t['budgets_passed']} of {t['budgets']} budgets passed"
        if t["budgets_unknown"]:
            text += f", {t['budgets_unknown']} not established"
        parts.append(text)
    n_eq = t["equivalence_passed"] + t["equivalence_failed"]
    if n_eq:
        parts.append(f"{t['equivalence_failed']} of {n_eq} equivalence checks failed" if t["equivalence_failed"]
                     else f"{n_eq} equivalence checks passed")
    if t["comparisons"]:
        parts.append(f"{t['regressed']} of {t['comparisons']} comparisons regressed")
    parts += outcome_parts(t)  # issue 21: xfail, xpass, errors, reruns as pytest says them
    if t["tests"]:
        parts.append(f"{t['tests']} tests with tfperf results")
    failed = t["budgets_failed"] or t["budgets_unknown"] or t["equivalence_failed"] or t["regressed"]
    state = "FAIL" if failed else ("ok" if t["budgets"] or n_eq or t["comparisons"] else "none")
    word = {"FAIL": "FAIL: ", "ok": "PASS: ", "none": ""}[state]
    if parts:
        out.append(f'<p class="summary {state}" id="summary">{word}{escape(" · ".join(parts))}</p>')
    return out


def _budgets_table(results) -> str:
    """Every budget of the run, whatever its kind: limit, measured value, headroom, verdict."""
    labels = model_labels(results)
    rows = []
    for test_id, v in budget_verdicts(results):
        kind = BUDGET_NAMES.get(str(v.get("marker")), str(v.get("marker") or MISSING))
        stat = str(v.get("statistic") or "")
        if kind == "latency" and stat:
            kind = f"latency {stat}"
        rows.append([Id(test_id), Id(model_label(v, labels)), kind,
                     f"≤ {fmt_budget_value(v.get('limit'), v.get('unit'))}",
                     fmt_budget_value(v.get("value"), v.get("unit")), headroom_cell(v),
                     _verdict(v.get("passed"))])
    return html_table(["test", "model", "budget", "limit", "measured", "headroom", "verdict"], rows,
                  num=(3, 4, 5), cls="budgets")


def render(results, title: str = "tfperf report") -> str:
    """The whole report as one self-contained HTML document."""
    env = results.environment
    body = [f"<h1>{escape(title)}</h1>", *_header(results)]
    n_head = len(body)
    if results.failures:
        body.append('<h2 id="failures">Budget failures</h2><ul>')
        body += [f"<li><code>{id_html(r.test_id)}</code>: {escape(r.message)}</li>"
                 for r in results.failures]
        body.append("</ul>")
    for title, records in expected_and_rerun(results):  # issue 21: apart, named as such
        body.append(f"<h2>{escape(title)}</h2><ul>")
        body += [f"<li><code>{id_html(r.test_id)}</code>: {escape(r.message)}</li>"
                 for r in records]
        body.append("</ul>")
    if budget_verdicts(results):
        body.append('<h2 id="budgets">Budgets</h2>')
        body.append(_budgets_table(results))
    if results.measurements:
        rows, plots = [], []
        for r in latency_rows(results):
            label, st, v = r.label, r.record.stats or {}, r.verdict
            rows.append([Id(label), Id(r.model), r.input, r.median, r.p90, r.p99, r.fps, r.n,
                         r.budget, r.headroom, _verdict(r.passed)])
            gated = None
            if v and _finite(v.get("value")) and str(v.get("unit") or "").lower() == "ms":
                gated = (str(v.get("statistic") or "gated"), v.get("value"))
            sub = " · ".join(x for x in (r.model, f"{r.n} runs",
                                         f"batch {fmt_value(st.get('batch'))}") if x)
            svg = latency_svg(st.get("samples_ms") or [], st.get("median_ms"),
                              _budget_ms(v), gated=gated, batch=st.get("batch"))
            plots.append(f'<div class="plot"><h3>{id_html(label)}</h3><p class="sub">{escape(sub)}</p>{svg}</div>')
        body.append('<h2 id="latency">Latency</h2>')
        body.append(html_table(["test", "model", "input", "median ms", "p90 ms", "p99 ms", "FPS", "n", "budget",
                            "headroom", "verdict"], rows, num=(3, 4, 5, 6, 7, 9), cls="latency"))
        notes = [" ".join(ROUGH_LEGEND.split())] if any(is_rough(c) for r in rows for c in r if isinstance(c, str)) else []
        note = guessed_legend(rec.inputs for rec in results.measurements)
        notes += [note.lstrip("* ")] if note else []
        notes += clock_notes(results.measurements)
        body += [f'<p class="note">{escape(n)}</p>' for n in notes]
        body.append('<h2 id="distributions">Latency distributions</h2><div class="plots">'
                    + "".join(plots) + "</div>")
    if results.models:
        models = model_rows(results)
        rows = [[Id(r.name), r.weights, r.flops, r.size, r.nodes, r.median, _verdict(r.passed)]
                for r in models]
        chart = [(r.name, r.weights_n, r.flops_n, r.median_ms) for r in models]
        body.append('<h2 id="models">Models</h2>')
        body.append(html_table(["model", "weights", "FLOPs", "size", "nodes", "median ms", "budgets"],
                           rows, num=(1, 2, 3, 4, 5), cls="models"))
        body.extend(f'<p class="note">{escape(note)}</p>'
                    for note in weights_notes(results, model_labels(results)))
        body.append(models_svg(chart))
    if results.equivalences:
        from pytest_tfperf.report import EQUIVALENCE_HEADERS, equivalence_rows

        rows = [[*r[:-1], _verdict(r[-1])] for r in equivalence_rows(results)]
        body.append('<h2 id="equivalence">Equivalence</h2>')
        body.append(html_table(list(EQUIVALENCE_HEADERS), rows, num=(4, 5, 6), cls="equivalence"))
    if results.variants:
        body.append('<h2 id="variants">Variants</h2>' + html_variants(results.variants))
    if results.sweeps:
        from pytest_tfperf.report.sweep_text import html_sweeps

        body.append('<h2 id="sweeps">Sweeps</h2>' + html_sweeps(results.sweeps))
    base = env.get("baseline") or {}
    if results.comparisons or base:
        body.append('<h2 id="comparison">Comparison with baseline</h2>')
        if base:
            body.append(f"<p>Baseline: <code>{escape(display_path(base.get('path'), env.get('rootdir')))}</code></p>")
            body += [f'<p class="warn">{escape(w)}</p>' for w in base.get("warnings") or []]
        rows = []
        for c in results.comparisons:
            verdict = str(c.verdict or MISSING)
            rows.append([Id(c.key or c.test_id), c.statistic, format_ms(c.base_ms),
                         format_ms(c.new_ms), fmt_pct(c.change_pct),
                         fmt_change_ci(c), c.threshold, (verdict, verdict)])
        body.append(html_table(["test", "stat", "base ms", "new ms", "change", "95% CI", "threshold",
                            "verdict"], rows, num=(2, 3, 4, 5), cls="comparison"))
    if len(body) == n_head:
        body.append("<p>No tfperf measurements in this run.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
