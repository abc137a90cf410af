"""TFLite models: loading, running, quantization, timing, equivalence, and every bad input.

Real models (a small Keras CNN; seed 000's AlexNet at 64 px with 1024-wide dense layers, so the
int8 conversion takes seconds instead of the ~2 minutes AlexNet-224 takes here), converted
once per module.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pytest_tfperf.errors import ConfigError, InputError, ModelLoadError, NodeNotFoundError

ASTRONAUT = Path(__file__).resolve().parents[2] / "example_project" / "images" / "astronaut.jpg"
ALEXNET_SIZE = 64


@pytest.fixture(scope="module")
def tfl_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tflite")


@pytest.fixture(scope="module")
def keras_fp32(keras_cnn, tfl_dir):
    from pytest_tfperf.edge import to_tflite

    return to_tflite(keras_cnn, tfl_dir / "cnn.tflite")


@pytest.fixture(scope="module")
def alexnet():
    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    graph = zoo.alexnet_graph(input_size=ALEXNET_SIZE, dense_units=1024)
    return load(graph, outputs=["logits_layer/BiasAdd"], input_shapes=[[1, ALEXNET_SIZE, ALEXNET_SIZE, 3]])


@pytest.fixture(scope="module")
def astronaut(alexnet):
    from pytest_tfperf.inputs.images import sample_image_for

    return sample_image_for(alexnet, ASTRONAUT, preprocess="unit")


@pytest.fixture(scope="module")
def alexnet_tflite(alexnet, astronaut, tfl_dir):
    from pytest_tfperf.edge import image_variants, to_tflite

    fp32 = to_tflite(alexnet, tfl_dir / "alexnet.tflite")
    int8 = to_tflite(alexnet, tfl_dir / "alexnet_int8.tflite", quantize="int8",
                     representative=image_variants(astronaut, 8))
    return fp32, int8


def test_fp32_matches_keras_to_1e4(keras_cnn, keras_fp32, image32):
    from pytest_tfperf import load
    from pytest_tfperf.equivalence import assert_equivalent

    expected = keras_cnn(image32, training=False).numpy()
    got, = keras_fp32.run(image32)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-4
    report = assert_equivalent(load(keras_cnn), keras_fp32, image32, atol=1e-4, n_random=2)
    assert report.passed and report.pairing == "name"  # the frozen graph's names are kept


def test_specs_runtime_and_identity(keras_fp32, tfl_dir):
    from pytest_tfperf.model import is_model
    from pytest_tfperf.model.tflite import load_tflite

    assert is_model(keras_fp32)
    spec, = keras_fp32.inputs
    assert (spec.name, spec.dtype, spec.shape) == ("image:0", "float32", (None, 32, 32, 3))
    assert keras_fp32.outputs[0].name == "predictions:0"
    assert keras_fp32.quantization == {"image:0": None, "predictions:0": None}
    assert keras_fp32.kind == "tflite" and keras_fp32.runtime == "ai_edge_litert"
    assert keras_fp32.delegate == "xnnpack" and keras_fp32.num_threads == 1
    assert keras_fp32.identity == os.path.realpath(tfl_dir / "cnn.tflite")
    assert keras_fp32.size_bytes == os.path.getsize(tfl_dir / "cnn.tflite")
    ops = dict(keras_fp32.facts.op_histogram)
    assert ops["CONV_2D"] == 2 and ops["FULLY_CONNECTED"] == 1 and ops["MAX_POOL_2D"] == 2
    tensors = {t["name"]: t for t in keras_fp32.tensors()}
    assert not tensors["image"]["constant"] and tensors["image"]["shape"] == [1, 32, 32, 3]
    assert sum(t["constant"] for t in tensors.values()) >= 5  # 2 kernels, 2 biases, 1 dense
    ops = keras_fp32.ops()
    assert [o["op"] for o in ops][0] == "CONV_2D" and ops[0]["inputs"][0] == "image"
    assert ops[-1]["outputs"] == ["predictions"]
    named = load_tflite(tfl_dir / "cnn.tflite", outputs=["predictions"])
    assert named.identity.endswith("cnn.tflite[predictions:0]")


def test_weight_params_equal_keras_count(tfl_dir):
    import keras

    from pytest_tfperf.edge import to_tflite

    keras.utils.set_random_seed(3)
    inp = keras.Input((6,), name="x")
    model = keras.Model(inp, keras.layers.Dense(3, bias_initializer="ones", name="d")(
        keras.layers.Dense(5, activation="relu", bias_initializer="ones", name="h")(inp)))
    tfl = to_tflite(model)
    assert tfl.weight_params == model.count_params() == 6 * 5 + 5 + 5 * 3 + 3
    assert tfl.trainable_params is None  # a flatbuffer knows no trainability: not zero


def test_xnnpack_off_and_tf_lite_fallback_agree(keras_fp32, tfl_dir, image32):
    from pytest_tfperf.model.tflite import load_tflite

    plain = load_tflite(tfl_dir / "cnn.tflite", use_xnnpack=False, runtime="tf.lite", num_threads=2)
    assert plain.runtime_info() == {"runtime": "tf.lite", "runtime_version": plain.runtime_version,
                                    "delegate": "none", "num_threads": 2}
    np.testing.assert_allclose(plain.run(image32)[0], keras_fp32.run(image32)[0], atol=1e-5)
    plain.configure(num_threads=1, use_xnnpack=True)
    assert plain.runtime_info()["delegate"] == "xnnpack" and plain.runtime_info()["num_threads"] == 1
    np.testing.assert_allclose(plain.run(image32)[0], keras_fp32.run(image32)[0], atol=1e-5)


def test_runner_fresh_and_resized_batches_interleave(keras_fp32, image32):
    batch3 = np.concatenate([image32, image32 * 0.5, image32 * 0.25])
    one = keras_fp32.runner(image32)
    three = keras_fp32.runner(batch3)          # same interpreter, resized to batch 3
    fresh = keras_fp32.runner(image32, fresh=True)
    a, b, c, a2 = one(), three(), fresh(), one()  # `one` resizes back before running
    assert b[0].shape == (3, 10) and a[0].shape == a2[0].shape == (1, 10)
    np.testing.assert_array_equal(a[0], a2[0])
    np.testing.assert_array_equal(a[0], c[0])
    np.testing.assert_allclose(b[0][0], a[0][0], atol=1e-6)


def test_measure_and_budgets_on_tflite(keras_fp32, image32):
    from pytest_tfperf.plugin.budgets import check_latency, check_size
    from pytest_tfperf.plugin.markers import LatencyBudget, SizeBudget
    from pytest_tfperf.timing.engine import measure

    stats = measure(keras_fp32.runner(image32), min_time=0.05, max_time=0.3, name="cnn.tflite")
    assert stats.n >= 10 and 0 < stats.median_ms < 1000
    assert check_latency(LatencyBudget(ms=1000.0), stats).passed
    failed = check_latency(LatencyBudget(ms=stats.min_ms / 10), stats)
    assert not failed.passed and "exceeds" in failed.message
    assert check_size(SizeBudget(mb=1.0), keras_fp32.size_bytes).passed
    assert not check_size(SizeBudget(mb=keras_fp32.size_bytes / 2 / 2**20), keras_fp32.size_bytes).passed


def test_int8_alexnet_is_small_and_agrees_on_top1(alexnet, alexnet_tflite, astronaut):
    fp32, int8 = alexnet_tflite
    assert int8.size_bytes < 0.4 * fp32.size_bytes
    spec = int8.inputs[0]
    assert spec.dtype == "int8" and int8.quantization[spec.name] is not None
    scale, zero = int8.quantization[spec.name]
    assert 0 < scale < 1 and -128 <= zero <= 127
    ref, = alexnet.run(astronaut)
    got32, = fp32.run(astronaut)
    got8, = int8.run(astronaut)                  # float image quantized, logits dequantized
    assert got8.dtype == np.float32 and got8.shape == ref.shape == (1, 1000)
    assert np.max(np.abs(got32 - ref)) <= 1e-4 * max(1.0, float(np.max(np.abs(ref))))
    assert np.argmax(got8) == np.argmax(ref) == np.argmax(got32)
    raw, = int8.runner(astronaut)()
    assert raw.dtype == np.int8


def test_int8_tflite_on_either_side_of_assert_equivalent(alexnet, alexnet_tflite, astronaut):
    from pytest_tfperf.equivalence import NotEquivalentError, assert_equivalent

    _, int8 = alexnet_tflite
    assert int8.feed_dict(astronaut)["input_node:0"].dtype == np.float32  # quantized in runner
    as_ref = assert_equivalent(int8, alexnet, astronaut, atol=0.05, rtol=0, top_k=1)
    as_cand = assert_equivalent(alexnet, int8, astronaut, atol=0.05, rtol=0, top_k=1)
    assert as_ref.pairing == as_cand.pairing == "name"
    err = as_cand.outputs[0].max_abs_error
    assert 0 < err == pytest.approx(as_ref.outputs[0].max_abs_error)
    with pytest.raises(NotEquivalentError):  # int8 is not bit-exact: a tight tolerance fails
        assert_equivalent(alexnet, int8, astronaut, atol=err / 10, rtol=0)


def test_perturbed_graph_as_tflite_fails_assert_equivalent(alexnet, astronaut):
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.framework import tensor_util

    from pytest_tfperf.edge import to_tflite
    from pytest_tfperf.equivalence import NotEquivalentError, assert_equivalent

    perturbed = graph_pb2.GraphDef()
    perturbed.CopyFrom(alexnet.graph_def)
    node = next(n for n in perturbed.node if n.op == "Const" and n.name.startswith("logits_layer/bias"))
    bias = tensor_util.MakeNdarray(node.attr["value"].tensor).copy()
    bias[7] += 0.5
    node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(bias))
    candidate = to_tflite(alexnet.with_graph_def(perturbed, name="perturbed alexnet"))
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(alexnet, candidate, astronaut, atol=1e-4)
    assert "logits_layer/BiasAdd" in str(info.value)
    assert not info.value.report.passed


# --- bad input: a clear error naming the file / op / argument, nothing written ---------------

def _listing(directory):
    return sorted(os.listdir(directory))


def test_corrupt_and_truncated_files_name_the_file(keras_fp32, tmp_path):
    from pytest_tfperf.model.tflite import load_tflite

    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(os.urandom(4096))
    with pytest.raises(ModelLoadError, match=r"corrupt\.tflite.*not a TFLite flatbuffer"):
        load_tflite(corrupt)
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(keras_fp32.content[: len(keras_fp32.content) // 2])
    with pytest.raises(ModelLoadError, match=r"cut\.tflite.*(truncated|damaged|cannot load)"):
        load_tflite(truncated)
    # bytes flipped inside a valid file (a fixed seed: the same 40 files every run): each one
    # loads and runs, or is a ModelLoadError naming the file, never another exception
    rng = np.random.default_rng(1)
    outcomes = set()
    for _ in range(40):
        damaged = bytearray(keras_fp32.content)
        for _ in range(5):
            damaged[int(rng.integers(8, len(damaged)))] = int(rng.integers(0, 256))
        flipped = tmp_path / "flipped.tflite"
        flipped.write_bytes(bytes(damaged))
        try:
            load_tflite(flipped).run(np.zeros((1, 32, 32, 3), np.float32))
            outcomes.add("ran")
        except ModelLoadError as exc:
            assert "flipped.tflite" in str(exc)
            outcomes.add("error")
    assert outcomes == {"ran", "error"}
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"empty\.tflite.*empty"):
        load_tflite(empty)
    with pytest.raises(ModelLoadError, match=r"missing\.tflite.*does not exist"):
        load_tflite(tmp_path / "missing.tflite")


def test_unconvertible_ops_are_listed_with_select_tf_ops_hint(tmp_path):
    import tensorflow as tf

    from pytest_tfperf.edge import ConversionError, to_tflite

    @tf.function(input_signature=[tf.TensorSpec([1, 4, 4], tf.float32)])
    def determinant(x):
        return tf.linalg.det(x) * 2.0

    with pytest.raises(ConversionError, match=r"MatrixDeterminant.*select_tf_ops=True.*SELECT_TF_OPS"):
        to_tflite(determinant, tmp_path / "det.tflite")
    assert _listing(tmp_path) == []


def test_int8_without_or_with_bad_representative_data(keras_cnn, image32, tmp_path):
    from pytest_tfperf.edge import to_tflite

    out = tmp_path / "q.tflite"
    with pytest.raises(InputError, match=r"quantize='int8'.*representative=.*image:0 float32\[\?,32,32,3\]"):
        to_tflite(keras_cnn, out, quantize="int8")
    with pytest.raises(InputError, match=r"representative\[1\].*image:0.*\[1, 16, 16, 3\]"):
        to_tflite(keras_cnn, out, quantize="int8",
                  representative=[image32, np.zeros((1, 16, 16, 3), np.float32)])
    with pytest.raises(InputError, match=r"representative\[0\].*uint8.*float32"):
        to_tflite(keras_cnn, out, quantize="int8",
                  representative=[np.zeros((1, 32, 32, 3), np.uint8)])
    with pytest.raises(InputError, match="representative is empty"):
        to_tflite(keras_cnn, out, quantize="int8", representative=[])
    assert _listing(tmp_path) == []


def test_dynamic_input_dims_resize_or_say_what_to_pin(tmp_path):
    import keras

    from pytest_tfperf.edge import to_tflite
    from pytest_tfperf.model.tflite import load_tflite

    keras.utils.set_random_seed(1)
    inp = keras.Input((None, None, 3), name="img")
    x = keras.layers.Conv2D(4, 3, padding="same", name="c")(inp)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="g")(x))
    tfl = to_tflite(model, tmp_path / "dyn.tflite")
    assert tfl.inputs[0].shape == (None, None, None, 3)
    for shape in [(1, 20, 24, 3), (2, 9, 9, 3)]:
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        np.testing.assert_allclose(tfl.run(x)[0], model(x).numpy(), atol=1e-5)
    pinned = load_tflite(tmp_path / "dyn.tflite", input_shapes=[[1, 16, 16, 3]])
    assert pinned.inputs[0].shape == (1, 16, 16, 3)
    with pytest.raises(InputError, match=r"img:0.*\[1,16,16,3\].*received \[1, 8, 8, 3\]"):
        pinned.run(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(InputError, match=r"input_shapes \[1, 16, 16, 4\] does not fit input img:0"):
        load_tflite(tmp_path / "dyn.tflite", input_shapes=[[1, 16, 16, 4]])
    with pytest.raises(InputError, match=r"needs inputs \(img:0\)"):
        tfl.runner(None)


def test_string_input_model(tmp_path):
    import tensorflow as tf

    from pytest_tfperf.edge import ConversionError, to_tflite

    @tf.function(input_signature=[tf.TensorSpec([2], tf.string)])
    def parse(text):
        return tf.strings.to_number(text) * 2.0

    with pytest.raises(ConversionError, match=r"StringToNumber.*SELECT_TF_OPS"):
        to_tflite(parse, tmp_path / "s.tflite")
    with pytest.raises(InputError, match=r"string input text:0.*numeric"):
        to_tflite(parse, tmp_path / "s8.tflite", quantize="int8", representative=[np.array([b"1", b"2"])])
    assert _listing(tmp_path) == []


def test_unknown_quantize_and_option_names_the_close_match(keras_cnn, tmp_path):
    from pytest_tfperf.edge import to_tflite

    with pytest.raises(ConfigError, match=r"unknown quantize='int-8'.*Did you mean 'int8'"):
        to_tflite(keras_cnn, tmp_path / "x.tflite", quantize="int-8")
    with pytest.raises(ConfigError, match=r"Did you mean 'float16'"):
        to_tflite(keras_cnn, tmp_path / "x.tflite", quantize="fp16")
    with pytest.raises(ConfigError, match=r"allow_custom_opz.*did you mean 'allow_custom_ops'"):
        to_tflite(keras_cnn, tmp_path / "x.tflite", allow_custom_opz=True)
    assert _listing(tmp_path) == []


def test_unwritable_path_is_an_error_and_nothing_is_written(keras_cnn, tmp_path):
    from pytest_tfperf.edge import ConversionError, to_tflite

    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(ConversionError, match=r"a_file.*is a file, not a directory"):
        to_tflite(keras_cnn, blocker / "model.tflite")
    with pytest.raises(ConversionError, match=r"is a directory"):
        to_tflite(keras_cnn, tmp_path)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(ConversionError, match=r"locked.*not writable"):
                to_tflite(keras_cnn, locked / "model.tflite")
        finally:
            locked.chmod(0o700)
    assert _listing(tmp_path) == ["a_file"] + (["locked"] if os.geteuid() != 0 else [])


def test_wrong_names_and_dtypes_fed_to_tflite(keras_fp32):
    with pytest.raises(NodeNotFoundError, match=r"imag.*Did you mean: 'image:0'"):
        keras_fp32.run({"imag": np.zeros((1, 32, 32, 3), np.float32)})
    with pytest.raises(InputError, match=r"image:0.*wants float32; received complex64"):
        keras_fp32.run(np.zeros((1, 32, 32, 3), np.complex64))
    from pytest_tfperf.edge import ConversionError, to_tflite

    with pytest.raises(ConversionError, match="already a TFLite model"):
        to_tflite(keras_fp32)
