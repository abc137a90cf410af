"""Typed, frozen records of one test session, keyed by model identity.

The session (`session.finish_test`) and the recorder build these; `report/` renderers and
`baseline/` read them, by attribute (`rec.stats`). They become dicts only at the process
boundary (xdist `workeroutput`) and the file boundary (`results.file`, the one reader and writer
of the result file): `to_dict()` / `from_dict()`. A record's nested facts (`stats`, `verdicts`,
`summary`, `report`, `table`) are the JSON-able dicts their producers' `to_dict()` made.

A model is keyed by its *identity* (`model_identity`): the resolved source path, plus
"#<signature>" / "[outputs]" where one file holds several models; never by its display name,
so `a/model.pb` and `b/model.pb` are two rows in every report.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar

from pytest_tfperf.wording import format_ms

__all__ = [
    "ComparisonRecord", "EquivalenceRecord", "FailureRecord", "MeasurementRecord", "ModelRecord",
    "ProfileRecord", "RECORD_TYPES", "Record", "SweepRecord", "VariantsRecord", "measurement_label",
    "model_identity", "record_from_dict",
]


def model_identity(model: Any) -> str | None:
    """The key that tells two models apart in records and reports (None for no model).

    `model.identity` (the Model protocol) when the model has one; else the resolved source
    path plus its output names in brackets (two signatures of one SavedModel differ there);
    else, for an in-memory object with no path, its source description.
    """
    if model is None:
        return None
    identity = getattr(model, "identity", None)
    if isinstance(identity, str) and identity:
        return identity
    source = str(getattr(model, "source", "") or "")
    outputs = ",".join(str(getattr(s, "name", s)) for s in getattr(model, "outputs", ()) or ())
    if source and not source.startswith("<"):
        source = os.path.realpath(source)
    elif not source:
        source = f"<{type(model).__name__}>"
    return f"{source}[{outputs}]" if outputs else source


def measurement_label(record: MeasurementRecord) -> str:
    """'tests/test_a.py::test_x' or 'tests/test_a.py::test_x::name': a measurement's key in
    baselines and comparisons."""
    test_id = str(record.test_id or "-")
    return f"{test_id}::{record.name}" if record.name else test_id


def _tuple_of_dicts(value: Any) -> tuple:
    return tuple(v.to_dict() if hasattr(v, "to_dict") else dict(v)
                 for v in value or () if v is not None)


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of every record: `to_dict()` and `from_dict()` (fields are read by attribute)."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Inverse of `to_dict()`; unknown keys are ignored, missing ones take defaults."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in data.items():
            if key in names:
                values[key] = tuple(value) if isinstance(value, list) and \
                    names[key].type.startswith("tuple") else value
        return cls(**values)



@dataclasses.dataclass(frozen=True)
class MeasurementRecord(Record):
    """One latency measurement: `stats` is `LatencyStats.to_dict()`, `verdicts` BudgetVerdict dicts."""

    kind: ClassVar[str] = "measurement"
    test_id: str = ""
    name: str | None = None
    model: str | None = None         # display name
    model_id: str | None = None      # identity: the key
    stats: dict = dataclasses.field(default_factory=dict)
    verdicts: tuple[dict, ...] = ()
    device: str | None = None
    target_kind: str | None = None
    regression: str | None = None
    runtime: str | None = None       # what ran: "tensorflow 2.21.0", "ai_edge_litert 2.3.0 (xnnpack, 1 thread)"
    # the inputs of the timed call: {"name", "shape", "dtype", "guessed": dims tfperf chose,
    # "source": "given" | "sample image" | "synthetic" (absent in older files)}
    # (`timed_inputs.describe_inputs`); () when unknown (pytest-benchmark, older files)
    inputs: tuple[dict, ...] = ()
    # the timing settings this measurement ran under (`TimingSettings.to_dict()` plus threads),
    # or pytest-benchmark's own options for its `benchmark` fixture; None when unknown
    timing: dict | None = None
    retimed: bool = False  # re-timed in fresh sessions to confirm a baseline regression
    outcome: str | None = None  # pytest's word for the test: passed, failed, xfailed, xpassed, error, rerun (an earlier attempt)

    def __post_init__(self):
        object.__setattr__(self, "verdicts", _tuple_of_dicts(self.verdicts))
        object.__setattr__(self, "inputs", _tuple_of_dicts(self.inputs))


@dataclasses.dataclass(frozen=True)
class ModelRecord(Record):
    """One model a test used: protocol facts always; `summary`/`flops` only for a FrozenGraph.

    `summary` is `GraphSummary.to_dict()` or None where static facts are unavailable (a model
    that is not a graph); `verdicts` are its param/flops/size/memory BudgetVerdict dicts.
    """

    kind: ClassVar[str] = "model"
    test_id: str = ""
    model: str | None = None
    model_id: str | None = None
    model_kind: str | None = None
    runtime: str | None = None
    size_bytes: int | None = None
    summary: dict | None = None
    flops: int | None = None
    verdicts: tuple[dict, ...] = ()
    outcome: str | None = None  # pytest's word for the test: passed, failed, xfailed, xpassed, error, rerun (an earlier attempt)

    def __post_init__(self):
        object.__setattr__(self, "verdicts", _tuple_of_dicts(self.verdicts))


@dataclasses.dataclass(frozen=True)
class EquivalenceRecord(Record):
    """One `assert_equivalent` (passed or failed): `report` is `EquivalenceReport.to_dict()`."""

    kind: ClassVar[str] = "equivalence"
    test_id: str = ""
    reference: str | None = None
    candidate: str | None = None
    reference_id: str | None = None
    candidate_id: str | None = None
    report: dict = dataclasses.field(default_factory=dict)
    outcome: str | None = None  # pytest's word for the test: passed, failed, xfailed, xpassed, error, rerun (an earlier attempt)


@dataclasses.dataclass(frozen=True)
class ProfileRecord(Record):
    """One per-op profile: `profile` is `OpProfile.to_dict()` without its raw text."""

    kind: ClassVar[str] = "profile"
    test_id: str = ""
    model: str | None = None
    model_id: str | None = None
    profile: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class FailureRecord(Record):
    """A budget that failed (for the failure summary)."""

    kind: ClassVar[str] = "failure"
    test_id: str = ""
    marker: str = ""
    message: str = ""
    model_id: str | None = None
    outcome: str | None = None  # pytest's word for the test: passed, failed, xfailed, xpassed, error, rerun (an earlier attempt)


@dataclasses.dataclass(frozen=True)
class VariantsRecord(Record):
    """One variant table (`tfperf.variants`): `table` is `VariantTable.to_dict()`."""

    kind: ClassVar[str] = "variants"
    test_id: str = ""
    model: str | None = None
    model_id: str | None = None
    table: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ComparisonRecord(Record):
    """One measurement of this run against the same measurement in the baseline.

    The verdict comes from the 95% CI of `ratio` (`ci_low`..`ci_high`), built from the spread
    of per-block values on both sides plus a between-run floor (`run_noise`, per run):
    "regressed" when the change (`ratio`) is past the threshold and the whole CI past half of
    it, "improved" likewise the other way, "noise" when the change is past the threshold but the
    CI reaches under half of it (inconclusive: +-`noise_pct`), "ok" otherwise
    (`baseline/compare.py`, `blocks.py`).
    """

    kind: ClassVar[str] = "comparison"
    key: str = ""             # "tests/test_a.py::test_x" or "...::test_x::name"
    test_id: str = ""
    name: str | None = None
    statistic: str = "median"
    base_ms: float | None = None
    new_ms: float | None = None
    ratio: float | None = None       # new / base
    delta_ms: float | None = None    # new - base
    p_value: float | None = None     # two-sided, "no change", same block-level model as the CI
    base_n: int = 0
    new_n: int = 0
    threshold: str = ""       # the expression that decided the verdict
    verdict: str = "ok"       # "ok" | "improved" | "noise" | "regressed"
    enforced: bool = False    # True when the threshold was asked for (a regression fails)
    note: str = ""
    ci_low: float | None = None      # 95% CI of `ratio`
    ci_high: float | None = None
    run_noise: float | None = None   # between-run floor used, per run (0.04 = 4%)
    base_blocks: int = 0
    new_blocks: int = 0
    normalized: bool = False  # ratios of model / reference workload (--tfperf-normalize)
    retimed: bool = False     # a regression was re-timed in fresh sessions before this verdict
    history_runs: int = 0     # judged against this many past runs (--tfperf-compare history)
    clock: str = "wall"       # the clock compared: "wall" or "cpu" (the model threads' CPU time)

    @property
    def change_pct(self) -> float | None:
        return None if self.ratio is None else (self.ratio - 1.0) * 100.0

    @property
    def noise_pct(self) -> float | None:
        """Half-width of the ratio's CI in percent (the "+-X%" of "inconclusive")."""
        if not self.ci_low or not self.ci_high:
            return None
        return ((self.ci_high / self.ci_low) ** 0.5 - 1.0) * 100.0

    @property
    def failed(self) -> bool:
        return self.enforced and self.verdict == "regressed"

    def message(self, source: str | None = None) -> str:
        """One line for a failure / the report."""
        change = "" if self.change_pct is None else f"{self.change_pct:+.1f}%, "
        if self.ci_low is not None and self.ci_high is not None:
            floor = f"{(self.run_noise or 0.0) * 100:g}%"
            ci = f"95% CI {(self.ci_low - 1) * 100:+.1f}% to {(self.ci_high - 1) * 100:+.1f}%"
            sig = (f"{ci} from the spread of the last {self.history_runs} runs ({floor} per run)"
                   if self.history_runs else f"{ci} from {self.base_blocks} vs "
                   f"{self.new_blocks} blocks and a {floor} between-run floor")
        elif self.p_value is not None:
            sig = f"p={self.p_value:.2g}, n={self.base_n} vs {self.new_n}"
        else:
            sig = "no samples: the threshold alone decides"
        verdict = self.verdict
        if verdict == "noise" and self.noise_pct is not None and self.change_pct is not None:
            verdict = f"noise (inconclusive: {self.change_pct:+.1f}% +-{self.noise_pct:.1f}%)"
        on = " CPU" if self.clock == "cpu" else ""
        base = f"the last {self.history_runs} runs" if self.history_runs else "baseline"
        text = (f"{self.statistic}{on} {format_ms(self.new_ms, 2)} ms vs {base} "
                f"{format_ms(self.base_ms, 2)} ms "
                f"({change}threshold {self.threshold}; {sig}"
                f"{'; normalized by the reference workload' if self.normalized else ''}"
                f"{'; re-timed in fresh sessions' if self.retimed else ''}): {verdict}")
        if self.note and ("busy" in self.note or "no verdict" in self.note):
            text += f" ({self.note})"
        if source:
            text += f"; {'history' if self.history_runs else 'baseline'} {source}"
        return text

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["change_pct"] = self.change_pct
        out["noise_pct"] = self.noise_pct
        out["failed"] = self.failed
        return out


@dataclasses.dataclass(frozen=True)
class SweepRecord(Record):
    """One batch x threads x concurrency sweep (`tfperf.sweep`): `table` is `SweepResult.to_dict()`."""

    kind: ClassVar[str] = "sweep"
    test_id: str = ""
    model: str | None = None
    model_id: str | None = None
    table: dict = dataclasses.field(default_factory=dict)


RECORD_TYPES: dict[str, type[Record]] = {
    cls.kind: cls for cls in (MeasurementRecord, ModelRecord, EquivalenceRecord, ProfileRecord,
                              FailureRecord, ComparisonRecord, VariantsRecord, SweepRecord)
}


def record_from_dict(kind: str, data: Any) -> Record:
    """The typed record of `kind` for `data` (a dict, or already a record)."""
    if isinstance(data, Record):
        return data
    if hasattr(data, "to_dict"):
        data = data.to_dict()
    return RECORD_TYPES[kind].from_dict(dict(data))
