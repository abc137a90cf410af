"""Budget marker parsing, verdicts and their messages (no TensorFlow needed)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_tfperf.plugin.budgets import (
    BudgetVerdict,
    check_count,
    check_flops,
    check_latency,
    check_memory,
    check_params,
    check_size,
)
from pytest_tfperf.plugin.markers import (
    LatencyBudget,
    MemoryBudget,
    ParamBudget,
    SizeBudget,
    parse_count,
    parse_flops_budget,
    parse_latency_budget,
    parse_mark,
    parse_megabytes,
    parse_memory_budget,
    parse_param_budget,
    parse_size_budget,
)
from pytest_tfperf.errors import MarkerUsageError
from pytest_tfperf.timing.stats import LatencyStats, order_statistic_ranks

TEST_ID = "tests/test_model.py::test_speed"


# --- parse_count / parse_megabytes -----------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (62_378_344, 62_378_344),
    ("62_378_344", 62_378_344),
    ("62,378,344", 62_378_344),
    ("12,000", 12_000),
    ("62.4M", 62_400_000),
    ("62.4m", 62_400_000),
    ("1.5G", 1_500_000_000),
    ("800k", 800_000),
    ("800K", 800_000),
    (" 3 M ", 3_000_000),
    ("2T", 2_000_000_000_000),
    ("1e6", 1_000_000),
    (1.5e9, 1_500_000_000),
    ("1.2345678M", 1_234_568),
])
def test_parse_count(value, expected):
    assert parse_count(value, what="max") == expected


@pytest.mark.parametrize("value", ["abc", "62.4X", "", "1.2.3M", "M", -5, 0, "0", "-1k", True,
                                   None, [1], float("nan"), float("inf")])
def test_parse_count_rejects(value):
    with pytest.raises(MarkerUsageError) as info:
        parse_count(value, what="max")
    assert str(info.value).endswith(f"Received: max={value!r}")
    assert "62.4M" in str(info.value)  # says what would work


@pytest.mark.parametrize("value, expected", [
    (25, 25.0), (1.5, 1.5), ("25", 25.0), ("25MB", 25.0), ("25 mb", 25.0), ("1.5GB", 1500.0),
    ("800KB", 0.8), ("512MiB", 512 * 1024**2 / 1e6), ("1,500 MB", 1500.0),
])
def test_parse_megabytes(value, expected):
    assert parse_megabytes(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["25 parsecs", "MB", 0, -1, "-3MB", False, None])
def test_parse_megabytes_rejects(value):
    with pytest.raises(MarkerUsageError, match=r"Received: mb="):
        parse_megabytes(value)


# --- latency_budget --------------------------------------------------------------------------

def test_latency_budget_ms_positional_and_keyword():
    assert parse_latency_budget((100,), {}, test_id=TEST_ID) == LatencyBudget(ms=100.0)
    b = parse_latency_budget((), {"ms": 50, "percentile": 90}, test_id=TEST_ID)
    assert b.limit_ms == 50.0 and b.percentile == 90.0 and b.batch is None
    assert parse_latency_budget((), {"ms": 5, "percentile": "p99"}, test_id=TEST_ID).percentile == 99


def test_latency_budget_fps_converts_with_batch():
    b = parse_latency_budget((), {"fps": 10}, test_id=TEST_ID)
    assert b.limit_ms == pytest.approx(100.0)
    b = parse_latency_budget((), {"fps": 200, "batch": 8, "regression": "median:10%"},
                             test_id=TEST_ID)
    assert b.limit_ms == pytest.approx(40.0)
    assert b.regression == "median:10%"
    assert json.loads(json.dumps(b.to_dict()))["limit_ms"] == pytest.approx(40.0)


@pytest.mark.parametrize("args, kwargs, arg_text, problem", [
    ((), {}, "ms=None, fps=None", "exactly one of ms"),
    ((100,), {"fps": 10}, "ms=100, fps=10", "both ms and fps"),
    ((0,), {}, "ms=0", "'ms' must be a positive number"),
    ((-5,), {}, "ms=-5", "'ms' must be a positive number"),
    (("100",), {}, "ms='100'", "'ms' must be a positive number"),
    ((), {"fps": float("nan")}, "fps=nan", "'fps' must be a positive number"),
    ((True,), {}, "ms=True", "'ms' must be a positive number"),
    ((100,), {"percentile": 100}, "percentile=100", "strictly between 0 and 100"),
    ((100,), {"percentile": 0}, "percentile=0", "strictly between 0 and 100"),
    ((100,), {"percentile": "median"}, "percentile='median'", "strictly between 0 and 100"),
    ((100,), {"batch": 0}, "batch=0", "'batch' must be a positive int"),
    ((100,), {"batch": 2.5}, "batch=2.5", "'batch' must be a positive int"),
    ((100,), {"regression": "ten percent"}, "regression='ten percent'", "'10%'"),
    ((100,), {"percentil": 90}, "percentil=90", "did you mean 'percentile'"),
    ((100,), {"ms": 100}, "ms=100", "both by position and by keyword"),
    ((100, 90), {}, "args=(100, 90)", "too many positional arguments"),
])
def test_latency_budget_usage_errors(args, kwargs, arg_text, problem):
    with pytest.raises(MarkerUsageError) as info:
        parse_latency_budget(args, kwargs, test_id=TEST_ID)
    msg = str(info.value)
    assert msg.startswith(f"{TEST_ID}: @pytest.mark.latency_budget: ")
    assert problem in msg
    assert msg.endswith(f"Received: {arg_text}")


# --- count / size budgets --------------------------------------------------------------------

def test_count_and_size_budgets_parse():
    assert parse_param_budget(("62.4M",), {}, test_id=TEST_ID) == ParamBudget(62_400_000)
    assert parse_param_budget((), {"max": 10, "kind": "trainable"},
                              test_id=TEST_ID).kind == "trainable"
    assert parse_flops_budget(("1.5G",), {}, test_id=TEST_ID).max == 1_500_000_000
    assert parse_size_budget(("25MB",), {}, test_id=TEST_ID) == SizeBudget(25.0)
    assert parse_memory_budget((), {"mb": "1GB"}, test_id=TEST_ID) == MemoryBudget(1000.0)


@pytest.mark.parametrize("parser, marker, args, kwargs, problem, received", [
    (parse_param_budget, "param_budget", (), {}, "missing required argument 'max'", "max=None"),
    (parse_param_budget, "param_budget", ("lots",), {}, "max must be a positive count",
     "max='lots'"),
    (parse_param_budget, "param_budget", (10,), {"kind": "bias"}, "'kind' must be 'weights'",
     "kind='bias'"),
    (parse_param_budget, "param_budget", (10, "weights"), {}, "too many positional",
     "args=(10, 'weights')"),
    (parse_flops_budget, "flops_budget", (), {"max": "1.5X"}, "max must be a positive count",
     "max='1.5X'"),
    (parse_flops_budget, "flops_budget", (), {"maximum": 5}, "did you mean 'max'",
     "maximum=5"),
    (parse_size_budget, "size_budget", (-1,), {}, "mb must be a positive size", "mb=-1"),
    (parse_size_budget, "size_budget", (), {}, "missing required argument 'mb'", "mb=None"),
    (parse_memory_budget, "memory_budget", ("big",), {}, "mb must be a positive size",
     "mb='big'"),
    (parse_memory_budget, "memory_budget", (), {"megabytes": 5}, "unknown argument",
     "megabytes=5"),
])
def test_count_budget_usage_errors(parser, marker, args, kwargs, problem, received):
    with pytest.raises(MarkerUsageError) as info:
        parser(args, kwargs, test_id=TEST_ID)
    msg = str(info.value)
    assert msg.startswith(f"{TEST_ID}: @pytest.mark.{marker}: ")
    assert problem in msg
    assert msg.endswith(f"Received: {received}")


def test_parse_mark_dispatches_on_a_real_pytest_mark():
    mark = pytest.mark.latency_budget(fps=30, batch=2).mark
    assert parse_mark(mark, test_id=TEST_ID) == LatencyBudget(fps=30.0, batch=2)
    mark = pytest.mark.param_budget("1M", kind="trainable").mark
    assert parse_mark(mark, test_id=TEST_ID) == ParamBudget(1_000_000, "trainable")


# --- verdict messages ------------------------------------------------------------------------

def _stats_with(median, ci, n=48, warmup_n=5):
    """Samples whose median and order-statistic 95% CI are exactly `median` and `ci`."""
    lo_rank, hi_rank, _ = order_statistic_ranks(n, 0.5)
    x = np.empty(n)
    x[: lo_rank] = np.linspace(ci[0] - 5, ci[0], lo_rank)
    x[hi_rank - 1:] = np.linspace(ci[1], ci[1] + 5, n - hi_rank + 1)
    x[lo_rank: hi_rank - 1] = median
    return LatencyStats.from_samples(x, warmup_n=warmup_n, model="alexnet.pb")


def test_design_failure_message_exactly():
    stats = _stats_with(112.4, (108.1, 115.0))
    verdict = check_latency(LatencyBudget(fps=10), stats)
    assert verdict.message == (
        "latency_budget: p50 112.4 ms exceeds 100.0 ms by 12.4 ms (+12.4%; 8.9 FPS < 10 FPS); "
        "n=48 after 5 warm-up runs, 95% CI [108.1, 115.0] ms; model alexnet.pb")
    assert verdict.fps_limit == 10  # the label reads "≥10 FPS", not "p50≤100ms"
    assert not verdict.passed
    assert verdict.value == pytest.approx(112.4) and verdict.limit == pytest.approx(100.0)
    assert verdict.headroom_pct == pytest.approx(-12.4)
    assert verdict.statistic == "p50" and verdict.unit == "ms" and verdict.model == "alexnet.pb"


def test_passing_ms_message_and_scale_note():
    stats = _stats_with(112.4, (108.1, 115.0))
    verdict = check_latency(LatencyBudget(ms=150), stats, model="vgg16.pb")
    assert verdict.passed
    assert verdict.message.startswith("latency_budget: p50 112.4 ms within 150.0 ms (25.1% headroom); ")
    assert verdict.message.endswith("; model vgg16.pb")
    assert "FPS" not in verdict.message
    scaled = check_latency(LatencyBudget(ms=80), stats, scale=1.25)
    assert scaled.limit == pytest.approx(100.0) and not scaled.passed
    assert "exceeds 100.0 ms by 12.4 ms (+12.4%) (budget 80.0 ms x 1.25 --tfperf-budget-scale); n=48" \
        in scaled.message


def test_verdict_on_another_percentile_recomputes_it():
    samples = np.arange(1.0, 101.0)
    stats = LatencyStats.from_samples(samples)  # gated on p50
    verdict = check_latency(LatencyBudget(ms=95, percentile=90), stats)
    assert verdict.statistic == "p90"
    assert verdict.value == pytest.approx(np.percentile(samples, 90))
    assert verdict.passed


def test_small_n_message_admits_low_coverage():
    stats = LatencyStats.from_samples([10.0, 11.0, 12.0], warmup_n=1)
    msg = check_latency(LatencyBudget(ms=5), stats).message
    assert "n=3 after 1 warm-up run, CI [10.0, 12.0] ms (min-max: too few runs for 95%, " \
           "coverage 75%)" in msg


def test_count_messages():
    v = check_count("param_budget", 62_378_344, 60_000_000, "weights", "alexnet.pb")
    assert v.message == ("param_budget: 62,378,344 weights exceed 60,000,000 by 2,378,344 (+4.0%); "
                         "model alexnet.pb")
    assert not v.passed and v.headroom_pct == pytest.approx(-3.963906667)
    v = check_params(ParamBudget(70_000_000), 62_378_344, "alexnet.pb")
    assert v.passed and v.message == ("param_budget: 62,378,344 weights within 70,000,000 "
                                      "(10.9% headroom); model alexnet.pb")
    v = check_params(ParamBudget(10, kind="trainable"), 12)
    assert v.message == "param_budget: 12 trainable parameters exceed 10 by 2 (+20.0%)"
    assert check_flops(parse_flops_budget(("1M",), {}, test_id=TEST_ID), 1_234_567).message == \
        "flops_budget: 1,234,567 FLOPs exceed 1,000,000 by 234,567 (+23.5%)"
    v = check_size(SizeBudget(200.0), 237_900_000, "alexnet.pb")
    assert v.message == "size_budget: 237.9 MB exceeds 200.0 MB by 37.9 MB (+19.0%); model alexnet.pb"
    assert check_memory(MemoryBudget(512.0), 100_000_000).passed


def test_verdict_to_dict_is_json():
    v = check_latency(LatencyBudget(ms=1), LatencyStats.from_samples([0.5, 0.6, 0.7]))
    data = json.loads(json.dumps(v.to_dict(), allow_nan=False))
    assert data["passed"] is True and data["marker"] == "latency_budget"
    assert BudgetVerdict(**data) == v


# --- pytest-benchmark ------------------------------------------------------------------------

def test_stats_from_a_real_pytest_benchmark_run(pytester, monkeypatch):
    # pytest-benchmark disables itself inside an xdist worker: run a real session without one
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_inner="""
        import time
        import numpy as np
        import pytest
        from pytest_tfperf.plugin.budgets import check_latency
        from pytest_tfperf.plugin.markers import LatencyBudget
        from pytest_tfperf.results.pytest_benchmark import stats_from_pytest_benchmark

        def test_real(benchmark):
            benchmark.pedantic(time.sleep, args=(0.002,), rounds=12, iterations=1)
            stats = stats_from_pytest_benchmark(benchmark, batch=4)
            raw = benchmark.stats.stats.data
            assert stats.n == 12 == len(raw)
            assert stats.median_ms == pytest.approx(np.median(raw) * 1000)
            assert stats.median_ms >= 2.0  # seconds -> milliseconds
            assert stats.fps == pytest.approx(4000 / stats.median_ms)
            assert stats.stop_reason == "pytest-benchmark" and stats.init_ms is None
            same = stats_from_pytest_benchmark(benchmark.stats.as_dict())
            assert same.samples_ms == stats.samples_ms
            verdict = check_latency(LatencyBudget(ms=1000), stats)
            assert verdict.passed and "n=12" in verdict.message
    """)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_marker_parsing_does_not_import_numpy():
    # the plugin parses budget markers at collection time: keep it cheap
    import subprocess
    import sys

    code = ("import sys, pytest_tfperf.plugin.budgets, pytest_tfperf.plugin.markers as b; "
            "b.parse_latency_budget((5,), {}, test_id='t'); "
            "assert 'numpy' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_failure_message_says_when_noisier_sessions_were_set_aside():
    stats = LatencyStats.from_samples([12.0] * 30, warmup_n=5, discarded_n=40, model="m.pb")
    message = check_latency(LatencyBudget(ms=10), stats, model="m.pb").message
    assert "n=30 after 5 warm-up runs (quietest of several sessions; 40 calls" in message


def test_fps_budget_uses_the_batch_that_was_measured():
    # 8 images per call at 40 ms = 200 FPS: passes fps=100 unless the marker pins another batch
    stats = LatencyStats.from_samples([40.0] * 30, batch=8)
    verdict = check_latency(LatencyBudget(fps=100), stats)
    assert verdict.passed and "200.0 FPS >= 100 FPS" in verdict.message
    assert not check_latency(LatencyBudget(fps=100, batch=1), stats).passed
