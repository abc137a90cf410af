"""Pure functions over `GraphDef`: names, I/O detection, reachability, validity.

Nothing here opens a session; most functions do not even import TensorFlow (a GraphDef is a
protobuf). `known_ops` is the exception: it asks TensorFlow's op registry.
"""
from __future__ import annotations

import collections
import re
from typing import Iterable, Sequence

from pytest_tfperf.errors import GraphValidationError, NodeNotFoundError, unknown_name_message

# Ops that belong to training / input pipelines / checkpointing, not to an inference graph.
TRAINING_LEFTOVER_OPS = frozenset({
    "Assert", "CheckNumerics", "RandomUniform", "RandomUniformInt", "RandomStandardNormal",
    "TruncatedNormal", "RandomShuffle", "SaveV2", "RestoreV2", "Save", "Restore", "SaveSlices",
    "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "VariableV2",
    "Variable", "VarHandleOp", "AssignVariableOp", "Assign", "AssignAdd", "AssignSub",
    "ApplyGradientDescent", "ApplyAdam", "ApplyMomentum", "ResourceApplyAdam",
    "ResourceApplyGradientDescent", "ResourceApplyMomentum", "MatchingFiles", "DecodeRaw",
    "ReaderReadV2", "QueueDequeueV2", "QueueDequeueManyV2", "FIFOQueueV2", "Print", "PrintV2",
    "HistogramSummary", "ScalarSummary", "MergeSummary", "WriteSummary", "Iterator",
    "IteratorV2", "IteratorGetNext", "MakeIterator", "OneShotIterator",
})
_DATASET_RE = re.compile(r"Dataset(V\d+)?$")

# Lookup tables kept in a frozen graph: the ops that create one, and the ops that fill one. A
# session over such a graph must run the fill ops once before the model (`table_initializers`).
TABLE_OPS = frozenset({
    "HashTableV2", "HashTable", "MutableHashTableV2", "MutableHashTable",
    "MutableHashTableOfTensorsV2", "MutableHashTableOfTensors", "MutableDenseHashTableV2",
    "MutableDenseHashTable",
})
TABLE_INIT_OPS = frozenset({
    "InitializeTableV2", "InitializeTable", "LookupTableImportV2", "LookupTableImport",
    "InitializeTableFromTextFileV2", "InitializeTableFromTextFile", "InitializeTableFromDataset",
})

# Nodes that are never model outputs even when nothing consumes them.
_NON_OUTPUT_OPS = frozenset({
    "Const", "NoOp", "Assign", "AssignVariableOp", "Placeholder", "PlaceholderWithDefault",
    "VariableV2", "VarHandleOp", "SaveV2", "RestoreV2", "Identity_n_unused",
}) | TABLE_INIT_OPS

_INPUT_SUFFIX = re.compile(r"(.*):\d+$")


def node_name(name: str) -> str:
    """Node name of a tensor or input string: strips a leading '^' and a trailing ':N' (seed 001)."""
    if name.startswith("^"):
        name = name[1:]
    m = _INPUT_SUFFIX.match(name)
    return m.group(1) if m else name


def tensor_name(name: str) -> str:
    """'node' -> 'node:0'; 'node:1' stays."""
    name = name[1:] if name.startswith("^") else name
    return name if _INPUT_SUFFIX.match(name) else f"{name}:0"


def is_leftover_op(op: str) -> bool:
    """True for ops that belong to training or input pipelines (Dataset ops, Save/Restore...)."""
    return op in TRAINING_LEFTOVER_OPS or bool(_DATASET_RE.search(op))


def node_map(graph_def) -> dict:
    """name -> NodeDef (the last one wins for duplicates; `validate` reports those)."""
    return {n.name: n for n in graph_def.node}


def consumers(graph_def) -> dict[str, list[str]]:
    """node name -> names of the nodes that read it (data or control edges)."""
    out: dict[str, list[str]] = collections.defaultdict(list)
    for n in graph_def.node:
        for i in n.input:
            out[node_name(i)].append(n.name)
    return out


def detect_inputs(graph_def) -> list[str]:
    """Required inputs: Placeholder nodes with no inputs, in graph order, as 'node:0'."""
    return [f"{n.name}:0" for n in graph_def.node if n.op == "Placeholder" and not n.input]


def detect_defaults(graph_def) -> list[str]:
    """PlaceholderWithDefault flags (e.g. `training`): optional feeds that keep their default."""
    return [f"{n.name}:0" for n in graph_def.node if n.op == "PlaceholderWithDefault"]


def table_initializers(graph_def) -> list[str]:
    """Node names of the ops that fill the graph's lookup tables (run once per new session).

    A fill op counts when the table it writes is created in the graph (a `TABLE_OPS` node, maybe
    through Identity) and nothing the model computes reads its (absent) outputs.
    """
    nodes = node_map(graph_def)
    found = []
    for n in graph_def.node:
        if n.op not in TABLE_INIT_OPS or not n.input:
            continue
        table = nodes.get(node_name(n.input[0]))
        while table is not None and table.op == "Identity" and table.input:
            table = nodes.get(node_name(table.input[0]))
        if table is not None and table.op in TABLE_OPS:
            found.append(n.name)
    return found


def detect_outputs(graph_def) -> list[str]:
    """Nodes nobody consumes, excluding Const/NoOp/Assign/placeholders and training leftovers.

    Leftover-only subgraphs (a Save/Restore tail, an init op) are skipped too: a candidate whose
    every ancestor is a const, variable or leftover is not a model output.
    """
    used = consumers(graph_def)
    nodes = node_map(graph_def)
    outputs = []
    for n in graph_def.node:
        if n.name in used or n.op in _NON_OUTPUT_OPS or is_leftover_op(n.op):
            continue
        if n.op in ("Identity",) and n.name.endswith("/read"):
            continue
        if not _depends_on_placeholder(n.name, nodes):
            continue
        outputs.append(f"{n.name}:0")
    return outputs


def _depends_on_placeholder(name: str, nodes: dict) -> bool:
    seen = set()
    stack = [name]
    while stack:
        cur = stack.pop()
        if cur in seen or cur not in nodes:
            continue
        seen.add(cur)
        node = nodes[cur]
        if node.op in ("Placeholder", "PlaceholderWithDefault") and not node.input:
            return node.op == "Placeholder" or cur != name
        stack.extend(node_name(i) for i in node.input if not i.startswith("^"))
    return False


def _reach(names: Iterable[str], step) -> set[str]:
    """Every node reached from `names` (themselves included) by `step(name) -> next names`."""
    seen: set[str] = set()
    stack = [node_name(n) for n in names]
    while stack:
        cur = stack.pop()
        if cur not in seen:
            seen.add(cur)
            stack.extend(step(cur))
    return seen


def ancestors(graph_def, names: Iterable[str], *, control: bool = True) -> set[str]:
    """Every node the given nodes depend on (themselves included)."""
    nodes = node_map(graph_def)

    def inputs_of(name: str):
        node = nodes.get(name)
        return () if node is None else [node_name(i) for i in node.input
                                         if control or not i.startswith("^")]
    return _reach(names, inputs_of)


def descendants(graph_def, names: Iterable[str]) -> set[str]:
    """Every node that depends on the given nodes (themselves included)."""
    used = consumers(graph_def)
    return _reach(names, lambda name: used.get(name, ()))


def walk_readers(start: str, follow, nodes: dict, readers: dict):
    """Yield `(node, ports)` for each node reading `start`, and on through the readers that
    `follow(node, ports)` accepts; `ports` are the data-input positions where it reads the node
    before it. Each node is followed once.

    Args:
        start: a node name.
        follow: `(NodeDef, list[int]) -> bool`, e.g. "an Identity reading port 0".
        nodes, readers: `node_map(graph_def)` and `consumers(graph_def)`.
    """
    seen, stack = set(), [node_name(start)]
    while stack:
        cur = stack.pop()
        if cur in seen:
            continue
        seen.add(cur)
        for reader in readers.get(cur, ()):
            node = nodes[reader]
            ports = [k for k, i in enumerate(node.input) if not i.startswith("^") and node_name(i) == cur]
            yield node, ports
            if follow(node, ports):
                stack.append(reader)


def require_node(graph_def, name: str, what: str = "node", where: str = "the graph") -> str:
    """The node name of `name` if the graph has it, else `NodeNotFoundError` with close matches."""
    nodes = node_map(graph_def)
    base = node_name(name)
    if base not in nodes:
        raise NodeNotFoundError(unknown_name_message(what, name, nodes, where))
    return base


def weightless_copy(graph_def, *, keep: Iterable[str] = (), min_elements: int = 4096):
    """A copy of `graph_def` without its weights: every float `Const` of `min_elements` or more
    (not named in `keep`) becomes a `Placeholder` of the same dtype and shape.

    TensorFlow's static shape inference gives every tensor the same shape and dtype on the copy
    (a weight contributes only its shape), at a fraction of the memory: AlexNet-224's copy is
    ~0.2 MB instead of 250 MB, and importing it costs ~0 instead of another 250 MB. Small and
    integer constants (shape arguments, lookup keys) are copied as they are. For shapes and
    specs only: the copy cannot be run.
    """
    from tensorflow.core.framework import graph_pb2, types_pb2

    floats = {types_pb2.DT_FLOAT, types_pb2.DT_HALF, types_pb2.DT_DOUBLE, types_pb2.DT_BFLOAT16}
    kept = {node_name(n) for n in keep}
    light = graph_pb2.GraphDef()
    light.versions.CopyFrom(graph_def.versions)
    light.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        tensor = node.attr["value"].tensor if node.op == "Const" and "value" in node.attr else None
        elements = 1
        for dim in (tensor.tensor_shape.dim if tensor is not None else ()):
            elements *= dim.size
        if tensor is not None and tensor.dtype in floats and elements >= min_elements \
                and node.name not in kept:
            new = light.node.add(name=node.name, op="Placeholder", device=node.device)
            new.input.extend(node.input)  # control inputs only: a Const has no data inputs
            new.attr["dtype"].type = tensor.dtype
            new.attr["shape"].shape.CopyFrom(tensor.tensor_shape)
        else:
            light.node.add().CopyFrom(node)
    return light


def known_ops() -> set[str]:
    """Op names registered in this TensorFlow right now, custom-op libraries included (imports TF).

    Not cached: `tf.load_op_library` can register more ops later. (`op_def_registry` lost its
    `get_registered_ops()` in TF 2.x; the C API's op list is the full registry, hidden `_Fused*`
    ops included.)
    """
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session as c_api

    buf = c_api.TF_GetAllOpList()
    try:
        data = c_api.TF_GetBuffer(buf)
    finally:
        c_api.TF_DeleteBuffer(buf)
    return {op.name for op in op_def_pb2.OpList.FromString(data).op}


def validate(graph_def, inputs: Sequence[str] = (), outputs: Sequence[str] = (), *,
             check_ops: bool = True, where: str = "the graph") -> None:
    """Check seed 001's rule 1 and more; raise `GraphValidationError` naming the node.

    - no duplicate node names;
    - every input of every node (after stripping '^' and ':N') names an existing node;
    - every output is reachable from the inputs and every input is used by some output;
    - every op is known to this TensorFlow (when `check_ops`).
    Mistyped input/output names raise `NodeNotFoundError` listing the closest names.
    """
    seen: dict[str, int] = {}
    for n in graph_def.node:
        if n.name in seen:
            raise GraphValidationError(
                f"duplicate node name {n.name!r} in {where} (ops {graph_def.node[seen[n.name]].op} and "
                f"{n.op}): node names must be unique; rename one of them or re-export the graph.")
        seen[n.name] = len(seen)
    nodes = node_map(graph_def)
    for n in graph_def.node:
        for i in n.input:
            if node_name(i) not in nodes:
                raise GraphValidationError(
                    unknown_name_message(f"input {i!r} of node {n.name!r} ({n.op}): node",
                                         node_name(i), nodes, where)
                    + ". The graph is cut or was edited by hand: re-export or re-freeze it.")
    in_nodes = [require_node(graph_def, i, "input", where) for i in inputs]
    out_nodes = [require_node(graph_def, o, "output", where) for o in outputs]
    if in_nodes and out_nodes:
        reach = ancestors(graph_def, out_nodes, control=False)
        for name, base in zip(inputs, in_nodes):
            if base not in reach:
                raise GraphValidationError(
                    f"input {name!r} is not used by any output ({', '.join(outputs)}) in {where}: "
                    "the path between them is broken, or this is not an input of the model.")
        down = descendants(graph_def, in_nodes)
        for name, base in zip(outputs, out_nodes):
            if base not in down:
                raise GraphValidationError(
                    f"output {name!r} is not reachable from the inputs ({', '.join(inputs)}) in {where}: "
                    "it does not depend on them (a constant or a disconnected branch).")
    if check_ops:
        registered = known_ops()
        library = {f.signature.name for f in graph_def.library.function}
        for n in graph_def.node:
            if n.op not in registered and n.op not in library:
                raise GraphValidationError(
                    f"node {n.name!r} uses op {n.op!r}, unknown to this TensorFlow: the graph needs a "
                    "newer TensorFlow or a custom-op library; load that library before the model.")
