"""The weight rule follows a Const into the library functions it is fed to (issue 20): a call
(`StatefulPartitionedCall`, what Keras 3 makes of a grouped Conv2D), and functional `If` /
`While` that freezing has not lowered yet (a GraphDef read as it is)."""
from __future__ import annotations

import numpy as np

from pytest_tfperf.analysis.summary import summarize_graph_def, weight_const_nodes


def _graph_def(fn):
    return fn.get_concrete_function().graph.as_graph_def()


def test_weights_used_inside_functional_if_and_while_are_weights():
    import tensorflow as tf

    w_cond = np.arange(12, dtype=np.float32).reshape(4, 3)
    w_loop = np.eye(3, dtype=np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32), tf.TensorSpec([], tf.bool)])
    def model(x, flag):
        a = tf.constant(w_cond, name="w_cond")
        b = tf.constant(w_loop, name="w_loop")
        y = tf.cond(flag, lambda: tf.matmul(x, a), lambda: tf.zeros([1, 3]))
        _, y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.matmul(v, b)), [0, y])
        return y * 0.5

    graph_def = _graph_def(model)
    ops = {n.op for n in graph_def.node}
    assert ops & {"If", "StatelessIf"} and ops & {"While", "StatelessWhile"}  # not lowered
    consts = {n.name: n for n in graph_def.node if n.op == "Const"}
    weights = weight_const_nodes(graph_def)
    assert {"w_cond", "w_loop"} <= weights
    assert all(consts[name].attr["value"].tensor.tensor_shape.dim for name in weights)  # no scalars
    assert summarize_graph_def(graph_def).weight_params == 12 + 9


def test_a_const_fed_to_a_call_is_a_weight_only_where_the_function_computes_with_it():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32), tf.TensorSpec([4], tf.float32)])
    def project(x, v):
        return tf.matmul(x, tf.reshape(v, [4, 1]))

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32), tf.TensorSpec([4], tf.float32)])
    def resize_like(x, v):
        return tf.reshape(x, tf.shape(v))

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def outer(x):
        kernel = tf.constant(np.ones(4, np.float32), name="kernel")
        template = tf.constant(np.ones(4, np.float32), name="template")
        return project(x, kernel), resize_like(x, template)

    graph_def = _graph_def(outer)
    assert any(n.op in ("PartitionedCall", "StatefulPartitionedCall") for n in graph_def.node)
    weights = weight_const_nodes(graph_def)
    assert "kernel" in weights and "template" not in weights
