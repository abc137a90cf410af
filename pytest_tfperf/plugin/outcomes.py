"""What pytest says about each test, on the records it left (issue 21).

Records are added during the test's call, before pytest decides the outcome (xfail is decided
in the report, pytest-rerunfailures turns a failed attempt into "rerun" after it). When a
report is logged, every untagged record of that test gets pytest's word for it: passed,
failed, skipped, xfailed, xpassed, error, or rerun (an earlier attempt: kept apart, never
compared; the next attempt's records are tagged by its own report). Reports read the words:
an xfailed budget is an expected failure, not a red banner.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

KINDS = ("measurement", "model", "equivalence", "failure")


def outcome_of(report: Any) -> str | None:
    """pytest's word for a logged report, or None for a phase that says nothing new."""
    if report.outcome == "rerun":
        return "rerun"
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return "xfailed" if report.skipped else "xpassed"
        if getattr(report, "tfperf_usage_error", False):
            return "error"
        return report.outcome
    if report.when == "setup" and report.failed:
        return "error"
    return None


def tag(results: Any, report: Any) -> int:
    """Tag the untagged records of `report`'s test with its outcome; returns how many."""
    word = outcome_of(report)
    if word is None:
        return 0
    tagged = 0
    for kind in KINDS:
        records = results.records.get(kind, [])
        for i, rec in enumerate(records):
            if getattr(rec, "test_id", None) == report.nodeid and getattr(rec, "outcome", "x") is None:
                records[i] = dataclasses.replace(rec, outcome=word)
                tagged += 1
    return tagged


class OutcomeTagger:
    """A pytest plugin object (registered at configure): tags records as reports are logged,
    and names the JUnit properties of an earlier attempt of a rerun test as such
    ("rerun_attempt.tfperf[...].verdict": junitxml writes that attempt as its own testcase)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._rerun: set[str] = set()

    @pytest.hookimpl(tryfirst=True)  # before junitxml reads the properties
    def pytest_runtest_logreport(self, report) -> None:
        word = outcome_of(report)
        if word == "rerun":
            self._rerun.add(report.nodeid)
        if report.nodeid in self._rerun and (word == "rerun" or report.when == "teardown"):
            report.user_properties = [
                (f"rerun_attempt.{name}" if str(name).startswith("tfperf") else name, value)
                for name, value in report.user_properties]
            if report.when == "teardown":
                self._rerun.discard(report.nodeid)
        tag(self.session.results, report)


__all__ = ["OutcomeTagger", "outcome_of", "tag"]
