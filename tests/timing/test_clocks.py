"""The two clocks (issue 19): which threads run a model, the clock that judges, contention.

Real TensorFlow for thread discovery; the judging rules and messages on fixed records.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pytest_tfperf import baseline
from pytest_tfperf.errors import ConfigError
from pytest_tfperf.model import zoo
from pytest_tfperf.plugin.budgets import LatencyBudget, check_latency
from pytest_tfperf.results.records import MeasurementRecord
from pytest_tfperf.timing import clocks
from pytest_tfperf.timing.engine import TimingSettings, measure
from pytest_tfperf.timing.stats import LatencyStats

FAST = TimingSettings(warmup=3, warmup_time=0.05, min_runs=10, min_time=0.05, max_time=0.5)


@pytest.fixture(scope="module")
def model():
    from pytest_tfperf import load

    fg = load(zoo.small_convnet_graph(input_size=32, channels=(8, 16)), outputs=["logits_layer/BiasAdd"])
    fg.set_threads(1, None)
    yield fg, np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
    fg.close()


def _spinner():
    """A thread of this process burning CPU until stopped (as OpenBLAS workers do after a
    matmul): it must not count as the model's work."""
    stop = threading.Event()
    ident = []

    def spin():
        ident.append(threading.get_native_id())
        while not stop.is_set():
            pass
    t = threading.Thread(target=spin, daemon=True)
    t.start()
    while not ident:
        time.sleep(0.001)
    return stop, t, ident[0]


def test_thread_clock_reads_a_threads_own_cpu_time():
    before = time.clock_gettime_ns(clocks.thread_clock_id(threading.get_native_id()))
    own = time.thread_time_ns()
    end = own + 20_000_000
    while time.thread_time_ns() < end:
        pass
    after = time.clock_gettime_ns(clocks.thread_clock_id(threading.get_native_id()))
    # the per-thread clock of this thread's id is this thread's CPU clock (Python's own)
    assert after - before == pytest.approx(time.thread_time_ns() - own, rel=0.05)


def test_inline_session_runs_on_the_calling_thread_alone(model):
    fg, image = model  # one intra-op thread, inter-op unset: every op inline (session_threads)
    run = fg.make_callable(image)
    run()
    before = clocks.thread_times()
    for _ in range(30):
        run()
    clock = clocks.discover(before, clocks.thread_times(), "tensorflow")
    assert clock.text == "caller thread" and clock.tids == (threading.get_native_id(),)
    assert clock.other_share < 0.1  # no pool thread did the work


def test_discovery_finds_the_caller_and_tensorflow_pool_not_other_threads(model):
    fg, image = model
    fg.set_threads(1, 1)  # one inter-op pool thread: TensorFlow's tf_Compute runs the ops
    stop, t, spinner = _spinner()
    try:
        run = fg.make_callable(image)
        run()
        before = clocks.thread_times()
        for _ in range(30):
            run()
        after = clocks.thread_times()
    finally:
        stop.set()
        t.join()
        fg.set_threads(1, None)
    clock = clocks.discover(before, after, "tensorflow")
    tf_threads = [tid for tid in clock.tids if after[tid][0].startswith("tf_")]
    assert clock.source == "threads" and clock.tids[0] == threading.get_native_id()
    assert tf_threads and spinner not in clock.tids
    assert clock.other_share > 0.2  # the spinner's CPU was seen, and left out
    assert clock.text.startswith("caller + ") and "tf_" in clock.text
    # nothing to tell apart for a callable: the process clock, and it says so
    assert clocks.discover(before, after, "other").source == "process"


def test_thread_cpu_excludes_a_spinning_neighbour_thread_that_process_cpu_counts(model):
    fg, image = model
    run = fg.make_callable(image)
    stop, t, _ = _spinner()
    try:
        threads = measure(fg, image, settings=FAST)
        # the same session behind a plain callable: no threads to tell apart, process clock
        process = measure(lambda: run(), settings=FAST.replace(clock="cpu"))
    finally:
        stop.set()
        t.join()
    assert threads.clock == "cpu"  # auto: a TF session with one intra-op thread
    assert threads.cpu_clock["source"] == "threads" and len(threads.cpu_samples_ms) == threads.n
    assert process.cpu_clock["source"] == "process" and process.judged().samples_clock == "cpu"
    # the spinner is always runnable, so over the calls it gets at least the model's share of
    # the CPUs (on a busy machine it rarely runs *during* the median call: means, not medians):
    # the process clock counts it, the model threads' clock does not
    assert np.mean(process.cpu_samples_ms) > 1.4 * np.mean(threads.cpu_samples_ms)


def test_background_threads_are_those_that_burn_cpu_without_calls():
    before = {1: ("python", 0), 2: ("python", 0), 3: ("python", 0)}
    after = {1: ("python", 10_000_000), 2: ("python", 9_000_000), 3: ("python", 8_000_000)}
    # 10 ms of calls, then a 10 ms pause: thread 2 spins on (background); 3 went quiet (the model's)
    paused = {1: ("python", 10_000_000), 2: ("python", 18_000_000), 3: ("python", 8_100_000)}
    assert clocks.background_threads(before, after, 10_000_000, paused, 10_000_000) == {2}
    clock = clocks.discover(before, after, "tensorflow", caller=1, background=frozenset({2}))
    assert clock.tids == (1,) and clock.other_share == pytest.approx(17 / 27)
    assert clock.missed_share == pytest.approx(8 / 18) and clock.misses_the_model
    assert clock.to_dict()["missed_share"] == pytest.approx(0.4444)
    quiet = clocks.discover(before, after, "tensorflow", caller=1, background=frozenset({2, 3}))
    assert quiet.missed_share == 0 and not quiet.misses_the_model


_GLOBAL_POOL = """
import json, os, sys
os.environ.pop("TF_OVERRIDE_GLOBAL_THREADPOOL", None)
import numpy as np
import tensorflow as tf
from pytest_tfperf import load
from pytest_tfperf.model import zoo
from pytest_tfperf.timing.engine import TimingSettings, measure
tf.constant(1.0) + 1.0  # the eager context's CPU device sizes the process-wide pool: one per core
fg = load(zoo.alexnet_graph(input_size=64, dense_units=256), outputs=["logits_layer/BiasAdd"])
fg.set_threads(1, None)  # asked for one intra-op thread; the global pool runs the kernels
stats = measure(fg, settings=TimingSettings(warmup=3, warmup_time=0.2, min_runs=10, min_time=0.2,
                                             max_time=2))
print(json.dumps({"clock": stats.clock, "cpu_clock": stats.cpu_clock}))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: the global pool has one thread")
def test_kernels_on_threads_outside_the_clock_are_judged_on_wall_and_say_why(tmp_path):
    # without TF_OVERRIDE_GLOBAL_THREADPOOL a session's intra-op setting is not honoured: its
    # kernels run on the process-wide pool's unnamed threads, which the thread clock cannot
    # count as latency (two threads at once): judging CPU would miss most of the work
    env = {k: v for k, v in os.environ.items() if k != "TF_OVERRIDE_GLOBAL_THREADPOOL"}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parents[2]), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _GLOBAL_POOL], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["clock"] == "wall", out
    assert out["cpu_clock"]["missed_share"] > clocks.MISSED_LIMIT
    assert "TF_OVERRIDE_GLOBAL_THREADPOOL=1" in out["cpu_clock"]["why"]
    assert out["cpu_clock"]["judged"] == "wall"


def test_judged_clock_rules():
    assert clocks.judged_clock("auto", "tensorflow", 1)[0] == "cpu"
    assert clocks.judged_clock("auto", "litert-1", 1)[0] == "cpu"
    assert clocks.judged_clock("auto", "tensorflow", 4) == ("wall", "a pool of 4 threads: CPU time sums the threads")
    assert clocks.judged_clock("auto", "tensorflow", None)[0] == "wall"
    assert clocks.judged_clock("auto", "litert", 2)[0] == "wall"
    assert clocks.judged_clock("auto", "other", None)[0] == "wall"
    assert clocks.judged_clock("auto", "tensorflow", 1, gpu=True)[0] == "wall"
    assert clocks.judged_clock("cpu", "other", None)[0] == "cpu"
    with pytest.raises(ConfigError, match=r"did you mean 'cpu'.*Received: clock='cpuu'"):
        TimingSettings(clock="cpuu")


def test_a_sleeping_callable_is_judged_on_wall(model):
    stats = measure(lambda: time.sleep(0.002), settings=FAST)
    assert stats.clock == "wall" and stats.cpu_clock["source"] == "process"
    assert stats.median_ms >= 2.0 and stats.cpu_median_ms < 1.0  # sleeping is not CPU
    assert stats.judged() is stats


def _stats(wall, cpu, contention=None, clock="cpu", n=40, seed=0):
    rng = np.random.default_rng(seed)
    jitter = rng.normal(1.0, 0.01, n)
    return LatencyStats.from_samples(
        np.asarray(wall) * jitter if np.ndim(wall) else wall * jitter,
        cpu_samples_ms=cpu * jitter, clock=clock, block_sizes=[5] * (n // 5),
        contention=contention or {}, cpu_clock={"source": "threads", "text": "caller + 2 tf_Compute threads"})


def _busy(wall, cpu):
    return clocks.contention_record({}, {}, wall, cpu, 1, "threads")


def test_busy_message_judges_on_cpu():
    stats = _stats(163.0, 58.0, _busy(163.0, 58.0))
    verdict = check_latency(LatencyBudget(ms=100), stats)
    assert verdict.passed and verdict.value == pytest.approx(58.0, rel=0.02)
    assert "machine busy: wall 163.0 ms, CPU 58.0 ms (2.8x contention); judged on CPU" in verdict.message
    quiet = check_latency(LatencyBudget(ms=50), _stats(61.0, 58.0, _busy(61.0, 58.0)))
    assert not quiet.passed and "CPU time of caller + 2 tf_Compute threads (wall p50 61.0 ms)" in quiet.message
    assert "busy" not in quiet.message


def test_wall_judged_busy_run_says_the_verdict_may_be_the_neighbours():
    record = clocks.contention_record({"t_ns": 0, "waits": {1: 0}}, {"t_ns": 10**9, "waits": {1: 6 * 10**8}},
                                      20.0, None, None, "process", tids=(1,))
    assert record["run_wait_pct"] == pytest.approx(60.0) and clocks.is_busy(record)
    assert "waited 60% of the time for a CPU; judged on wall clock, which counts the neighbours" \
        in clocks.busy_text(record, "wall")
    assert not clocks.is_busy(clocks.contention_record({}, {}, 10.0, 9.5, 1, "threads"))


def _rec(stats):
    return MeasurementRecord(test_id="t.py::test_m", name="m", stats=stats.to_dict())


def test_compare_judges_on_cpu_across_contention():
    base = _rec(_stats(10.0, 9.5, _busy(10.0, 9.5), seed=1))
    busy_same = _rec(_stats(28.0, 9.6, _busy(28.0, 9.6), seed=2))
    c = baseline.compare_measurement(base, busy_same, ["median:10%"])
    assert c.clock == "cpu" and c.verdict == "ok" and c.new_ms == pytest.approx(9.6, rel=0.02)
    assert "this run: machine busy: wall 28.0 ms, CPU 9.60 ms (2.9x contention)" in c.note
    assert "contention differed: the baseline 1.1x wall/CPU, this run 2.9x wall/CPU" in c.note
    both = baseline.compare_measurement(busy_same, busy_same, ["median:10%"])
    assert "differed" not in both.note and "both runs: machine busy" in both.note
    slower = _rec(_stats(40.0, 13.0, _busy(40.0, 13.0), seed=3))
    assert baseline.compare_measurement(base, slower, ["median:10%"]).verdict == "regressed"


def test_one_thread_cpu_comparisons_use_the_smaller_floor():
    from pytest_tfperf.timing.blocks import CPU_RUN_NOISE, DEFAULT_RUN_NOISE

    def one(cpu, seed, threads=1, clock="cpu"):
        st = _stats(cpu * 1.01, cpu, clock=clock, seed=seed)
        return _rec(LatencyStats.from_dict({**st.to_dict(), "cpu_clock": {
            "source": "threads", "text": "caller thread", "threads": threads}}))
    # 1.11x on the CPU of one thread: real with a 2% floor per run, inconclusive with 4%
    c = baseline.compare_measurement(one(10.0, 1), one(11.1, 2), ["median:10%"])
    assert c.run_noise == CPU_RUN_NOISE == 0.02 and c.verdict == "regressed"
    pooled = baseline.compare_measurement(one(10.0, 1), one(11.1, 2, threads=3), ["median:10%"])
    assert pooled.run_noise == DEFAULT_RUN_NOISE and pooled.verdict == "noise"
    wall = baseline.compare_measurement(one(10.0, 1, clock="wall"), one(11.1, 2, clock="wall"),
                                        ["median:10%"])
    assert wall.run_noise == DEFAULT_RUN_NOISE and wall.verdict == "noise"
    same = baseline.compare_measurement(one(10.0, 1), one(10.2, 2), ["median:10%"])
    assert same.verdict == "ok"


def test_compare_on_wall_gives_no_verdict_from_a_busy_run():
    base = _rec(_stats(10.0, 9.5, _busy(10.0, 9.5), clock="wall", seed=1))
    busy = _rec(_stats(28.0, 9.6, _busy(28.0, 9.6), clock="wall", seed=2))
    c = baseline.compare_measurement(base, busy, ["median:10%"])
    assert c.clock == "wall" and c.verdict == "noise" and "no verdict" in c.note
    assert "machine busy" in c.message()


def test_a_baseline_without_cpu_times_is_compared_on_wall():
    old = MeasurementRecord(test_id="t.py::test_m", name="m", stats=LatencyStats.from_samples(
        np.full(40, 10.0), block_sizes=[5] * 8).to_dict())
    new = _rec(_stats(10.2, 9.6, _busy(10.2, 9.6), seed=2))
    c = baseline.compare_measurement(old, new, ["median:10%"])
    assert c.clock == "wall" and "kept no CPU times" in c.note and c.verdict == "ok"


def test_cpu_times_round_trip_through_json():
    import json

    stats = _stats(12.0, 9.0, _busy(12.0, 9.0))
    back = LatencyStats.from_dict(json.loads(json.dumps(stats.to_dict(), allow_nan=False)))
    assert back.cpu_samples_ms == stats.cpu_samples_ms and back.clock == "cpu"
    assert back.judged().median_ms == pytest.approx(stats.cpu_median_ms)
    assert back.blocks[0]["cpu_median_ms"] == pytest.approx(np.median(stats.cpu_samples_ms[:5]))


def test_json_entry_keeps_pytest_benchmark_stats_on_wall_and_says_busy():
    from pytest_tfperf.results.pytest_benchmark import benchmark_entry

    stats = _stats(163.0, 58.0, _busy(163.0, 58.0))
    entry = benchmark_entry(_rec(stats))
    assert entry["stats"]["median"] == pytest.approx(stats.median_ms / 1000.0)  # wall, seconds
    info = entry["extra_info"]["tfperf"]
    assert info["clock"] == "cpu" and info["cpu_median_ms"] == pytest.approx(stats.cpu_median_ms)
    assert info["busy"].startswith("machine busy: wall 163.0 ms, CPU 58.0 ms (2.8x contention)")


def test_the_models_own_ratio_decides_busy_when_it_is_known():
    waits = ({"t_ns": 0, "waits": {1: 0}}, {"t_ns": 10**9, "waits": {1: 6 * 10**8}})
    quiet_calls = clocks.contention_record(*waits, 0.25, 0.25, 1, "threads", tids=(1,))
    assert quiet_calls["run_wait_pct"] == pytest.approx(60.0) and not clocks.is_busy(quiet_calls)
    assert clocks.is_busy(clocks.contention_record(*waits, 0.4, 0.25, 1, "threads", tids=(1,)))


def test_normalize_probes_the_reference_around_each_measurement_and_compares_ratios(model):
    fg, image = model
    stats = measure(fg, image, settings=FAST.replace(reference=True))
    probes = stats.contention["reference_cpu_ms"]
    assert len(probes) == 2 and all(p > 0 for p in probes)
    assert len(stats.contention["reference_wall_ms"]) == 2

    def rec(cpu, ref):
        return _rec(_stats(cpu * 1.1, cpu, {**_busy(cpu * 1.1, cpu),
                                            "reference_cpu_ms": [ref, ref * 1.01]}))
    # every CPU second 25% slower (a neighbour on the SMT sibling): model and reference alike
    base, shared = rec(10.0, 2.0), rec(12.5, 2.5)
    assert baseline.compare_measurement(base, shared, ["median:10%"]).verdict == "regressed"
    c = baseline.compare_measurement(base, shared, ["median:10%"], references=())
    assert c.normalized and c.verdict == "ok" and c.ratio == pytest.approx(1.0, abs=0.03)


def test_header_names_the_judging_clock():
    from pytest_tfperf.plugin.header import render_header

    summary = {**TimingSettings().to_dict(), "runtime": {"tensorflow": "2.21.0"}}
    assert render_header(summary)[0].endswith("timer=perf_counter_ns clock=auto)")
