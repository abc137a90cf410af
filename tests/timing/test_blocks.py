"""Block-level statistics of comparisons across runs, on synthetic block streams (no timing).

A "run" here is what one pytest process records: blocks of calls, each block at its own level
(a session, a burst of load), calls scattered around it. What these tests pin down: a shift of
a run's level past the threshold but inside the between-run noise is "noise", a shift past
both is "regressed", and
more calls per block do not make a comparison more confident (tfperf 0.2's per-call p-values
did: p = 1e-166 on a shift the next run undid).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pytest_tfperf import baseline, cli
from pytest_tfperf.timing import blocks
from pytest_tfperf.errors import BaselineError
from pytest_tfperf.report.terminal import comparison_summary
from pytest_tfperf.results.file import from_document
from pytest_tfperf.results.records import MeasurementRecord
from pytest_tfperf.timing.stats import LatencyStats

FLOOR_HALF = 1.959964 * math.sqrt(2) * blocks.DEFAULT_RUN_NOISE  # CI half-width, log scale


def run(level: float, *, seed: int, n_blocks: int = 8, per_block: int = 100,
        block_sd: float = 0.01, call_sd: float = 0.05, percentile: float = 50,
        tail: tuple[float, float] | None = None, test_id: str = "t.py::test_x") -> MeasurementRecord:
    """A measurement record: `n_blocks` blocks at levels level*exp(N(0, block_sd)), calls at
    block level*exp(N(0, call_sd)); `tail=(fraction, factor)` makes that fraction of calls
    `factor` times slower (a tail that moves the p90, not the median)."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_blocks):
        block_level = level * math.exp(rng.normal(0.0, block_sd))
        calls = block_level * np.exp(rng.normal(0.0, call_sd, per_block))
        if tail is not None:
            slow = rng.random(per_block) < tail[0]
            calls[slow] *= tail[1]
        samples.extend(calls.tolist())
    stats = LatencyStats.from_samples(samples, gated_percentile=percentile, name="m",
                                      block_sizes=[per_block] * n_blocks)
    return MeasurementRecord(test_id=test_id, name="m", stats=stats.to_dict())


def compare(base, new, *thresholds, **kwargs):
    return baseline.compare_measurement(base, new, list(thresholds), **kwargs)


# --------------------------------------------------------------------------- verdicts
def test_a_between_run_offset_inside_the_floor_is_noise_not_a_regression():
    base, new = run(10.0, seed=1), run(11.05, seed=2)  # +10.5%: the whole process was slower
    c = compare(base, new, "median:10%")  # past 10%, but the 4% floor per run holds "no change"
    assert c.change_pct > 10 and c.ci_low < 1.0 < c.ci_high
    assert c.verdict == "noise" and not c.failed
    assert "inconclusive: +10" in c.message() and "+-" in c.message()
    # real, past the threshold, but the CI reaches under half of it: still inconclusive
    c = compare(base, run(11.4, seed=2), "median:10%")
    assert 1.0 < c.ci_low < 1.05 and c.ratio > 1.10 and c.verdict == "noise"
    # past the threshold, and past half of it by the whole CI: slower than allowed
    c = compare(base, run(11.8, seed=2), "median:10%")
    assert 1.05 < c.ci_low < 1.10 < c.ratio and c.verdict == "regressed"


def test_a_1_3x_shift_is_regressed_and_a_0_7x_shift_improved():
    base = run(10.0, seed=1)
    slow, fast, same = run(13.0, seed=2), run(7.0, seed=3), run(10.1, seed=4)
    c = compare(base, slow, "median:10%")
    assert c.verdict == "regressed" and c.failed and c.ci_low > 1.10
    assert c.ratio == pytest.approx(slow.stats["median_ms"] / base.stats["median_ms"])
    assert (c.base_blocks, c.new_blocks) == (8, 8) and c.p_value < 0.01
    assert compare(base, fast, "median:10%").verdict == "improved"
    ok = compare(base, same, "median:10%")
    assert ok.verdict == "ok" and not ok.failed and ok.p_value > 0.5


def test_more_calls_per_block_do_not_make_a_comparison_more_confident():
    few = compare(run(10.0, seed=1, per_block=20), run(10.0, seed=2, per_block=20))
    many = compare(run(10.0, seed=1, per_block=2000), run(10.0, seed=2, per_block=2000))
    assert many.noise_pct == pytest.approx(few.noise_pct, rel=0.15)
    # never narrower than the between-run floor allows
    assert many.noise_pct >= (math.exp(FLOOR_HALF) - 1) * 100 * 0.99


def test_spread_between_blocks_widens_the_interval():
    base = run(10.0, seed=1)
    steady = compare(base, run(12.0, seed=2, block_sd=0.01), "median:10%")
    bursty = compare(base, run(12.0, seed=2, block_sd=0.45), "median:10%")
    assert steady.verdict == "regressed"
    assert bursty.noise_pct > 1.8 * steady.noise_pct and bursty.verdict == "noise"


def test_the_floor_is_the_whole_interval_when_blocks_agree_and_can_be_set():
    base, new = run(10.0, seed=1, block_sd=0.0, call_sd=0.0), run(10.5, seed=2, block_sd=0.0,
                                                                   call_sd=0.0)
    c = compare(base, new)
    assert math.log(c.ci_high / c.ratio) == pytest.approx(FLOOR_HALF, rel=1e-6)
    exact = compare(base, new, run_noise=0.0)  # no floor, identical blocks: the ratio alone
    assert exact.ci_low == exact.ci_high == pytest.approx(1.05) and exact.verdict == "ok"
    assert compare(base, new, "median:2%", run_noise=0.0).verdict == "regressed"
    assert compare(base, new, "median:2%").verdict == "noise"


def test_the_gated_statistic_is_compared_by_default():
    # a p90 budget's test: the tail got 1.6x slower, the median did not move
    base = run(10.0, seed=1, percentile=90, tail=(0.2, 1.5))
    new = run(10.0, seed=2, percentile=90, tail=(0.2, 2.4))
    c = compare(base, new)  # no threshold: the documented default, 10% on the gated statistic
    assert (c.statistic, c.threshold, c.verdict, c.enforced) == ("p90", "p90:10%", "regressed", False)
    assert compare(base, new, "10%").statistic == "p90"
    assert compare(base, new, "median:10%").verdict == "ok"
    assert baseline.DEFAULT_DISPLAY_EXPR == "10%"


def test_ms_thresholds_use_the_interval_on_the_baseline_scale():
    base, slow = run(10.0, seed=1), run(14.0, seed=2)
    assert compare(base, slow, "median:5ms").verdict == "ok"
    c = compare(base, slow, "median:5ms", "p90:1ms")
    assert (c.verdict, c.statistic, c.threshold) == ("regressed", "p90", "p90:1ms")


def test_a_side_with_one_block_uses_its_per_call_interval():
    base = run(10.0, seed=1, n_blocks=1, per_block=4, call_sd=0.2)
    new = run(15.0, seed=11, n_blocks=1, per_block=4, call_sd=0.2)
    c = compare(base, new, "median:10%")
    assert (c.base_blocks, c.new_blocks) == (1, 1)
    assert c.change_pct > 10 and c.verdict == "noise"  # 4 scattered calls prove nothing


def test_normalising_by_the_reference_workload_divides_out_the_process_level():
    base, new = run(10.0, seed=1), run(13.0, seed=2)  # everything 30% slower...
    refs = (run(1.0, seed=3), run(1.3, seed=4))       # ...the reference workload too
    plain = compare(base, new, "median:10%")
    normalized = compare(base, new, "median:10%", references=refs)
    assert plain.verdict == "regressed"
    assert normalized.normalized and normalized.verdict == "ok"
    assert normalized.ratio == pytest.approx(1.0, abs=0.03)
    assert "normalized by the reference workload" in normalized.message()


# --------------------------------------------------------------------------- the pure parts
@pytest.mark.parametrize("p, df, expected", [
    (0.975, 1, 12.7062), (0.975, 2, 4.302653), (0.975, 4, 2.776445), (0.975, 9, 2.262157),
    (0.995, 3, 5.840909), (0.95, 30, 1.697261), (0.975, math.inf, 1.959964)])
def test_t_quantiles_match_the_tables(p, df, expected):
    assert blocks.t_quantile(p, df) == pytest.approx(expected, abs=1e-4)
    assert blocks.t_cdf(expected, df) == pytest.approx(p, abs=1e-6)
    assert blocks.t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-4)


def test_block_counts_and_sizes():
    assert blocks.block_count(1000) == 8 and blocks.block_count(12) == 2
    assert blocks.block_count(3) == 1
    assert blocks.split_sizes(10, 3) == [4, 3, 3] and sum(blocks.split_sizes(1001, 8)) == 1001
    stats = LatencyStats.from_samples(list(range(1, 11)), block_sizes=[4, 3, 3],
                                      block_fresh=[False, True, True], gated_percentile=90)
    assert [b["n"] for b in stats.blocks] == [4, 3, 3]
    assert [b["median_ms"] for b in stats.blocks] == [2.5, 6.0, 9.0]
    assert [b["fresh"] for b in stats.blocks] == [False, True, True]
    assert stats.blocks[0]["gated_ms"] == pytest.approx(np.percentile([1, 2, 3, 4], 90))
    again = LatencyStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert again.blocks == stats.blocks
    with pytest.raises(ValueError, match="do not add up"):
        LatencyStats.from_samples([1.0, 2.0], block_sizes=[3])


# --------------------------------------------------------------------------- files
def _doc(*records, format_=None) -> dict:
    from pytest_tfperf.results.file import build_document
    from pytest_tfperf.results.session import SessionResults

    results = SessionResults()
    results.extend("measurement", records)
    doc = build_document(results, machine={"node": "vm"}, commit={})
    if format_ is not None:
        doc["tfperf"]["format"] = format_
    return doc


def test_an_old_baseline_without_blocks_is_compared_with_blocks_cut_from_its_samples(tmp_path):
    old = run(10.0, seed=1, per_block=60)
    old.stats.pop("blocks")
    path = tmp_path / "old.json"
    text = json.dumps(_doc(old, format_=1))
    path.write_text(text)
    doc = baseline.load_baseline(str(path))
    (c,) = baseline.compare_runs(doc, from_document(_doc(run(13.0, seed=2))), ["median:10%"])
    assert c.verdict == "regressed" and c.base_blocks == 8
    assert "baseline without blocks" in c.note
    (warning,) = baseline.comparison_warnings(doc, from_document(_doc(run(13.0, seed=2))))
    assert "without timing blocks" in warning and "old.json" in warning
    assert path.read_text() == text  # nothing rewritten


@pytest.mark.parametrize("change, needle", [
    (lambda d: d["tfperf"].update(format=99), "tfperf.format 99: it was written by a newer"),
    (lambda d: d["tfperf"]["measurements"][0]["stats"].update(blocks="x"),
     "stats.blocks must be a list of objects"),
    (lambda d: d["tfperf"]["measurements"][0]["stats"]["blocks"][2].update(median_ms="slow"),
     "stats.blocks[2].median_ms must be a number"),
])
def test_a_corrupt_or_newer_baseline_is_a_clear_error_and_left_untouched(tmp_path, change, needle):
    doc = _doc(run(10.0, seed=1))
    change(doc)
    path = tmp_path / "base.json"
    path.write_text(json.dumps(doc))
    before = path.read_bytes()
    with pytest.raises(BaselineError) as info:
        baseline.load_baseline(str(path))
    assert needle in str(info.value) and str(path) in str(info.value)
    assert "left untouched" in str(info.value)
    assert path.read_bytes() == before


def test_summary_line_in_tfperf_compare(tmp_path, capsys):
    base_doc = _doc(run(10.0, seed=1, test_id="t.py::test_a"), run(10.0, seed=2, test_id="t.py::test_b"),
                    run(10.0, seed=3, test_id="t.py::test_c"), run(10.0, seed=4, test_id="t.py::test_d"))
    new_doc = _doc(run(10.1, seed=5, test_id="t.py::test_a"), run(13.0, seed=6, test_id="t.py::test_b"),
                   run(7.0, seed=7, test_id="t.py::test_c"), run(11.2, seed=8, test_id="t.py::test_d"))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(base_doc))
    b.write_text(json.dumps(new_doc))
    assert cli.main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "4 compared: 1 regressed, 1 improved, 1 noise" in out
    assert "4% between-run floor" in out
    assert cli.main(["compare", str(a), str(b), "--normalize"]) == 1
    assert "--tfperf-normalize: the baseline has no reference workload timing" in \
        capsys.readouterr().out
    assert cli.main(["compare", str(a), str(b), "--noise", "0", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["summary"] == {"ok": 1, "improved": 1, "noise": 0, "regressed": 2}
    base_doc, new_doc = from_document(base_doc), from_document(new_doc)
    comparisons = baseline.compare_runs(base_doc, new_doc)  # display threshold only: "slower"
    assert comparison_summary(comparisons)[-1] == "4 compared: 0 regressed, 1 slower, 1 improved, 1 noise, 1 ok"
    enforced = baseline.compare_runs(base_doc, new_doc, ["median:10%"])
    assert comparison_summary(enforced)[-1] == "4 compared: 1 regressed, 1 improved, 1 noise, 1 ok"
