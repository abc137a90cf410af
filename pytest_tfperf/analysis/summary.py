"""Graph summary: what TensorFlow's `summarize_graph` printed, corrected (seed 003).

`summarize_graph` counts every Const element as a "parameter" (shape and axis constants too) and
cannot tell a weight from a preprocessing scalar. Here, the one weight rule: a *weight* is a float
Const tensor that reaches, through copies and views (Identity, Cast, ReadVariableOp, Reshape,
the Switch/Enter routing of frozen control flow...), either
- an operand of a compute op (Conv2D, MatMul, Einsum, BiasAdd, FusedBatchNorm...),
- the table operand of a lookup (Gather, GatherV2, ResourceGather, GatherNd: an Embedding
  matrix; the indices are not weights), or
- an operand of an element-wise op (Add, Mul, Sub, Div, Sqrt...) when it is a full tensor of
  more than one element (a Keras bias, an unfused batch norm's vectors, a Normalization
  layer's mean and variance); a scalar such as `x * 0.5` or an epsilon is not.
Every other Const element is counted apart (`other_const_elements`); lookup-table contents
(StringLookup vocabularies) are not float tensors, so never weights, as Keras does not count them.
Element counts come from the `value` attr's tensor shape: no tensor is materialised.

`GraphSummary.params` is what budgets and reports use: the source framework's own count where the
loader knows it (`model/source_params.py`), else `weight_params`; both are kept, because they
can differ: a source variable inference never reads (a Keras Normalization's sample `count`) is
not in the frozen graph, and a constant the source does not count as a parameter is.

Pure over a GraphDef (`summarize_graph_def`), plus `summarize(model)` for anything `load` takes
(`tfperf summarize MODEL [--json]` is `cli/summarize.py`).
"""
from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_tfperf.model.graphs import is_leftover_op, node_map, node_name

# DataType enum -> (numpy dtype name, TensorFlow name), for specs built from a bare GraphDef and for
# summarize_graph's `type=float(1)` rendering.
DTYPE_NAMES: dict[int, tuple[str, str]] = {
    1: ("float32", "float"), 2: ("float64", "double"), 3: ("int32", "int32"), 4: ("uint8", "uint8"),
    5: ("int16", "int16"), 6: ("int8", "int8"), 7: ("object", "string"), 8: ("complex64", "complex64"),
    9: ("int64", "int64"), 10: ("bool", "bool"), 14: ("bfloat16", "bfloat16"),
    17: ("uint16", "uint16"), 18: ("complex128", "complex128"), 19: ("float16", "half"),
    22: ("uint32", "uint32"), 23: ("uint64", "uint64"),
}
_FLOAT_DTYPES = frozenset({1, 2, 14, 19})  # float, double, bfloat16, half

# Ops whose float const operands are weights.
_WEIGHT_OPS = frozenset({
    "Conv2D", "Conv3D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "Conv3DBackpropInputV2",
    "MatMul", "BiasAdd", "BiasAddV1", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
    "Einsum",
})
# Lookup ops: the table operand (input 0, `params`) is a weight, e.g. an Embedding matrix; the
# indices are not.
_GATHER_OPS = frozenset({"Gather", "GatherV2", "ResourceGather", "GatherNd", "ResourceGatherNd"})
# Elementwise ops: a const operand is a weight only when it is a full tensor (more than one
# element), e.g. a Keras bias, an unfused batch-norm vector, a Normalization layer's mean and
# variance (`(x - mean) / maximum(sqrt(variance), eps)`); `x * 0.5` is not a weight.
_ELEMENTWISE_OPS = frozenset({
    "Add", "AddV2", "Mul", "Sub", "RealDiv", "Div", "Sqrt", "Rsqrt", "Maximum", "Minimum",
    "SquaredDifference",
})
# Ops a weight passes through unchanged on its way to a compute op: copies, views, and the v1
# control-flow routing that freezing lowers `tf.cond` / `tf.while_loop` to (a weight used in a
# cond branch reaches its MatMul through Switch, one used in a loop body through Enter). Not
# IdentityN: its output k forwards input k only (swish's custom gradient feeds it `beta`). Neg: a
# Keras PReLU computes -alpha * relu(-x), so its alpha reaches the Mul negated.
_PASS_THROUGH_OPS = frozenset({
    "Identity", "Cast", "ReadVariableOp", "ExpandDims", "Squeeze", "Reshape", "Neg",
    "Transpose", "Snapshot", "StopGradient", "Enter", "RefEnter", "Switch", "RefSwitch", "Merge",
    "Exit", "NextIteration",
})
_LEFTOVER_EXAMPLES = 5


@dataclass(frozen=True)
class IOSpec:
    """An input or output of the summarized graph: tensor name, dtype, shape, and the node's op."""

    name: str
    dtype: str
    shape: tuple | None
    op: str

    def to_dict(self) -> dict:
        shape = None if self.shape is None else [None if d is None else int(d) for d in self.shape]
        return {"name": self.name, "dtype": self.dtype, "shape": shape, "op": self.op}


@dataclass(frozen=True)
class GraphSummary:
    """What a frozen graph holds: I/O, op histogram, weights vs other constants, leftovers."""

    name: str
    source: str
    kind: str
    inputs: tuple[IOSpec, ...]
    outputs: tuple[IOSpec, ...]
    node_count: int
    op_histogram: tuple[tuple[str, int], ...]   # (op, count), count desc then op name
    control_edges: int
    weight_params: int
    other_const_elements: int
    trainable_params: int | None
    non_trainable_params: int | None
    serialized_bytes: int
    leftovers: tuple[tuple[str, int], ...]       # training/input-pipeline ops still in the graph
    leftover_nodes: tuple[str, ...]              # a few example node names
    unread_variables: tuple[tuple[str, int], ...] = ()  # source variables inference never reads

    @property
    def source_params(self) -> int | None:
        """Parameters the source counts (Keras `count_params()`, checkpoint/SavedModel variables).

        Can exceed `weight_params`: a variable inference never reads (a Keras Normalization
        layer's `count`) is not in the frozen graph. None when the source does not say.
        """
        if self.trainable_params is None or self.non_trainable_params is None:
            return None
        return self.trainable_params + self.non_trainable_params

    @property
    def params(self) -> int:
        """The parameter count budgets and reports use: the source's own count when it knows
        it (`source_params`: Keras `count_params()`, SavedModel / checkpoint variables), else the
        frozen graph's `weight_params`."""
        source = self.source_params
        return self.weight_params if source is None else source

    @property
    def params_from(self) -> str:
        """"source" or "graph": where `params` comes from."""
        return "graph" if self.source_params is None else "source"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "kind": self.kind,
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
            "node_count": self.node_count,
            "op_histogram": [[op, count] for op, count in self.op_histogram],
            "control_edges": self.control_edges,
            "weight_params": self.weight_params,
            "other_const_elements": self.other_const_elements,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "source_params": self.source_params,
            "params": self.params,
            "params_from": self.params_from,
            "unread_variables": [[name, int(n)] for name, n in self.unread_variables],
            "serialized_bytes": self.serialized_bytes,
            "leftovers": [[op, count] for op, count in self.leftovers],
            "leftover_nodes": list(self.leftover_nodes),
        }


def const_element_count(node) -> int:
    """Elements of a Const node's tensor, from the `value` attr's shape (nothing materialised)."""
    shape = node.attr["value"].tensor.tensor_shape
    count = 1
    for dim in shape.dim:
        count *= max(int(dim.size), 0)
    return count


def weight_const_nodes(graph_def) -> set[str]:
    """Names of the float Const nodes that feed compute ops (weights), through pass-through chains.

    A chain may enter a function of the graph's library: a Const fed to a `StatefulPartitionedCall`
    (or to a functional `If` / `Case` / `While` not yet lowered) is followed to the ops that read
    the function's argument (Keras 3 runs `Conv2D(groups>1)` as an XLA-compiled function, so its
    kernel reaches the Conv2D inside the call).

    Args:
        graph_def: a (frozen) `GraphDef`.
    Returns:
        the set of Const node names whose elements count as weight parameters.
    """
    scopes = _Scopes(graph_def)
    weights: set[str] = set()
    for node in graph_def.node:
        if node.op != "Const" or node.attr["dtype"].type not in _FLOAT_DTYPES:
            continue
        if _feeds_compute_op(node.name, const_element_count(node), scopes):
            weights.add(node.name)
    return weights


_CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
_IF_OPS = frozenset({"If", "StatelessIf", "_If"})
_CASE_OPS = frozenset({"Case", "StatelessCase"})
_WHILE_OPS = frozenset({"While", "StatelessWhile", "_While"})


class _Scopes:
    """The graph (scope None) and its library functions (scope = function name): nodes and readers
    of each, built when first asked for. In a function body an input names an argument (`x`) or
    a node's output (`conv:output:0`)."""

    def __init__(self, graph_def):
        self._graph_def = graph_def
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self._built: dict = {}

    @staticmethod
    def source(scope, name: str) -> str:
        """The node (or argument) an input string reads, in `scope`."""
        return node_name(name) if scope is None else name.lstrip("^").split(":")[0]

    def scope(self, scope) -> tuple[dict, dict]:
        if scope not in self._built:
            body = self._graph_def.node if scope is None else self.functions[scope].node_def
            readers: dict = collections.defaultdict(list)
            for n in body:
                for i in n.input:
                    readers[self.source(scope, i)].append(n.name)
            self._built[scope] = ({n.name: n for n in body}, readers)
        return self._built[scope]

    def callees(self, node) -> list[tuple[str, int]]:
        """(library function, offset) for each function `node` calls: its data input k is the
        function's argument k - offset (an `If`/`Case` input 0 is the branch selector)."""
        if node.op in _CALL_OPS:
            names, offset = [node.attr["f"].func.name], 0
        elif node.op in _IF_OPS:
            names, offset = [node.attr[a].func.name for a in ("then_branch", "else_branch")], 1
        elif node.op in _CASE_OPS:
            names, offset = [f.name for f in node.attr["branches"].list.func], 1
        elif node.op in _WHILE_OPS:
            names, offset = [node.attr[a].func.name for a in ("body", "cond")], 0
        else:
            names, offset = [node.op], 0
        return [(name, offset) for name in names if name in self.functions]


def _feeds_compute_op(name: str, elements: int, scopes: _Scopes) -> bool:
    seen: set = set()
    stack: list = [(None, name)]
    while stack:
        scope, cur = stack.pop()
        if (scope, cur) in seen:
            continue
        seen.add((scope, cur))
        nodes, readers = scopes.scope(scope)
        for reader in readers.get(cur, ()):
            node = nodes.get(reader)
            if node is None:
                continue
            positions = _data_positions(node, cur, scope)
            if not positions:
                continue
            op = node.op
            if op in _GATHER_OPS:
                if 0 in positions:
                    return True
                continue
            if op in _WEIGHT_OPS or op.startswith(("_Fused", "BatchMatMul")):
                return True
            if op in _ELEMENTWISE_OPS and elements > 1:
                return True
            if op in _PASS_THROUGH_OPS:
                stack.append((scope, reader))
            for callee, offset in scopes.callees(node):
                args = scopes.functions[callee].signature.input_arg
                stack.extend((callee, args[k - offset].name) for k in positions
                             if 0 <= k - offset < len(args))
    return False


def _data_positions(node, producer: str, scope=None) -> set[int]:
    """Positions of `producer`'s tensors among `node`'s data inputs (control inputs skipped)."""
    data = [i for i in node.input if not i.startswith("^")]
    return {k for k, i in enumerate(data) if _Scopes.source(scope, i) == producer}


def _spec_from_graph(name: str, nodes: dict) -> IOSpec:
    """An IOSpec for a bare tensor name, dtype and shape read from the node's attrs when present."""
    base = node_name(name)
    node = nodes.get(base)
    tensor = name if ":" in name.lstrip("^") else f"{base}:0"
    if node is None:
        return IOSpec(tensor, "unknown", None, "?")
    dtype_enum = node.attr["dtype"].type if "dtype" in node.attr else (
        node.attr["T"].type if "T" in node.attr else 0)
    dtype = DTYPE_NAMES.get(dtype_enum, ("unknown", ""))[0]
    shape = None
    if "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
        shape = tuple(None if d.size < 0 else int(d.size) for d in node.attr["shape"].shape.dim)
    return IOSpec(tensor, dtype, shape, node.op)


def _io_specs(specs: Sequence[Any], nodes: dict) -> tuple[IOSpec, ...]:
    out = []
    for spec in specs:
        if isinstance(spec, str):
            out.append(_spec_from_graph(spec, nodes))
            continue
        node = nodes.get(node_name(spec.name))
        shape = None if spec.shape is None else tuple(spec.shape)
        out.append(IOSpec(spec.name, str(spec.dtype), shape, node.op if node is not None else "?"))
    return tuple(out)


def _sorted_counts(counter: collections.Counter) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def summarize_graph_def(graph_def, inputs: Sequence[Any] = (), outputs: Sequence[Any] = (), *,
                        name: str = "graph", source: str = "", kind: str = "graph_def",
                        trainable_params: int | None = None,
                        non_trainable_params: int | None = None,
                        unread_variables: Sequence[tuple[str, int]] = ()) -> GraphSummary:
    """Summarize a GraphDef without a session.

    Args:
        graph_def: a frozen `GraphDef` (variables still in it are counted as leftovers, not weights).
        inputs: the model inputs, as `TensorSpec`s or tensor names ("input_node:0").
        outputs: the model outputs, likewise.
        name: display name; source / kind: where the graph came from (path, "pb"...).
        trainable_params / non_trainable_params: counts the source knows (checkpoint, Keras).
        unread_variables: (name, elements) of source variables inference never reads.
    Returns:
        a `GraphSummary`.

    Example:
        summarize_graph_def(gd, ["input_node:0"], ["logits_layer/BiasAdd:0"], name="alexnet")
    """
    nodes = node_map(graph_def)
    weights = weight_const_nodes(graph_def)
    ops: collections.Counter = collections.Counter()
    leftovers: collections.Counter = collections.Counter()
    leftover_nodes: list[str] = []
    control_edges = weight_params = other_const = 0
    for node in graph_def.node:
        ops[node.op] += 1
        control_edges += sum(1 for i in node.input if i.startswith("^"))
        if node.op == "Const":
            if node.name in weights:
                weight_params += const_element_count(node)
            else:
                other_const += const_element_count(node)
        if is_leftover_op(node.op):
            leftovers[node.op] += 1
            if len(leftover_nodes) < _LEFTOVER_EXAMPLES:
                leftover_nodes.append(node.name)
    return GraphSummary(
        name=name, source=source, kind=kind,
        inputs=_io_specs(inputs, nodes), outputs=_io_specs(outputs, nodes),
        node_count=len(graph_def.node), op_histogram=_sorted_counts(ops),
        control_edges=control_edges, weight_params=weight_params,
        other_const_elements=other_const,
        trainable_params=None if trainable_params is None else int(trainable_params),
        non_trainable_params=None if non_trainable_params is None else int(non_trainable_params),
        serialized_bytes=graph_def.ByteSize(),  # = len(SerializeToString()), without copying
        leftovers=_sorted_counts(leftovers), leftover_nodes=tuple(leftover_nodes),
        unread_variables=tuple((str(n), int(c)) for n, c in unread_variables),
    )


def summarize(model, **load_kwargs):
    """Summarize a `FrozenGraph`, a TFLite model, or anything `pytest_tfperf.load` accepts.

    Args:
        model: a `FrozenGraph`, a path (.pb, SavedModel dir, .keras, checkpoint prefix), a GraphDef,
            a tf.Graph, a keras.Model...
        **load_kwargs: passed to `load` when `model` is not already a `FrozenGraph`
            (inputs, outputs, input_shapes, signature).
    Returns:
        a `GraphSummary` of the frozen graph; for a `.tflite` model a
        `model.tflite_summary.TFLiteSummary` (op histogram, tensors, constant buffers, size).
    """
    if getattr(model, "kind", None) != "tflite" and not (
            hasattr(model, "graph_def") and hasattr(model, "inputs") and hasattr(model, "kind")):
        from pytest_tfperf.errors import ModelLoadError
        from pytest_tfperf.model import load
        from pytest_tfperf.model.tflite_summary import summarize_unloadable

        try:
            model = load(model, **load_kwargs)
        except ModelLoadError as exc:  # a .tflite no interpreter here runs: its structure still shows
            unloadable = summarize_unloadable(model, exc)
            if unloadable is None:
                raise
            return unloadable
    if getattr(model, "kind", None) == "tflite":
        from pytest_tfperf.model.tflite_summary import summarize_tflite

        return summarize_tflite(model)
    return summarize_graph_def(
        model.graph_def, model.inputs, model.outputs, name=model.name, source=str(model.source),
        kind=model.kind, trainable_params=getattr(model, "trainable_params", None),
        non_trainable_params=getattr(model, "non_trainable_params", None),
        unread_variables=getattr(model, "unread_variables", ()))
