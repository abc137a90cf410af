"""Graphs in the TF1 control-flow form that `flops_control` counts, and shapes inside loops.

`lower_function_calls` inlines every function call and lowers `While`/`If`/`Case` to
`Enter`/`Merge`/`Switch`/`LoopCond`/`NextIteration`/`Exit` (`_SwitchN` for `Case`) with grappler's
function optimizer: what `convert_variables_to_constants_v2` does when it freezes, and what a
session does before it runs such a graph. `assume_invariant` rewrites a copy of a graph so that
shape inference can see inside loops.
"""
from __future__ import annotations

from pytest_tfperf.model import graphs

FUNCTION_CALL_OPS = frozenset({
    "While", "StatelessWhile", "_While", "If", "StatelessIf", "_If", "Case", "StatelessCase",
    "PartitionedCall", "StatefulPartitionedCall", "SymbolicGradient",
})
_LOWERED_BY_SWITCH_MERGE = frozenset({
    "While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase",
})
SWITCH_OPS = frozenset({"Switch", "RefSwitch", "_SwitchN"})
MERGE_OPS = frozenset({"Merge", "RefMerge"})
ENTER_OPS = frozenset({"Enter", "RefEnter"})
EXIT_OPS = frozenset({"Exit", "RefExit"})
NEXT_OPS = frozenset({"NextIteration", "RefNextIteration"})


# ---------------------------------------------------------------------------------------------
# functional ops -> TF1 control flow


def function_calls(graph_def) -> list[str]:
    """Names of the nodes that call a function (functional control flow or a library function)."""
    library = {f.signature.name for f in graph_def.library.function}
    return [n.name for n in graph_def.node if n.op in FUNCTION_CALL_OPS or n.op in library]


# Attrs that make grappler's function optimizer leave a call in place: a secondary implementation
# (`api_implements`), and the marks of a function TensorFlow must compile with XLA (Keras 3 runs
# `Conv2D(groups>1)` as `tf.function(jit_compile=True)`: `_noinline` + `_XlaMustCompile`).
INLINING_BLOCKERS = ("api_implements", "_noinline", "_XlaMustCompile")


def allow_inlining(graph_def) -> None:
    """Remove every `INLINING_BLOCKERS` attr from `graph_def`'s library functions and call nodes
    (in place), so that the function optimizer inlines all of them. For counting only: a grouped
    convolution inlined this way cannot run on a CPU without XLA."""
    node_lists = [graph_def.node] + [f.node_def for f in graph_def.library.function]
    for holder in list(graph_def.library.function) + [n for nodes in node_lists for n in nodes]:
        for attr in INLINING_BLOCKERS:
            if attr in holder.attr:
                del holder.attr[attr]


def lower_function_calls(graph_def, inputs, outputs: dict):
    """`graph_def` with function calls inlined and `While`/`If`/`Case` lowered to Switch/Merge.

    Args:
        graph_def: a GraphDef whose nodes may call functions of its library.
        inputs: input tensor names (kept as they are).
        outputs: output tensor name -> its dtype name ("float32").
    Returns:
        (GraphDef, output tensor names in it): grappler's function optimizer, as
        `convert_variables_to_constants_v2` runs it. Node names outside the functions are
        unchanged, inlined ones are prefixed with the calling node's name
        (`while/body/_1/MatMul`); each output is read through an added `Identity`, because a
        lowered `While`/`If` node no longer produces the tensors it did.
    Raises:
        Whatever grappler raises for a graph it cannot optimize.
    """
    from tensorflow.core.framework import graph_pb2
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer

    lowered = graph_pb2.GraphDef()
    lowered.CopyFrom(graph_def)
    node_lists = [lowered.node] + [f.node_def for f in lowered.library.function]
    for nodes in node_lists:
        for node in nodes:
            if node.op in _LOWERED_BY_SWITCH_MERGE:
                node.attr["_lower_using_switch_merge"].b = True
    allow_inlining(lowered)
    import tensorflow as tf

    taken = {n.name for n in lowered.node}
    fetches = []
    for k, (tensor, dtype) in enumerate(outputs.items()):
        name = f"tfperf_flops_output_{k}"
        while name in taken:
            name += "_"
        node = lowered.node.add(name=name, op="Identity", input=[tensor])
        node.attr["T"].type = tf.as_dtype(dtype).as_datatype_enum
        fetches.append(f"{name}:0")
    meta = meta_graph_pb2.MetaGraphDef()
    meta.graph_def.CopyFrom(lowered)
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend([graphs.tensor_name(t) for t in inputs] + fetches)
    meta.collection_def["train_op"].CopyFrom(fetch)
    config = config_pb2.ConfigProto()
    rewrite = config.graph_options.rewrite_options
    rewrite.min_graph_nodes = -1  # small graphs too
    rewrite.optimizers.append("function")
    result = tf_optimizer.OptimizeGraph(config, meta)
    kept = {n.name for n in result.node}
    lost = [t for t in list(inputs) + fetches if graphs.node_name(t) not in kept]
    if lost:
        raise ValueError(f"inlining dropped {lost}")
    return result, fetches


# ---------------------------------------------------------------------------------------------
# shapes inside loops


def loop_merges(nodes) -> dict[str, tuple[str, str]]:
    """loop Merge name -> (its Enter-side input, its NextIteration-side input), over NodeDefs
    (`graph_def.node`)."""
    nodes = list(nodes)
    ops = {n.name: n.op for n in nodes}
    out = {}
    for node in nodes:
        if node.op not in MERGE_OPS:
            continue
        data = [i for i in node.input if not i.startswith("^")]
        nexts = [i for i in data if ops.get(graphs.node_name(i)) in NEXT_OPS]
        if len(nexts) == 1 and len(data) == 2:
            out[node.name] = (next(i for i in data if i not in nexts), nexts[0])
    return out


def assume_invariant(graph_def, merges: dict, keep_variant: set):
    """A copy of `graph_def` (for shape inference only) whose loop Merges take the value entering
    the loop on both inputs instead of the NextIteration back edge, except those in `keep_variant`.

    Shape inference cannot see around a back edge, so a loop variable's shape is unknown at the
    Merge; assuming each keeps its entry shape gives the body's shapes, and the caller checks the
    assumption (the NextIteration input must come back with that shape).
    """
    from tensorflow.core.framework import graph_pb2

    trial = graph_pb2.GraphDef()
    trial.CopyFrom(graph_def)
    nodes = {n.name: n for n in trial.node}
    for node in trial.node:
        if node.name in merges and node.name not in keep_variant:
            enter, _ = merges[node.name]
            source = nodes.get(graphs.node_name(enter))
            if source is not None and source.op in ENTER_OPS:  # a loop variable's Enter has no shape
                enter = source.input[0]
            data = [i for i in node.input if not i.startswith("^")]
            del node.input[:]
            node.input.extend([enter] * len(data))
    return trial
