"""FLOPs from real shapes: exact against hand formulas for the seed models, fused ops, Keras
depthwise/separable convs, uncounted and data-dependent ops, tf.profiler cross-check."""
from __future__ import annotations

import math

import numpy as np
import pytest

import pytest_tfperf
from pytest_tfperf.model import zoo
from pytest_tfperf.analysis.flops.count import canonical_op_type, classify, count_flops


def _same(n: int, stride: int) -> int:
    return math.ceil(n / stride)


def _valid(n: int, k: int, stride: int) -> int:
    return (n - k) // stride + 1


def _conv(h: int, w: int, cout: int, k: int, cin: int) -> int:
    return 2 * h * w * cout * k * k * cin


def _dense(n_in: int, n_out: int) -> int:
    return 2 * n_in * n_out


def _alexnet_layers(size: int, units: int, classes: int):
    """(conv FLOPs, dense FLOPs, bias-add elements, relu elements) of zoo.alexnet_graph."""
    convs, outs = [], []
    h = _same(size, 4)
    convs.append(_conv(h, h, 96, 11, 3))
    outs.append(h * h * 96)
    h = _valid(h, 3, 2)
    convs.append(_conv(h, h, 256, 5, 96))
    outs.append(h * h * 256)
    h = _valid(h, 3, 2)
    for cin, cout in ((256, 384), (384, 384), (384, 256)):
        convs.append(_conv(h, h, cout, 3, cin))
        outs.append(h * h * cout)
    h = _valid(h, 3, 2)
    flat = h * h * 256
    dense = [_dense(flat, units), _dense(units, units), _dense(units, classes)]
    bias = sum(outs) + units + units + classes
    relu = sum(outs) + units + units
    return sum(convs), sum(dense), bias, relu


def _vgg16_layers(size: int, units: int, classes: int):
    convs, cin, h = [], 3, size
    for filters, n in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(n):
            convs.append(_conv(h, h, filters, 3, cin))
            cin = filters
        h //= 2
    flat = h * h * 512
    dense = [_dense(flat, units), _dense(units, units), _dense(units, units), _dense(units, classes)]
    return sum(convs), sum(dense)


@pytest.fixture(scope="module")
def alexnet():
    return pytest_tfperf.load(zoo.alexnet_graph(input_size=64, dense_units=64, num_classes=10))


def test_alexnet_conv_and_dense_flops_match_the_hand_formula(alexnet):
    conv, dense, bias, relu = _alexnet_layers(64, 64, 10)
    report = count_flops(alexnet)
    assert report.matmul_conv_flops == conv + dense
    assert report.by_op_type["Conv2D"] == conv
    assert report.by_op_type["MatMul"] == dense
    assert report.by_op_type["BiasAdd"] == bias  # element-wise: one per output element
    assert report.by_op_type["Relu"] == relu
    assert report.elementwise_flops == bias + relu
    assert report.total == report.matmul_conv_flops + report.elementwise_flops + report.other_flops
    assert report.uncounted == {} and report.unresolved == {}
    assert report.batch == 1 and report.input_shapes == {"input_node:0": [1, 64, 64, 3]}
    assert report.shapes_from == "static"


def test_flops_scale_with_the_batch_of_given_inputs(alexnet):
    one = count_flops(alexnet)
    three = count_flops(alexnet, np.zeros((3, 64, 64, 3), np.float32))
    assert three.batch == 3 and three.input_shapes["input_node:0"] == [3, 64, 64, 3]
    assert three.matmul_conv_flops == 3 * one.matmul_conv_flops
    assert three.total == 3 * one.total


def test_vgg16_conv_and_dense_flops_match_the_hand_formula():
    fg = pytest_tfperf.load(zoo.vgg16_graph(input_size=32, dense_units=32, num_classes=10))
    conv, dense = _vgg16_layers(32, 32, 10)
    report = count_flops(fg)
    assert report.matmul_conv_flops == conv + dense
    assert report.by_op_type["Conv2D"] == conv
    assert report.by_op_type["MatMul"] == dense
    d = report.to_dict()
    assert d["total"] == report.total and isinstance(d["by_op_type"]["Conv2D"], int)


def test_conv_and_matmul_agree_with_tf_profiler(alexnet):
    import tensorflow as tf

    fg = pytest_tfperf.load(alexnet, input_shapes=[[1, 64, 64, 3]])  # profiler needs known batch
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    prof = tf.compat.v1.profiler.profile(fg.graph, options=opts)
    types = {op.name: op.type for op in fg.graph.get_operations()}
    theirs: dict[str, int] = {}
    for child in prof.children:
        theirs[types.get(child.name)] = theirs.get(types.get(child.name), 0) + child.float_ops
    ours = count_flops(fg).by_op_type
    assert ours["Conv2D"] == theirs["Conv2D"]
    assert ours["MatMul"] == theirs["MatMul"]
    assert ours["BiasAdd"] == theirs["BiasAdd"]


def test_keras_depthwise_and_separable_convs_are_counted():
    import keras

    inp = keras.Input((32, 32, 3))
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(inp)
    x = keras.layers.SeparableConv2D(8, 3, padding="valid", name="sep")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(4)(x)
    report = count_flops(pytest_tfperf.load(keras.Model(inp, out)))
    depthwise = 2 * 32 * 32 * 6 * 3 * 3 + 2 * 30 * 30 * 6 * 3 * 3  # dw layer + sep's depthwise
    pointwise = _conv(30, 30, 8, 1, 6)
    assert report.by_op_type["DepthwiseConv2dNative"] == depthwise
    assert report.by_op_type["Conv2D"] == pointwise
    assert report.by_op_type["MatMul"] == _dense(8, 4)
    assert report.matmul_conv_flops == depthwise + pointwise + _dense(8, 4)
    assert report.by_op_type["Mean"] == 30 * 30 * 8  # global average pool: one per input element
    assert report.uncounted == {}


def test_grouped_conv_inside_an_xla_function_is_counted_and_its_kernel_is_a_weight():
    """Keras 3 runs Conv2D(groups>1) as tf.function(jit_compile=True): the frozen graph calls a
    function marked `_noinline` / `_XlaMustCompile`, whose Conv2D must still be counted, and whose
    kernel (a Const fed to the call) is a weight (issue 20)."""
    import keras

    x = keras.Input((32, 32, 8))
    model = keras.Model(x, keras.layers.Conv2D(8, 3, groups=8)(x))
    fg = pytest_tfperf.load(model)
    assert any(n.op == "StatefulPartitionedCall" for n in fg.graph_def.node)  # what runs stays XLA
    report = count_flops(fg)
    assert report.unresolved == {}
    assert report.by_op_type == {"Conv2D": _conv(30, 30, 8, 3, 1), "BiasAdd": 30 * 30 * 8}
    assert report.total == 136_800
    assert pytest_tfperf.summarize(fg).weight_params == model.count_params() == 80


def test_grappler_fused_ops_count_like_the_ops_they_fuse():
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.grappler import tf_optimizer

    fg = pytest_tfperf.load(zoo.small_convnet_graph(input_size=32, channels=(8, 16)))
    plain = count_flops(fg)
    graph_def = type(fg.graph_def)()
    graph_def.CopyFrom(fg.graph_def)
    for node in graph_def.node:
        node.device = "/device:CPU:0"  # the remapper fuses only placed nodes
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
        graph.add_to_collection("train_op", graph.get_operation_by_name(fg.outputs[0].node))
        meta = tf.compat.v1.train.export_meta_graph(graph=graph)
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.optimizers[:] = ["remap"]
    config.graph_options.rewrite_options.min_graph_nodes = -1
    fused_graph = tf_optimizer.OptimizeGraph(config, meta)
    ops = [n.op for n in fused_graph.node]
    assert ops.count("_FusedConv2D") == 2 and ops.count("_FusedMatMul") == 1
    fused = count_flops(pytest_tfperf.load(fused_graph, outputs=[fg.outputs[0].name]))
    assert fused.matmul_conv_flops == plain.matmul_conv_flops
    assert fused.by_op_type["_FusedConv2D"] == (plain.by_op_type["Conv2D"] + 2 * 32 * 32 * 8
                                                + 2 * 16 * 16 * 16)  # + BiasAdd and Relu
    assert fused.elementwise_flops == plain.elementwise_flops  # same bias adds and relus
    assert fused.total == plain.total


def _graph_with_extra_ops():
    """x[?, 8, 8, 6] -> conv2d_transpose, batch matmul, einsum, cumsum (not counted)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 6], name="x")
        f = tf.constant(rng.random((3, 3, 4, 6), dtype=np.float32))
        up = tf.nn.conv2d_transpose(x, f, output_shape=tf.stack([tf.shape(x)[0], 16, 16, 4]),
                                    strides=2, padding="SAME")
        a = tf.reshape(x, [-1, 64, 6])
        bm = tf.matmul(a, tf.constant(rng.random((1, 6, 5), dtype=np.float32)))
        e = tf.einsum("bij,jk->bik", a, tf.constant(rng.random((6, 3), dtype=np.float32)))
        c = tf.cumsum(e, axis=1)
        tf.identity(tf.reduce_sum(up) + tf.reduce_sum(bm) + tf.reduce_sum(c), name="out")
    return graph


def test_transposed_conv_batch_matmul_einsum_and_uncounted_ops():
    report = count_flops(pytest_tfperf.load(_graph_with_extra_ops(), outputs=["out"]))
    assert report.by_op_type["Conv2DBackpropInput"] == 2 * (8 * 8 * 6) * 3 * 3 * 4
    assert report.by_op_type["BatchMatMulV2"] == 2 * 64 * 5 * 6
    assert report.by_op_type["Einsum"] == 2 * 64 * 3 * 6  # 2 x b*i*j*k
    assert report.matmul_conv_flops == 2 * 384 * 36 + 2 * 64 * 5 * 6 + 2 * 64 * 3 * 6
    assert report.uncounted == {"Cumsum": 1}  # reported with its node count, never a silent 0
    assert report.unresolved == {}


def test_data_dependent_shapes_are_read_from_one_traced_run():
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8], name="x")
        keep = tf.where(tf.reduce_sum(x, axis=1) > -1.0)[:, 0]  # all rows; unknown statically
        rows = tf.gather(x, keep)
        tf.matmul(rows, tf.ones([8, 4]), name="out")
    fg = pytest_tfperf.load(graph, outputs=["out"])
    report = count_flops(fg)
    assert report.shapes_from == "run"
    assert report.by_op_type["MatMul"] == _dense(8, 4)  # batch 1 row x [8, 4]
    assert report.uncounted == {"Where": 1}
    assert report.unresolved == {}
    two = count_flops(fg, np.ones((2, 8), np.float32))
    assert two.by_op_type["MatMul"] == 2 * _dense(8, 4)


def test_unknown_spatial_dims_follow_the_input_policy_and_say_so():
    """Dynamic H/W are pinned to the input policy's 224 (inputs.py), and the report says so."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="x")
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 4]), strides=1, padding="SAME", name="out")
    fg = pytest_tfperf.load(graph, outputs=["out"])
    guessed = count_flops(fg)
    assert guessed.input_shapes == {"x:0": [1, 224, 224, 3]}
    assert guessed.input_notes == ("x:0: dynamic H/W: pinned to 224",)
    assert guessed.by_op_type["Conv2D"] == _conv(224, 224, 4, 3, 3)
    report = count_flops(fg, np.zeros((1, 10, 12, 3), np.float32))
    assert report.by_op_type["Conv2D"] == _conv(10, 12, 4, 3, 3) and report.input_notes == ()


def test_einsum_with_ellipsis_broadcast_and_single_operand():
    from tensorflow.core.framework import node_def_pb2

    from pytest_tfperf.analysis.flops.count import node_flops

    node = node_def_pb2.NodeDef(name="e", op="Einsum")
    node.attr["equation"].s = b"...ij,...jk->...ik"
    assert node_flops(node, [[2, 3, 4, 5], [5, 6]], [[2, 3, 4, 6]]) == ({"matmul_conv": 1440}, True)
    node.attr["equation"].s = b"ij->j"  # a reduction over i
    assert node_flops(node, [[4, 5]], [[5]]) == ({"other": 20}, True)
    assert node_flops(node, [None], [[5]]) == ({}, False)  # unknown shape: unresolved, not 0


def test_canonical_op_type_and_classify():
    assert canonical_op_type("_MklNativeConv2D") == "Conv2D"
    assert canonical_op_type("_MklNativeFusedConv2D") == "_FusedConv2D"
    assert canonical_op_type("_MklMatMul") == "MatMul"
    assert canonical_op_type("Conv2D") == "Conv2D"
    assert classify("_MklNativeFusedMatMul") == "counted"
    assert classify("Reshape") == "free" and classify("Assert") == "free"
    assert classify("Cumsum") == "uncounted"
