"""`tfperf summarize model.tflite` lists the first and last few tensors and how many it left out
(a 52 MB audio model has 547), every one with --all-tensors; `tfperf bench` says what it fed."""
from __future__ import annotations

import argparse

from pytest_tfperf.report.tflite_text import HEAD_TENSORS, TAIL_TENSORS, render_tflite_summary


def _summary(n_tensors: int) -> dict:
    return {"name": "m.tflite", "source": "m.tflite", "op_count": 1, "tensor_count": n_tensors,
            "serialized_bytes": 10, "runtime": "ai_edge_litert", "inputs": [], "outputs": [],
            "weight_params": 0, "weight_dtypes": [], "other_const_elements": 0,
            "constant_bytes": 0, "op_histogram": [["ADD", 1]],
            "tensors": [{"index": i, "name": f"t{i}", "dtype": "float32", "shape": [1],
                         "constant": False, "quantization": None} for i in range(n_tensors)]}


def _names(text: str) -> list[str]:
    """The tensor names listed, in order (the table's first column, header rows skipped)."""
    rows = text.split("Tensors (", 1)[1].splitlines()[3:]
    return [line.split()[0] for line in rows if not line.strip().startswith("...")]


def test_long_tensor_lists_show_head_tail_and_the_count():
    text = render_tflite_summary(_summary(547))
    names = _names(text)
    assert names == [f"t{i}" for i in range(HEAD_TENSORS)] + [f"t{i}" for i in range(547 - TAIL_TENSORS, 547)]
    hidden = 547 - HEAD_TENSORS - TAIL_TENSORS
    assert f"... {hidden} more tensors (tfperf summarize --all-tensors" in text
    assert f"Tensors (547, first {HEAD_TENSORS} and last {TAIL_TENSORS})" in text
    assert _names(render_tflite_summary(_summary(547), all_tensors=True)) == [f"t{i}" for i in range(547)]
    assert _names(render_tflite_summary(_summary(12))) == [f"t{i}" for i in range(12)]  # short: all


def test_cli_summarize_all_tensors_and_bench_input(tmp_path, capsys):
    import keras

    import pytest_tfperf
    from pytest_tfperf.cli import bench, summarize

    x = keras.Input((8,), name="features")
    y = x
    for k in range(8):
        y = keras.layers.Dense(8, activation="relu", name=f"dense{k}")(y)
    path = str(tmp_path / "mlp.tflite")
    model = pytest_tfperf.to_tflite(keras.Model(x, y), path)
    n = len(model.tensors())
    assert n > HEAD_TENSORS + TAIL_TENSORS + 1
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    summarize.register(sub)
    bench.register(sub)
    summarize.run(parser.parse_args(["summarize", path]))
    short = capsys.readouterr().out
    summarize.run(parser.parse_args(["summarize", path, "--all-tensors"]))
    full = capsys.readouterr().out
    assert "more tensors" in short and "more tensors" not in full
    assert len(full.splitlines()) - len(short.splitlines()) == n - HEAD_TENSORS - TAIL_TENSORS - 1
    bench.run(parser.parse_args(["bench", path, "--runs", "3"]))
    line = capsys.readouterr().out.splitlines()[1]
    spec = model.inputs[0]
    shape = "[" + ",".join(str(d or 1) for d in spec.shape) + "]"
    assert line.startswith(f"Input: {spec.node} {shape} {spec.dtype} ("), line
