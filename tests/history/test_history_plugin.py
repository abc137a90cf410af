"""`--tfperf-history` in real pytest runs, and `--tfperf-compare history` verdicts."""
from __future__ import annotations

import pytest
from report_data import measurement

from pytest_tfperf.history import RunInfo, append_run, read_points, run_info
from pytest_tfperf.history.judge import judge_record
from pytest_tfperf.results.records import MeasurementRecord

TEST = """
    import time

    def test_sleep(tfperf):
        tfperf.measure(lambda: time.sleep(0.002), name="sleep", min_runs=10, max_time=0.3)
"""
ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider")


def test_history_option_appends_each_run_with_its_facts(pytester):
    pytester.makepyfile(test_user=TEST)
    pytester.makeini("[pytest]\ntfperf_history = from_ini.db\n")
    for _ in range(2):
        pytester.runpytest(*ARGS).assert_outcomes(passed=1)
    pytester.runpytest(*ARGS, "--tfperf-history=opt.db").assert_outcomes(passed=1)
    points = read_points(pytester.path / "from_ini.db")
    assert [p.run_id for p in points] == [1, 2]
    assert {p.key for p in points} == {"test_user.py::test_sleep::sleep"}
    here = run_info()
    assert {(p.machine, p.branch, p.commit) for p in points} == {(here.machine, here.branch, here.commit)}
    assert all(1.9 < p.values["median"] < 20 for p in points)  # a 2 ms sleep, on a busy machine
    assert points[0].record["stats"]["samples_ms"] and points[0].time <= points[1].time
    assert len(read_points(pytester.path / "opt.db")) == 1

    (pytester.path / "bad.db").write_text("garbage")
    result = pytester.runpytest(*ARGS, "--tfperf-history=bad.db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "bad.db is corrupt" in result.stderr.str() and (pytester.path / "bad.db").read_text() == "garbage"
    pytester.makeini("[pytest]\n")  # no store any more
    result = pytester.runpytest(*ARGS, "--tfperf-compare", "history")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs --tfperf-history PATH" in result.stderr.str()


def _past(store, key_test: str, median: float, runs: int = 8, context: RunInfo | None = None):
    here = context or run_info()
    for i in range(runs):
        rec = measurement(key_test, median * (1 + 0.02 * ((i * 3) % 5 - 2)), name="sleep", seed=i)
        append_run(store, [rec], RunInfo(time=f"2026-01-01T00:00:{i:02d}+00:00", commit=f"c{i}",
                                         branch=here.branch, machine=here.machine))


def test_compare_history_regressed_fails_the_test_and_improved_is_reported(pytester):
    pytester.makepyfile(test_user=TEST)
    store = pytester.path / "h.db"
    _past(store, "test_user.py::test_sleep", 1.0)  # the past: ~1 ms, this run sleeps 2 ms
    result = pytester.runpytest(*ARGS, "--tfperf-history=h.db", "--tfperf-compare", "history",
                                "--tfperf-compare-fail", "median:10%")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "tfperf regression: test_user.py::test_sleep::sleep: median" in text
    assert "vs the last 8 runs" in text and "from the spread of the last 8 runs" in text
    assert "REGRESSED" in text and len(read_points(store)) == 9  # judged, then appended

    store2 = pytester.path / "h2.db"
    _past(store2, "test_user.py::test_sleep", 100.0)  # far slower than any 2 ms sleep here
    result = pytester.runpytest(*ARGS, "--tfperf-history=h2.db", "--tfperf-compare", "history",
                                "--tfperf-report")
    result.assert_outcomes(passed=1)
    assert "improved" in result.stdout.str() and "1 improved" in result.stdout.str()

    other = RunInfo(time="", branch="main", machine=run_info().machine)
    store3 = pytester.path / "h3.db"
    _past(store3, "test_user.py::test_sleep", 1.0, context=other)
    result = pytester.runpytest(*ARGS, "--tfperf-history=h3.db", "--tfperf-compare", "history",
                                "--tfperf-compare-fail", "10%", "--tfperf-report")
    if run_info().branch != "main":  # only main's past: this branch has none, nothing judged
        result.assert_outcomes(passed=1)
        assert "fewer than 3 past runs" in result.stdout.str()
    result = pytester.runpytest(*ARGS, "--tfperf-history=h3.db", "--tfperf-compare", "history:main",
                                "--tfperf-compare-fail", "10%")
    result.assert_outcomes(failed=1)


def _record(median: float) -> MeasurementRecord:
    return MeasurementRecord.from_dict(measurement("t.py::test_a", median, name="m", seed=1))


@pytest.mark.parametrize("past, new, verdict", [
    ([1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01], 1.30, "regressed"),
    ([1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01], 0.80, "improved"),
    ([1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01], 1.03, "ok"),
    # a noisy past (CV ~10%): +15% is past the threshold but inside the past's own spread
    ([1.0, 1.12, 0.9, 1.05, 0.88, 1.1, 0.95, 1.0], 1.15, "noise"),
])
def test_verdicts_use_the_history_spread(past, new, verdict):
    rec = _record(new)
    median = rec.stats["median_ms"]
    cmp = judge_record(rec, lambda stat: [v * median / new for v in past], ["median:10%"])
    assert cmp.verdict == verdict, cmp.message()
    assert cmp.history_runs == 8 and cmp.enforced
    lo, hi = cmp.ci_low, cmp.ci_high
    assert lo < cmp.ratio < hi
    # the CI is the prediction interval of one more run: wider than the past's mean alone
    assert cmp.run_noise == pytest.approx(float(__import__("numpy").std(
        __import__("numpy").log(past), ddof=1)), rel=1e-6)


def test_too_few_past_runs_are_not_judged():
    cmp = judge_record(_record(2.0), lambda stat: [1.0, 1.0], ["median:10%"])
    assert cmp.verdict == "ok" and "2 past run(s)" in cmp.note and "not compared" in cmp.note
