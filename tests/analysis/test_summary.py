"""summary.py + report/summary_text.py + `tfperf summarize`: weights vs other constants, exact counts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_tfperf.report.summary_text import render_summary
from pytest_tfperf.wording import format_count
from pytest_tfperf.analysis.summary import summarize, summarize_graph_def, weight_const_nodes


@pytest.fixture(scope="module")
def alexnet():
    """Seed 000's AlexNet (224x224x3, 1000 classes), frozen once: (trainable count, FrozenGraph)."""
    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    graph = zoo.alexnet_graph()
    return zoo.trainable_parameter_count(graph), load(graph)


@pytest.fixture(scope="module")
def alexnet_summary(alexnet):
    return summarize(alexnet[1])


def test_alexnet_weight_parameters_match_the_seed(alexnet, alexnet_summary):
    trainable, frozen = alexnet
    assert trainable == 62_378_344  # seed 000's count, before freezing
    assert alexnet_summary.weight_params == trainable  # after freezing, from Const shapes
    assert alexnet_summary.trainable_params == trainable  # what the source knew
    assert alexnet_summary.non_trainable_params == 0
    # the only other constant is flatten's int32 target shape [-1, 9216]
    assert alexnet_summary.other_const_elements == 2
    assert alexnet_summary.serialized_bytes == frozen.graph_def.ByteSize()


def test_alexnet_structure(alexnet_summary):
    s = alexnet_summary
    hist = dict(s.op_histogram)
    assert hist["Conv2D"] == 5 and hist["MatMul"] == 3 and hist["BiasAdd"] == 8
    assert hist["Const"] == 17  # 16 weights + flatten's shape
    assert sum(hist.values()) == s.node_count
    counts = [c for _, c in s.op_histogram]
    assert counts == sorted(counts, reverse=True)
    ties = [op for op, c in s.op_histogram if c == 1]
    assert ties == sorted(ties)
    assert s.control_edges == 0 and s.leftovers == () and s.leftover_nodes == ()
    assert [i.to_dict() for i in s.inputs] == [
        {"name": "input_node:0", "dtype": "float32", "shape": [None, 224, 224, 3], "op": "Placeholder"}]
    assert [o.to_dict() for o in s.outputs] == [
        {"name": "logits_layer/BiasAdd:0", "dtype": "float32", "shape": [None, 1000], "op": "BiasAdd"}]


def test_alexnet_text_and_json(alexnet_summary):
    d = alexnet_summary.to_dict()
    assert json.loads(json.dumps(d)) == d  # plain JSON types only
    text = render_summary(d)
    lines = text.splitlines()
    assert "Found 1 possible inputs: (name=input_node, type=float(1), shape=[?,224,224,3])" in lines
    assert "Found 1 possible outputs: (name=logits_layer/BiasAdd, op=BiasAdd)" in lines
    assert ("Found 62378344 (62.38M) weight parameters, 2 (2) other const elements, 0 control_edges"
            in lines)
    assert "Op types used: 17 Const, 16 Identity, 8 BiasAdd, 7 Relu, 5 Conv2D, 3 MatMul" in text
    assert "Training leftovers" not in text


@pytest.mark.parametrize("n, text", [
    (0, "0"), (999, "999"), (1234, "1.23k"), (62_378_344, "62.38M"), (1_500_000_000, "1.50G"),
])
def test_counts_read_as_in_every_table(n, text):
    # `wording.format_count`, as every report table: 1.5e9 is "1.50G" (TensorFlow says "1.50B")
    assert format_count(n) == text


@pytest.fixture(scope="module")
def mixed_graph_def():
    """Weights reached in every supported way, next to constants that are not weights."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="image")
        x = (x - 127.5) * 0.0078125                                            # 2 scalars: other
        w = tf.constant(np.ones((3, 3, 3, 4), np.float32), name="w")           # 108: Conv2D
        y = tf.nn.conv2d(x, tf.identity(w, name="w/read"), 1, "SAME")
        y = tf.nn.bias_add(y, tf.constant(np.zeros(4, np.float32), name="b"))  # 4: BiasAdd
        y = y * tf.constant(np.full(4, 2.0, np.float32), name="gamma")          # 4: full-tensor Mul
        y = y + tf.constant(0.5, name="half")                                  # 1: scalar Add, other
        y = tf.reduce_mean(y, axis=[1, 2])                                     # axis [1, 2]: int, other
        half = tf.constant(np.ones((4, 5), np.float16), name="w16")            # 20: via Cast
        y = tf.matmul(y, tf.cast(half, tf.float32))
        check = tf.debugging.check_numerics(y, "logits")                      # leftover
        with tf.control_dependencies([check]):
            tf.identity(y, name="out")                                         # 1 control edge
    return graph.as_graph_def()


def test_weights_versus_other_constants(mixed_graph_def):
    assert weight_const_nodes(mixed_graph_def) == {"w", "b", "gamma", "w16"}
    s = summarize_graph_def(mixed_graph_def, ["image:0"], ["out:0"], name="mixed")
    assert s.weight_params == 108 + 4 + 4 + 20
    assert s.other_const_elements == 5  # 127.5, 0.0078125, 0.5 and the int32 axis [1, 2]
    assert s.control_edges == 1
    assert s.leftovers == (("CheckNumerics", 1),)
    assert s.leftover_nodes == ("CheckNumerics",)
    assert s.trainable_params is None and s.non_trainable_params is None
    assert s.inputs[0].to_dict() == {"name": "image:0", "dtype": "float32", "shape": [None, 8, 8, 3],
                                     "op": "Placeholder"}
    assert s.outputs[0].op == "Identity"
    assert s.node_count == len(mixed_graph_def.node)


def test_summary_does_not_modify_the_graph(mixed_graph_def):
    before = mixed_graph_def.SerializeToString(deterministic=True)
    summarize_graph_def(mixed_graph_def, ["image"], ["out"])
    assert mixed_graph_def.SerializeToString(deterministic=True) == before


def test_leftovers_are_rendered(mixed_graph_def):
    text = render_summary(summarize_graph_def(mixed_graph_def, ["image"], ["out"], name="m").to_dict())
    assert "Training leftovers: 1 CheckNumerics (e.g. CheckNumerics)" in text
    assert "1 control_edges" in text


def test_batch_norm_statistics_count_as_weights(small_frozen):
    """FusedBatchNorm's moving mean/variance are weights (non-trainable ones)."""
    s = summarize(small_frozen)
    assert s.trainable_params == 11_690 and s.non_trainable_params == 48
    assert s.weight_params == s.trainable_params + s.non_trainable_params
    assert [i.name for i in s.inputs] == ["input_node:0"]  # `training` has a default: not required


def _args(*argv):
    from pytest_tfperf.cli import build_parser

    return build_parser().parse_args(["summarize", *argv])


def test_summarize_command_text(small_pb, capsys):
    from pytest_tfperf.cli.summarize import run as summarize_command

    assert summarize_command(_args(str(small_pb))) == 0
    out = capsys.readouterr().out
    assert "Model small.pb (pb, " in out
    assert "Found 1 possible inputs: (name=input_node, type=float(1), shape=[?,32,32,3])" in out
    assert "Found 11738 (11.74k) weight parameters" in out


def test_summarize_command_json(small_pb, capsys):
    from pytest_tfperf.cli.summarize import run as summarize_command

    assert summarize_command(_args(str(small_pb), "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weight_params"] == 11_738
    assert data["kind"] == "pb" and data["name"] == "small.pb"
    assert data["outputs"][0]["name"] == "logits_layer/BiasAdd:0"
    assert data["serialized_bytes"] == small_pb.stat().st_size


def test_cli_reports_a_missing_model(tmp_path, capsys):
    from pytest_tfperf.cli import main

    missing = tmp_path / "nope.pb"
    assert main(["summarize", str(missing)]) == 2
    assert "nope.pb" in capsys.readouterr().err


def test_keras_unfused_batch_norm_counts_every_weight(keras_cnn):
    """Keras 3 lowers BatchNormalization to Rsqrt/Mul/Sub/AddV2: every vector is still a weight,
    and the epsilon scalars and the pooling axes are not."""
    from pytest_tfperf import load

    s = summarize(load(keras_cnn))
    assert s.weight_params == keras_cnn.count_params() == 1_634
    assert (s.trainable_params, s.non_trainable_params) == (1_586, 48)
    assert s.other_const_elements == 4  # 2 epsilons + GlobalAveragePooling's axes [1, 2]
