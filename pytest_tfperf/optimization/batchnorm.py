"""Batch-norm folding and bias merging (GraphDef -> GraphDef, never mutating the argument).

Ours, because TensorFlow's `fold_batch_norms` only knows `Conv2D -> Mul(const)` and
`fold_old_batch_norms` only the fused op; Keras 3 freezes a BatchNormalization layer into
`x * (gamma * rsqrt(var + eps)) + (beta - mean * scale)`, which after constant folding is
`Conv2D -> Mul(const) -> AddV2(const)`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pytest_tfperf.model.graphs import consumers, node_map, node_name
from pytest_tfperf.optimization.transforms import (
    ADD_OPS,
    FUSED_BN_OPS,
    SCALABLE_OPS,
    _copy,
    _data_inputs,
    _port,
    _protected,
    _unique_name,
    const_value,
    drop_dead_consts,
    make_const,
    set_const_value,
    strip_unused_nodes,
)

def _channels(producer, weights: np.ndarray) -> int | None:
    if producer.op == "Conv2D":
        return int(weights.shape[-1])
    if producer.op == "DepthwiseConv2dNative":
        return int(weights.shape[2] * weights.shape[3])
    if producer.op == "MatMul":
        return int(weights.shape[0] if producer.attr["transpose_b"].b else weights.shape[1])
    return None


def _channel_axis(producer) -> int:
    """Output channel axis from the right: -1 for NHWC/MatMul, -3 for NCHW."""
    fmt = producer.attr["data_format"].s.decode() if "data_format" in producer.attr else "NHWC"
    return -3 if fmt.startswith("NC") else -1


def per_channel(value: np.ndarray, channels: int, axis: int) -> np.ndarray | None:
    """`value` as a [channels] vector if it broadcasts along only the channel axis, else None."""
    value = np.asarray(value)
    if value.size == 1:
        return np.full([channels], value.reshape(()), dtype=value.dtype)
    if value.ndim < -axis or value.shape[axis] != channels:
        return None
    if any(d != 1 for k, d in enumerate(value.shape) if k != value.ndim + axis):
        return None
    return value.reshape([channels])


def _scale_weights(producer, weights: np.ndarray, scale: np.ndarray) -> np.ndarray:
    if producer.op == "Conv2D":
        return weights * scale
    if producer.op == "DepthwiseConv2dNative":
        return weights * scale.reshape(weights.shape[2], weights.shape[3])
    if producer.attr["transpose_b"].b:
        return weights * scale[:, None]
    return weights * scale


class _Graph:
    """A mutable view used by the folding passes: nodes by name, consumers, const values."""

    def __init__(self, graph_def, inputs, outputs):
        self.gd = _copy(graph_def)
        self.protected = _protected(inputs, outputs)
        self.refresh()

    def refresh(self):
        self.nodes = node_map(self.gd)
        self.used = consumers(self.gd)

    def only_consumer(self, name: str) -> object | None:
        """The single node reading `name` (only through output 0), or None."""
        users = self.used.get(name, [])
        if len(users) != 1 or name in self.protected:
            return None
        user = self.nodes[users[0]]
        if any(node_name(i) == name and (i.startswith("^") or _port(i) != 0) for i in user.input):
            return None
        return user

    def const_input(self, node, index: int):
        inputs = _data_inputs(node)
        if index >= len(inputs) or _port(inputs[index]) != 0:
            return None
        return self.nodes.get(node_name(inputs[index])) if const_value(
            self.nodes.get(node_name(inputs[index]))) is not None else None

    def private_const(self, const_node, owner: str, value: np.ndarray) -> str:
        """Write `value` into a Const only `owner` reads, cloning a shared Const first."""
        if len(self.used.get(const_node.name, [])) == 1:
            set_const_value(const_node, value)
            return const_node.name
        clone = make_const(_unique_name(f"{owner}/folded", set(self.nodes)), value)
        self.gd.node.extend([clone])
        self.nodes[clone.name] = clone
        return clone.name


def _producer_chain(g: _Graph, name: str):
    """(producer, bias_add or None) if `name` is a scalable op, optionally behind a BiasAdd."""
    node = g.nodes.get(name)
    bias = None
    if node is not None and node.op == "BiasAdd" and g.const_input(node, 1) is not None:
        bias, node = node, g.nodes.get(node_name(_data_inputs(node)[0]))
        if g.only_consumer(node.name) is not bias:
            return None, None
    if node is None or node.op not in SCALABLE_OPS or g.const_input(node, 1) is None:
        return None, None
    return node, bias


def _fold_scale(g: _Graph, producer, bias, scale_vec: np.ndarray) -> None:
    wnode = g.const_input(producer, 1)
    w = const_value(wnode)
    new_w = _scale_weights(producer, w, scale_vec).astype(w.dtype)
    producer.input[1] = g.private_const(wnode, producer.name, new_w)
    if bias is not None:
        bnode = g.const_input(bias, 1)
        b = const_value(bnode)
        bias.input[1] = g.private_const(bnode, bias.name, (b * scale_vec).astype(b.dtype))


def _become_bias_add(node, data_input: str, bias_const: str, dtype_attr, data_format: str) -> None:
    """Turn `node` (keeping its name, so consumers are unchanged) into BiasAdd(data, bias)."""
    node.op = "BiasAdd"
    node.ClearField("attr")
    node.attr["T"].CopyFrom(dtype_attr)
    node.attr["data_format"].s = data_format.encode()
    ctl = [i for i in node.input if i.startswith("^")]
    del node.input[:]
    node.input.extend([data_input, bias_const] + ctl)


def fold_batch_norms(graph_def, inputs: Sequence[str], outputs: Sequence[str]):
    """Fold inference batch norms into the weights of the Conv2D/DepthwiseConv2dNative/MatMul before.

    Handles the fused ops (`FusedBatchNorm`, `V2`, `V3` with is_training false, constant
    statistics) and the decomposed form that freezing leaves after `fold_constants`:
    `producer [-> BiasAdd(const)] -> Mul(const) [-> Add/AddV2(const)]`, const on either side. The
    scale goes into the weights (and into the BiasAdd's bias); the fused op's offset becomes a
    BiasAdd; a following Add is left for `merge_biases`. A producer read by anything else is not
    touched (its other readers would see scaled values).

    Args:
        graph_def: a frozen GraphDef, constants folded.
        inputs / outputs: protected names.
    Returns:
        a new GraphDef.
    """
    def fold(g: _Graph, node) -> bool:
        if node.op in FUSED_BN_OPS:
            return _fold_fused(g, node)
        return node.op == "Mul" and _fold_mul(g, node)
    return _rewrite_until_fixed(graph_def, inputs, outputs, fold)


def _rewrite_until_fixed(graph_def, inputs: Sequence[str], outputs: Sequence[str], rule):
    """Apply `rule(g, node) -> bool` (True: it changed the graph) node by node, starting over
    after every change, until no node changes; then drop what no output needs."""
    g = _Graph(graph_def, inputs, outputs)
    changed = True
    while changed:
        changed = False
        for node in list(g.gd.node):
            if rule(g, node):
                g.refresh()
                changed = True
                break
    return drop_dead_consts(strip_unused_nodes(g.gd, inputs, outputs), inputs, outputs)


def _fold_mul(g: _Graph, mul) -> bool:
    data = _data_inputs(mul)
    if len(data) != 2 or mul.name in g.protected:
        return False
    for k in (0, 1):
        cnode = g.const_input(mul, 1 - k)
        if cnode is None or _port(data[k]) != 0:
            continue
        producer, bias = _producer_chain(g, node_name(data[k]))
        top = bias if bias is not None else producer
        if producer is None or g.only_consumer(top.name) is not mul:
            continue
        w = const_value(g.const_input(producer, 1))
        channels = _channels(producer, w)
        scale = per_channel(const_value(cnode), channels, _channel_axis(producer))
        if scale is None:
            continue
        _fold_scale(g, producer, bias, scale)
        # the Mul becomes a pass-through of `top`: rewire its readers, then it is dead
        for user in g.used.get(mul.name, []):
            unode = g.nodes[user]
            for j, i in enumerate(unode.input):
                if not i.startswith("^") and node_name(i) == mul.name:
                    unode.input[j] = top.name
                elif i == f"^{mul.name}":
                    unode.input[j] = f"^{top.name}"
        return True
    return False


def _fold_fused(g: _Graph, bn) -> bool:
    if bn.attr["is_training"].b or bn.name in g.protected:
        return False
    data = _data_inputs(bn)
    consts = [g.const_input(bn, k) for k in range(1, 5)]
    if len(data) < 5 or any(c is None for c in consts) or _port(data[0]) != 0:
        return False
    if any(_port(i) != 0 for u in g.used.get(bn.name, []) for i in g.nodes[u].input
           if node_name(i) == bn.name and not i.startswith("^")):
        return False  # batch statistics (outputs 1..5) are read: not an inference BN
    producer, bias = _producer_chain(g, node_name(data[0]))
    top = bias if bias is not None else producer
    if producer is None or g.only_consumer(top.name) is not bn:
        return False
    if _channel_axis(producer) != _channel_axis(bn):
        return False
    gamma, beta, mean, var = (const_value(c).astype(np.float64) for c in consts)
    if mean.size == 0 or var.size == 0:
        return False
    eps = bn.attr["epsilon"].f
    scale = gamma / np.sqrt(var + eps)
    offset = beta - mean * scale
    w = const_value(g.const_input(producer, 1))
    if _channels(producer, w) != scale.size:
        return False
    dtype = w.dtype
    _fold_scale(g, producer, None, scale.astype(dtype))
    if bias is not None:
        b = const_value(g.const_input(bias, 1))
        offset = offset + b.astype(np.float64) * scale
    bias_const = make_const(_unique_name(f"{bn.name}/folded_bias", set(g.nodes)), offset.astype(dtype))
    g.gd.node.extend([bias_const])
    fmt = bn.attr["data_format"].s.decode() or "NHWC"
    _become_bias_add(bn, producer.name, bias_const.name, producer.attr["T"], fmt)
    return True


def merge_biases(graph_def, inputs: Sequence[str], outputs: Sequence[str]):
    """Merge constant per-channel additions after a Conv2D/DepthwiseConv2dNative/MatMul into one BiasAdd.

    `producer -> BiasAdd(b) -> Add/AddV2/BiasAdd(c)` becomes `producer -> BiasAdd(b + c)`;
    `producer -> Add/AddV2(c)` (const on either side) or `Sub(x, c)` becomes `BiasAdd(c)` / `BiasAdd(-c)`.

    Args:
        graph_def: a frozen GraphDef.
        inputs / outputs: protected names.
    Returns:
        a new GraphDef.
    """
    return _rewrite_until_fixed(graph_def, inputs, outputs,
                                lambda g, node: (node.op in ADD_OPS or node.op == "Sub") and _merge_add(g, node))


def _merge_add(g: _Graph, add) -> bool:
    data = _data_inputs(add)
    if len(data) != 2:
        return False
    sides = (0,) if add.op in ("BiasAdd", "Sub") else (0, 1)
    for k in sides:
        cnode = g.const_input(add, 1 - k)
        if cnode is None or _port(data[k]) != 0:
            continue
        producer, bias = _producer_chain(g, node_name(data[k]))
        if producer is None:
            continue
        top = bias if bias is not None else producer
        if add.op == "BiasAdd" and bias is None:
            continue  # already producer -> BiasAdd: nothing to merge
        if g.only_consumer(top.name) is not add:
            continue
        w = const_value(g.const_input(producer, 1))
        channels = _channels(producer, w)
        axis = _channel_axis(producer)
        value = per_channel(const_value(cnode), channels, axis)
        if value is None:
            continue
        if add.op == "Sub":
            value = -value
        fmt = "NCHW" if axis == -3 else "NHWC"
        if bias is not None:
            bnode = g.const_input(bias, 1)
            b = const_value(bnode)
            value = (b + value).astype(b.dtype)
        name = _unique_name(f"{add.name}/merged_bias", set(g.nodes))
        g.gd.node.extend([make_const(name, value.astype(w.dtype))])
        _become_bias_add(add, producer.name, name, producer.attr["T"], fmt)
        return True
    return False
