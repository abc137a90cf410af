"""Reference models from the seeds, built (never downloaded) with real TensorFlow.

Used by our own tests, the example project and the benchmarks; handy for users too, as a
known-good model to try the plugin on. TF1-style graphs are built with raw ops
(`tf.nn.conv2d`, `tf.compat.v1.get_variable`) because `tf.compat.v1.layers` needs Keras 2.
Variable names follow `tf.layers` (`conv_1/kernel`, `conv_1/bias`), so the graphs look like the
seed's: input `input_node` [None, H, W, 3], output `logits_layer/BiasAdd`.

Example:
    graph = zoo.alexnet_graph(input_size=224)       # 62,378,344 trainable parameters
    frozen = pytest_tfperf.load(zoo.alexnet_checkpoint(tmp_path))  # checkpoint prefix
"""
from __future__ import annotations

import os
from typing import Sequence

ALEXNET_TRAINABLE_PARAMS_224 = 62_378_344  # seed 000, 1000 classes, 224x224x3 input


def _tf():
    import tensorflow as tf

    return tf


def _conv(x, filters, kernel, stride, name, padding="SAME", relu=True):
    tf = _tf()
    v1 = tf.compat.v1
    in_ch = int(x.shape[-1])
    with v1.variable_scope(name):
        w = v1.get_variable(
            "kernel", [kernel, kernel, in_ch, filters], initializer=v1.glorot_uniform_initializer()
        )
        b = v1.get_variable("bias", [filters], initializer=v1.zeros_initializer())
        y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding=padding, name="Conv2D")
        y = tf.nn.bias_add(y, b, name="BiasAdd")
        return tf.nn.relu(y, name="Relu") if relu else y


def _dense(x, units, name, relu=True):
    tf = _tf()
    v1 = tf.compat.v1
    with v1.variable_scope(name):
        w = v1.get_variable(
            "kernel", [int(x.shape[-1]), units], initializer=v1.glorot_uniform_initializer()
        )
        b = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())
        y = tf.nn.bias_add(tf.matmul(x, w, name="MatMul"), b, name="BiasAdd")
        return tf.nn.relu(y, name="Relu") if relu else y


def _maxpool(x, size, stride, name, padding="VALID"):
    tf = _tf()
    return tf.nn.max_pool2d(x, size, stride, padding, name=f"{name}/MaxPool")


def _flatten(x):
    tf = _tf()
    dims = 1
    for d in x.shape[1:]:
        dims *= int(d)
    return tf.reshape(x, [-1, dims], name="flat")


def _input(input_size: int):
    tf = _tf()
    return tf.compat.v1.placeholder(
        tf.float32, [None, input_size, input_size, 3], name="input_node"
    )


def _training_dropout(x, rate=0.5):
    """Seed 001's `training` flag: a PlaceholderWithDefault(False) gating dropout."""
    tf = _tf()
    training = tf.compat.v1.placeholder_with_default(False, [], name="training")
    return tf.cond(training, lambda: tf.nn.dropout(x, rate=rate), lambda: tf.identity(x))


def alexnet_graph(input_size: int = 224, num_classes: int = 1000, dense_units: int = 4096,
                  seed: int = 0, training_flag: bool = False):
    """Seed 000's AlexNet as a TF1 graph with variables.

    Args:
        input_size: square input H = W (224 in the seed; 64-128 for fast tests).
        num_classes: logits width.
        dense_units: width of dense_1/dense_2 (4096 in the seed).
        seed: graph-level random seed, so weights are the same every build.
        training_flag: add seed 001's `training` PlaceholderWithDefault (dropout before logits).
    Returns:
        a `tf.Graph`; input `input_node:0`, output `logits_layer/BiasAdd:0`.
    """
    tf = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(seed)
        x = _input(input_size)
        net = _conv(x, 96, 11, 4, "conv_1")
        net = tf.nn.lrn(net, depth_radius=5, bias=1.0, alpha=0.0001 / 5.0, beta=0.75, name="norm_1")
        net = _maxpool(net, 3, 2, "max_pool_1")
        net = _conv(net, 256, 5, 1, "conv_2")
        net = tf.nn.lrn(net, depth_radius=5, bias=1.0, alpha=0.0001 / 5.0, beta=0.75, name="norm_2")
        net = _maxpool(net, 3, 2, "max_pool_2")
        net = _conv(net, 384, 3, 1, "conv_3")
        net = _conv(net, 384, 3, 1, "conv_4")
        net = _conv(net, 256, 3, 1, "conv_5")
        net = _maxpool(net, 3, 2, "max_pool_5")
        net = _flatten(net)
        net = _dense(net, dense_units, "dense_1")
        net = _dense(net, dense_units, "dense_2")
        if training_flag:
            net = _training_dropout(net)
        _dense(net, num_classes, "logits_layer", relu=False)
    return graph


def vgg16_graph(input_size: int = 224, num_classes: int = 1000, dense_units: int = 4096,
                seed: int = 0):
    """Seed 000's VGG16 as a TF1 graph (13 conv 3x3 + 3 dense + logits, as the seed writes it).

    Input size must be a multiple of 32. Output `logits_layer/BiasAdd:0`.
    """
    tf = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(seed)
        net = _input(input_size)
        blocks = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
        for b, (filters, convs) in enumerate(blocks, start=1):
            for c in range(1, convs + 1):
                net = _conv(net, filters, 3, 1, f"conv_{b}_{c}")
            net = _maxpool(net, 2, 2, f"max_pool_{b}")
        net = _flatten(net)
        for i in (1, 2, 3):
            net = _dense(net, dense_units, f"dense_{i}")
        _dense(net, num_classes, "logits_layer", relu=False)
    return graph


def small_convnet_graph(input_size: int = 32, channels: Sequence[int] = (8, 16), num_classes: int = 10,
                        seed: int = 0, fused_batch_norm: bool = False, training_flag: bool = False):
    """A few conv layers (+ optional FusedBatchNorm) and a dense head: a ~1 ms TF1 graph for tests."""
    tf = _tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        net = _input(input_size)
        for i, ch in enumerate(channels, start=1):
            net = _conv(net, ch, 3, 1, f"conv_{i}", relu=not fused_batch_norm)
            if fused_batch_norm:
                with v1.variable_scope(f"bn_{i}"):
                    gamma = v1.get_variable("gamma", [ch], initializer=v1.random_uniform_initializer(0.5, 1.5))
                    beta = v1.get_variable("beta", [ch], initializer=v1.random_normal_initializer(0, 0.1))
                    mean = v1.get_variable("moving_mean", [ch], initializer=v1.random_normal_initializer(0, 0.1),
                                           trainable=False)
                    var = v1.get_variable("moving_variance", [ch],
                                          initializer=v1.random_uniform_initializer(0.5, 1.5), trainable=False)
                    net, _, _ = v1.nn.fused_batch_norm(net, gamma, beta, mean, var, epsilon=1e-3,
                                                       is_training=False, name="FusedBatchNorm")
                    net = tf.nn.relu(net, name="Relu")
            net = _maxpool(net, 2, 2, f"max_pool_{i}")
        net = _flatten(net)
        if training_flag:
            net = _training_dropout(net)
        _dense(net, num_classes, "logits_layer", relu=False)
    return graph


def save_checkpoint(graph, directory: str | os.PathLike, name: str = "model.ckpt") -> str:
    """Initialise `graph`'s variables and save a TF1 checkpoint; returns the prefix (with `.meta`)."""
    tf = _tf()
    v1 = tf.compat.v1
    os.makedirs(directory, exist_ok=True)
    prefix = os.path.join(os.fspath(directory), name)
    with graph.as_default():
        saver = v1.train.Saver()
        init = v1.global_variables_initializer()
        with v1.Session(graph=graph) as sess:
            sess.run(init)
            saver.save(sess, prefix)
    return prefix


def trainable_parameter_count(graph) -> int:
    """Seed 000's count: product of each trainable variable's dims, summed."""
    tf = _tf()
    total = 0
    for var in graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES):
        n = 1
        for dim in var.shape:
            n *= int(dim)
        total += n
    return total


def keras_bn_cnn(input_size: int = 96, filters: Sequence[int] = (16, 32, 64), num_classes: int = 10,
                 seed: int = 0, name: str = "bn_cnn"):
    """A Keras 3 CNN of Conv-BatchNorm-ReLU blocks (seed 002's kind of model, small).

    Batch-norm statistics are set to non-trivial values so folding them is a real test.
    """
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = inputs
    for i, f in enumerate(filters, start=1):
        x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name=name)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.normal(0, 0.1, beta.shape).astype("float32"),
                rng.normal(0, 0.1, mean.shape).astype("float32"),
                rng.uniform(0.5, 1.5, var.shape).astype("float32"),
            ])
    return model
