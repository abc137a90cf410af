"""Issue 21: equivalence that proves something. Real Keras models, built here:
- a softmax classifier that saturates on pixels 0..255 is refused, never passed; fed in its
  range ([0, 1], the sample image's default) the 1%-different copy fails at atol 1e-4;
- outputs that carry no information (constant, all zero, NaN) are refused;
- a pair that disagrees on a known fraction of a dataset gets exactly that top-1 agreement
  (with its Wilson interval), and `min_top1_agreement` fails with it, for every dataset form.
"""
from __future__ import annotations

import numpy as np
import pytest

from pytest_tfperf import load
from pytest_tfperf.equivalence import NotEquivalentError, assert_equivalent, compare_models
from pytest_tfperf.equivalence.evidence import wilson
from pytest_tfperf.errors import ConfigError
from pytest_tfperf.inputs.images import sample_image_for


def _classifier(scale=1.0, size=32):
    """Conv + dense softmax, no Rescaling layer: saturates on pixels 0..255."""
    import keras

    keras.utils.set_random_seed(1)
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(10, activation="softmax", name="probs")
    model = keras.Model(inp, dense(x), name="clf")
    if scale != 1.0:
        kernel, bias = dense.get_weights()
        dense.set_weights([kernel * scale, bias])
    return load(model)


@pytest.fixture(scope="module")
def pair():
    return _classifier(), _classifier(1.01)


def test_saturated_softmax_on_raw_pixels_is_refused(pair):
    a, b = pair
    raw = sample_image_for(a, preprocess="none")
    assert raw.max() > 200
    report = compare_models(a, b, raw, atol=1e-4)
    (out,) = report.outputs
    assert not report.passed and out.failure == "degenerate"
    assert out.information.startswith("saturated: softmax max > 0.999 on every input")
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(a, b, raw, atol=1e-4)
    text = str(info.value)
    assert "probs" in text and "refused" in text and "values fed [" in text
    assert "range the model expects" in text
    # a caller who knows better may still compare; then the values decide (and they match)
    assert assert_equivalent(a, b, raw, atol=1e-4, allow_degenerate=True).passed


def test_same_pair_in_range_fails_at_atol_1e4(pair):
    a, b = pair
    x = sample_image_for(a)  # auto: the graph gives no range -> [0, 1]
    assert 0 <= x.min() and x.max() <= 1
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(a, b, x, atol=1e-4)
    (out,) = info.value.report.outputs
    assert out.failure == "values" and out.max_abs_error > 1e-4
    # the reference's own numbers: the error is the models' difference on this input
    (ra,), (rb,) = a.run(x), b.run(x)
    assert out.max_abs_error == pytest.approx(float(np.max(np.abs(ra - rb))), rel=1e-6)


def _dense(kernel, bias=None, activation="softmax", lam=None):
    import keras

    inp = keras.Input((4,), name="x")
    y = keras.layers.Lambda(lam)(inp) if lam is not None else inp
    layer = keras.layers.Dense(4, activation=activation, name="out")
    model = keras.Model(inp, layer(y), name="dense")
    layer.set_weights([np.asarray(kernel, np.float32),
                       np.zeros(4, np.float32) if bias is None else np.asarray(bias, np.float32)])
    return load(model)


@pytest.mark.parametrize("kind, expected", [
    ("constant", "the same on all"), ("zero", "all zero"), ("nan", "NaN on every input")])
def test_outputs_without_information_are_refused(kind, expected):
    import keras

    zeros = np.zeros((4, 4))
    model = {"constant": lambda: _dense(zeros, bias=[0.1, 0.2, 0.3, 0.4], activation=None),
             "zero": lambda: _dense(zeros, activation=None),
             "nan": lambda: _dense(np.eye(4), activation=None,
                                   lam=lambda t: keras.ops.log(t - 10.0))}[kind]()
    x = np.random.default_rng(0).random((1, 4)).astype(np.float32)
    report = compare_models(model, model, x, n_random=2)
    (out,) = report.outputs
    assert out.failure == "degenerate" and expected in out.information, out.information
    assert not report.passed


# -- many inputs ------------------------------------------------------------------------------

SWAP = np.eye(4)[[1, 0, 2, 3]]  # the candidate swaps classes 0 and 1


@pytest.fixture(scope="module")
def known():
    """40 inputs; exactly 10 have their argmax in classes {0, 1}, where the pair disagrees."""
    rng = np.random.default_rng(5)
    x = rng.random((40, 4)).astype(np.float32)
    target = np.array([0, 1] * 5 + [2, 3] * 15)
    x[np.arange(40), target] = 1.5
    return x, _dense(np.eye(4)), _dense(SWAP)


def test_known_disagreement_fraction_over_a_dataset(known, tmp_path):
    import tensorflow as tf

    x, a, b = known
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", x=x)
    forms = {"npy": str(tmp_path / "x.npy"), "npz": str(tmp_path / "x.npz"),
             "list": [row[None] for row in x],
             "tf.data": tf.data.Dataset.from_tensor_slices(x[:, None, :])}
    for form, dataset in forms.items():
        report = compare_models(a, b, dataset=dataset, atol=1.0)
        (out,) = report.outputs
        assert report.n_inputs == 40, form
        assert (out.top1_agree_count, out.top1_rows) == (30, 40), form
        assert out.top1_agreement == report.top1_agreement == 0.75
        low, high = out.top1_ci
        assert (low, high) == pytest.approx((0.5980, 0.8579), abs=1e-3)  # Wilson, z = 1.96
        assert out.dataset_max_abs_error == pytest.approx(
            float(np.max(np.abs(a.run(x)[0] - b.run(x)[0]))), rel=1e-5)
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(a, b, dataset=forms["npy"], atol=1.0, min_top1_agreement=0.99)
    text = str(info.value)
    assert "top-1 agrees on 30 of 40 inputs" in text and "min_top1_agreement=0.99" in text
    assert info.value.report.outputs[0].failure == "agreement"
    # the same pair passes a gate it meets, and a model agrees with itself everywhere
    assert assert_equivalent(a, b, dataset=forms["npy"], atol=1.0, min_top1_agreement=0.75).passed
    same = compare_models(a, a, dataset=forms["npy"])
    assert same.passed and same.outputs[0].top1_agreement == 1.0


def test_image_folder_dataset_names_the_worst_file(pair, tmp_path):
    import tensorflow as tf

    a, b = pair
    rng = np.random.default_rng(3)
    for i in range(6):
        pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        (tmp_path / f"img{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    report = compare_models(a, b, dataset=str(tmp_path), atol=1.0)
    (out,) = report.outputs
    assert report.n_inputs == 6 and report.input_sets == tuple(f"img{i}.png" for i in range(6))
    assert out.worst_input in report.input_sets and out.dataset_inputs == 6
    assert report.inputs_range.startswith("[0") and report.dataset == str(tmp_path)
    assert out.dataset_p99_abs_error <= out.dataset_max_abs_error


def test_bad_datasets_are_named(known, tmp_path):
    _, a, b = known
    with pytest.raises(ConfigError, match="holds no image"):
        compare_models(a, b, dataset=str(tmp_path))
    with pytest.raises(ConfigError, match="does not exist"):
        compare_models(a, b, dataset=str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="gave no inputs"):
        compare_models(a, b, dataset=[])
    with pytest.raises(ConfigError, match="min_top1_agreement"):
        compare_models(a, b, dataset=[np.ones((1, 4), np.float32)], min_top1_agreement=1.5)


def test_wilson_interval():
    assert wilson(30, 40) == pytest.approx((0.5980, 0.8579), abs=1e-3)
    assert wilson(40, 40)[1] == 1.0 and wilson(0, 40)[0] == 0.0
