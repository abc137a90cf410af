"""Issue 21: no unchecked budget. pytest-benchmark disables itself under xdist (and with
--benchmark-disable); a latency_budget on its `benchmark` fixture is then timed by tfperf
itself, never passed unchecked. Blockless (pytest-benchmark) rows are compared by what they
have: no stale-baseline advice, no change CI from three samples."""
from __future__ import annotations

import json

TESTS = """
    import time
    import pytest

    @pytest.mark.latency_budget(ms=0.5)
    def test_over_budget(benchmark):
        assert benchmark(lambda: time.sleep(0.003) or 7) == 7

    @pytest.mark.latency_budget(ms=200)
    def test_within_budget(benchmark):
        benchmark.pedantic(time.sleep, args=(0.001,), rounds=3, iterations=1)

    @pytest.mark.latency_budget(ms=200)
    def test_never_calls_it(benchmark):
        pass
"""


def test_benchmark_fixture_budget_under_xdist_is_timed_by_tfperf(pytester):
    pytester.makepyfile(test_bench=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "xdist", "-n", "2",
                                           "--tfperf-json=r.json")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed") == 1, outcomes
    assert outcomes.get("errors") == 1, outcomes  # the budget with nothing to check names why
    out = result.stdout.str()
    assert "exceeds 0.500 ms" in out or "exceeds 0.5" in out, out[-3000:]
    assert "recorded nothing" in out
    rows = json.loads((pytester.path / "r.json").read_text())["tfperf"]["measurements"]
    names = {r["test_id"].rsplit("::", 1)[-1]: r["name"] for r in rows}
    assert names["test_over_budget"] == ("benchmark (timed by tfperf: pytest-benchmark is disabled "
                                         "under xdist)"), names
    over = next(r for r in rows if r["test_id"].endswith("test_over_budget"))
    assert over["stats"]["median_ms"] > 2.5 and over["verdicts"][0]["passed"] is False


def test_benchmark_disable_without_xdist_is_timed_too(pytester):
    pytester.makepyfile(test_bench=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--benchmark-disable",
                                           "-k", "over_budget")
    result.assert_outcomes(failed=1)
    assert "disabled (--benchmark-disable)" in result.stdout.str() or "latency_budget" in result.stdout.str()


def test_blockless_rows_compared_by_what_they_have(pytester, monkeypatch):
    # pytest-benchmark also reads PYTEST_XDIST_WORKER: under `-n 2` the inner runs inherit it
    # from this worker and would take the xdist path (timed by tfperf, with blocks)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_bench="""
        import time
        import pytest

        @pytest.mark.latency_budget(ms=200)
        def test_few(benchmark):
            benchmark.pedantic(time.sleep, args=(0.002,), rounds=3, iterations=1)

        @pytest.mark.latency_budget(ms=200)
        def test_many(benchmark):
            benchmark(time.sleep, 0.001)
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--tfperf-save=base1").assert_outcomes(passed=2)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--tfperf-compare=base1",
                                           "--tfperf-json=c.json")
    result.assert_outcomes(passed=2)
    assert "without timing blocks" not in result.stdout.str()
    comparisons = {c["test_id"].rsplit("::", 1)[-1]: c
                   for c in json.loads((pytester.path / "c.json").read_text())["tfperf"]["comparisons"]}
    few, many = comparisons["test_few"], comparisons["test_many"]
    assert few["ci_low"] is None and few["ci_high"] is None and "too few" in few["note"]
    assert few["verdict"] in ("ok", "noise")
    assert many["ci_low"] is not None and 0.5 < many["ci_low"] <= many["ci_high"] < 2.0
