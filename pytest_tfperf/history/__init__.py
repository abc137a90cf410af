"""The run history: every run's measurements in one store, trends and change points per test,
and a run judged against the recent past: `store` | `runs` | `changepoints` | `series` | `judge`.
"""
from __future__ import annotations

from pytest_tfperf.history.judge import (
    DEFAULT_LAST, check_history_compare, compare_with_history, history_branch, history_regressions,
    session_end)
from pytest_tfperf.history.runs import machine_class, read_run_file, run_info
from pytest_tfperf.history.store import SCHEMA, HistoryPoint, RunInfo, append_run, read_points

__all__ = ["DEFAULT_LAST", "HistoryPoint", "RunInfo", "SCHEMA", "append_run",
           "check_history_compare", "compare_with_history", "history_branch", "history_regressions",
           "machine_class",
           "read_points", "read_run_file", "run_info", "session_end"]
