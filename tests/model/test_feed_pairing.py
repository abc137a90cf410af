"""How a frozen graph and a TFLite model pair what a user passes with their inputs: the same
rules (one helper, `model.shapes.pair_inputs`) on the same two models, one of each kind."""
from __future__ import annotations

import numpy as np
import pytest

from pytest_tfperf.errors import InputError, NodeNotFoundError


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{"one": (frozen, tflite), "two": (frozen, tflite)}: a 1-input and a 2-input Keras model."""
    import keras

    from pytest_tfperf import load
    from pytest_tfperf.edge import to_tflite

    keras.utils.set_random_seed(0)
    x = keras.Input((4,), name="x")
    one = keras.Model(x, keras.layers.Dense(2)(x))
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    two = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Concatenate()([a, b])))
    where = tmp_path_factory.mktemp("pairing")
    return {name: (load(m), to_tflite(m, where / f"{name}.tflite"))
            for name, m in (("one", one), ("two", two))}


def _fed(model, inputs) -> list[tuple]:
    feeds = model.feed_dict(inputs)
    return [(feeds[s.name].shape, float(feeds[s.name].sum())) for s in model.inputs]


X = np.arange(4, dtype=np.float32).reshape(1, 4)
A, B = np.ones((1, 4), np.float32), np.full((1, 3), 2.0, np.float32)


@pytest.mark.parametrize("kind", ["frozen", "tflite"])
def test_single_input_forms(models, kind):
    model = models["one"][kind == "tflite"]
    want = [((1, 4), 6.0)]
    assert _fed(model, X) == want
    assert _fed(model, [X]) == _fed(model, (X,)) == want  # a list of the one input
    assert _fed(model, X.tolist()) == want  # nested Python lists are the data itself
    assert _fed(model, [X.tolist()]) == want  # ... or, at the input's rank, a list of one input
    spec = model.inputs[0]
    assert _fed(model, {spec.name: X}) == _fed(model, {spec.node: X}) == want
    with pytest.raises(InputError, match="received None"):
        model.feed_dict(None)


@pytest.mark.parametrize("kind", ["frozen", "tflite"])
def test_two_input_forms_and_errors(models, kind):
    model = models["two"][kind == "tflite"]
    want = [((1, 4), 4.0), ((1, 3), 6.0)]
    assert _fed(model, [A, B]) == _fed(model, (A, B)) == want
    first, second = model.inputs
    assert _fed(model, {first.node: A, second.name: B}) == want
    with pytest.raises(InputError, match=r"has 2 input\(s\) .* but 1 value\(s\) were given; pass a list"):
        model.feed_dict([A])
    with pytest.raises(InputError, match=rf"no value for required input\(s\) {second.name}"):
        model.feed_dict({first.name: A})
    with pytest.raises(NodeNotFoundError, match="nope"):
        model.feed_dict({first.name: A, "nope": B})
