"""One row model per report table, built once from the records: what a latency row and a model
row say, worded (`wording`), for every format to lay out (`tables`). The terminal, Markdown and
HTML reports differ in layout only, never in what a row says."""
from __future__ import annotations

import dataclasses
from typing import Any

from pytest_tfperf.report import (
    GUESSED_MARK,
    all_passed,
    budget_text,
    display_labels,
    fmt_value,
    headroom_cell,
    inputs_text,
    main_verdict,
    model_key,
    model_label,
    model_labels,
    model_verdicts,
    model_weights,
    percentile_cell,
    first_measurement_of,
    unique_models,
)
from pytest_tfperf.results.records import MeasurementRecord
from pytest_tfperf.wording import format_bytes, format_count, format_fps, format_ms

__all__ = ["LatencyRow", "ModelRow", "latency_rows", "model_rows"]


@dataclasses.dataclass(frozen=True)
class LatencyRow:
    """One measurement as every latency table shows it (cells worded; `~` marks a rough
    percentile, `*` a dim tfperf pinned in `input_marked`)."""

    record: MeasurementRecord
    label: str          # the test id (+ `::name` where a test measured twice)
    model: str
    input: str
    input_marked: str   # the input with pinned dims marked (the terminal's legend explains it)
    median: str
    p90: str
    p99: str
    fps: str
    n: str
    verdict: dict | None  # the latency verdict the row shows (the first failed one, else the first)
    budget: str
    headroom: str
    passed: bool | None   # all of the measurement's verdicts


def latency_rows(results) -> list[LatencyRow]:
    """The rows of the latency table, in record order."""
    labels = model_labels(results)
    rows = []
    for rec, label in zip(results.measurements, display_labels(results.measurements)):
        st = rec.stats or {}
        latency = [v for v in rec.verdicts if v.get("marker") == "latency_budget"] or list(rec.verdicts)
        v = main_verdict(latency)
        rows.append(LatencyRow(
            record=rec, label=label, model=model_label(rec, labels), input=inputs_text(rec.inputs),
            input_marked=inputs_text(rec.inputs, mark=GUESSED_MARK),
            median=percentile_cell(st, 50), p90=percentile_cell(st, 90), p99=percentile_cell(st, 99),
            fps=format_fps(st.get("fps")), n=fmt_value(st.get("n")), verdict=v,
            budget=budget_text(v), headroom=headroom_cell(v), passed=all_passed(rec.verdicts)))
    return rows


@dataclasses.dataclass(frozen=True)
class ModelRow:
    """One model (one per identity) as every model table shows it."""

    name: str
    weights: str
    flops: str
    size: str
    nodes: str
    median: str              # the model's first measurement's median, '-' when not measured
    passed: bool | None      # all of its param/flops/size/memory verdicts
    weights_n: Any = None    # the numbers behind the cells, for charts
    flops_n: Any = None
    median_ms: Any = None


def model_rows(results) -> list[ModelRow]:
    """The rows of the model table, one per model identity, in first-seen order."""
    labels = model_labels(results)
    rows = []
    for rec in unique_models(results):
        s = rec.summary or {}
        key = model_key(rec)
        first = first_measurement_of(results, key)
        median = (first.stats or {}).get("median_ms") if first is not None else None
        rows.append(ModelRow(
            name=model_label(rec, labels), weights=format_count(model_weights(s)),
            flops=format_count(rec.flops), size=format_bytes(s.get("serialized_bytes", rec.size_bytes)),
            nodes=fmt_value(s.get("node_count")), median=format_ms(median),
            passed=all_passed(model_verdicts(results, key)), weights_n=model_weights(s),
            flops_n=rec.flops, median_ms=median))
    return rows
