"""The variant table (seed 002 automated): rows, errors vs the source, records, text and CLI."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from pytest_tfperf.errors import ConfigError

FAST = {"rounds": 2, "min_time": 0.01, "max_time": 0.03, "warmup": 1}


@pytest.fixture(scope="module")
def table(keras_cnn, image32):
    from pytest_tfperf.edge import variants

    return variants(keras_cnn, image32, debug_layers=3, **FAST)


def test_every_row_is_built_timed_and_compared(table):
    from pytest_tfperf.edge.variants import ROWS

    assert [r.variant for r in table.rows] == [r for r in ROWS if r != "saved_model signature"]
    assert all(r.ok for r in table.rows), [(r.variant, r.error) for r in table.rows if r.error]
    assert table.source == "keras predict" and table.inputs == "given" and table.rounds == 2
    for r in table.rows:
        assert len(r.round_medians_ms) == 2 and r.median_ms == pytest.approx(np.median(r.round_medians_ms))
        assert r.speedup_vs_source == pytest.approx(table.row("keras predict").median_ms / r.median_ms)
        assert r.speedup_vs_frozen == pytest.approx(table.row("frozen graph").median_ms / r.median_ms)
        assert r.top1_agreement == 1.0
    assert table.row("keras predict").max_abs_err == 0.0
    assert table.row("tflite fp32").max_abs_err <= 1e-4
    assert table.row("frozen graph").max_abs_err <= 1e-5
    # quantized variants really are quantized: smaller, and not bit-exact
    sizes = {r.variant: r.size_bytes for r in table.rows}
    assert sizes["tflite int8"] < sizes["tflite fp16"] < sizes["tflite fp32"]
    assert sizes["graph quantize_weights"] < sizes["frozen graph"]
    assert table.row("tflite int8").max_abs_err > table.row("tflite fp32").max_abs_err
    assert table.row("keras predict").size_bytes is None  # in memory: no file
    assert "ai_edge_litert" in table.row("tflite int8").runtime
    assert table.fastest in {r.variant for r in table.rows}


def test_int8_row_names_the_worst_layers(table):
    worst = table.row("tflite int8").worst_layers
    assert 1 <= len(worst) <= 3
    assert all(w.op and w.tensor and w.scale > 0 for w in worst)
    ranks = [w.rmse_over_scale for w in worst]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > 0
    assert not table.row("tflite fp32").worst_layers


def test_record_round_trips_through_json(table):
    from pytest_tfperf.edge import VariantTable

    data = json.loads(json.dumps(table.to_dict()))
    assert VariantTable.from_dict(data) == table
    assert {"median_ms", "size_bytes", "max_abs_err", "top1_agreement", "variant"} <= set(data["variants"][0])


def test_text_rendering(table):
    from pytest_tfperf.report.variants_text import render_variants

    text = render_variants(table)
    for r in table.rows:
        assert r.variant in text
    assert "largest quantization error" in text and f"fastest: {table.fastest}" in text
    assert render_variants(table.to_dict()) == text


def test_a_variant_that_cannot_be_built_is_a_row_with_its_error():
    import tensorflow as tf

    from pytest_tfperf.edge import variants
    from pytest_tfperf.report.variants_text import render_variants

    @tf.function(input_signature=[tf.TensorSpec([1, 3, 3], tf.float32)])
    def determinant(x):
        return tf.linalg.det(x)[:, None] * tf.ones([1, 4])

    t = variants(determinant, rows=["frozen graph", "tflite fp32", "tflite int8"], debug_layers=0, **FAST)
    assert t.source == "frozen graph" and t.inputs == "synthetic"
    assert t.row("frozen graph").ok and t.row("frozen graph").median_ms > 0
    for name in ("tflite fp32", "tflite int8"):
        row = t.row(name)
        assert not row.ok and "MatrixDeterminant" in row.error and row.median_ms is None
    assert "failed variants:" in render_variants(t)


def test_saved_model_source_row(keras_cnn, image32, tmp_path):
    from pytest_tfperf.edge import variants

    path = tmp_path / "cnn_savedmodel"
    keras_cnn.export(str(path), verbose=False)
    t = variants(str(path), image32, rows=["saved_model signature", "frozen graph", "tflite fp32"],
                 **FAST)
    assert t.source == "saved_model signature"
    assert all(r.ok for r in t.rows), [(r.variant, r.error) for r in t.rows]
    assert t.row("tflite fp32").max_abs_err <= 1e-4 and t.row("saved_model signature").size_bytes > 0


def test_bad_arguments(keras_cnn, image32):
    from pytest_tfperf.edge import to_tflite, variants

    with pytest.raises(ConfigError, match=r"unknown row 'tflite int9'; did you mean 'tflite int8'"):
        variants(keras_cnn, image32, rows=["tflite int9"])
    with pytest.raises(ConfigError, match="rounds must be an int >= 1"):
        variants(keras_cnn, image32, rounds=0)
    with pytest.raises(ConfigError, match="TensorFlow source"):
        variants(to_tflite(keras_cnn), image32)


def _cli_module():
    """`pytest_tfperf.cli.variants`; loaded from its file while `cli` is still a module."""
    try:
        return importlib.import_module("pytest_tfperf.cli.variants")
    except ImportError:
        common = Path(__file__).resolve().parents[2] / "pytest_tfperf" / "cli" / "_common.py"
        if not common.exists():
            pytest.skip("pytest_tfperf.cli package (cli/_common.py) not merged yet")
        raise


def test_cli_json(keras_cnn, tmp_path, capsys):
    cli = _cli_module()
    model = tmp_path / "cnn.keras"
    keras_cnn.save(model)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    photo = Path(__file__).resolve().parents[2] / "example_project" / "images" / "astronaut.jpg"
    args = parser.parse_args(["variants", str(model), "--json", "--rounds", "1",
                              "--rows", "frozen graph,tflite fp32", "--image", str(photo),
                              "--preprocess", "unit"])
    assert cli.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"] == f"image {photo}"
    assert [r["variant"] for r in data["variants"]] == ["frozen graph", "tflite fp32"]
    for r in data["variants"]:
        assert r["median_ms"] > 0 and r["size_bytes"] > 0 and r["max_abs_err"] is not None


def test_cli_text_fits_the_terminal_and_says_the_shape(keras_cnn, tmp_path, capsys, monkeypatch):
    # the CLI's width is the terminal's (COLUMNS here); issue 11 item 7: the shape timed is said
    cli = _cli_module()
    model = tmp_path / "cnn.keras"
    keras_cnn.save(model)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["variants", str(model), "--rounds", "1", "--rows", "frozen graph,tflite fp32"])
    for columns in (80, 160):
        monkeypatch.setenv("COLUMNS", str(columns))
        assert cli.run(args) == 0
        lines = capsys.readouterr().out.splitlines()
        assert max(len(line) for line in lines) <= columns, columns
        assert "…" not in "\n".join(lines)
        words = " ".join(line.strip() for line in lines)
        assert "variants of cnn.keras on synthetic sample image, [1,32,32,3] float32" in words
        assert any("tflite fp32" in line and "ai_edge_litert" in line for line in lines)
