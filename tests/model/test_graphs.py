"""graphs.py: names, I/O detection, reachability and seed 001's validity rules, on real TF graphs.

The GraphDefs are frozen with TensorFlow's own `convert_variables_to_constants` (as seed 001 did)
and then edited as protos to break one rule at a time.
"""
from __future__ import annotations

import pytest

from pytest_tfperf.model import graphs
from pytest_tfperf.errors import GraphValidationError, NodeNotFoundError

INPUT = "input_node:0"
OUTPUT = "logits_layer/BiasAdd:0"


@pytest.fixture(scope="module")
def unfrozen():
    """small convnet with variables, an init op and a Saver (save/restore nodes): a training graph."""
    import tensorflow as tf

    from pytest_tfperf.model import zoo

    graph = zoo.small_convnet_graph(training_flag=True)
    with graph.as_default():
        init = tf.compat.v1.global_variables_initializer()
        tf.compat.v1.train.Saver()
    return graph, init


@pytest.fixture(scope="module")
def frozen_def(unfrozen):
    import tensorflow as tf

    graph, init = unfrozen
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        return tf.compat.v1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), ["logits_layer/BiasAdd"])


@pytest.fixture
def gd(frozen_def):
    """A fresh copy to edit."""
    copy = type(frozen_def)()
    copy.CopyFrom(frozen_def)
    return copy


def _add(gd, name, op, inputs=(), **attrs):
    node = gd.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        node.attr[key].CopyFrom(value)
    return node


def _attr(**kwargs):
    from tensorflow.core.framework import attr_value_pb2

    return attr_value_pb2.AttrValue(**kwargs)


def _float():
    import tensorflow as tf

    return _attr(type=tf.float32.as_datatype_enum)


def _const(gd, name, value):
    import tensorflow as tf

    return _add(gd, name, "Const", value=_attr(tensor=tf.make_tensor_proto(value, dtype=tf.float32)),
                dtype=_float())


@pytest.mark.parametrize("text, node, tensor", [
    ("conv_1/Conv2D", "conv_1/Conv2D", "conv_1/Conv2D:0"),
    ("conv_1/Conv2D:0", "conv_1/Conv2D", "conv_1/Conv2D:0"),
    ("split:2", "split", "split:2"),
    ("^init", "init", "init:0"),
    ("^a/b:1", "a/b", "a/b:1"),
    ("block_1/split:10", "block_1/split", "block_1/split:10"),
])
def test_node_and_tensor_names(text, node, tensor):
    assert graphs.node_name(text) == node
    assert graphs.tensor_name(text) == tensor


def test_detect_inputs_skips_the_training_flag(frozen_def):
    assert graphs.detect_inputs(frozen_def) == [INPUT]
    assert graphs.detect_defaults(frozen_def) == ["training:0"]


def test_detect_outputs_of_frozen_graph(frozen_def):
    assert graphs.detect_outputs(frozen_def) == [OUTPUT]


def test_detect_outputs_ignores_consts_noops_asserts_and_training_tails(unfrozen):
    graph, _ = unfrozen
    graph_def = graph.as_graph_def()
    ops = {n.op for n in graph_def.node}
    # the training graph has all the clutter detect_outputs must see through
    assert {"VarHandleOp", "AssignVariableOp", "NoOp", "SaveV2", "RestoreV2"} <= ops
    assert graphs.detect_outputs(graph_def) == [OUTPUT]


def test_detect_outputs_finds_a_new_unconsumed_op(gd):
    _const(gd, "unused_const", [1.0, 2.0])
    _add(gd, "unused_noop", "NoOp")
    _add(gd, "check", "CheckNumerics", [OUTPUT], T=_float(), message=_attr(s=b"logits"))
    _add(gd, "probs", "Softmax", [OUTPUT], T=_float())
    assert graphs.detect_outputs(gd) == ["probs:0"]


def test_consumers_ancestors_descendants(frozen_def):
    used = graphs.consumers(frozen_def)
    assert "conv_1/Conv2D" in used["input_node"]
    up = graphs.ancestors(frozen_def, [OUTPUT])
    assert {"input_node", "conv_1/kernel", "logits_layer/BiasAdd"} <= up
    down = graphs.descendants(frozen_def, ["conv_2/Conv2D"])
    assert "logits_layer/BiasAdd" in down and "conv_1/Conv2D" not in down


def test_valid_graph_passes(frozen_def):
    graphs.validate(frozen_def, [INPUT], [OUTPUT])
    graphs.validate(frozen_def, ["input_node"], ["logits_layer/BiasAdd"])  # node names work too


def test_duplicate_node_name(gd):
    dup = gd.node.add()
    dup.CopyFrom(next(n for n in gd.node if n.name == "conv_2/Conv2D"))
    with pytest.raises(GraphValidationError, match=r"duplicate node name 'conv_2/Conv2D'"):
        graphs.validate(gd, [INPUT], [OUTPUT])


def test_dangling_input_names_node_and_input(gd):
    node = next(n for n in gd.node if n.name == "conv_2/Conv2D")
    node.input[0] = "max_pool_1/MaxPoolX"
    with pytest.raises(GraphValidationError) as info:
        graphs.validate(gd, [INPUT], [OUTPUT])
    msg = str(info.value)
    assert "'max_pool_1/MaxPoolX'" in msg and "'conv_2/Conv2D'" in msg
    assert "Did you mean: 'max_pool_1/MaxPool'" in msg


def test_dangling_control_input(gd):
    next(n for n in gd.node if n.name == "conv_1/Conv2D").input.append("^gone")
    with pytest.raises(GraphValidationError, match=r"'\^gone' of node 'conv_1/Conv2D'"):
        graphs.validate(gd, [INPUT], [OUTPUT])


def test_existing_control_input_is_fine(gd):
    next(n for n in gd.node if n.name == "conv_2/Conv2D").input.append("^conv_1/Conv2D")
    graphs.validate(gd, [INPUT], [OUTPUT])


def test_unreachable_output(gd):
    _const(gd, "table", [1.0, 2.0])
    _add(gd, "orphan", "Identity", ["table"], T=_float())
    with pytest.raises(GraphValidationError, match=r"output 'orphan:0' is not reachable from the inputs"):
        graphs.validate(gd, [INPUT], [OUTPUT, "orphan:0"])


def test_unused_input(gd):
    _add(gd, "extra", "Placeholder", dtype=_float())
    with pytest.raises(GraphValidationError, match=r"input 'extra:0' is not used by any output"):
        graphs.validate(gd, [INPUT, "extra:0"], [OUTPUT])


def test_cut_path_between_input_and_output(gd):
    # rewire conv_2 to read a constant: the input no longer reaches the logits (seed 001 rule 1)
    import numpy as np

    _const(gd, "fake_activations", np.zeros((1, 16, 16, 8), np.float32))
    next(n for n in gd.node if n.name == "conv_2/Conv2D").input[0] = "fake_activations"
    with pytest.raises(GraphValidationError, match=r"input 'input_node:0' is not used"):
        graphs.validate(gd, [INPUT], [OUTPUT])


def test_unknown_op(gd):
    next(n for n in gd.node if n.name == "conv_2/Relu").op = "MyCustomRelu"
    with pytest.raises(GraphValidationError, match=r"node 'conv_2/Relu' uses op 'MyCustomRelu'"):
        graphs.validate(gd, [INPUT], [OUTPUT])
    graphs.validate(gd, [INPUT], [OUTPUT], check_ops=False)  # the structure is otherwise fine


def test_known_ops_include_hidden_fused_ops():
    ops = graphs.known_ops()
    assert {"Conv2D", "FusedBatchNormV3", "_FusedConv2D", "PlaceholderWithDefault"} <= ops
    assert "MyCustomRelu" not in ops


@pytest.mark.parametrize("inputs, outputs, wrong, suggestion", [
    (["input_nod:0"], [OUTPUT], "'input_nod:0'", "'input_node'"),
    ([INPUT], ["logits_layer/BiasAd"], "'logits_layer/BiasAd'", "'logits_layer/BiasAdd'"),
])
def test_mistyped_names_list_close_matches(frozen_def, inputs, outputs, wrong, suggestion):
    with pytest.raises(NodeNotFoundError) as info:
        graphs.validate(frozen_def, inputs, outputs)
    msg = str(info.value)
    assert wrong in msg and f"Did you mean: {suggestion}" in msg


def test_require_node(frozen_def):
    assert graphs.require_node(frozen_def, "conv_1/Conv2D:0") == "conv_1/Conv2D"
    with pytest.raises(NodeNotFoundError, match="conv_1/Conv2D"):
        graphs.require_node(frozen_def, "conv_1/Conv2d")


@pytest.mark.parametrize("op, leftover", [
    ("IteratorGetNext", True), ("TFRecordDatasetV2", True), ("MapDataset", True),
    ("RandomUniform", True), ("Assert", True), ("SaveV2", True),
    ("Conv2D", False), ("Identity", False), ("FusedBatchNormV3", False),
])
def test_is_leftover_op(op, leftover):
    assert graphs.is_leftover_op(op) is leftover
