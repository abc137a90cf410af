"""TFLite files no interpreter here can run (issue 20): every custom op is named, the Flex hint
appears only for Flex ops, `summarize` still shows the structure, and asking for what needs a
TensorFlow graph (per-op profile, FLOPs) of a TFLite model says so."""
from __future__ import annotations

import argparse

import pytest
import wild

import pytest_tfperf
from pytest_tfperf.errors import ConfigError, ModelLoadError


@pytest.fixture(scope="module")
def custom(tmp_path_factory):
    return wild.custom_ops_tflite(tmp_path_factory.mktemp("custom") / "special.tflite")


@pytest.fixture(scope="module")
def flex(tmp_path_factory):
    return wild.flex_tflite(tmp_path_factory.mktemp("flex") / "det.tflite")


def test_every_custom_op_is_named_and_no_flex_hint(custom):
    with pytest.raises(ModelLoadError) as info:
        pytest_tfperf.load(custom)
    text = str(info.value)
    assert "3 custom op type(s)" in text
    for op in wild.CUSTOM_OPS:
        assert op in text
    assert "BesselI0e (2 nodes)" in text and "allow_custom_ops" in text
    assert "Flex" not in text.split(" custom op type(s)")[1]  # the interpreter's words aside
    assert "tfperf summarize" in text


def test_flex_ops_get_the_flex_hint(flex):
    with pytest.raises(ModelLoadError) as info:
        pytest_tfperf.load_tflite(flex)
    text = str(info.value)
    assert "Select TensorFlow (Flex) op type(s): FlexMatrixDeterminant" in text
    assert "TFLITE_BUILTINS" in text and "custom op type" not in text


def test_summarize_shows_the_structure_of_a_model_it_cannot_run(custom, flex):
    s = pytest_tfperf.summarize(custom)
    ops = dict(s.op_histogram)
    assert (ops["BesselI0e"], ops["BesselI1e"], ops["Zeta"]) == (2, 1, 1)
    assert [(i.name, i.dtype, i.shape) for i in s.inputs] == [("x:0", "float32", (1, 4))]
    assert len(s.outputs) == 1 and s.outputs[0].shape == (1, 4)
    assert "Zeta" in s.cannot_run and s.to_dict()["cannot_run"] == s.cannot_run
    assert s.serialized_bytes == len(open(custom, "rb").read())
    assert dict(pytest_tfperf.summarize(flex).op_histogram)["FlexMatrixDeterminant"] == 1


def test_tfperf_summarize_prints_the_structure_and_why_it_cannot_run(custom, capsys):
    from pytest_tfperf.cli import summarize

    parser = argparse.ArgumentParser()
    summarize.register(parser.add_subparsers(dest="command"))
    assert summarize.run(parser.parse_args(["summarize", custom])) == 0
    out = capsys.readouterr().out
    assert "Cannot run here" in out and "BesselI1e" in out and "1 Zeta" in out
    assert "(name=x:0, type=float32, shape=[1,4])" in out


def test_profile_and_flops_of_a_tflite_model_say_they_need_a_graph(keras_cnn, tmp_path):
    from pytest_tfperf.analysis.profiling import peak_memory_bytes

    model = pytest_tfperf.to_tflite(keras_cnn, tmp_path / "cnn.tflite")
    for call, name in ((pytest_tfperf.profile, "profile"), (pytest_tfperf.count_flops, "count_flops"),
                       (peak_memory_bytes, "peak_memory_bytes")):
        for ref in (model, str(tmp_path / "cnn.tflite")):
            with pytest.raises(ConfigError) as info:
                call(ref)
            text = str(info.value)
            assert text.startswith(f"{name}: ") and "cnn.tflite" in text and "TensorFlow graph" in text
            assert "converted from" in text and "tfperf bench" in text


def test_load_tflite_is_importable_from_the_package(keras_cnn, tmp_path):
    from pytest_tfperf import TFLiteModel, load_tflite

    pytest_tfperf.to_tflite(keras_cnn, tmp_path / "cnn.tflite")
    m = load_tflite(tmp_path / "cnn.tflite", num_threads=2)
    assert isinstance(m, TFLiteModel) and m.num_threads == 2


def test_an_any_size_input_is_named_with_the_pinning_remedy(tmp_path):
    """The interpreter allocates -1 dims at 1 first; a model that cannot run at 1x1 fails there,
    and the message says which inputs are of any size and how to pin them (not 'Flex')."""
    import tensorflow as tf

    from pytest_tfperf.model.tflite_flatbuffer import read_flatbuffer
    from pytest_tfperf.model.tflite_ops import cannot_load_message

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="image")])
    def blur(x):
        return tf.nn.avg_pool2d(x, 3, 1, "VALID")

    content = tf.lite.TFLiteConverter.from_concrete_functions([blur.get_concrete_function()], blur).convert()
    text = cannot_load_message("any.tflite", "ai_edge_litert", RuntimeError("failed to prepare"),
                               read_flatbuffer(content, "any.tflite"))
    assert "image [-1,-1,-1,3] have dims of any size" in text and "input_shapes=" in text
    assert "Flex" not in text and "custom op" not in text


def test_read_from_the_flatbuffer_alone_a_file_names_its_io_as_a_loaded_one(keras_cnn, tmp_path):
    """What `summarize` shows of a file it cannot run matches what it shows of one it can: same
    specs (signature keys first), ops, tensors and weights."""
    from pytest_tfperf.model.tflite_summary import summarize_unloadable

    path = str(tmp_path / "cnn.tflite")
    pytest_tfperf.to_tflite(keras_cnn, path)
    loaded = pytest_tfperf.summarize(path).to_dict()
    read = summarize_unloadable(path, RuntimeError("not loaded")).to_dict()
    assert read.pop("cannot_run") == "not loaded"
    assert read.pop("runtime") != loaded.pop("runtime")
    assert read == loaded
