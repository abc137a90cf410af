"""Outputs carry their SavedModel signature keys (issue 20, item 4): a SavedModel's outputs are
named by the keys (not `Identity_1`), its TFLite conversion's inputs and outputs too (the
signature runner's keys, not `StatefulPartitionedCall:1` / `serving_default_x`), so comparing
the two pairs outputs by name, whatever order each side lists them in."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A SavedModel whose signature returns {"zeta_scores", "alpha_boxes"} (both [1, 3], so a
    pairing by position would compare the wrong arrays without a shape error), and its TFLite."""
    import tensorflow as tf

    rng = np.random.default_rng(0)

    class Net(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(rng.random((4, 3), dtype=np.float32))
            self.v = tf.Variable(rng.random((4, 3), dtype=np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="features")])
        def serve(self, x):
            return {"zeta_scores": tf.nn.softmax(tf.matmul(x, self.w)),
                    "alpha_boxes": tf.matmul(x, self.v) * 2.0 - 1.0}

    net = Net()
    root = tmp_path_factory.mktemp("keyed")
    saved = root / "saved"
    tf.saved_model.save(net, str(saved), signatures={"serving_default": net.serve})
    tfl = root / "keyed.tflite"
    tfl.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())
    x = rng.random((1, 4), dtype=np.float32)
    want = {k: v.numpy() for k, v in net.serve(tf.constant(x)).items()}
    return saved, tfl, x, want


def test_savedmodel_outputs_are_named_by_signature_keys(keyed):
    from pytest_tfperf import load, summarize

    saved, _, x, want = keyed
    fg = load(saved)
    assert [s.name for s in fg.inputs] == ["features:0"]
    assert [s.name for s in fg.outputs] == ["alpha_boxes:0", "zeta_scores:0"]
    for spec, got in zip(fg.outputs, fg.run(x)):  # each name holds the signature's own value
        np.testing.assert_allclose(got, want[spec.name[:-2]], rtol=1e-6)
    assert "alpha_boxes" in str(summarize(fg).to_dict())


def test_tflite_specs_take_the_signature_runner_keys(keyed):
    from pytest_tfperf import load

    _, tfl, x, want = keyed
    model = load(tfl)
    assert [s.name for s in model.inputs] == ["features:0"]
    assert sorted(s.name for s in model.outputs) == ["alpha_boxes:0", "zeta_scores:0"]
    for spec, got in zip(model.outputs, model.run(x)):
        np.testing.assert_allclose(got, want[spec.name[:-2]], rtol=1e-5, atol=1e-6)
    # the flatbuffer's tensor names still select, the keys too
    raw = [d["name"] for d in model._interpreter.get_output_details()]
    assert all(n.startswith("StatefulPartitionedCall") for n in raw)
    assert [s.name for s in load(tfl, outputs=[raw[0]]).outputs] == [model.outputs[0].name]
    assert [s.name for s in load(tfl, outputs=["zeta_scores"]).outputs] == ["zeta_scores:0"]


def test_savedmodel_and_its_tflite_pair_outputs_by_key_in_any_order(keyed):
    from pytest_tfperf import assert_equivalent, load

    saved, tfl, x, _ = keyed
    report = assert_equivalent(saved, tfl, x)
    assert report.pairing == "name"
    assert [(o.name, o.candidate_name) for o in report.outputs] == [
        ("alpha_boxes:0", "alpha_boxes:0"), ("zeta_scores:0", "zeta_scores:0")]
    # the candidate lists them the other way round: still paired by key, never by position
    reversed_tfl = load(tfl, outputs=["zeta_scores", "alpha_boxes"])
    assert [s.name for s in reversed_tfl.outputs] == ["zeta_scores:0", "alpha_boxes:0"]
    report = assert_equivalent(saved, reversed_tfl, x)
    assert report.pairing == "name" and report.passed
    assert [(o.name, o.candidate_name) for o in report.outputs] == [
        ("alpha_boxes:0", "alpha_boxes:0"), ("zeta_scores:0", "zeta_scores:0")]
