"""Budget verdicts and their messages, and the one latency limit (no TensorFlow needed)."""
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
    parse_flops_budget,
)
from pytest_tfperf.timing.stats import LatencyStats, order_statistic_ranks

TEST_ID = "tests/test_model.py::test_speed"


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


def test_resolve_latency_is_the_one_limit():
    """The marker's batch wins over the measured one; the scale multiplies the limit; the
    verdict of `check_latency` is checked against exactly that limit."""
    from pytest_tfperf.plugin.budgets import latency_verdict, resolve_latency

    fps = LatencyBudget(fps=10, batch=4)
    assert resolve_latency(fps, 1).batch == 4 and resolve_latency(fps, 1).limit_ms == 400.0
    loose = resolve_latency(LatencyBudget(fps=10), 2, scale=1.5)
    assert (loose.batch, loose.unscaled_ms, loose.limit_ms) == (2, 200.0, 300.0)
    stats = LatencyStats.from_samples([250.0] * 30, batch=2)
    verdict = latency_verdict(loose, stats)
    assert verdict.passed and verdict.limit == 300.0
    assert verdict == check_latency(LatencyBudget(fps=10), stats, scale=1.5)
    assert "(budget 200.0 ms x 1.5 --tfperf-budget-scale)" in verdict.message
