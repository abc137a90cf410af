"""The reference workload timed between a measurement's calls, and comparisons that judge
model / reference when the reference moved between runs (issue 19).

Real TensorFlow for the timing; the comparison rules on fixed records.
"""
from __future__ import annotations

import numpy as np
import pytest

from pytest_tfperf import baseline
from pytest_tfperf.baseline.normalize import REF_MOVED
from pytest_tfperf.model import zoo
from pytest_tfperf.results.records import MeasurementRecord
from pytest_tfperf.timing import clocks, workload
from pytest_tfperf.timing.engine import TimingSettings, measure
from pytest_tfperf.timing.stats import LatencyStats

FAST = TimingSettings(warmup=3, warmup_time=0.05, min_runs=10, min_time=0.1, max_time=0.5)


@pytest.fixture(scope="module")
def model():
    from pytest_tfperf import load

    fg = load(zoo.small_convnet_graph(input_size=32, channels=(8, 16)))
    fg.set_threads(1, None)
    yield fg, np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
    fg.close()


def test_reference_is_interleaved_one_median_per_block_of_a_cpu_judged_measurement(model):
    fg, image = model
    stats = measure(fg, image, settings=FAST.replace(reference=True))
    assert stats.clock == "cpu"
    contention = stats.contention
    assert contention["reference"] == "interleaved"
    per_block = contention["reference_cpu_ms"]
    assert len(per_block) == len(stats.blocks) >= 2
    # slices of >= 3 calls every 20 ms of the model's calls over >= 0.1 s
    assert contention["reference_calls"] >= 3 * 4
    probe = workload.probe(1)["cpu_ms"]  # the same workload timed on its own
    assert all(0.5 * probe < v < 2.0 * probe for v in per_block)
    # the reference's time is not the model's: its calls are not among the samples
    assert stats.median_ms < 0.5 * probe and stats.n == len(stats.samples_ms)


def test_wall_judged_measurement_probes_the_reference_before_and_after(model):
    fg, image = model
    stats = measure(fg, image, settings=FAST.replace(reference=True, clock="wall"))
    assert "reference" not in stats.contention
    assert len(stats.contention["reference_cpu_ms"]) == 2
    assert len(stats.contention["reference_wall_ms"]) == 2


def test_no_reference_unless_asked(model):
    fg, image = model
    stats = measure(fg, image, settings=FAST)
    assert not any(k.startswith("reference") for k in stats.contention)


def test_interleave_runs_a_slice_once_its_period_passed_and_says_how_long():
    inter = workload.Interleave(intra_op=1, every_s=0.0, slice_s=0.002)
    spent = inter(7)
    assert spent > 0 and inter.marks[0][0] == 7 and len(inter.marks[0][1]) >= workload.SLICE_CALLS
    inter = workload.Interleave(intra_op=1, every_s=60.0)
    assert inter(1) == 0 and inter.marks == []
    inter.begin()
    assert inter.marks == []


def _stats(cpu, ref, n=40, seed=0, interleaved=True, step=0.0):
    """Stats judged on one thread's CPU, blocks of 5 calls, the reference's per-block medians
    (`step`: the model and its reference both drift by this fraction per block)."""
    rng = np.random.default_rng(seed)
    k = n // 5
    drift = np.repeat(1.0 + step * np.arange(k), 5)
    calls = cpu * rng.normal(1.0, 0.01, n) * drift
    contention = {**clocks.contention_record({}, {}, cpu, cpu, 1, "threads"),
                  "reference_cpu_ms": [ref * (1.0 + step * i) * rng.normal(1.0, 0.005)
                                       for i in range(k if interleaved else 2)]}
    if interleaved:
        contention["reference"] = "interleaved"
    return LatencyStats.from_samples(
        calls, cpu_samples_ms=calls, clock="cpu", block_sizes=[5] * k, contention=contention,
        cpu_clock={"source": "threads", "threads": 1, "text": "caller"}).to_dict()


def _rec(stats):
    return MeasurementRecord(test_id="t.py::test_m", name="m", stats=stats)


def test_a_moved_reference_turns_a_shared_slowdown_into_no_change():
    # every CPU second 25% slower in the new run (the host's SMT sibling): model and reference
    base, shared = _rec(_stats(0.16, 0.48, seed=1)), _rec(_stats(0.20, 0.60, seed=2))
    c = baseline.compare_measurement(base, shared, ["median:10%"])
    assert c.verdict == "ok" and c.normalized and c.ratio == pytest.approx(1.0, abs=0.03)
    assert "the reference workload ran +25." in c.note and "% in this run against" in c.note
    assert "judged on model / reference" in c.note
    # ...and a real 1.3x slowdown on top of it is still one
    slow = _rec(_stats(0.26, 0.60, seed=3))
    c = baseline.compare_measurement(base, slow, ["median:10%"])
    assert c.verdict == "regressed" and c.normalized and c.ratio == pytest.approx(1.3, rel=0.03)


def test_a_reference_that_stayed_leaves_the_comparison_alone():
    base, slow = _rec(_stats(0.16, 0.48, seed=1)), _rec(_stats(0.21, 0.485, seed=2))
    c = baseline.compare_measurement(base, slow, ["median:10%"])
    assert c.verdict == "regressed" and not c.normalized and "reference" not in c.note
    assert c.ratio == pytest.approx(0.21 / 0.16, rel=0.02)
    # moved by less than REF_MOVED: left alone too
    near = _rec(_stats(0.16 * 1.03, 0.48 * (1 + REF_MOVED * 0.6), seed=3))
    assert not baseline.compare_measurement(base, near, ["median:10%"]).normalized


def test_reference_paired_per_block_cancels_a_drift_inside_a_run():
    # the new run's CPU seconds slow down block by block (+5% each): the paired ratio is flat
    base, drifting = _rec(_stats(0.16, 0.48, seed=1)), _rec(_stats(0.16, 0.48, seed=2, step=0.05))
    c = baseline.compare_measurement(base, drifting, ["median:10%"])
    assert c.normalized and c.verdict == "ok"
    assert c.ratio == pytest.approx(1.0, abs=0.02) and c.ci_high / c.ci_low < 1.12


def test_one_side_without_an_interleaved_reference_is_compared_as_is():
    base = _rec(_stats(0.16, 0.48, seed=1, interleaved=False))  # probes only (or none)
    shared = _rec(_stats(0.20, 0.60, seed=2))
    c = baseline.compare_measurement(base, shared, ["median:10%"])
    assert c.verdict == "regressed" and not c.normalized
    # --tfperf-normalize asks for the ratio whatever moved: the probes' levels are used
    c = baseline.compare_measurement(base, shared, ["median:10%"], references=())
    assert c.normalized and c.verdict == "ok"
