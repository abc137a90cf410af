"""Markdown renderer (GitHub-flavoured tables), also used for `$GITHUB_STEP_SUMMARY`."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_tfperf.report import (
    MISSING,
    ROUGH_LEGEND,
    all_passed,
    budget_text,
    display_labels,
    display_path,
    fmt_bytes,
    fmt_change_ci,
    fmt_count,
    fmt_ms,
    fmt_num,
    fmt_pct,
    expected_and_rerun,
    fmt_value,
    guessed_legend,
    headroom_cell,
    inputs_text,
    is_rough,
    main_verdict,
    model_key,
    model_label,
    model_labels,
    model_verdicts,
    model_weights,
    percentile_cell,
    unique_models,
    verdict_text,
    weights_notes,
)


def _cell(value: Any) -> str:
    text = MISSING if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: list[Sequence[Any]], right: Sequence[int] = ()) -> list[str]:
    sep = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


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
        out += [f"- `{r.get('test_id') or MISSING}`: {_cell(r.get('message'))}" for r in results.failures]
        out.append("")
    for title, records in expected_and_rerun(results):  # issue 21: apart, named as such
        out += [f"### {title}", ""]
        out += [f"- `{r.get('test_id') or MISSING}`: {_cell(r.get('message'))}" for r in records]
        out.append("")
    if results.measurements:
        rows = []
        labels = model_labels(results)
        for rec, label in zip(results.measurements, display_labels(results.measurements)):
            st = rec.get("stats") or {}
            v = main_verdict(rec.get("verdicts") or [])
            rows.append([f"`{label}`", model_label(rec, labels), inputs_text(rec.get("inputs")),
                         percentile_cell(st, 50), percentile_cell(st, 90), percentile_cell(st, 99),
                         fmt_num(st.get("fps"), 1), fmt_value(st.get("n")), budget_text(v),
                         headroom_cell(v), _verdict(all_passed(rec.get("verdicts") or []))])
        out += ["### Latency", ""]
        out += _table(["test", "model", "input", "median ms", "p90 ms", "p99 ms", "FPS", "n", "budget",
                       "headroom", "verdict"], rows, right=(3, 4, 5, 6, 7, 9))
        if any(is_rough(c) for r in rows for c in r):
            out += [_cell(" ".join(ROUGH_LEGEND.split())), ""]
        note = guessed_legend(rec.get("inputs") for rec in results.measurements)
        if note:
            text = note.lstrip("* ")
            out += [_cell(text[:1].upper() + text[1:]) + ".", ""]
    if results.models:
        rows = []
        labels = model_labels(results)
        for rec in unique_models(results):
            s = rec.get("summary") or {}
            name, key = model_label(rec, labels), model_key(rec)
            rows.append([name, fmt_count(model_weights(s)), fmt_count(rec.get("flops")),
                         fmt_bytes(s.get("serialized_bytes", rec.get("size_bytes"))), fmt_value(s.get("node_count")),
                         _verdict(all_passed(model_verdicts(results, key)))])
        out += ["### Models", ""]
        out += _table(["model", "weights", "FLOPs", "size", "nodes", "budgets"], rows,
                      right=(1, 2, 3, 4))
        notes = weights_notes(results, labels)
        if notes:
            out += [f"- {note}" for note in notes] + [""]
    if results.equivalences:
        from pytest_tfperf.report import EQUIVALENCE_HEADERS, equivalence_rows

        rows = [[*r[:-1], _verdict(r[-1])] for r in equivalence_rows(results)]
        out += ["### Equivalence", ""]
        out += _table(list(EQUIVALENCE_HEADERS), rows, right=(4, 5, 6))
    if results.variants:
        from pytest_tfperf.report.variants_text import markdown_variants

        out += ["### Variants", ""] + markdown_variants(results.variants)
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
            rows.append([f"`{c.get('key') or c.get('test_id')}`", c.get("statistic"),
                         fmt_ms(c.get("base_ms")), fmt_ms(c.get("new_ms")), fmt_pct(c.get("change_pct")),
                         fmt_change_ci(c), c.get("threshold"),
                         ("❌ " if c.get("failed") else "") + str(c.get("verdict") or MISSING)])
        out += _table(["test", "stat", "base ms", "new ms", "change", "95% CI", "threshold", "verdict"],
                      rows, right=(2, 3, 4, 5))
    if len(out) == 5:
        out += ["No tfperf measurements in this run.", ""]
    return "\n".join(out)
