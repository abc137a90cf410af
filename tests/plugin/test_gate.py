"""The per-test gate (`plugin/gate.py`), through real pytest runs: budget verdicts against the
limit the measurement's own stopping rule used, the latency marker parsed once per test, and a
baseline regression that must persist when the measurement is re-timed.

In the re-timing tests the measured target burns its own thread's CPU time and is judged on CPU
(`tfperf_clock = cpu`), so the ratios are large and do not depend on the machine's load (a
sleep's wall time did, and on a busy machine a wall-clock comparison gives no verdict, issue 19):
2 ms of CPU per call in the baseline; 5 ms during the test's own timing only (a burst: the test
body ends it, so the re-timing after the test runs fast however long the first timing took; a
burst of 0.35 s of wall clock ended inside the first timing at load 14) or always (a real
slowdown).
"""
from __future__ import annotations

import dataclasses
import importlib
import json

import pytest

TEST = """
import os, time

import pytest

SLOW = [os.environ["BURST"] != "none"]  # "none" | "once" (the test's timing) | "always"


def target():
    end = time.thread_time_ns() + int(float(os.environ["SLOW_MS" if SLOW[0] else "FAST_MS"]) * 1e6)
    while time.thread_time_ns() < end:
        pass


def test_sleep(tfperf):
    tfperf.measure(target, name="sleep", min_time=0.2, max_time=0.2)
    if os.environ["BURST"] == "once":
        SLOW[0] = False  # the burst is over: a re-timing after the test runs fast
"""


def _run(pytester, monkeypatch, *args, burst="none", slow="5", fast="2", clock=None):
    monkeypatch.setenv("BURST", burst)
    monkeypatch.setenv("SLOW_MS", slow)
    monkeypatch.setenv("FAST_MS", fast)
    clock_args = ("-o", f"tfperf_clock={clock}") if clock else ()
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *clock_args, *args)


def _live(name: str):
    """The module the next in-process run will use (`sys.modules`'): an earlier pytester run may
    have dropped the one its parent package still names."""
    return importlib.import_module(name)


@pytest.fixture(scope="module", autouse=True)
def _tensorflow_imported_once():
    """pytester's in-process runs drop modules first imported inside a test; TensorFlow cannot
    be imported twice in one process, so it is imported before any of them."""
    import tensorflow  # noqa: F401


@pytest.fixture
def project(pytester, monkeypatch):
    pytester.makepyfile(test_sleep=TEST)
    _run(pytester, monkeypatch, "--tfperf-save", "base", clock="cpu").assert_outcomes(passed=1)
    return pytester


def test_a_burst_is_re_timed_and_does_not_fail(project, monkeypatch):
    result = _run(project, monkeypatch, "--tfperf-compare", "base", "--tfperf-compare-fail",
                  "median:10%", "--tfperf-json", "run.json", burst="once", clock="cpu")
    result.assert_outcomes(passed=1)
    doc = json.loads((project.path / "run.json").read_text())
    (record,) = doc["tfperf"]["measurements"]
    (comparison,) = doc["tfperf"]["comparisons"]
    assert record["retimed"] is True and record["stats"]["discarded_n"] > 0
    assert comparison["retimed"] is True and comparison["verdict"] in ("ok", "noise")
    assert record["stats"]["clock"] == "cpu"
    assert record["stats"]["cpu_median_ms"] < 3.5  # the quieter, re-timed measurement was kept
    result.stdout.fnmatch_lines(["*1 compared: 0 regressed, 0 improved, * noise*"])


def _count_compare_runs(monkeypatch) -> list:
    """Count `compare_runs` calls: the gate's (through the package) and finalize's (its module)."""
    baseline, compare = _live("pytest_tfperf.baseline"), _live("pytest_tfperf.baseline.compare")

    calls, real = [], compare.compare_runs

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(baseline, "compare_runs", counted)
    monkeypatch.setattr(compare, "compare_runs", counted)
    return calls


def test_a_real_slowdown_fails_after_re_timing(project, monkeypatch):
    calls = _count_compare_runs(monkeypatch)
    result = _run(project, monkeypatch, "--tfperf-compare", "base", "--tfperf-compare-fail",
                  "median:10%", burst="always", clock="cpu")
    result.assert_outcomes(failed=1)
    # the gate compares once, once more after the one re-timing; the session report once
    assert len(calls) == 3
    result.stdout.fnmatch_lines([
        "*tfperf regression: test_sleep.py::test_sleep::sleep: median CPU * ms vs baseline * ms*"])
    text = result.stdout.str()
    assert "re-timed in fresh sessions" in text and "): regressed" in text
    assert "1 compared: 1 regressed, 0 improved, 0 noise" in text


def test_without_an_enforced_threshold_nothing_is_re_timed(project, monkeypatch):
    result = _run(project, monkeypatch, "--tfperf-compare", "base", "--tfperf-json", "run.json",
                  burst="always", clock="cpu")
    result.assert_outcomes(passed=1)
    doc = json.loads((project.path / "run.json").read_text())
    (record,) = doc["tfperf"]["measurements"]
    (comparison,) = doc["tfperf"]["comparisons"]
    assert record["retimed"] is False
    assert comparison["verdict"] == "regressed" and comparison["failed"] is False
    assert doc["tfperf"]["environment"]["reference"]["stats"]["blocks"]  # stored in every file


# --------------------------------------------------------------------------- one parse, one limit
FAST = """
import time

import pytest


def work():
    time.sleep(0.0005)


@pytest.mark.latency_budget(ms=1000, regression="50%")
def test_twice(tfperf):
    tfperf.measure(work, min_time=0.01, max_time=0.05)
    tfperf.measure(work, name="again", min_time=0.01, max_time=0.05)


@pytest.mark.latency_budget(fps=10)
def test_once(tfperf):
    tfperf.measure(work, min_time=0.01, max_time=0.05)
"""


def test_the_latency_marker_is_parsed_once_per_test(pytester, monkeypatch):
    """Setup's check, the measurements' stopping rule, the verdicts, the records and the
    baseline regression gate all read one parse of each test's `latency_budget`."""
    markers = _live("pytest_tfperf.plugin.markers")
    pytester.makepyfile(test_fast=FAST)
    _run(pytester, monkeypatch, "--tfperf-save", "base").assert_outcomes(passed=2)
    parsed, real = [], markers.parse_mark

    def counting(mark, *, test_id):
        parsed.append((test_id.split("::")[1], mark.name))
        return real(mark, test_id=test_id)
    monkeypatch.setattr(markers, "parse_mark", counting)
    result = _run(pytester, monkeypatch, "--tfperf-compare", "base", "--tfperf-json", "run.json")
    result.assert_outcomes(passed=2)
    assert sorted(parsed) == [("test_once", "latency_budget"), ("test_twice", "latency_budget")]
    doc = json.loads((pytester.path / "run.json").read_text())
    assert len(doc["tfperf"]["measurements"]) == 3 and len(doc["tfperf"]["comparisons"]) == 3
    regressions = {(m["test_id"].split("::")[1], m["name"]): m["regression"]
                   for m in doc["tfperf"]["measurements"]}
    assert regressions == {("test_twice", "work"): "50%", ("test_twice", "again"): "50%",
                           ("test_once", "work"): None}


def test_the_stopping_rule_and_the_verdict_use_one_limit_function(pytester, monkeypatch):
    """`budgets.resolve_latency` is the one limit: replace it, and the limit the timing engine
    stops on and the limit the verdict checks are both the replacement's."""
    budgets, engine = _live("pytest_tfperf.plugin.budgets"), _live("pytest_tfperf.timing.engine")
    resolved, stopped_on = [], []
    real_resolve, real_sample = budgets.resolve_latency, engine.sample_blocks

    def resolve(budget, batch, scale=1.0):
        limit = dataclasses.replace(real_resolve(budget, batch, scale), limit_ms=0.0005)
        resolved.append(limit)
        return limit

    def sample(runner, settings, **kwargs):
        stopped_on.append(kwargs.get("budget_ms"))
        return real_sample(runner, settings, **kwargs)
    monkeypatch.setattr(budgets, "resolve_latency", resolve)
    monkeypatch.setattr(engine, "sample_blocks", sample)
    pytester.makepyfile(test_fps="""
        import time

        import pytest

        @pytest.mark.latency_budget(fps=10, batch=4)
        def test_fps(tfperf):
            tfperf.measure(lambda: time.sleep(0.0005), min_time=0.01, max_time=0.05)
    """)
    result = _run(pytester, monkeypatch, "--tfperf-json", "run.json")
    result.assert_outcomes(failed=1)  # 0.0005 ms: a limit only the replacement knows
    (limit,) = resolved
    assert limit.batch == 4 and limit.unscaled_ms == 400.0  # 4 images per call at 10 FPS
    assert stopped_on[-1] == 0.0005  # before it: the reference workload (--tfperf-json), no budget
    assert [b for b in stopped_on if b is not None] == [0.0005]
    (record,) = json.loads((pytester.path / "run.json").read_text())["tfperf"]["measurements"]
    (verdict,) = record["verdicts"]
    assert verdict["limit"] == 0.0005 and verdict["passed"] is False
    result.stdout.fnmatch_lines(["*latency_budget: p50 * ms exceeds 0.000500 ms by*"])
