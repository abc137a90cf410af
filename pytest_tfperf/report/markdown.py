"""Markdown renderer (GitHub-flavoured tables), also used for `$GITHUB_STEP_SUMMARY`."""
from __future__ import annotations

from typing import Any

from pytest_tfperf.report import (
    expected_and_rerun,
    MISSING,
    ROUGH_LEGEND,
    clock_notes,
    display_path,
    fmt_change_ci,
    fmt_pct,
    guessed_legend,
    is_rough,
    model_labels,
    verdict_text,
    weights_notes,
)
from pytest_tfperf.report.rows import latency_rows, model_rows
from pytest_tfperf.report.tables import markdown_cell, markdown_table
from pytest_tfperf.report.variants_text import markdown_variants
from pytest_tfperf.wording import format_ms


def _verdict(passed: Any) -> str:
    text = verdict_text(passed)
    return {"ok": "✅ ok", "FAIL": "❌ FAIL"}.get(text, text)


def render(results, title: str = "tfperf report") -> str:
    """The whole report as Markdown text."""
    env = results.environment
    out = [f"## {title}", "",
           (f"TensorFlow {env.get('tensorflow') or MISSING} · device {env.get('device') or MISSING}"
           f" · machine {env.get('machine_id') or MISSING}"), ""]
    if results.failures:
        out += ["### Budget failures", ""]
        out += [f"- `{r.test_id or MISSING}`: {markdown_cell(r.message)}" for r in results.failures]
        out.append("")
    for title, records in expected_and_rerun(results):  # issue 21: apart, named as such
        out += [f"### {title}", ""]
        out += [f"- `{r.test_id or MISSING}`: {markdown_cell(r.message)}" for r in records]
        out.append("")
    if results.measurements:
        rows = [[f"`{r.label}`", r.model, r.input, r.median, r.p90, r.p99, r.fps, r.n, r.budget,
                 r.headroom, _verdict(r.passed)] for r in latency_rows(results)]
        out += ["### Latency", ""]
        out += markdown_table(["test", "model", "input", "median ms", "p90 ms", "p99 ms", "FPS", "n", "budget",
                       "headroom", "verdict"], rows, right=(3, 4, 5, 6, 7, 9))
        if any(is_rough(c) for r in rows for c in r):
            out += [markdown_cell(" ".join(ROUGH_LEGEND.split())), ""]
        note = guessed_legend(rec.inputs for rec in results.measurements)
        if note:
            text = note.lstrip("* ")
            out += [markdown_cell(text[:1].upper() + text[1:]) + ".", ""]
        out += [x for n in clock_notes(results.measurements) for x in (markdown_cell(n), "")]
    if results.models:
        rows = [[r.name, r.weights, r.flops, r.size, r.nodes, _verdict(r.passed)]
                for r in model_rows(results)]
        out += ["### Models", ""]
        out += markdown_table(["model", "weights", "FLOPs", "size", "nodes", "budgets"], rows,
                      right=(1, 2, 3, 4))
        notes = weights_notes(results, model_labels(results))
        if notes:
            out += [f"- {note}" for note in notes] + [""]
    if results.equivalences:
        from pytest_tfperf.report import EQUIVALENCE_HEADERS, equivalence_rows

        rows = [[*r[:-1], _verdict(r[-1])] for r in equivalence_rows(results)]
        out += ["### Equivalence", ""]
        out += markdown_table(list(EQUIVALENCE_HEADERS), rows, right=(4, 5, 6))
    if results.variants:
        out += ["### Variants", ""] + markdown_variants(results.variants)
    if results.sweeps:
        from pytest_tfperf.report.sweep_text import markdown_sweeps

        out += ["### Sweeps", ""] + markdown_sweeps(results.sweeps)
    base = env.get("baseline") or {}
    if results.comparisons or base:
        out += ["### Comparison with baseline", ""]
        if base:
            out += [f"Baseline: `{display_path(base.get('path'), env.get('rootdir'))}`", ""]
            out += [f"> ⚠️ {w}" for w in base.get("warnings") or []]
            if base.get("warnings"):
                out.append("")
        rows = []
        for c in results.comparisons:
            rows.append([f"`{c.key or c.test_id}`", c.statistic,
                         format_ms(c.base_ms), format_ms(c.new_ms), fmt_pct(c.change_pct),
                         fmt_change_ci(c), c.threshold,
                         ("❌ " if c.failed else "") + str(c.verdict or MISSING)])
        out += markdown_table(["test", "stat", "base ms", "new ms", "change", "95% CI", "threshold", "verdict"],
                      rows, right=(2, 3, 4, 5))
    if len(out) == 5:
        out += ["No tfperf measurements in this run.", ""]
    return "\n".join(out)
