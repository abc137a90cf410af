"""Issue 21: synthetic (and dataset) images in the range the model expects, read from the model:
a Rescaling / Normalization layer, seed 001's `(x - 127.5) * 0.0078125` prologue, a TFLite
input's quantization; else [0, 1] for a synthetic image. Real models, built here."""
from __future__ import annotations

import numpy as np
import pytest

from pytest_tfperf import load
from pytest_tfperf.inputs.images import fitted_sample_image, sample_feed, sample_image_for
from pytest_tfperf.inputs.policy import synthetic_image
from pytest_tfperf.inputs.ranges import expected_range


def _keras(prologue=None, size=16):
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, 3), name="image")
    x = prologue(inp) if prologue is not None else inp
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(5, activation="softmax", name="probs")(x)
    return load(keras.Model(inp, out))


def _pixels(size=16):
    return synthetic_image(size, size, 3).astype(np.float32)


def test_no_range_in_the_graph_gives_unit_pixels():
    fg = _keras()
    x, why = fitted_sample_image(fg)
    np.testing.assert_array_equal(x[0], _pixels() / np.float32(255))
    assert why.startswith("pixels/255 [0,1]: the graph gives no input range"), why
    feed = sample_feed(fg)
    assert feed.ranges == {fg.inputs[0].name: why}
    # an explicit preprocess is the user's choice, applied to the synthetic image too
    x_tf, why_tf = fitted_sample_image(fg, preprocess="tf")
    np.testing.assert_allclose(x_tf[0], (_pixels() - 127.5) * 0.0078125, rtol=0, atol=1e-6)
    assert "tfperf_preprocess" in why_tf


def test_rescaling_layer_takes_raw_pixels():
    import keras

    fg = _keras(lambda x: keras.layers.Rescaling(1 / 255.0)(x))
    prep, why = expected_range(fg, fg.inputs[0])
    assert prep.name == "none" and "rescales" in why, why
    np.testing.assert_array_equal(sample_image_for(fg)[0], _pixels())


@pytest.mark.parametrize("top, expected", [(1.0, "unit"), (255.0, "none")])
def test_normalization_layer_adapted_on_a_range(top, expected):
    import keras

    norm = keras.layers.Normalization()
    norm.adapt(np.random.default_rng(1).uniform(0, top, (64, 16, 16, 3)).astype(np.float32))
    fg = _keras(norm)
    prep, why = expected_range(fg, fg.inputs[0])
    assert prep is not None and prep.name == expected, why
    x = sample_image_for(fg)
    assert float(x.max()) == pytest.approx(1.0 if expected == "unit" else 255.0, abs=0.02)


def test_seed001_prologue_in_a_tf1_graph():
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 8, 8, 3], name="input")
        y = (x - 127.5) * 0.0078125
        w = tf.constant(np.random.default_rng(0).normal(size=(8 * 8 * 3, 4)).astype(np.float32))
        tf.nn.softmax(tf.matmul(tf.reshape(y, [-1, 8 * 8 * 3]), w), name="probs")
    fg = load(graph.as_graph_def(), inputs=["input"], outputs=["probs"])
    prep, why = expected_range(fg, fg.inputs[0])
    assert prep.name == "none" and "Sub -> Mul" in why, why


@pytest.mark.parametrize("top", [1.0, 255.0])
def test_tflite_int8_input_quantization_gives_the_range(top):
    from pytest_tfperf.edge import to_tflite

    fg = _keras()
    rng = np.random.default_rng(2)
    data = [rng.uniform(0, top, (1, 16, 16, 3)).astype(np.float32) for _ in range(8)]
    tfl = to_tflite(fg, quantize="int8", representative=data)
    spec = tfl.inputs[0]
    assert spec.quantization is not None
    prep, why = expected_range(tfl, spec)
    assert prep.name == "scale" and "quantization" in why, why
    low, high = prep.offset, prep.offset + 255 * prep.scale
    assert low == pytest.approx(0.0, abs=0.02 * top) and high == pytest.approx(top, rel=0.05)
    x = sample_image_for(tfl)
    assert x.dtype == np.float32 and 0 <= float(x.min()) and float(x.max()) <= high * (1 + 1e-5)
