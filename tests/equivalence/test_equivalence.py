"""Output equivalence: `assert_equivalent` / `compare_models` on real frozen graphs, and the
pure-numpy `compare_arrays` rules (tolerances, modes, NaN/Inf, classifier agreement)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from pytest_tfperf.model import zoo
from pytest_tfperf.equivalence import (
    EquivalenceReport,
    NotEquivalentError,
    assert_equivalent,
    compare_arrays,
    compare_models,
    make_input_sets,
)
from pytest_tfperf.errors import ConfigError, InputError, NodeNotFoundError
from pytest_tfperf.model import load

LOGITS = "logits_layer/BiasAdd:0"


# ------------------------------------------------------------------------------------------
# graph surgery helpers (GraphDef copies; the reference is never modified)


def _copy(graph_def):
    from tensorflow.core.framework import graph_pb2

    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    return out


def _with_const(graph_def, node_name, change):
    """Copy of `graph_def` where Const `node_name` holds `change(value copy)`."""
    import tensorflow as tf

    out = _copy(graph_def)
    node = next(n for n in out.node if n.name == node_name)
    value = tf.make_ndarray(node.attr["value"].tensor).copy()
    value = change(value)
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    return out


def _renamed(graph_def, renames):
    """Copy of `graph_def` with nodes renamed ({old: new}) and every consumer fixed."""
    out = _copy(graph_def)
    for node in out.node:
        if node.name in renames:
            node.name = renames[node.name]
        for i, inp in enumerate(node.input):
            ctrl = inp.startswith("^")
            base, sep, port = inp.lstrip("^").partition(":")
            if base in renames:
                node.input[i] = ("^" if ctrl else "") + renames[base] + (sep + port if sep else "")
    return out


# ------------------------------------------------------------------------------------------
# fixtures: one small convnet, shared


@pytest.fixture(scope="module")
def convnet():
    fg = load(zoo.small_convnet_graph(input_size=32, channels=(8, 16), num_classes=10))
    yield fg
    fg.close()


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(3).uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def one_weight_changed(convnet, image):
    """The convnet with logits_layer/kernel[i, 7] += 0.01, i = the largest feature's row."""
    (features,) = convnet.run(image, fetches=["flat:0"])
    row = int(np.argmax(features[0]))

    def bump(kernel):
        kernel[row, 7] += 0.01
        return kernel

    cand = load(_with_const(convnet.graph_def, "logits_layer/kernel", bump))
    yield cand, float(features[0, row]) * 0.01
    cand.close()


# ------------------------------------------------------------------------------------------
# real graphs


def test_same_model_passes_with_zero_error(convnet, image):
    twin = load(_copy(convnet.graph_def))  # a separate FrozenGraph (own session), same weights
    report = assert_equivalent(convnet, twin, image)
    assert isinstance(report, EquivalenceReport) and report.passed
    (out,) = report.outputs
    assert (out.name, out.candidate_name, out.shape, out.dtype) == (LOGITS, LOGITS, (1, 10), "float32")
    assert out.max_abs_error == 0.0 and out.n_mismatched == 0
    assert out.cosine_similarity == pytest.approx(1.0)
    assert out.top1_agreement == 1.0
    assert report.input_sets == ("given",) and report.n_inputs == 1
    assert "equivalent" in report.message() and "NOT" not in report.message()
    json.dumps(report.to_dict(), allow_nan=False)
    twin.close()


def test_load_is_called_on_a_graph_def_and_synthetic_input_is_used(convnet):
    report = compare_models(convnet, convnet.graph_def)  # a raw GraphDef goes through load()
    assert report.passed
    assert report.input_sets == ("synthetic",)
    assert report.outputs[0].shape == (1, 10)  # unknown batch dim -> 1


def test_one_changed_weight_fails_with_a_readable_message(convnet, image, one_weight_changed):
    cand, expected_abs = one_weight_changed
    (ref_logits,) = convnet.run(image)
    (cand_logits,) = cand.run(image)
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(convnet, cand, image)
    err = info.value
    assert isinstance(err, AssertionError)
    out = err.report.outputs[0]
    assert not err.report.passed and out.failure == "values"
    assert out.worst_index == (0, 7)
    assert out.max_abs_error == pytest.approx(expected_abs, rel=1e-3)
    assert out.n_mismatched == 1  # only column 7 reads the changed weight
    msg = str(err)
    assert f"output {LOGITS} [1,10] float32: 1/10 (10%) beyond atol=1e-05 rtol=0.0001" in msg
    assert f"worst at [0, 7]: {ref_logits[0, 7]:.5g} vs {cand_logits[0, 7]:.5g}" in msg
    assert "top-1 agrees" in msg or "top-1 differs" in msg
    # the printed would-pass tolerances really pass (each alone), and are tight
    atol_text, rtol_text = re.search(r"would pass with atol>=(\S+) or rtol>=(\S+?);", msg).groups()
    assert float(atol_text) == pytest.approx(out.min_atol, rel=0.01)
    assert float(rtol_text) == pytest.approx(out.min_rtol, rel=0.01)
    assert_equivalent(convnet, cand, image, atol=float(atol_text), rtol=0.0)
    assert_equivalent(convnet, cand, image, atol=0.0, rtol=float(rtol_text))
    with pytest.raises(NotEquivalentError):
        assert_equivalent(convnet, cand, image, atol=out.min_atol * 0.9, rtol=0.0)


def test_top1_flip_is_reported(convnet, image):
    (logits,) = convnet.run(image)
    winner = int(np.argmax(logits[0]))
    loser = int(np.argmin(logits[0]))

    def promote(bias):
        bias[loser] += logits[0, winner] - logits[0, loser] + 0.5
        return bias

    cand = load(_with_const(convnet.graph_def, "logits_layer/bias", promote))
    report = compare_models(convnet, cand, image, top_k=3)
    out = report.outputs[0]
    assert not report.passed
    assert out.top1_agreement == 0.0 and out.top1_disagree_rows == (0,)
    assert out.topk_agreement == 0.0  # the new winner was the reference's last class
    assert "top-1 differs in 1/1 rows (row 0)" in out.message
    assert "top-3 differs in 1/1 rows (row 0)" in out.message
    cand.close()


def test_output_map_pairs_renamed_outputs(convnet, image):
    ref = load(convnet.graph_def, outputs=["logits_layer/BiasAdd", "flat"])
    renamed = _renamed(convnet.graph_def, {"logits_layer/BiasAdd": "logits", "flat": "features"})
    cand = load(renamed, outputs=["features", "logits"])  # renamed *and* reordered
    # without a map the outputs pair by position: wrong pairs -> shape failures, said plainly
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(ref, cand, image)
    assert "paired by position" in str(info.value)
    assert f"output {LOGITS} (candidate features:0): shape [1,10] vs [1,1024]" in str(info.value)
    report = assert_equivalent(ref, cand, image,
                               output_map={"logits_layer/BiasAdd": "logits:0", "flat:0": "features"})
    assert report.pairing == "map" and report.notes == ()
    assert [(o.name, o.candidate_name) for o in report.outputs] == [
        (LOGITS, "logits:0"), ("flat:0", "features:0")]
    with pytest.raises(NodeNotFoundError, match="'logits:0'"):
        assert_equivalent(ref, cand, image, output_map={LOGITS: "logitz"})
    with pytest.raises(NodeNotFoundError, match="Did you mean"):
        assert_equivalent(ref, cand, image, output_map={"logits_layer/BiasAd": "logits"})
    ref.close(), cand.close()


def test_same_count_different_names_pair_by_position_with_a_note(convnet, image):
    cand = load(_renamed(convnet.graph_def, {"logits_layer/BiasAdd": "logits"}))
    report = assert_equivalent(convnet, cand, image)
    assert report.pairing == "position"
    assert report.notes and f"{LOGITS} -> logits:0" in report.notes[0]
    assert "note: outputs paired by position" in report.message()
    cand.close()


def test_different_output_counts_fail_with_their_own_line(convnet, image):
    two = load(convnet.graph_def, outputs=["logits_layer/BiasAdd", "max_pool_2/MaxPool"])
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(convnet, two, image)
    assert ("output max_pool_2/MaxPool:0: only in candidate (reference has 1 output, candidate "
            "has 2)") in str(info.value)
    assert info.value.report.outputs[0].passed  # the shared output itself is fine
    with pytest.raises(NotEquivalentError, match="missing in candidate"):
        assert_equivalent(two, convnet, image)
    two.close()


def test_different_shapes_fail(convnet, image):
    wider = load(zoo.small_convnet_graph(input_size=32, channels=(8, 16), num_classes=12))
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(convnet, wider, image)
    assert f"output {LOGITS}: shape [1,10] vs [1,12]" in str(info.value)
    assert info.value.report.outputs[0].failure == "shape"
    wider.close()


def test_dtype_mismatch_fails(convnet, image):
    from tensorflow.core.framework import types_pb2

    graph_def = _copy(convnet.graph_def)
    cast = graph_def.node.add(name="logits_half", op="Cast", input=["logits_layer/BiasAdd"])
    cast.attr["SrcT"].type = types_pb2.DT_FLOAT
    cast.attr["DstT"].type = types_pb2.DT_HALF
    half = load(graph_def, outputs=["logits_half"])
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(convnet, half, image, output_map={LOGITS: "logits_half"}, atol=1e-2)
    out = info.value.report.outputs[0]
    assert out.failure == "dtype" and out.candidate_dtype == "float16"
    assert f"output {LOGITS} (candidate logits_half:0) [1,10]: dtype float32 vs float16" in out.message
    half.close()


def test_nan_in_candidate_only_fails_and_nan_in_both_is_equal(convnet, image):
    def poison(bias):
        bias[2] = np.nan
        return bias

    poisoned_def = _with_const(convnet.graph_def, "logits_layer/bias", poison)
    poisoned = load(poisoned_def)
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(convnet, poisoned, image, atol=1e6, rtol=1e6)  # no tolerance hides NaN
    out = info.value.report.outputs[0]
    assert out.failure == "nonfinite" and out.nonfinite_mismatches == 1
    assert out.nonfinite_index == (0, 2) and np.isnan(out.nonfinite_candidate)
    assert "NaN/Inf in one output only at 1/10 positions (10%); first at [0, 2]:" in out.message
    assert out.message.split("first at [0, 2]: ")[1].split(";")[0].endswith(" vs nan")
    json.dumps(info.value.report.to_dict(), allow_nan=False)  # NaN values become None
    twin = load(_copy(poisoned_def))
    assert assert_equivalent(poisoned, twin, image).passed  # NaN in the same place: equal
    poisoned.close(), twin.close()


def test_path_reference_and_optional_flags(small_frozen, small_pb, image32):
    """A .pb path goes through load(); a fed `training` flag is kept in every input set."""
    feeds = {"input_node": image32, "training": False}
    sets = make_input_sets(small_frozen, feeds, n_random=2)
    assert all(bool(feed["training:0"]) is False for _, feed in sets)
    report = assert_equivalent(small_frozen, str(small_pb), feeds, n_random=2)
    assert report.passed and report.n_inputs == 3
    assert report.outputs[0].max_abs_error == 0.0
    assert report.candidate == "small.pb"


def test_different_input_names_need_an_input_map(convnet, image):
    cand = load(_renamed(convnet.graph_def, {"input_node": "image"}))
    with pytest.raises(InputError) as info:
        assert_equivalent(convnet, cand, image)
    assert "input_node:0" in str(info.value) and "image:0" in str(info.value)
    assert "input_map" in str(info.value)
    assert assert_equivalent(convnet, cand, image, input_map={"input_node": "image"}).passed
    with pytest.raises(NodeNotFoundError, match="'image:0'"):
        assert_equivalent(convnet, cand, image, input_map={"input_node": "imag"})
    cand.close()


def test_per_output_tolerances(convnet, image, one_weight_changed):
    cand, _ = one_weight_changed
    assert assert_equivalent(convnet, cand, image,
                             tolerances={"logits_layer/BiasAdd": {"atol": 0.5}}).passed
    report = compare_models(convnet, cand, image, tolerances={LOGITS: {"mode": "mean", "atol": 1.0}})
    assert report.passed and report.outputs[0].mode == "mean"
    with pytest.raises(NodeNotFoundError, match=f"Did you mean: '{LOGITS}'"):
        assert_equivalent(convnet, cand, image, tolerances={"logits_layer/BiasAd:0": {"atol": 1}})
    with pytest.raises(ConfigError, match="atol=-1"):
        assert_equivalent(convnet, cand, image, tolerances={LOGITS: {"atol": -1}})
    with pytest.raises(ConfigError, match="tol"):
        assert_equivalent(convnet, cand, image, tolerances={LOGITS: {"tol": 1}})


def test_bad_mode_and_negative_tolerances_are_usage_errors(convnet, image):
    with pytest.raises(ConfigError, match=r"mode must be one of elemwise, max, mean, quantile.*'fuzzy'"):
        assert_equivalent(convnet, convnet, image, mode="fuzzy")
    with pytest.raises(ConfigError, match="atol=-1e-05"):
        assert_equivalent(convnet, convnet, image, atol=-1e-5)
    with pytest.raises(ConfigError, match="rtol=-0.1"):
        assert_equivalent(convnet, convnet, image, rtol=-0.1)
    with pytest.raises(ConfigError, match="quantile"):
        assert_equivalent(convnet, convnet, image, mode="quantile", quantile=1.5)
    with pytest.raises(ConfigError, match="n_random"):
        assert_equivalent(convnet, convnet, image, n_random=-1)


def test_random_inputs_are_reproducible_and_within_the_given_range(convnet, image):
    sets = make_input_sets(convnet, image, n_random=3, seed=7)
    assert [label for label, _ in sets] == ["given", "random[0]", "random[1]", "random[2]"]
    given = sets[0][1]["input_node:0"]
    np.testing.assert_array_equal(given, image)
    randoms = [feed["input_node:0"] for _, feed in sets[1:]]
    for arr in randoms:
        assert arr.shape == image.shape and arr.dtype == np.float32
        assert not np.array_equal(arr, image)
        assert image.min() <= arr.min() and arr.max() <= image.max()
    assert not np.array_equal(randoms[0], randoms[1])
    again = make_input_sets(convnet, image, n_random=3, seed=7)
    for (_, a), (_, b) in zip(sets, again):
        np.testing.assert_array_equal(a["input_node:0"], b["input_node:0"])
    other = make_input_sets(convnet, image, n_random=1, seed=8)
    assert not np.array_equal(other[1][1]["input_node:0"], randoms[0])


def test_worst_input_set_is_reported(convnet, image, one_weight_changed):
    cand, _ = one_weight_changed
    given_only = compare_models(convnet, cand, image).outputs[0]
    report = compare_models(convnet, cand, image, n_random=3, seed=1)
    assert report.n_inputs == 4 and report.input_sets[0] == "given"
    worst = report.outputs[0]
    assert worst.input_set in report.input_sets
    assert report.input_sets[worst.input_set_index] == worst.input_set
    assert worst.max_abs_error >= given_only.max_abs_error
    assert report.to_dict() == compare_models(convnet, cand, image, n_random=3, seed=1).to_dict()
    if worst.input_set != "given":
        assert f"worst on input set {worst.input_set}" in worst.message


# ------------------------------------------------------------------------------------------
# compare_arrays: the rules, without TensorFlow


def test_elemwise_fails_only_beyond_both_tolerances():
    ok = compare_arrays([100.0, 0.0], [100.05, 0.0005], atol=1e-3, rtol=1e-3)
    assert ok.passed  # 0.05 <= rtol*100 ; 0.0005 <= atol although its rel error is infinite
    # numpy.allclose would pass this one (atol + rtol*|ref|); ours needs one tolerance alone
    strict = compare_arrays([1.0], [1.0015], atol=1e-3, rtol=1e-3)
    assert np.allclose([1.0015], [1.0], atol=1e-3, rtol=1e-3) and not strict.passed
    assert strict.n_mismatched == 1 and strict.mismatch_percent == 100.0


def test_infinite_relative_error_is_explained():
    out = compare_arrays([0.0, 1.0], [0.5, 1.0])
    assert not out.passed and out.max_rel_error == float("inf")
    assert "would pass with atol>=5e-01 (no rtol alone" in out.message
    assert out.to_dict()["max_rel_error"] is None and out.to_dict()["max_rel_error_infinite"]


def test_modes():
    ref = np.zeros(1000)
    cand = np.zeros(1000)
    cand[:5] = 1.0  # 0.5% of elements off by 1
    assert compare_arrays(ref, cand, mode="mean", atol=0.01).passed  # mean abs err 0.005
    assert not compare_arrays(ref, cand, mode="mean", atol=0.001).passed
    assert compare_arrays(ref, cand, mode="quantile", quantile=0.99, atol=0).passed
    q = compare_arrays(ref, cand, mode="quantile", quantile=0.999, atol=0.1)
    assert not q.passed and "q0.999 abs err" in q.message
    assert not compare_arrays(ref, cand, mode="max", atol=0.5, rtol=0.5).passed
    assert compare_arrays(ref + 1, cand + 1, mode="max", atol=0, rtol=1.0).passed  # 2 vs 1
    assert not compare_arrays(ref + 1, cand + 1, mode="max", atol=0, rtol=0.99).passed
    m = compare_arrays(ref, cand, mode="mean", atol=0.001)
    assert "mean abs err 5e-03 > atol=0.001" in m.message and "atol>=5e-03" in m.message


def test_infinities_and_classifier_detection():
    ref = np.array([[1.0, np.inf, 3.0], [np.nan, 0.0, -np.inf]])
    same = compare_arrays(ref, ref.copy())
    assert same.passed and same.nonfinite_mismatches == 0
    flipped = ref.copy()
    flipped[1, 2] = np.inf  # -inf vs +inf: a mismatch
    out = compare_arrays(ref, flipped)
    assert out.nonfinite_mismatches == 1 and out.nonfinite_index == (1, 2)
    assert compare_arrays(np.zeros((2, 1)), np.zeros((2, 1))).top1_agreement is None  # 1 class
    assert compare_arrays(np.zeros((2, 3, 4)), np.zeros((2, 3, 4))).top1_agreement is None


def test_would_pass_tolerance_is_rounded_up():
    out = compare_arrays([1.0], [1.0 + 3.9812e-3])
    assert "would pass with atol>=3.99e-03" in out.message
    assert "(abs 3.98e-03, rel 3.98e-03)" in out.message


def test_non_float_and_empty_outputs():
    strings = compare_arrays(np.array([b"cat", b"dog"]), np.array([b"cat", b"cow"]), name="label:0")
    assert not strings.passed and strings.worst_index == (1,)
    assert "1/2 elements differ, first at [1]" in strings.message
    flags = compare_arrays(np.array([True, False]), np.array([True, True]), atol=0.5)
    assert not flags.passed and flags.max_abs_error == 1.0
    empty = compare_arrays(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    assert empty.passed and empty.n_elements == 0
    assert compare_arrays(np.int32(3), np.int64(3)).failure == "dtype"
