"""The one result model of a test session: typed records (`records.py`) by kind.

The session and the recorder add records; `report/` renderers and `baseline/` only read them.
Records are dicts only at the boundaries: `to_dict()` ships a worker's results to the xdist
controller (`merge()` takes them back), and JSON reports / baselines store `to_dict()`.

Kinds (see `records.py` for the fields): measurement, model, equivalence, profile, failure,
comparison (added on the controller by the compare step after the run), variants (variant
tables, `tfperf.variants`), sweep (`tfperf.sweep`).

`environment` holds run-wide facts (tensorflow version, device, machine id, rootdir, the
baseline compared against and its warnings, the path a baseline was saved to).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from pytest_tfperf.results.records import RECORD_TYPES, Record, record_from_dict

KINDS = ("measurement", "model", "equivalence", "profile", "failure", "comparison", "variants",
         "sweep")

__all__ = ["KINDS", "SessionResults"]


def _outcome(record: Any) -> str | None:
    return record.get("outcome") if isinstance(record, dict) else getattr(record, "outcome", None)


def _final(records: list) -> list:
    """`records` without the earlier attempts of rerun tests (the list itself when it has none:
    callers may replace items in it)."""
    if not any(_outcome(r) == "rerun" for r in records):
        return records
    return [r for r in records if _outcome(r) != "rerun"]


@dataclasses.dataclass
class SessionResults:
    """Everything tfperf recorded in one pytest session (all workers merged)."""

    records: dict[str, list[Any]] = dataclasses.field(
        default_factory=lambda: {k: [] for k in KINDS})
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)
    finalized: bool = False  # the compare step ran (not stored: reports store `environment`)

    def add(self, kind: str, record: Any) -> Record:
        """Append a record of one of `KINDS` (a typed record, or its `to_dict()`); returns it typed."""
        if kind not in self.records:
            raise ValueError(f"unknown record kind {kind!r}; expected one of {KINDS}")
        typed = record_from_dict(kind, record)
        self.records[kind].append(typed)
        return typed

    def replace(self, kind: str, old: Record, new: Record) -> Record:
        """Put `new` where the record `old` (that very object) is; returns `new` typed.

        Raises:
            ValueError: `old` is not one of this session's records of `kind`.
        """
        records = self.records.get(kind, [])
        for i, record in enumerate(records):
            if record is old:
                records[i] = record_from_dict(kind, new)
                return records[i]
        raise ValueError(f"replace: the {kind} record {getattr(old, 'test_id', old)!r} is not "
                         "in these results (pass the object `add` returned)")

    def extend(self, kind: str, records) -> None:
        """`add` each of `records` (dicts from a file, or typed records)."""
        for record in records:
            self.add(kind, record)

    @property
    def measurements(self) -> list:
        """The run's measurements; earlier attempts of a rerun test (pytest-rerunfailures) are
        `rerun_attempts`, never compared."""
        return _final(self.records["measurement"])

    @property
    def models(self) -> list:
        return _final(self.records["model"])

    @property
    def equivalences(self) -> list:
        return _final(self.records["equivalence"])

    @property
    def profiles(self) -> list:
        return self.records["profile"]

    @property
    def failures(self) -> list:
        """Budget failures of tests whose final outcome is a failure (not xfail, not an
        earlier attempt of a rerun test)."""
        return [r for r in _final(self.records["failure"]) if _outcome(r) != "xfailed"]

    @property
    def expected_failures(self) -> list:
        """Budget failures of xfailed tests: expected, not red."""
        return [r for r in self.records["failure"] if _outcome(r) == "xfailed"]

    @property
    def rerun_attempts(self) -> list:
        """Records of earlier attempts of rerun tests, every kind (kept apart, never compared)."""
        return [r for kind in ("measurement", "model", "equivalence", "failure")
                for r in self.records.get(kind, ()) if _outcome(r) == "rerun"]

    @property
    def comparisons(self) -> list:
        return self.records["comparison"]

    @property
    def variants(self) -> list:
        return self.records.setdefault("variants", [])

    @property
    def sweeps(self) -> list:
        return self.records.setdefault("sweep", [])

    def is_empty(self) -> bool:
        return not any(self.records.values())

    def dicts(self, kind: str) -> list[dict]:
        """The records of `kind` as JSON-able dicts (the file and process boundary)."""
        return [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in self.records.get(kind, ())]

    def to_dict(self) -> dict:
        return {"records": {k: self.dicts(k) for k in self.records},
                "environment": dict(self.environment)}

    @classmethod
    def from_dict(cls, data: dict) -> SessionResults:
        """Inverse of `to_dict()` (unknown record kinds are kept as dicts)."""
        results = cls()
        results.merge(data)
        return results

    def merge(self, data: dict) -> None:
        """Add the records of another session's `to_dict()` (an xdist worker's)."""
        for kind, items in data.get("records", {}).items():
            if kind in RECORD_TYPES:
                self.records.setdefault(kind, [])
                self.extend(kind, (x for x in items if isinstance(x, (dict, Record))))
            else:
                self.records.setdefault(kind, []).extend(items)
        for key, value in data.get("environment", {}).items():
            self.environment.setdefault(key, value)
