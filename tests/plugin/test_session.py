"""`plugin/session.py`: the per-test lifecycle (verdicts and records of what a test measured)
and the session end (the compare step once, then the outputs), through real pytest runs."""
from __future__ import annotations

import importlib
import json

import pytest

from pytest_tfperf.plugin.options import Settings
from pytest_tfperf.plugin.session import TfperfSession, record_run

TEST = '''
import time

import pytest


def quick():
    time.sleep(0.0002)


def slow():
    time.sleep(0.004)


@pytest.mark.latency_budget(ms=2)
def test_two(tfperf):
    tfperf.measure(quick, min_time=0.02, max_time=0.2)
    tfperf.measure(slow, min_time=0.02, max_time=0.2)


def test_unbudgeted(tfperf):
    tfperf.measure(quick, name="plain", min_time=0.02, max_time=0.1)


def test_untouched():
    pass
'''


@pytest.fixture(scope="module", autouse=True)
def _tensorflow_imported_once():
    """pytester's in-process runs drop modules first imported inside a test; TensorFlow cannot
    be imported twice in one process, so it is imported before any of them."""
    import tensorflow  # noqa: F401


def test_each_record_carries_its_own_measurements_verdict_and_the_compare_step_runs_once(
        pytester, monkeypatch):
    baseline = importlib.import_module("pytest_tfperf.baseline")  # the one the run will import
    calls, real = [], baseline.finalize

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(baseline, "finalize", counted)
    pytester.makepyfile(test_two=TEST)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--tfperf-report",
                                "--tfperf-json", "run.json", "--junitxml", "junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    assert len(calls) == 1  # finalize once, before the reports and the terminal summary
    doc = json.loads((pytester.path / "run.json").read_text())["tfperf"]
    records = {r["name"]: r for r in doc["measurements"]}
    assert set(records) == {"quick", "slow", "plain"}
    for name, passed in (("quick", True), ("slow", False)):
        (verdict,) = records[name]["verdicts"]  # its own verdict, not its neighbour's
        assert verdict["passed"] is passed and verdict["limit"] == 2.0
        assert f"; model {name}" not in verdict["message"]  # a callable names no model
        assert records[name]["timing"]["max_time"] == 0.2
    assert records["plain"]["verdicts"] == [] and records["plain"]["regression"] is None
    (failure,) = doc["failures"]
    assert failure["test_id"].endswith("test_two") and "exceeds 2.0" in failure["message"]
    assert doc["environment"]["tensorflow"] and "baseline" not in doc["environment"]
    junit = (pytester.path / "junit.xml").read_text()
    assert 'name="tfperf[slow].verdict"' in junit and 'name="tfperf_latency_budget"' in junit
    result.stdout.fnmatch_lines(["*tfperf latency*", "*tfperf budget failures*"])


def test_a_session_without_tfperf_writes_and_finalizes_nothing(tmp_path):
    session = TfperfSession(Settings(rootdir=str(tmp_path)))
    assert session.timing == Settings().timing_settings()

    class Config:
        workerinput = None
        invocation_params = None

    session.finish(Config())
    assert session.results.is_empty() and not session.results.finalized
    assert list(tmp_path.iterdir()) == []


def test_record_run_keeps_values_already_there():
    from pytest_tfperf.results.session import SessionResults
    import datetime as dt

    results = SessionResults()
    results.environment["command"] = "pytest -k merged"

    class Config:
        class invocation_params:
            args = ("-k", "x y")
    started = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    record_run(results, Config(), started)
    assert results.environment == {"command": "pytest -k merged",
                                   "started": "2026-01-02T03:04:05+00:00"}
    del results.environment["command"]
    record_run(results, Config(), started)
    assert results.environment["command"] == "pytest -k 'x y'"


def test_relative_paths_resolve_against_the_test_folder_then_the_ini_folder(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "a.pb").write_bytes(b"")
    (tmp_path / "b.pb").write_bytes(b"")
    session = TfperfSession(Settings(rootdir=str(tmp_path), inidir=str(tmp_path)))
    assert session.resolve_path("a.pb", tmp_path / "tests") == str(tmp_path / "tests" / "a.pb")
    assert session.resolve_path("b.pb", tmp_path / "tests") == str(tmp_path / "b.pb")
    assert session.resolve_path("/abs/c.pb") == "/abs/c.pb"
    assert session.resolve_path("c.pb", tmp_path / "tests") == str(tmp_path / "tests" / "c.pb")
