"""The one interleaved timing loop (`optimization.measure_interleaved`): `tfperf optimize`'s table
and the edge variant table both time their rows with it."""
from __future__ import annotations

import time

import pytest

from pytest_tfperf.optimization.interleaved import measure_interleaved

FAST = {"rounds": 3, "min_time": 0.005, "max_time": 0.02, "warmup": 1}


def _sleeper(seconds: float):
    def run():
        time.sleep(seconds)
    return run


def test_rows_are_timed_in_rounds_and_a_slower_one_reads_slower():
    rows = measure_interleaved([("fast", _sleeper(0.0005), None), ("slow", _sleeper(0.004), None)],
                               **FAST)
    (fast, fast_ms, fast_rounds), (slow, slow_ms, slow_rounds) = rows
    assert (fast, slow) == ("fast", "slow") and len(fast_rounds) == len(slow_rounds) == 3
    assert slow_ms > 3 * fast_ms  # 4 ms of sleep against 0.5 ms, whatever the load


def test_a_failing_row_is_recorded_and_dropped_when_errors_are_collected():
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] > 5:  # fails during the first round's sampling
            raise RuntimeError("device lost")

    errors: dict[str, BaseException] = {"skipped": ValueError("not built")}
    rows = measure_interleaved([("ok", _sleeper(0.0005), None), ("flaky", flaky, None),
                                ("skipped", _sleeper(0.0005), None)], errors=errors, **FAST)
    by_label = {label: (ms, per_round) for label, ms, per_round in rows}
    assert by_label["ok"][0] > 0 and len(by_label["ok"][1]) == 3
    assert by_label["flaky"][0] is None and "device lost" in str(errors["flaky"])
    assert by_label["skipped"] == (None, [])  # never timed: it was not built
    with pytest.raises(RuntimeError, match="device lost"):  # without `errors`, it propagates
        measure_interleaved([("flaky", flaky, None)], **FAST)
