"""The one result model of a test session.

The recorder (fixture side) adds records; `report/` renderers only read them. Every record is
stored as the JSON-able dict its dataclass's `to_dict()` returns, so xdist workers can ship
them to the controller (`to_dict()` / `merge()`) and baselines can store them as JSON.

Record kinds and their dict keys (all carry `test_id`):
- measurement: `test_id, name, model, stats` (LatencyStats.to_dict()), `verdicts` (list of
  BudgetVerdict.to_dict()), `device`, `target_kind`
- model: `test_id, model, summary` (GraphSummary.to_dict()), `flops` (int or None),
  `verdicts` (param/flops/size/memory BudgetVerdict dicts)
- equivalence: `test_id, reference, candidate, report` (EquivalenceReport.to_dict())
- profile: `test_id, model, profile` (OpProfile.to_dict())
- failure: `test_id, marker, message` (a budget that failed, for the summary)
- comparison: `baseline.Comparison.to_dict()` (added on the controller by the compare step,
  `reporting.finalize`, after the run)

`environment` holds run-wide facts (tensorflow version, device, machine id, rootdir, the
baseline compared against and its warnings, the path a baseline was saved to).
"""
from __future__ import annotations

import dataclasses
from typing import Any

KINDS = ("measurement", "model", "equivalence", "profile", "failure", "comparison")


@dataclasses.dataclass
class SessionResults:
    """Everything tfperf recorded in one pytest session (all workers merged)."""

    records: dict[str, list[dict]] = dataclasses.field(
        default_factory=lambda: {k: [] for k in KINDS})
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, kind: str, record: Any) -> dict:
        """Append a record (a dataclass with `to_dict()` or a dict) of one of `KINDS`."""
        if kind not in self.records:
            raise ValueError(f"unknown record kind {kind!r}; expected one of {KINDS}")
        data = record.to_dict() if hasattr(record, "to_dict") else dict(record)
        self.records[kind].append(data)
        return data

    @property
    def measurements(self) -> list[dict]:
        return self.records["measurement"]

    @property
    def models(self) -> list[dict]:
        return self.records["model"]

    @property
    def equivalences(self) -> list[dict]:
        return self.records["equivalence"]

    @property
    def profiles(self) -> list[dict]:
        return self.records["profile"]

    @property
    def failures(self) -> list[dict]:
        return self.records["failure"]

    @property
    def comparisons(self) -> list[dict]:
        return self.records["comparison"]

    def is_empty(self) -> bool:
        return not any(self.records.values())

    def to_dict(self) -> dict:
        return {"records": {k: list(v) for k, v in self.records.items()},
                "environment": dict(self.environment)}

    @classmethod
    def from_dict(cls, data: dict) -> SessionResults:
        """Inverse of `to_dict()` (unknown record kinds are kept)."""
        results = cls()
        results.merge(data)
        return results

    def merge(self, data: dict) -> None:
        """Add the records of another session's `to_dict()` (an xdist worker's)."""
        for kind, items in data.get("records", {}).items():
            self.records.setdefault(kind, []).extend(items)
        for key, value in data.get("environment", {}).items():
            self.environment.setdefault(key, value)
