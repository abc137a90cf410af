"""TFLite models through the plugin: the `tfperf` fixture (load, measure, to_tflite, variants),
the ini keys `tfperf_tflite_threads` / `tfperf_tflite_xnnpack`, budgets on TFLite figures, the
runtime in every measurement, and the variant table in every report format."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

ASTRONAUT = Path(__file__).resolve().parents[2] / "example_project" / "images" / "astronaut.jpg"

PROJECT_TESTS = '''
import numpy as np
import pytest


@pytest.mark.latency_budget(ms=10000)
@pytest.mark.size_budget(mb=1)
@pytest.mark.param_budget("10k")
def test_tflite_within_budgets(tfperf):
    m = tfperf.load("cnn.tflite")
    assert (m.num_threads, m.delegate) == (2, "none")      # the ini keys
    stats = tfperf.measure(m, min_time=0.02, max_time=0.1)  # on its sample image
    assert stats.runtime.startswith("ai_edge_litert ") and stats.runtime.endswith("(none, 2 threads)")
    assert tfperf.summarize(m).weight_params == m.weight_params


@pytest.mark.latency_budget(ms=0.0001)
def test_tflite_over_latency_budget(tfperf):
    tfperf.measure(tfperf.load("cnn.tflite"), min_time=0.02, max_time=0.1)


@pytest.mark.size_budget(mb=0.001)
def test_tflite_over_size_budget(tfperf):
    tfperf.load("cnn.tflite")


@pytest.mark.param_budget(100)
def test_tflite_over_param_budget(tfperf):
    tfperf.load("cnn.tflite")


@pytest.mark.flops_budget("1M")
def test_tflite_flops_budget_is_an_error_not_a_pass(tfperf):
    tfperf.load("cnn.tflite")


def test_int8_calibrated_on_the_sample_image(tfperf, tmp_path):
    int8 = tfperf.to_tflite("cnn.keras", tmp_path / "q.tflite", quantize="int8")
    assert int8.inputs[0].dtype == "int8" and (int8.num_threads, int8.delegate) == (2, "none")
    assert (tmp_path / "q.tflite").stat().st_size == int8.size_bytes
    report = tfperf.assert_equivalent("cnn.keras", int8, atol=0.1, rtol=0)
    assert 0 < report.outputs[0].max_abs_error < 0.1


def test_int8_without_a_sample_image_says_what_to_pass(tfperf):
    import keras
    x = keras.Input((4,), name="x")
    model = keras.Model(x, keras.layers.Dense(2, name="d")(x))
    with pytest.raises(Exception, match=r"no sample image to calibrate on.*representative="):
        tfperf.to_tflite(model, quantize="int8")


def test_variant_table(tfperf):
    graph = tfperf.load("cnn.keras")
    stats = tfperf.measure(graph, min_time=0.02, max_time=0.1)
    assert stats.runtime.startswith("tensorflow 2.")
    table = tfperf.variants(graph, rows=["frozen graph", "tflite fp32", "tflite int8"], rounds=1,
                            min_time=0.01, max_time=0.03, debug_layers=2)
    assert table.inputs == "sample image astronaut.jpg (unit preprocess)"
    assert all(r.ok for r in table.rows), [r.error for r in table.rows]
    assert "(none, 2 threads)" in table.row("tflite int8").runtime
'''


def _project(pytester):
    from pytest_tfperf.model import zoo
    from pytest_tfperf.edge import to_tflite

    model = zoo.keras_bn_cnn(input_size=32, filters=(8, 16))
    model.save(pytester.path / "cnn.keras")
    to_tflite(model, pytester.path / "cnn.tflite")
    shutil.copy(ASTRONAUT, pytester.path / "astronaut.jpg")
    pytester.makeini("[pytest]\ntfperf_tflite_threads = 2\ntfperf_tflite_xnnpack = false\n"
                     "tfperf_sample_image = astronaut.jpg\ntfperf_preprocess = unit\n")
    pytester.makepyfile(test_edge=PROJECT_TESTS)
    return model


def test_tflite_through_the_fixture_budgets_runtime_and_every_report(pytester):
    model = _project(pytester)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--tfperf-report", "--tfperf-json=r.json",
        "--tfperf-markdown=r.md", "--tfperf-html=r.html")
    text = result.stdout.str()
    result.assert_outcomes(passed=4, failed=3, errors=1)
    # budgets fail on the TFLite figures, naming what was measured or counted
    assert "latency_budget: p50" in text and "cnn.tflite" in text
    assert "size_budget" in text and "param_budget" in text
    assert "flops_budget" in text and "is not a TensorFlow graph" in text

    doc = json.loads((pytester.path / "r.json").read_text())["tfperf"]
    runtimes = {m["test_id"].split("::")[1]: m["runtime"] for m in doc["measurements"]}
    assert runtimes["test_tflite_within_budgets"].endswith("(none, 2 threads)")
    assert runtimes["test_variant_table"].startswith("tensorflow 2.")
    assert all(m["stats"]["runtime"] == m["runtime"] for m in doc["measurements"])
    benchmarks = json.loads((pytester.path / "r.json").read_text())["benchmarks"]
    assert {b["extra_info"]["tfperf"]["runtime"] for b in benchmarks} == set(runtimes.values())
    tflite_rows = [m for m in doc["models"] if m["model_kind"] == "tflite"]
    fp32 = next(m for m in tflite_rows if m["model"] == "cnn.tflite")
    from pytest_tfperf.model.tflite import load_tflite

    # the flatbuffer's constant weights (batch norms folded away: fewer than Keras counts)
    weights = fp32["summary"]["weight_params"]
    assert weights == load_tflite(pytester.path / "cnn.tflite").weight_params
    assert 0.9 * model.count_params() < weights < model.count_params()
    assert fp32["runtime"] == "ai_edge_litert"

    table, = doc["variants"]
    assert table["test_id"].endswith("test_variant_table")
    assert [r["variant"] for r in table["table"]["variants"]] == ["frozen graph", "tflite fp32",
                                                                  "tflite int8"]
    assert "tfperf variants" in text and "tflite int8" in text.split("tfperf variants", 1)[1]
    markdown = (pytester.path / "r.md").read_text()
    assert "### Variants" in markdown and "| tflite int8 |" in markdown
    html = (pytester.path / "r.html").read_text()
    section = html.split('<h2 id="variants">', 1)[1]
    assert '<table class="variants">' in section and "<td>tflite int8</td>" in section
