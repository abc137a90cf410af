"""Sweeps (`timing/sweep.py`) and the closed-loop driver (`timing/closed_loop.py`): throughput
accounting, concurrency that really overlaps, the stopping rule, fixed and dynamic batch, TFLite,
the Pareto front and the JSON contract. Real TensorFlow models; no timing thresholds tighter
than what a loaded 2-core machine gives (the driver's arithmetic is checked on sleeps, whose
duration is a floor the OS guarantees)."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from pytest_tfperf.errors import ConfigError, InputError, ModelLoadError
from pytest_tfperf.timing.blocks import t_quantile
from pytest_tfperf.timing.closed_loop import run_closed_loop, throughput_interval, window_fps
from pytest_tfperf.timing.settings import TimingSettings
from pytest_tfperf.timing.sweep import SweepPoint, SweepResult, sweep

QUICK = dict(min_time=0.1, max_time=0.4, warmup=1)


@pytest.fixture(scope="module")
def dynamic_graph():
    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    return load(zoo.small_convnet_graph(input_size=32))


def test_window_fps_counts_each_request_by_its_share_of_each_block():
    ms = 1_000_000
    starts = np.array([0, 10, 20, 30]) * ms   # four requests of 10 ms back to back...
    ends = np.array([10, 20, 30, 40]) * ms
    fps = window_fps(starts, ends, 0, 40 * ms, 2, batch=4)  # ...in two 20 ms blocks
    assert fps.tolist() == pytest.approx([2 * 4 / 0.020] * 2)
    # a block edge through the middle of a request splits it by time
    fps = window_fps(starts, ends, 0, 40 * ms, 4 * 2, batch=1)
    assert fps.tolist() == pytest.approx([0.5 / 0.005] * 8)
    # the part of a request outside [lo, hi) is not counted
    fps = window_fps(starts, ends, 5 * ms, 25 * ms, 1, batch=1)
    assert fps.tolist() == pytest.approx([2.0 / 0.020])


def test_throughput_interval_is_students_t_over_the_blocks():
    blocks = [100.0, 110.0, 90.0, 105.0]
    lo, hi = throughput_interval(blocks)
    half = t_quantile(0.975, 3) * np.std(blocks, ddof=1) / 2
    assert (lo, hi) == pytest.approx((101.25 - half, 101.25 + half))
    assert throughput_interval([100.0]) is None


@pytest.mark.parametrize("clients", [1, 3])
def test_closed_loop_throughput_of_sleeping_clients(clients):
    """Each request sleeps 10 ms (the GIL is free meanwhile): C clients at batch 4 can serve at
    most C x 4 / 0.010 inferences/s, and about that many when the threads really overlap."""
    settings = TimingSettings(min_time=0.3, max_time=0.6, warmup=1, warmup_time=0.0)
    run = run_closed_loop([lambda: time.sleep(0.010)] * clients, batch=4, settings=settings)
    ideal = clients * 4 / 0.010
    assert 0.5 * ideal < run.throughput <= 1.02 * ideal
    assert run.concurrency == clients and run.batch == 4
    assert min(run.latencies_ms) >= 10.0  # a sleep never returns early
    lo, hi = run.throughput_ci
    assert lo <= run.throughput <= hi


def test_closed_loop_stops_as_soon_as_a_budget_is_clear():
    settings = TimingSettings(min_time=0.05, max_time=5.0, warmup=1, warmup_time=0.0)
    t0 = time.perf_counter()
    run = run_closed_loop([lambda: time.sleep(0.002)], batch=1, settings=settings,
                          fps_target=1e6)  # impossible: decided on the first check
    assert run.stop_reason == "budget" and time.perf_counter() - t0 < 2.0


def test_closed_loop_reraises_a_client_error():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) > 5:
            raise RuntimeError("kernel failed")
    with pytest.raises(RuntimeError, match="kernel failed"):
        run_closed_loop([flaky, lambda: time.sleep(0.001)], batch=1,
                        settings=TimingSettings(min_time=0.1, max_time=1.0, warmup=1))


def test_sweep_of_a_dynamic_batch_graph(dynamic_graph):
    result = sweep(dynamic_graph, batch=[1, 4], intra_threads=[1], concurrency=[1, 2], **QUICK)
    assert [p.key for p in result.points] == [(1, 1, 1), (1, 1, 2), (4, 1, 1), (4, 1, 2)]
    for p in result.points:
        assert p.throughput > 0 and p.n > 0 and p.p50_ms <= p.p99_ms <= p.max_ms
        # one client: throughput ~ batch / mean latency (the calls are back to back); never
        # above it, and below it only by the client's waits between calls, which a busy machine
        # makes long (0.71x beside 6 CPU-bound neighbours): a batch counted once per request
        # (0.25x at batch 4) or twice (2x) still fails
        if p.concurrency == 1:
            back_to_back = p.batch * 1000 / p.mean_ms
            assert 0.4 * back_to_back < p.throughput < 1.25 * back_to_back
        assert 0 <= p.cpu_util <= 1.5
    assert result.device == "CPU" and result.runtime.startswith("tensorflow ")
    assert result.inputs[0]["shape"] == [1, 32, 32, 3]  # one request's first item
    assert result.best() is max(result.points, key=lambda p: p.throughput)


def test_the_inputs_each_request_feeds_are_the_given_ones_tiled(dynamic_graph):
    from pytest_tfperf.timing.sweep import batched

    x = np.arange(2 * 32 * 32 * 3, dtype=np.float32).reshape(2, 32, 32, 3)
    fed = batched({"input_node:0": x}, 5)["input_node:0"]
    assert fed.shape == (5, 32, 32, 3) and np.array_equal(fed[4], x[0]) and np.array_equal(fed[3], x[1])
    # the model's answer for a tiled request is its answer for each item
    out, = dynamic_graph.run(fed)
    ref, = dynamic_graph.run(x)
    np.testing.assert_allclose(out[:2], ref, rtol=1e-5, atol=1e-5)


def test_fixed_batch_is_a_clear_error(dynamic_graph):
    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    pinned = load(zoo.small_convnet_graph(input_size=32), input_shapes=[[1, 32, 32, 3]])
    with pytest.raises(InputError, match=r"fixed batch dimension of 1 .*input_node:0.*batch 4, 8 "
                                         r"cannot be fed.*batch=\[1\].*dynamic batch"):
        sweep(pinned, batch=[1, 4, 8], intra_threads=[1], concurrency=[1], **QUICK)
    assert len(sweep(pinned, batch=[1], intra_threads=[1], concurrency=[1], **QUICK).points) == 1


def test_a_graph_that_drops_the_batch_is_refused():
    """Reshape to [1, -1]: a batch of 4 comes out as one row, so '4 inferences' would be a lie."""
    import tensorflow as tf

    from pytest_tfperf import load

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        tf.identity(tf.reshape(x * 2.0, [1, -1]), name="y")
    with pytest.raises(ModelLoadError, match=r"answered a batch of 4 with output y:0 of shape \[1, 16\]"):
        sweep(load(g), batch=[4], intra_threads=[1], concurrency=[1], **QUICK)


def test_bad_arguments_name_themselves(dynamic_graph):
    with pytest.raises(ConfigError, match=r"sweep\(batch=...\).*Received: batch=\[0, 2\]"):
        sweep(dynamic_graph, batch=[0, 2])
    with pytest.raises(ConfigError, match=r"intra_threads"):
        sweep(dynamic_graph, intra_threads="two")
    with pytest.raises(ConfigError, match=r"within_p99_ms"):
        sweep(dynamic_graph, within_p99_ms=-1)


def test_tflite_threads_and_batch_resized(tmp_path):
    import keras

    from pytest_tfperf.edge import to_tflite

    x = keras.Input((16, 16, 3))
    y = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3)(x))
    tfl = to_tflite(keras.Model(x, keras.layers.Dense(4)(y)))
    assert tfl.inputs[0].shape[0] is None  # a dynamic batch: resized per configuration
    result = sweep(tfl, batch=[1, 8], intra_threads=[1, 2], concurrency=[1], **QUICK)
    assert [p.key for p in result.points] == [(1, 1, 1), (1, 2, 1), (8, 1, 1), (8, 2, 1)]
    assert result.runtime.startswith(("ai_edge_litert", "tf.lite"))
    # the interpreter answers a batch of 8 with 8 rows (checked on every first call), and the
    # model's own shared interpreter keeps its single thread
    assert tfl.num_threads == 1 and tfl.runner(np.zeros((8, 16, 16, 3), np.float32))()[0].shape == (8, 4)

    x = keras.Input((16, 16, 3), batch_size=1)
    fixed = to_tflite(keras.Model(x, keras.layers.Dense(4)(keras.layers.Flatten()(x))))
    with pytest.raises(InputError, match=r"fixed batch dimension of 1"):
        sweep(fixed, batch=[2], **QUICK)


def _point(batch, threads, clients, fps, p99, **kw):
    return SweepPoint(batch=batch, intra_threads=threads, concurrency=clients, throughput=fps,
                      throughput_ci=(fps * 0.9, fps * 1.1), n=100, p50_ms=p99 / 2, p90_ms=p99 * 0.8,
                      p95_ms=p99 * 0.9, p99_ms=p99, mean_ms=p99 / 2, min_ms=p99 / 3, max_ms=p99,
                      p99_ci_ms=(p99 * 0.9, p99 * 1.2), p99_rough=True, cpu_util=0.5, seconds=1.0,
                      stop_reason="precision", **kw)


def test_pareto_front_best_and_the_json_contract():
    points = (_point(1, 1, 1, 100, 10), _point(1, 2, 1, 150, 8),   # b1t2 beats b1t1 on both
              _point(8, 1, 1, 400, 30), _point(8, 1, 2, 390, 60),  # b8c2 is beaten by b8c1
              _point(32, 1, 1, 500, 90))
    result = SweepResult(model="m.pb", model_id="/x/m.pb", runtime="tensorflow", device="CPU",
                         cores=2, points=points, within_p99_ms=40)
    assert [p.key for p in result.pareto()] == [(1, 2, 1), (8, 1, 1), (32, 1, 1)]
    assert result.best().key == (32, 1, 1) and result.best(40).key == (8, 1, 1)
    assert result.best(5) is None
    assert result.point(8, concurrency=2).throughput == 390
    data = json.loads(json.dumps(result.to_dict()))
    for c in data["configurations"]:
        assert {"batch", "intra_threads", "concurrency", "throughput", "p50_ms", "p99_ms",
                "throughput_ci"} <= set(c)
    assert [c["pareto"] for c in data["configurations"]] == [False, True, True, False, True]
    assert data["best_within_p99"]["batch"] == 8
    assert SweepResult.from_dict(data).to_dict() == data


def test_report_text_fits_and_says_what_the_cpu_serves():
    from pytest_tfperf.report.sweep_text import render_sweep, sweep_svg

    points = (_point(1, 1, 1, 100.04, 10), _point(8, 2, 2, 412.34, 61.2))
    data = SweepResult(model="alexnet.pb", model_id=None, runtime="tensorflow 2.21.0",
                       device="CPU", cores=2, points=points, within_p99_ms=20).to_dict()
    for width in (60, 80, 120):
        text = render_sweep(data, width=width)
        assert all(len(line) <= width for line in text.splitlines()), text
    text = render_sweep(data, width=200)
    assert "at batch 8 (2 threads, 2 clients) this CPU serves 412.3 inferences/s at p99 ~61.2 ms" in text
    assert "best within p99 <= 20.0 ms: at batch 1" in text
    svg = sweep_svg(data)
    assert svg.startswith("<svg") and svg.count("<circle") == 2 + 2  # two points, two legend dots
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    import xml.etree.ElementTree as ET

    ET.fromstring(svg)  # well-formed: browsers draw it inline


def test_throughput_is_nan_safe_in_records():
    p = _point(1, 1, 1, math.nan, 10)
    assert p.to_dict()["throughput"] is None


def test_a_starved_configuration_is_said_to_measure_the_neighbours():
    from pytest_tfperf.timing.sweep import busy_notes

    import dataclasses

    quiet = _point(1, 1, 1, 100, 10)                                  # 0.5 of 2 cores = 1 core
    starved = dataclasses.replace(_point(8, 1, 2, 100, 10), cpu_util=0.2)  # 0.4 of 2 cores
    assert quiet.cpu_share(2) == pytest.approx(1.0) and starved.cpu_share(2) == pytest.approx(0.2)
    assert busy_notes([quiet], 2) == []
    note, = busy_notes([quiet, starved], 2)
    assert note.startswith("machine busy: in 1 of 2 configurations") and "batch 8, 1 thread, concurrency 2, 20%" in note


def test_a_sweep_record_survives_the_result_file():
    """Written by `results.file` (the pytest JSON report, `--tfperf-save`) and read back typed."""
    from pytest_tfperf.results.file import build_document, from_document
    from pytest_tfperf.results.records import SweepRecord
    from pytest_tfperf.results.session import SessionResults

    table = SweepResult(model="m.pb", model_id="/p/m.pb", runtime="tensorflow", device="CPU",
                        cores=2, points=(_point(1, 1, 1, 100, 10), _point(8, 1, 2, 300, 40))).to_dict()
    results = SessionResults()
    results.add("sweep", SweepRecord(test_id="t.py::test_x", model="m.pb", model_id="/p/m.pb",
                                     table=table))
    doc = json.loads(json.dumps(build_document(results, machine={}, commit={})))
    assert [c["throughput"] for c in doc["tfperf"]["sweeps"][0]["table"]["configurations"]] == [100, 300]
    back, = from_document(doc).results.sweeps
    assert isinstance(back, SweepRecord) and back.test_id == "t.py::test_x"
    assert SweepResult.from_dict(back.table).point(8, 1, 2).throughput == 300
