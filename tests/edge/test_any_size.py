"""Any-size image models (input [None, None, None, 3], e.g. a cascaded face detector's first
stage): `to_tflite` fp32 and int8, a dynamic-shape `.tflite` loaded at a pinned shape, and
equivalence with the Keras source at that shape (issue 20, item 2)."""
from __future__ import annotations

import numpy as np
import pytest

SHAPE = (1, 120, 160, 3)


@pytest.fixture(scope="module")
def any_size_net():
    """A P-Net-like stage: valid-padded convs, PReLU, max-pool, two heads. At the 1x1 input the
    interpreter sizes a dynamic model for, its second conv has no output (so allocating there
    fails: the bug this file guards)."""
    import keras

    layers = keras.layers
    keras.utils.set_random_seed(3)
    x = keras.Input((None, None, 3), name="image")
    y = layers.PReLU(shared_axes=[1, 2])(layers.Conv2D(10, 3, name="conv1")(x))
    y = layers.MaxPool2D(2, 2, padding="same")(y)
    y = layers.PReLU(shared_axes=[1, 2])(layers.Conv2D(16, 3, name="conv2")(y))
    y = layers.PReLU(shared_axes=[1, 2])(layers.Conv2D(32, 3, name="conv3")(y))
    prob = layers.Softmax(axis=3, name="prob")(layers.Conv2D(2, 1, name="score")(y))
    box = layers.Conv2D(4, 1, name="box")(y)
    return keras.Model(x, [prob, box])


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).uniform(-1, 1, SHAPE).astype(np.float32)


def test_fp32_converts_loads_pinned_and_matches_keras(any_size_net, image, tmp_path):
    from pytest_tfperf import assert_equivalent, load
    from pytest_tfperf.edge import to_tflite

    tfl = to_tflite(any_size_net, tmp_path / "pnet.tflite")
    assert tfl.inputs[0].shape == (None, None, None, 3)
    want = [t.numpy() for t in any_size_net(image)]
    got = tfl.run(image)
    assert [g.shape for g in got] == [(1, 55, 75, 2), (1, 55, 75, 4)] == [w.shape for w in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)

    pinned = load(tmp_path / "pnet.tflite", input_shapes=[list(SHAPE)])
    assert pinned.inputs[0].shape == SHAPE
    assert [o.shape for o in pinned.run(image)] == [(1, 55, 75, 2), (1, 55, 75, 4)]
    report = assert_equivalent(any_size_net, pinned, image)
    assert report.passed
    # another size on the unpinned model: the interpreter is resized, not rebuilt at 1x1
    small = np.random.default_rng(1).uniform(-1, 1, (1, 24, 30, 3)).astype(np.float32)
    for g, w in zip(tfl.run(small), any_size_net(small)):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-5)


def test_int8_calibrates_at_the_sample_shape_and_agrees(any_size_net, image, tmp_path):
    from pytest_tfperf import assert_equivalent, load
    from pytest_tfperf.edge import image_variants, to_tflite

    int8 = to_tflite(any_size_net, tmp_path / "pnet_int8.tflite", quantize="int8",
                     representative=image_variants(image, 4))
    assert int8.inputs[0].dtype == "int8" and int8.inputs[0].shape == (None, None, None, 3)
    pinned = load(tmp_path / "pnet_int8.tflite", input_shapes=[list(SHAPE)])
    prob, box = pinned.run(image)
    want_prob, want_box = (t.numpy() for t in any_size_net(image))
    assert prob.shape == want_prob.shape and box.shape == want_box.shape
    # int8: the softmax head within a few quantization steps of the float model
    assert float(np.abs(prob - want_prob).max()) < 0.05
    assert_equivalent(any_size_net, pinned, image, atol=0.05, rtol=1.0)


def test_a_shape_the_model_cannot_take_is_an_error_naming_it_and_the_fix(any_size_net, tmp_path):
    from pytest_tfperf import load
    from pytest_tfperf.edge import to_tflite
    from pytest_tfperf.errors import InputError, ModelLoadError

    to_tflite(any_size_net, tmp_path / "pnet.tflite")
    with pytest.raises(ModelLoadError, match=r"pnet.tflite.*cannot allocate it at image:0 -> \[1, 2, 2, 3\].*Pin a shape the model supports"):
        load(tmp_path / "pnet.tflite", input_shapes=[[1, 2, 2, 3]])
    # once it ran at a size it takes, a size it cannot take is the input's fault
    tfl = load(tmp_path / "pnet.tflite")
    tfl.run(np.zeros(SHAPE, np.float32))
    with pytest.raises(InputError, match=r"cannot resize the input\(s\) to image:0 -> \[1, 2, 2, 3\]"):
        tfl.run(np.zeros((1, 2, 2, 3), np.float32))
