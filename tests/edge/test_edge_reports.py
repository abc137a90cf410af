"""The TFLite tools around the model: timing any Model (runtime named), summarize and `tfperf
bench` on a .tflite, the sample image of a quantized input, and the variant table's renderers
(terminal, Markdown, HTML), JSON document and shard merge."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tfl(keras_cnn, tmp_path_factory):
    from pytest_tfperf.edge import to_tflite

    return to_tflite(keras_cnn, tmp_path_factory.mktemp("edge") / "cnn.tflite")


@pytest.fixture(scope="module")
def tfl_int8(keras_cnn, image32, tmp_path_factory):
    from pytest_tfperf.edge import image_variants, to_tflite

    return to_tflite(keras_cnn, tmp_path_factory.mktemp("edge8") / "cnn8.tflite", quantize="int8",
                     representative=image_variants(image32, 4))


@pytest.fixture(scope="module")
def table_record(keras_cnn, image32):
    from pytest_tfperf.edge import variants
    from pytest_tfperf.results.records import VariantsRecord

    table = variants(keras_cnn, image32, rows=["frozen graph", "tflite fp32", "tflite int8"],
                     rounds=1, min_time=0.01, max_time=0.02, warmup=1, debug_layers=2)
    return VariantsRecord(test_id="tests/test_x.py::test_table", model=table.name,
                          model_id=table.model, table=table.to_dict())


def test_measure_times_the_models_own_runner_and_names_the_runtime(tfl, keras_cnn, image32):
    from pytest_tfperf import load
    from pytest_tfperf.timing.engine import build_runner, measure, target_kind

    assert target_kind(tfl) == "model"
    before = tfl.runner(image32)
    assert build_runner(tfl, image32).__qualname__ == before.__qualname__  # no wrapper around it
    interpreter = tfl._interpreter
    stats = measure(tfl, image32, min_time=0.02, max_time=0.1)
    assert tfl._interpreter is interpreter   # built once per model, reused by every runner
    assert stats.name == stats.model == "cnn.tflite" and stats.n >= 10
    assert stats.runtime == f"ai_edge_litert {tfl.runtime_version} (xnnpack, 1 thread)"
    # an over-budget verdict is confirmed on fresh interpreters, not on the shared one
    over = measure(tfl, image32, min_time=0.02, max_time=0.3, budget_ms=stats.min_ms / 100)
    assert over.discarded_n > 0 and tfl._interpreter is interpreter
    import tensorflow as tf

    graph = measure(load(keras_cnn), image32, min_time=0.02, max_time=0.1)
    assert graph.runtime == f"tensorflow {tf.__version__}"
    assert measure(keras_cnn, image32, min_time=0.01, max_time=0.05).runtime.startswith("keras 3")
    assert measure(lambda: None, min_time=0.01, max_time=0.02).runtime == ""
    from pytest_tfperf.timing.stats import LatencyStats

    assert LatencyStats.from_dict(stats.to_dict()) == stats
    old = {k: v for k, v in stats.to_dict().items() if k != "runtime"}  # a file from before
    assert LatencyStats.from_dict(old).runtime == ""


def test_summarize_a_tflite_model(tfl, tfl_int8, keras_cnn):
    from pytest_tfperf import summarize
    from pytest_tfperf.report.tflite_text import render_tflite_summary

    s = summarize(tfl)
    assert s.kind == "tflite" and s.op_count == 7 and s.serialized_bytes == tfl.size_bytes
    assert dict(s.op_histogram)["CONV_2D"] == 2 and s.weight_params == tfl.weight_params
    assert s.trainable_params is None
    by_path = summarize(str(tfl.path))
    assert by_path.to_dict() == s.to_dict()
    q = summarize(tfl_int8).to_dict()
    assert q["inputs"][0]["dtype"] == "int8" and len(q["inputs"][0]["quantization"]) == 2
    assert dict(q["weight_dtypes"]).keys() == {"int8", "int32"}   # int8 weights, int32 biases
    assert q["weight_params"] == s.weight_params                  # the same weights, quantized
    assert {"tensors", "ops"} <= set(q) and "tensors" not in summarize(tfl_int8).to_dict(details=False)
    text = render_tflite_summary(q)
    assert "type=int8" in text and "scale=" in text and "CONV_2D" in text and "const" in text


def _cli(name):
    import importlib

    module = importlib.import_module(f"pytest_tfperf.cli.{name}")
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers(dest="command"))
    return module, parser


def test_tfperf_summarize_and_bench_on_a_tflite_file(tfl_int8, capsys):
    summarize, parser = _cli("summarize")
    assert summarize.run(parser.parse_args(["summarize", str(tfl_int8.path)])) == 0
    assert "weight parameters (int32" in capsys.readouterr().out
    bench, parser = _cli("bench")
    args = parser.parse_args(["bench", str(tfl_int8.path), "--runs", "20", "--json"])
    assert bench.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["init_ms"] > 0 and data["first_ms"] > 0 and data["stats"]["n"] >= 20
    assert data["runtime"].startswith("ai_edge_litert") and data["per_op"] is None
    assert "not available" in data["per_op_note"] and data["summary"]["op_count"] == 7
    args = parser.parse_args(["bench", str(tfl_int8.path), "--runs", "10", "--no-xnnpack",
                              "--threads", "2", "--top", "3"])
    assert bench.run(args) == 0
    text = capsys.readouterr().out
    assert "(none, 2 threads)" in text and "first 3" in text and "per-op timings" in text


def test_a_quantized_input_gets_the_float_sample_image(tfl_int8):
    from pytest_tfperf.inputs.images import sample_image_for

    image = sample_image_for(tfl_int8, preprocess="unit")
    assert image.dtype == np.float32 and image.shape == (1, 32, 32, 3)
    assert 0.0 <= image.min() and image.max() <= 1.0   # raw int8 pixels would be -128..127
    out, = tfl_int8.run(image)
    assert out.dtype == np.float32 and abs(float(out.sum()) - 1.0) < 0.05  # softmax, dequantized


def test_variant_tables_in_every_report_format(table_record):
    from pytest_tfperf.report import html, markdown, terminal
    from pytest_tfperf.results.file import build_document, from_document
    from pytest_tfperf.results.session import SessionResults

    results = SessionResults()
    results.add("variants", table_record.to_dict())
    assert results.variants[0] == table_record
    text = "\n".join(line for _, lines in terminal.sections(results, report=True) for line in lines)
    assert "tests/test_x.py::test_table" in text and "tflite int8" in text and "fastest:" in text
    md = markdown.render(results)
    assert "### Variants" in md and "| tflite fp32 |" in md and "No tfperf measurements" not in md
    page = html.render(results)
    assert page.count('<table class="variants">') == 1 and "<td>tflite int8</td>" in page
    assert "largest quantization error" in page
    doc = json.loads(json.dumps(build_document(results, machine={}, commit={})))
    assert doc["tfperf"]["variants"][0]["table"]["variants"][1]["variant"] == "tflite fp32"
    again = from_document(doc).results
    assert again.variants == results.variants


def _variants_section(record, width: int) -> list[str]:
    from pytest_tfperf.report import terminal
    from pytest_tfperf.results.session import SessionResults

    results = SessionResults()
    results.add("variants", record)
    return dict(terminal.sections(results, report=True, width=width))["tfperf variants"]


def test_variant_tables_fit_the_terminal(table_record):
    # issue 14 item 2: at 80 columns nothing identifying is cut (wrapped instead); at 160 one
    # line per variant. The runtime cell (~40 columns) and TFLite's fused tensor names are long.
    import dataclasses

    long_id = "tests/edge/test_deployment_targets.py::test_every_variant_of_the_classifier[mobile-int8]"
    record = dataclasses.replace(table_record, test_id=long_id)
    table = record.table
    runtimes = {r["runtime"] for r in table["variants"]}
    tensors = [w["tensor"] for r in table["variants"] for w in r["worst_layers"]]
    assert any(len(r) > 35 for r in runtimes) and tensors
    narrow = _variants_section(record, 80)
    assert max(len(line) for line in narrow) <= 80, [line for line in narrow if len(line) > 80]
    text = "\n".join(narrow)
    joined = "".join(line.strip() for line in narrow)  # wrapped lines, read back to back
    assert "…" not in text and long_id in joined
    assert all(r in text for r in runtimes)  # each runtime whole on its row's line
    assert all(t in joined for t in tensors)  # every tensor name whole, wrapped where long
    # issue 11 item 7: the table says the shape it timed
    assert "variants of bn_cnn on given, [1,32,32,3] float32" in " ".join(line.strip() for line in narrow)
    wide = _variants_section(record, 160)
    assert max(len(line) for line in wide) <= 160
    for row in table["variants"]:  # one line per variant: name, runtime and numbers together
        line = next(line for line in wide if line.strip().startswith(row["variant"] + "  "))
        assert row["runtime"] in line and line.rstrip().endswith(("100%", "-"))
    assert all(any(t in line for line in wide) for t in tensors)


def test_variant_tables_survive_a_shard_merge(table_record):
    from pytest_tfperf.results.file import build_document
    from pytest_tfperf.results.merge import merge_documents, merged_results
    from pytest_tfperf.results.session import SessionResults

    docs = []
    for _ in range(2):
        results = SessionResults()
        results.add("variants", table_record)
        docs.append(build_document(results, machine={}, commit={}))
    merged = merge_documents([("a", docs[0]), ("b", docs[1])])
    rows = merged.document["tfperf"]["variants"]
    assert sorted(r["test_id"] for r in rows) == ["tests/test_x.py::test_table@a",
                                                  "tests/test_x.py::test_table@b"]
    assert len(merged_results(merged.document).variants) == 2
