"""GraphDef -> GraphDef transforms: strip unused nodes, remove training nodes, fold constants.

Each transform is a function `(graph_def, inputs, outputs, **params) -> GraphDef` that never
mutates its argument. `inputs` / `outputs` are tensor or node names; their nodes are protected
(never removed or renamed). TensorFlow is imported inside the functions that need it (to read and
write Const tensors, to evaluate constant subgraphs, to call TransformGraph). Batch-norm folding
and bias merging live in `batchnorm.py`.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from pytest_tfperf.errors import OptimizeError
from pytest_tfperf.model.graphs import ancestors, consumers, node_map, node_name

# Ops that compute nothing at inference time (seed 001's "training nodes").
TRAINING_NODE_OPS = frozenset({"Identity", "CheckNumerics", "StopGradient", "Snapshot"})
# Producers whose outputs can be scaled per output channel by scaling the weights.
SCALABLE_OPS = frozenset({"Conv2D", "DepthwiseConv2dNative", "MatMul"})
FUSED_BN_OPS = frozenset({"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})
ADD_OPS = frozenset({"Add", "AddV2", "BiasAdd"})
# Nodes whose values are known without running anything: control edges to them order nothing.
_PURE_OPS = frozenset({"Const", "NoOp", "Identity", "Snapshot"})
# Ops TensorFlow's TransformGraph knows, with the arguments some of them need (seen on TF 2.21).
TF_TRANSFORMS = (
    "add_default_attributes", "backport_concatv2", "backport_tensor_array_v3", "flatten_atrous_conv",
    "fold_old_batch_norms", "fuse_pad_and_conv", "fuse_resize_and_conv", "fuse_resize_pad_and_conv",
    "merge_duplicate_nodes", "quantize_nodes", "quantize_weights", "remove_attribute",
    "remove_control_dependencies", "remove_device", "remove_nodes", "rename_attribute", "rename_op",
    "round_weights", "sort_by_execution_order", "sparsify_gather",
)


# ---------------------------------------------------------------------------------------------
# small helpers
def _copy(graph_def):
    return copy.deepcopy(graph_def)


def _protected(inputs: Sequence[str], outputs: Sequence[str]) -> set[str]:
    return {node_name(n) for n in list(inputs) + list(outputs)}


def const_value(node) -> np.ndarray | None:
    """The value of a Const node as a numpy array, or None for any other node."""
    if node is None or node.op != "Const":
        return None
    from tensorflow.python.framework import tensor_util

    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def set_const_value(node, value: np.ndarray) -> None:
    """Overwrite a Const node's value (and dtype) in place."""
    from tensorflow.python.framework import dtypes, tensor_util

    value = np.asarray(value)
    node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
    node.attr["dtype"].type = dtypes.as_dtype(value.dtype).as_datatype_enum


def make_const(name: str, value: np.ndarray):
    """A new Const NodeDef holding `value`."""
    from tensorflow.core.framework import node_def_pb2

    node = node_def_pb2.NodeDef(name=name, op="Const")
    set_const_value(node, value)
    return node


def _unique_name(base: str, taken: set[str]) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _data_inputs(node) -> list[str]:
    return [i for i in node.input if not i.startswith("^")]


def _port(inp: str) -> int:
    _head, sep, tail = inp.rpartition(":")
    return int(tail) if sep and tail.isdigit() else 0


def drop_dead_consts(graph_def, inputs: Sequence[str] = (), outputs: Sequence[str] = ()):
    """Remove Const nodes (and chains of them) that nothing reads any more; returns a copy."""
    keep = _protected(inputs, outputs)
    gd = _copy(graph_def)
    while True:
        used = consumers(gd)
        dead = {n.name for n in gd.node if n.op == "Const" and n.name not in used and n.name not in keep}
        if not dead:
            return gd
        kept = [n for n in gd.node if n.name not in dead]
        del gd.node[:]
        gd.node.extend(kept)


# ---------------------------------------------------------------------------------------------
# strip_unused_nodes / remove_training_nodes
def strip_unused_nodes(graph_def, inputs: Sequence[str], outputs: Sequence[str]):
    """Keep only the nodes the outputs depend on (data and control edges) and the inputs.

    Args:
        graph_def: a frozen GraphDef.
        inputs: input tensor/node names (kept even if unused).
        outputs: output tensor/node names; everything they do not need is removed.
    Returns:
        a new GraphDef (node order and function library kept).
    """
    keep = ancestors(graph_def, outputs) | _protected(inputs, ())
    gd = _copy(graph_def)
    kept = [n for n in gd.node if n.name in keep]
    del gd.node[:]
    gd.node.extend(kept)
    return gd


def closure_of(graph_def, eligible) -> set[str]:
    """Nodes `eligible(node)` accepts whose ancestors (data and control) are all accepted too."""
    nodes = node_map(graph_def)
    used = consumers(graph_def)
    bad = [n.name for n in graph_def.node if not eligible(n)]
    bad += [n.name for n in graph_def.node for i in n.input if node_name(i) not in nodes]
    rejected = set(bad)
    while bad:  # spread rejection downstream: O(nodes + edges), loops included
        for user in used.get(bad.pop(), ()):
            if user not in rejected:
                rejected.add(user)
                bad.append(user)
    return {n.name for n in graph_def.node} - rejected


def _pure_nodes(graph_def) -> set[str]:
    """Nodes computed only from constants through pure ops (Const, NoOp, Identity): no effects."""
    return closure_of(graph_def, lambda n: n.op in _PURE_OPS)


def remove_training_nodes(graph_def, inputs: Sequence[str], outputs: Sequence[str]):
    """Splice out Identity / CheckNumerics / StopGradient / Snapshot and control edges to constants.

    Like `optimize_for_inference_lib.remove_training_nodes`, nodes with control inputs or used as
    control inputs are kept (they may order side effects or carry tf.cond's pivots). Control edges
    whose source is a constant (a Const, NoOp or Identity fed only by constants: the `^NoOp` that
    Keras hangs on its output Identity) order nothing and are dropped, then dead nodes stripped.

    Args:
        graph_def: a frozen GraphDef.
        inputs: input names (protected).
        outputs: output names (protected).
    Returns:
        a new GraphDef.
    """
    gd = _copy(graph_def)
    protected = _protected(inputs, outputs)
    pure = _pure_nodes(gd)
    for n in gd.node:  # control edges from constants order nothing
        if any(i.startswith("^") and node_name(i) in pure for i in n.input):
            kept = [i for i in n.input if not (i.startswith("^") and node_name(i) in pure)]
            del n.input[:]
            n.input.extend(kept)
    control_sources = {node_name(i) for n in gd.node for i in n.input if i.startswith("^")}
    splice: dict[str, str] = {}
    for n in gd.node:
        if (n.op in TRAINING_NODE_OPS and n.name not in protected and n.name not in control_sources
                and len(n.input) == 1 and not n.input[0].startswith("^")):
            splice[n.name] = n.input[0]

    def resolve(inp: str) -> str:
        seen = set()
        while node_name(inp) in splice and _port(inp) == 0 and inp not in seen:
            seen.add(inp)
            inp = splice[node_name(inp)]
        return inp

    for n in gd.node:
        if n.name in splice:
            continue
        new_inputs = []
        for i in n.input:
            if i.startswith("^"):
                new_inputs.append(i)
            else:
                new_inputs.append(resolve(i))
        del n.input[:]
        n.input.extend(new_inputs)
    kept = [n for n in gd.node if n.name not in splice]
    del gd.node[:]
    gd.node.extend(kept)
    return strip_unused_nodes(gd, inputs, outputs)


# ---------------------------------------------------------------------------------------------
# fold_constants
def tf_transform_graph(graph_def, inputs: Sequence[str], outputs: Sequence[str], transforms: str):
    """Run TensorFlow's graph_transforms (the TransformGraph binding in the TF wheel, no Bazel).

    Args:
        graph_def: the GraphDef to transform.
        inputs / outputs: tensor or node names.
        transforms: TransformGraph's syntax, e.g. ``"fold_constants(ignore_errors=true)"``.
    Returns:
        the transformed GraphDef.
    Raises:
        OptimizeError: the binding is missing from this TensorFlow, or TensorFlow reported an error.
    """
    try:
        from tensorflow.python.util._pywrap_transform_graph import TransformGraphWithStringInputs
    except ImportError as exc:  # pragma: no cover - depends on the TF build
        raise OptimizeError(
            f"TensorFlow's TransformGraph binding is not in this TensorFlow ({exc}); transform "
            f"{transforms!r} needs it. Use the transforms implemented by pytest-tfperf instead.") from None
    from tensorflow.core.framework import graph_pb2

    ins = ",".join(node_name(i) for i in inputs).encode()
    outs = ",".join(node_name(o) for o in outputs).encode()
    try:
        result = TransformGraphWithStringInputs(graph_def.SerializeToString(), ins, outs,
                                                transforms.encode())
    except Exception as exc:  # TF reports a bad status as ValueError/RuntimeError
        raise OptimizeError(f"TensorFlow's TransformGraph failed on {transforms!r}: {exc}") from exc
    out = graph_pb2.GraphDef()
    out.ParseFromString(result)
    return out


def _fold_constants_session(graph_def, inputs: Sequence[str], outputs: Sequence[str],
                            max_bytes: int = 64 << 20):
    """Fold constant subgraphs by evaluating them once in a session (no TransformGraph needed)."""
    import tensorflow as tf
    from tensorflow.python.framework import op_def_registry

    gd = _copy(graph_def)
    protected = _protected(inputs, outputs)
    nodes = node_map(gd)
    control_flow = ("Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond")

    def eligible(node) -> bool:
        op_def = op_def_registry.get(node.op)
        return (op_def is not None and not op_def.is_stateful and not node.op.startswith("Placeholder")
                and node.op not in control_flow)

    constants = closure_of(gd, eligible)

    def is_constant(name: str) -> bool:
        return name in constants

    used_by = consumers(gd)
    frontier = []
    for n in gd.node:
        if n.op == "Const" or not is_constant(n.name):
            continue
        if n.name in protected or any(not is_constant(c) for c in used_by.get(n.name, ())):
            frontier.append(n.name)
    if not frontier:
        return gd
    fetch: dict[str, list[str]] = {}
    for n in gd.node:
        if n.name in frontier:
            read_ports = sorted({_port(i) for c in used_by.get(n.name, ()) for i in nodes[c].input
                                 if not i.startswith("^") and node_name(i) == n.name} or {0})
            fetch[n.name] = [f"{n.name}:{p}" for p in read_ports]
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        flat = [t for ts in fetch.values() for t in ts]
        values = dict(zip(flat, sess.run(flat)))
    taken = {n.name for n in gd.node}
    replace: dict[str, str] = {}
    new_nodes = []
    for name, tensors in fetch.items():
        if any(values[t].nbytes > max_bytes for t in tensors):
            continue
        if len(tensors) == 1 and tensors[0].endswith(":0") and name not in protected:
            new_nodes.append(make_const(name, values[tensors[0]]))
            continue
        for t in tensors:
            const_name = _unique_name(f"{name}/folded_{_port(t)}", taken)
            new_nodes.append(make_const(const_name, values[t]))
            replace[t] = const_name
    folded = {c.name for c in new_nodes}
    out_nodes = []
    for n in gd.node:
        if n.name in folded:
            continue
        for k, i in enumerate(n.input):
            if not i.startswith("^") and (i if ":" in i else f"{i}:0") in replace:
                n.input[k] = replace[i if ":" in i else f"{i}:0"]
        out_nodes.append(n)
    del gd.node[:]
    gd.node.extend(new_nodes + out_nodes)
    return strip_unused_nodes(gd, inputs, outputs)


def fold_constants(graph_def, inputs: Sequence[str], outputs: Sequence[str], *, backend: str = "auto"):
    """Replace every subgraph computed only from constants by one Const (e.g. BN's rsqrt chain).

    Args:
        graph_def: a frozen GraphDef.
        inputs / outputs: protected names.
        backend: "transform_graph" (TensorFlow's TransformGraph binding), "session" (evaluate the
            constant subgraphs in a session: works on any TensorFlow), or "auto" (the binding if
            this TensorFlow ships it).
    Returns:
        a new GraphDef.
    """
    if backend not in ("auto", "transform_graph", "session"):
        raise OptimizeError(f"fold_constants: backend must be 'auto', 'transform_graph' or 'session'. "
                            f"Received: backend={backend!r}")
    if backend == "auto" and any(n.op == "PlaceholderWithDefault" for n in graph_def.node):
        # TransformGraph folds a PlaceholderWithDefault into its default (baking in a `training`
        # flag), or turns it into a Placeholder that must be fed: keep such graphs away from it.
        backend = "session"
    if backend in ("auto", "transform_graph"):
        try:
            import tensorflow.python.util._pywrap_transform_graph  # noqa: F401
        except ImportError:  # pragma: no cover - depends on the TF build
            if backend == "transform_graph":
                raise
            backend = "session"
    if backend == "session":
        return _fold_constants_session(graph_def, inputs, outputs)
    folded = tf_transform_graph(graph_def, inputs, outputs, "fold_constants(ignore_errors=true)")
    return strip_unused_nodes(folded, inputs, outputs)
