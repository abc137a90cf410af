"""Renderers of the one session result model (`results.SessionResults`).

`terminal`, `json_report`, `markdown` and `html` only read records and format them: every
number they show was computed by the measurement, budget or compare step. This module holds the
formatting helpers they share; a missing key renders as "-". Every amount is worded by one
formatter per quantity (`wording.format_ms` / `format_fps` / `format_count` / `format_bytes`)
and every table laid out by one builder per format (`tables`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

from pytest_tfperf.results.records import measurement_label  # noqa: F401  (re-exported for the renderers)
from pytest_tfperf.timing.stats import MIN_TAIL_SAMPLES, percentile_supported
from pytest_tfperf.inputs.described import input_text, inputs_text  # noqa: F401  (re-exported for the renderers)
from pytest_tfperf.results.records import ComparisonRecord, MeasurementRecord
from pytest_tfperf.wording import (
    MISSING,
    format_bytes,
    format_count,
    format_ms,
    fps_floor_text,
    headroom_text,
    limit_text,
)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt_pct(value: Any, signed: bool = True) -> str:
    """12.345 -> '+12.3%'."""
    if not _finite(value):
        return MISSING
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def fmt_change_ci(comparison: ComparisonRecord) -> str:
    """The 95% CI of a comparison's change: '+3.1%..+26%' (block spread + the between-run
    floor, `blocks.estimate_change`); the p-value of files without one; '-' when neither."""
    low, high = comparison.ci_low, comparison.ci_high
    if _finite(low) and _finite(high):
        def pct(ratio):
            value = (ratio - 1) * 100
            return f"{value:+.0f}%" if abs(value) >= 10 else f"{value:+.1f}%"
        return f"{pct(low)}..{pct(high)}"
    p = comparison.p_value
    return f"p={p:.2g}" if _finite(p) else MISSING


def fmt_value(value: Any) -> str:
    """Generic cell: numbers compactly, bools as yes/no, lists joined, None as '-'."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else MISSING
    if isinstance(value, (list, tuple)):
        return "x".join(fmt_value(v) for v in value) if value else "[]"
    return str(value)


def budget_text(verdict: dict | None) -> str:
    """'p50≤100ms', or for `latency_budget(fps=30)` '≥30 FPS' (as written, not '33.33ms')."""
    if not verdict:
        return MISSING
    fps = verdict.get("fps_limit")
    if _finite(fps):
        stat = str(verdict.get("statistic") or "p50")
        return fps_floor_text(fps, float(stat[1:]) if stat[1:].replace(".", "", 1).isdigit() else None)
    limit, unit = verdict.get("limit"), str(verdict.get("unit") or "")
    if not _finite(limit):
        return MISSING
    return f"{verdict.get('statistic') or ''}≤{limit_text(limit)}{unit}"


def headroom_cell(verdict: dict | None) -> str:
    """A verdict's headroom: '99.2%' left, or how far over: '12.4% over', '33.2x over'."""
    if not verdict:
        return MISSING
    return headroom_text(verdict.get("passed"), verdict.get("headroom_pct"))


ROUGH_MARK = "~"
ROUGH_LEGEND = (f"{ROUGH_MARK} rough: fewer than {MIN_TAIL_SAMPLES} of the n samples lie beyond that "
                f"percentile;\n  p90 needs n >= {MIN_TAIL_SAMPLES * 10}, p99 n >= {MIN_TAIL_SAMPLES * 100}, "
                f"the median n >= {MIN_TAIL_SAMPLES} (raise --tfperf-min-time for more).")


def percentile_cell(stats: dict, q: float, value: Any = None) -> str:
    """A percentile in ms, marked '~1.59' when n cannot support it (`stats.percentile_supported`).

    `value` defaults to the stats' own `p90_ms` / `p95_ms` / `p99_ms` / `median_ms`.
    """
    if value is None:
        key = "median_ms" if q == 50 else f"p{q:g}_ms"
        value = (stats or {}).get(key)
    text = format_ms(value)
    n = (stats or {}).get("n")
    if text != MISSING and isinstance(n, int) and not percentile_supported(n, q):
        return ROUGH_MARK + text
    return text


def clock_notes(records: Iterable[Any]) -> list[str]:
    """Notes under a latency table (whose times are wall clock): how many budgets and
    comparisons were judged on the CPU time of the model's threads, and every measurement that
    ran on a busy machine ('machine busy: wall 163 ms, CPU 58 ms (2.8x contention); judged on
    CPU')."""
    from pytest_tfperf.timing.clocks import busy_text

    records = list(records)
    out = []
    on_cpu = sum((r.stats or {}).get("clock") == "cpu" for r in records)
    if on_cpu:
        out.append(f"times are wall clock; {on_cpu} of {len(records)} measurements judged on the CPU "
                   "time of the threads that ran the model (tfperf_clock; both clocks per call "
                   "in the JSON report)")
    for rec in records:
        st = rec.stats or {}
        text = busy_text(st.get("contention") or {}, st.get("clock") or "wall")
        if text:
            out.append(f"{measurement_label(rec)}: {text}")
    return out


def is_rough(cell: str) -> bool:
    """Whether a `percentile_cell` carries the rough mark."""
    return str(cell).startswith(ROUGH_MARK)


GUESSED_MARK = "*"


def pinned_text(inp: dict) -> str:
    """'224' (H and W both 224) or '224x160': the sizes tfperf chose for an input's dynamic dims."""
    shape = inp.get("shape") or []
    sizes = [str(shape[i]) for i in inp.get("guessed") or []
             if isinstance(i, int) and 0 <= i < len(shape)]
    return sizes[0] if len(set(sizes)) == 1 else "x".join(sizes)


def guessed_legend(inputs_lists: Iterable[Any]) -> str | None:
    """The note under a table whose rows mark guessed dims, or None when none were guessed."""
    sizes = sorted({pinned_text(i) for inputs in inputs_lists for i in inputs or []
                    if isinstance(i, dict) and i.get("guessed")})
    if not sizes:
        return None
    return (f"{GUESSED_MARK} dynamic dims pinned to {', '.join(sizes)} by tfperf; to time another size "
            "set tfperf_input_shape or pass inputs")


def verdict_text(passed: Any) -> str:
    """True -> 'ok', False -> 'FAIL', None -> '-'."""
    if passed is None:
        return MISSING
    return "ok" if passed else "FAIL"


def main_verdict(verdicts: Iterable[dict]) -> dict | None:
    """The verdict to show in a one-line row: the first failed one, else the first one."""
    verdicts = list(verdicts)
    for v in verdicts:
        if v.get("passed") is False:
            return v
    return verdicts[0] if verdicts else None


def all_passed(verdicts: Iterable[dict]) -> bool | None:
    """False if any verdict failed, True if all passed, None when there are none."""
    flags = [v.get("passed") for v in verdicts if isinstance(v, dict)]
    if not flags:
        return None
    return all(f is not False for f in flags)


def display_path(path: Any, rootdir: Any) -> str:
    """`path` relative to the project root when it lies inside it, else as given."""
    if not path:
        return MISSING
    text = os.fspath(path)
    if rootdir and os.path.isabs(text):
        try:
            rel = os.path.relpath(text, os.fspath(rootdir))
        except ValueError:  # other drive (Windows)
            return text
        if not rel.startswith(".."):
            return rel
    return text


def model_key(record: Any) -> str:
    """The key of a record's model: its identity (`model_id`), else its display name (a record,
    or a verdict dict, which names its model too)."""
    if isinstance(record, dict):
        return str(record.get("model_id") or record.get("model") or MISSING)
    return str(record.model_id or record.model or MISSING)


def unique_models(results) -> list:
    """Model records, one per model identity (first seen), in order."""
    seen: dict[str, Any] = {}
    for rec in results.models:
        seen.setdefault(model_key(rec), rec)
    return list(seen.values())


def model_weights(summary: dict) -> Any:
    """The weights a report shows for a model: the source's own count where the loader knew it
    (`GraphSummary.params`), else the frozen graph's count."""
    return summary.get("params", summary.get("weight_params"))


def weights_notes(results, labels: dict[str, str]) -> list[str]:
    """One line per model whose source count and frozen-graph count differ (both, and why)."""
    from pytest_tfperf.report.summary_text import params_line

    notes = []
    for rec in unique_models(results):
        line = params_line(rec.summary or {})
        if line:
            notes.append(f"{model_label(rec, labels)}: {line}")
    return notes


def model_verdicts(results, key: str) -> list[dict]:
    """Every param/flops/size/memory verdict recorded for the model `key` (`model_key`) across tests."""
    out: list[dict] = []
    for rec in results.models:
        if model_key(rec) == key:
            out.extend(v for v in rec.verdicts if isinstance(v, dict))
    return out


EQUIVALENCE_HEADERS = ("reference", "candidate", "output", "shape", "max abs err", "max rel err",
                       "top-1", "atol / rtol", "result")


def equivalence_rows(results) -> list[list[Any]]:
    """One row per compared output, in `EQUIVALENCE_HEADERS` order (Markdown and HTML); the
    last cell is the raw passed flag (True / False / None) for each format to word."""
    rows = []
    for rec in results.equivalences:
        rep = rec.report or {}
        for o in rep.get("outputs") or [{}]:
            rows.append([rec.reference or rep.get("reference"),
                         rec.candidate or rep.get("candidate"), o.get("name"),
                         fmt_value(o.get("shape")), fmt_value(o.get("max_abs_error")),
                         fmt_value(o.get("max_rel_error")), fmt_value(o.get("top1_agreement")),
                         f"{fmt_value(rep.get('atol'))} / {fmt_value(rep.get('rtol'))}",
                         o.get("passed", rep.get("passed"))])
    return rows


def first_measurement_of(results, key: str):
    """The first measurement record of the model `key` (for one-number-per-model charts)."""
    for rec in results.measurements:
        if model_key(rec) == key:
            return rec
    return None


def model_labels(results) -> dict[str, str]:
    """{model key: row label}: the display name, or where two models share a name (`a/model.pb`
    and `b/model.pb`, two signatures of one SavedModel) their identity relative to the root."""
    names: dict[str, set[str]] = {}
    for rec in [*results.models, *results.measurements, *results.profiles]:
        if rec.model is not None:
            names.setdefault(str(rec.model), set()).add(model_key(rec))
    rootdir = results.environment.get("rootdir")
    labels: dict[str, str] = {}
    for name, keys in names.items():
        for key in keys:
            labels[key] = name if len(keys) == 1 else display_path(key, rootdir)
    return labels


def model_label(record: Any, labels: dict[str, str]) -> str:
    """The row label of a record's (or a verdict dict's) model (`model_labels`), '-' for none
    (an empty name too: issue 21, never "every row: model" with nothing after it)."""
    model, model_id = ((record.get("model"), record.get("model_id")) if isinstance(record, dict)
                       else (record.model, record.model_id))
    if not model and not model_id:
        return MISSING
    return labels.get(model_key(record)) or str(model or MISSING)


def display_labels(records: list[MeasurementRecord]) -> list[str]:
    """Row labels: the test id, plus `::name` where a test made more than one measurement."""
    per_test: dict[str, int] = {}
    for rec in records:
        per_test[str(rec.test_id)] = per_test.get(str(rec.test_id), 0) + 1
    return [measurement_label(r) if per_test[str(r.test_id)] > 1
            else str(r.test_id or MISSING) for r in records]


def budget_verdicts(results) -> list[tuple[str, dict]]:
    """(test id, verdict) for every budget checked in the run: the latency budgets of the
    measurements, then the param/FLOP/size/memory budgets of the model records, in order."""
    out: list[tuple[str, dict]] = []
    for kind in (results.measurements, results.models):
        for rec in kind:
            out.extend((str(rec.test_id or MISSING), v) for v in rec.verdicts if isinstance(v, dict))
    return out


def fmt_budget_value(value: Any, unit: Any) -> str:
    """A budget's limit or measured value with its unit: '100.0 ms', '62.38M weights', '2.4 MB'."""
    if not _finite(value):
        return MISSING
    unit = str(unit or "")
    if unit.lower() == "ms":
        return f"{format_ms(value)} ms"
    if unit.upper() == "MB":  # size and memory budgets count MB (10^6 bytes)
        return format_bytes(value * 1e6)
    return f"{format_count(value)} {unit}".strip()


def run_tally(results) -> dict[str, int]:
    """Counts for a report's pass/fail line: budgets passed / failed / not established,
    equivalence checks passed / failed, comparisons regressed, tests with tfperf records."""
    verdicts = [v for _, v in budget_verdicts(results)]
    equivalences = [(r.report or {}).get("passed") for r in results.equivalences]
    tests = {str(r.test_id) for kind in (results.measurements, results.models,
                                         results.equivalences, results.profiles)
             for r in kind if r.test_id}
    return {
        "tests": len(tests),
        "budgets": len(verdicts),
        "budgets_passed": sum(1 for v in verdicts if v.get("passed") is True),
        "budgets_failed": sum(1 for v in verdicts if v.get("passed") is False)
        - outcome_tally(results)["budgets_xfailed"],
        "budgets_unknown": sum(1 for v in verdicts if v.get("passed") is None),
        "equivalence_passed": sum(1 for p in equivalences if p is True),
        "equivalence_failed": sum(1 for p in equivalences if p is False),
        "comparisons": len(results.comparisons),
        "regressed": sum(1 for c in results.comparisons if c.verdict == "regressed" and c.enforced),
        **outcome_tally(results),
    }


def outcome_tally(results) -> dict[str, int]:
    """Issue 21: what pytest said. `budgets_xfailed`: failed budgets of xfailed tests (expected,
    not counted in `budgets_failed`); `rerun_attempts`: records of earlier attempts of rerun
    tests; tests with tfperf records per outcome (`outcome_xfailed`, `outcome_error`...)."""
    xfailed = [v for kind in (results.measurements, results.models) for r in kind
               if r.outcome == "xfailed" for v in r.verdicts
               if isinstance(v, dict) and v.get("passed") is False]
    tests: dict[str, str] = {}
    for kind in (results.measurements, results.models, results.equivalences):
        for r in kind:
            if r.outcome:
                tests[str(r.test_id)] = str(r.outcome)
    out = {"budgets_xfailed": len(xfailed),
           "rerun_attempts": len(getattr(results, "rerun_attempts", ()))}
    for word in ("xfailed", "xpassed", "skipped", "error"):
        out[f"outcome_{word}"] = sum(1 for w in tests.values() if w == word)
    return out


def expected_and_rerun(results) -> list[tuple[str, list]]:
    """(title, failure records) for the budget failures that are not the run's failures:
    those of xfailed tests, and those of earlier attempts of rerun tests."""
    out = []
    expected = list(getattr(results, "expected_failures", ()))
    if expected:
        out.append(("Expected budget failures (xfail)", expected))
    earlier = [r for r in getattr(results, "rerun_attempts", ()) if r.kind == "failure"]
    if earlier:
        out.append(("Budget failures of earlier attempts (rerun; the final attempt decides)", earlier))
    return out


def outcome_parts(t: dict) -> list[str]:
    """The banner's words for `outcome_tally`: '1 expected budget failure (xfail)'..."""
    parts = []
    if t.get("budgets_xfailed"):
        n = t["budgets_xfailed"]
        parts.append(f"{n} expected budget failure{'s' if n != 1 else ''} (xfail)")
    for word, text in (("xpassed", "xpassed"), ("error", "with errors"), ("skipped", "skipped")):
        if t.get(f"outcome_{word}"):
            parts.append(f"{t[f'outcome_{word}']} test(s) {text}")
    if t.get("rerun_attempts"):
        parts.append(f"{t['rerun_attempts']} record(s) of earlier attempts of rerun tests, "
                     "not compared")
    return parts
