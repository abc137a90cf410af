"""LatencyStats math against numpy, order-statistic CIs (no TensorFlow)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pytest_tfperf.timing.stats import (
    LatencyStats,
    order_statistic_ranks,
    percentile_ci,
    percentile_label,
)


@pytest.fixture(scope="module")
def skewed():
    rng = np.random.default_rng(7)
    return rng.lognormal(mean=1.0, sigma=0.4, size=301)


def test_statistics_match_numpy(skewed):
    s = LatencyStats.from_samples(skewed, batch=1, warmup_n=3, init_ms=2.5, first_ms=40.0)
    assert s.n == 301 and s.warmup_n == 3 and s.init_ms == 2.5 and s.first_ms == 40.0
    assert s.min_ms == pytest.approx(skewed.min())
    assert s.max_ms == pytest.approx(skewed.max())
    assert s.mean_ms == pytest.approx(skewed.mean())
    assert s.std_ms == pytest.approx(skewed.std(ddof=1))
    assert s.median_ms == pytest.approx(np.median(skewed))
    q25, q75 = np.percentile(skewed, [25, 75])
    assert s.iqr_ms == pytest.approx(q75 - q25)
    for field, q in (("p90_ms", 90), ("p95_ms", 95), ("p99_ms", 99)):
        assert getattr(s, field) == pytest.approx(np.percentile(skewed, q, method="linear"))
    assert s.cv == pytest.approx(skewed.std(ddof=1) / skewed.mean())
    assert s.percentile(37.5) == pytest.approx(np.percentile(skewed, 37.5))


def test_percentile_is_linear_method_7():
    s = LatencyStats.from_samples([1.0, 2.0, 3.0, 4.0])
    # rank h = (n - 1) * q: p50 -> 1.5 -> 2.5 ; p90 -> 2.7 -> 3.7
    assert s.median_ms == 2.5
    assert s.p90_ms == pytest.approx(3.7)
    assert s.iqr_ms == pytest.approx(3.25 - 1.75)


def test_fps_uses_batch_and_median():
    s = LatencyStats.from_samples([10.0, 20.0, 30.0], batch=8)
    assert s.fps == pytest.approx(8 * 1000 / 20.0)
    assert s.fps_at(40.0) == pytest.approx(200.0)
    assert LatencyStats.from_samples([5.0]).fps == pytest.approx(200.0)


def test_gated_percentile_and_its_ci(skewed):
    s = LatencyStats.from_samples(skewed, gated_percentile=90)
    assert s.gated_percentile == 90
    assert s.gated_ms == pytest.approx(s.p90_ms)
    lo, hi = s.gated_ci_ms
    assert lo <= s.gated_ms <= hi
    assert s.gated_ci_coverage >= 0.95
    assert (lo, hi) != s.median_ci_ms


def test_known_order_statistic_ranks():
    # textbook: median of n=10 -> [x(2), x(9)], coverage 1 - 2 * 11/1024
    assert order_statistic_ranks(10, 0.5)[:2] == (2, 9)
    assert order_statistic_ranks(10, 0.5)[2] == pytest.approx(1 - 22 / 1024)
    # n=20 -> [x(6), x(15)], coverage 0.9586
    lo, hi, cov = order_statistic_ranks(20, 0.5)
    assert (lo, hi) == (6, 15) and cov == pytest.approx(0.958610, abs=1e-6)
    # large n stays symmetric around n/2 and close to nominal coverage
    lo, hi, cov = order_statistic_ranks(100_000, 0.5)
    assert lo + hi == 100_001 and 0.95 <= cov < 0.952


def test_small_n_gives_min_max_and_says_coverage():
    lo, hi, cov = percentile_ci([3.0, 1.0, 2.0, 5.0, 4.0], 50)
    assert (lo, hi) == (1.0, 5.0)
    assert cov == pytest.approx(1 - 2 / 32)  # 0.9375 < 0.95
    s = LatencyStats.from_samples([3.0, 1.0, 2.0])
    assert s.median_ci_ms == (1.0, 3.0) and s.median_ci_coverage < 0.95
    # p99 needs many samples: 100 samples are not enough for a 95% CI of p99
    s = LatencyStats.from_samples(np.arange(100.0), gated_percentile=99)
    assert s.gated_ci_ms[1] == 99.0 and s.gated_ci_coverage < 0.95


def test_median_ci_covers_true_median_in_most_trials():
    rng = np.random.default_rng(2024)
    true_median = math.exp(1.0)  # lognormal(mu=1): median = e
    hits = 0
    for _ in range(200):
        sample = rng.lognormal(mean=1.0, sigma=0.5, size=40)
        lo, hi = LatencyStats.from_samples(sample).median_ci_ms
        hits += lo <= true_median <= hi
    assert hits >= 180  # nominal >= 95%; 90% leaves room for sampling noise


def test_p90_ci_covers_true_quantile():
    rng = np.random.default_rng(11)
    true_p90 = -math.log(0.1)  # exponential(1)
    hits = 0
    for _ in range(200):
        lo, hi, _cov = percentile_ci(rng.exponential(1.0, size=200), 90)
        hits += lo <= true_p90 <= hi
    assert hits >= 180


def test_to_dict_is_json_and_round_trips(skewed):
    s = LatencyStats.from_samples(skewed[:20], batch=2, stop_reason="precision", name="m",
                                  model="m.pb", first_ms=None)
    data = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert data["median_ci_ms"] == list(s.median_ci_ms)
    assert data["first_ms"] is None and data["batch"] == 2
    assert all(type(v) in (int, float, str, list, dict, type(None)) for v in data.values())
    assert LatencyStats.from_dict(data) == s


def test_empty_samples_and_bad_percentile_are_errors():
    with pytest.raises(ValueError, match="at least one sample"):
        LatencyStats.from_samples([])
    with pytest.raises(ValueError, match="0 < q < 100"):
        percentile_ci([1.0, 2.0], 100)


def test_percentile_label():
    assert percentile_label(50.0) == "p50" and percentile_label(99.9) == "p99.9"


