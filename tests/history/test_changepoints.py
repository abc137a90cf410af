"""Change points on the issue-22 synthetic series, their commits and CI, and the renderers."""
from __future__ import annotations

import numpy as np
import pytest

from pytest_tfperf.history.changepoints import change_points
from pytest_tfperf.history.series import build_series
from pytest_tfperf.history.store import HistoryPoint
from pytest_tfperf.report.history_html import render_history_html
from pytest_tfperf.report.history_text import render_history_markdown, render_history_text, sparkline


def _series(level, seed: int, cv: float = 0.05) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(10.0 * np.asarray(level) * np.exp(rng.normal(0.0, cv, len(level))))


def test_step_at_run_40_is_found_with_its_size_and_ci():
    covered = 0
    for seed in range(10):
        x = _series(np.where(np.arange(60) >= 40, 1.15, 1.0), seed)
        (cp,) = change_points(x)
        assert abs(cp.index - 40) <= 1, seed
        assert cp.ci_low > 0.05 and 0.08 < cp.change < 0.22, seed  # significant, about +15%
        assert cp.before == pytest.approx(10.0, rel=0.05) and cp.after == pytest.approx(11.5, rel=0.05)
        covered += cp.ci_low < 0.15 < cp.ci_high
    assert covered >= 8  # a 95% CI, after the split was chosen to fit: 9 of these 10 seeds


@pytest.mark.parametrize("seed", range(1000, 1020))
def test_pure_noise_has_no_change_point(seed):
    assert change_points(_series(np.ones(100), seed)) == []


def test_drift_gives_at_most_one_upward_step():
    """+3% per 10 runs (+19% over 60 runs): no single step exists; PELT cuts the ramp at most
    once, upwards, where the climb is steepest against the noise, or not at all
    (bench/bench_changepoints.py: 1 change point in 32 of 50 series, none in 18)."""
    counts = []
    for seed in range(2000, 2010):
        cps = change_points(_series(1.03 ** (np.arange(60) / 10.0), seed))
        assert len(cps) <= 1 and all(cp.change > 0 for cp in cps)
        counts.append(len(cps))
    assert sum(counts) >= 3


def test_burst_runs_of_a_busy_machine_are_not_steps():
    """Runs several times slower (a busy machine's bursts, as in bench/bench_history.py) are
    not cut into segments of their own: the L1 cost on log values, MAD-scaled penalty."""
    rng = np.random.default_rng(5)
    x = _series(np.ones(40), 5)
    for i in rng.choice(40, 4, replace=False):
        x[i] *= 6.0
    assert change_points(x) == []
    step = _series(np.where(np.arange(40) >= 25, 1.25, 1.0), 6)
    step[10] *= 6.0
    (cp,) = change_points(step)
    assert abs(cp.index - 25) <= 1 and 0.1 < cp.change < 0.4


def test_series_name_the_commits_around_the_step_and_render():
    values = _series(np.where(np.arange(30) >= 20, 1.25, 1.0), 7, cv=0.02)
    points = [HistoryPoint(run_id=i + 1, time=f"2026-01-01T00:00:{i:02d}", commit=f"sha{i:02d}",
                           branch="main", machine="m", key="t.py::test_a::m", test_id="t.py::test_a",
                           name="m", values={"gated": v}, record={}) for i, v in enumerate(values)]
    points += [HistoryPoint(run_id=i + 1, time=p.time, commit=p.commit, branch="main", machine="m",
                            key="t.py::test_b::m", test_id="t.py::test_b", name="m",
                            values={"gated": 5.0 * (1 + 0.01 * ((i * 7) % 5 - 2))}, record={})
               for i, p in enumerate(points)]
    series = [s.to_dict() for s in build_series(points)]
    assert [s["test"] for s in series] == ["t.py::test_a::m", "t.py::test_b::m"]
    (cp,) = series[0]["change_points"]
    assert (cp["commit"], cp["commit_before"], cp["index"]) == ("sha20", "sha19", 20)
    assert cp["change"] == pytest.approx(0.25, abs=0.03)
    assert series[1]["change_points"] == []
    assert [s["test"] for s in (x.to_dict() for x in build_series(points, test="*test_b*"))] == \
        ["t.py::test_b::m"]
    text = render_history_text("h.db", series)
    assert "change point sha19 -> sha20 (run 21)" in text and "no change points" in text
    assert "| `t.py::test_a::m` | gated |" in render_history_markdown("h.db", series)
    page = render_history_html("h.db", series)
    assert page.count("<svg") == 2 and "stroke-dasharray" in page and "<script" not in page
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█" and sparkline([2, 2]) == "▁▁"
