"""Lookup tables in frozen graphs (`StringLookup`, `TextVectorization`, any `tf.lookup` table).

TensorFlow's `convert_variables_to_constants_v2` turns variables into constants but has no
table support: a table captured by a function stays a dangling `Placeholder` of dtype resource,
and every run then fails ("You must feed a value for placeholder tensor 'unknown' with dtype
resource"). TF1 graphs solved this with a table op in the graph plus an initializer op run
once per session (`tf.compat.v1.tables_initializer`); `freeze_tables` rebuilds exactly that from
the live table: it exports the table's contents (`LookupTableExportV2` on the captured handle)
and replaces the placeholder, under the same node name, with

    HashTableV2 (MutableHashTable* when the graph writes to it or values are tensors)
    <name>/tfperf_init = InitializeTableV2 (LookupTableImportV2) (table, keys Const, values Const)

so the frozen graph is a real, self-contained GraphDef: FLOP counting, profiles, `optimize` and
`.pb` files keep working, and lookups run the same kernels as the source model.
`initialize_tables(session)` runs every fill op of a session's graph (FrozenGraph does it for
each new session, so does the `tf_session` fixture).
"""
from __future__ import annotations

from pytest_tfperf.model import graphs
from pytest_tfperf.errors import ModelLoadError

# Ops that use a table handle (input 0) -> the attrs holding (key dtype, value dtype).
_TABLE_USERS = {
    "LookupTableFindV2": ("Tin", "Tout"), "LookupTableInsertV2": ("Tin", "Tout"),
    "LookupTableImportV2": ("Tin", "Tout"), "LookupTableExportV2": ("Tkeys", "Tvalues"),
    "LookupTableRemoveV2": ("Tin", None), "LookupTableSizeV2": (None, None),
    "InitializeTableV2": ("Tkey", "Tval"),
}
_WRITERS = frozenset({"LookupTableInsertV2", "LookupTableImportV2", "LookupTableRemoveV2"})
# Key/value dtype pairs tried when the graph only asks a table's size.
_COMMON_PAIRS = (("string", "int64"), ("int64", "int64"), ("string", "string"),
                 ("int64", "string"), ("string", "int32"), ("int32", "int32"), ("string", "float32"))


def freeze_tables(graph_def, concrete, source: str):
    """`graph_def` (frozen from `concrete`) with each captured lookup-table handle replaced by a
    table op and its fill op from constants; returned unchanged when it has no resource inputs.

    Args:
        graph_def: the GraphDef of `convert_variables_to_constants_v2(concrete)`.
        concrete: the source ConcreteFunction (its captures hold the live table handles).
        source: the model reference, for error messages.
    Raises:
        ModelLoadError: a captured resource that is neither a variable nor a lookup table.
    """
    from tensorflow.core.framework import types_pb2

    holes = [n for n in graph_def.node if n.op == "Placeholder"
             and n.attr["dtype"].type == types_pb2.DT_RESOURCE]
    if not holes:
        return graph_def
    handles = {internal.op.name: external for external, internal in concrete.graph.captures
               if internal.dtype.name == "resource"}
    readers = graphs.consumers(graph_def)
    nodes = graphs.node_map(graph_def)
    added = []
    for hole in holes:
        users = _users(hole.name, nodes, readers)
        if not users:
            continue  # read by nothing: harmless, and never an input (resource dtype)
        bad = sorted({op for op in users.values() if op not in _TABLE_USERS})
        handle = handles.get(hole.name)
        if bad or handle is None:
            raise ModelLoadError(
                f"cannot freeze {source}: it captures resource {hole.name!r} "
                f"(used by {', '.join(bad or sorted(set(users.values())))}), which is "
                "neither a variable nor a lookup table, so it cannot become a constant. Export a "
                "signature that does not use it, or time the function itself: tfperf.measure(fn, inputs).")
        key_dtype, value_dtype = _dtypes(users, nodes)
        keys, values = _export(handle, key_dtype, value_dtype, hole.name, source)
        if keys.ndim != 1:  # a DenseHashTable exports every bucket, empty and deleted markers too
            raise ModelLoadError(
                f"cannot freeze {source}: lookup table {hole.name!r} is a dense hash table "
                f"(tf.lookup.experimental.DenseHashTable; its export has shape {list(keys.shape)}), "
                "whose empty/deleted markers cannot be told from keys here. Use a StaticHashTable or "
                "MutableHashTable in the exported function, or time the function itself: "
                "tfperf.measure(fn, inputs).")
        writes = any(op in _WRITERS for op in users.values())
        added += _table_nodes(hole, keys, values, mutable=writes)
    graph_def.node.extend(added)
    return graph_def


def _users(name: str, nodes: dict, readers: dict) -> dict[str, str]:
    """{node name: op} of the ops that take the handle `name` as input 0, through Identity ops."""
    def identity(node, _ports):
        return node.op == "Identity"

    return {node.name: node.op for node, ports in graphs.walk_readers(name, identity, nodes, readers)
            if not identity(node, ports)}


def _dtypes(users: dict[str, str], nodes: dict) -> tuple[str | None, str | None]:
    from tensorflow.python.framework import dtypes

    key = value = None
    for name, op in users.items():
        key_attr, value_attr = _TABLE_USERS.get(op, (None, None))
        attr = nodes[name].attr
        if key is None and key_attr and key_attr in attr:
            key = dtypes.as_dtype(attr[key_attr].type).name
        if value is None and value_attr and value_attr in attr:
            value = dtypes.as_dtype(attr[value_attr].type).name
    return key, value


def _export(handle, key_dtype, value_dtype, name: str, source: str):
    """(keys, values) numpy arrays of the live table behind `handle`."""
    import tensorflow as tf

    pairs = [(key_dtype, value_dtype)] if key_dtype and value_dtype else [
        p for p in _COMMON_PAIRS if key_dtype in (None, p[0]) and value_dtype in (None, p[1])]
    last = None
    for k, v in pairs:
        try:
            keys, values = tf.raw_ops.LookupTableExportV2(table_handle=handle, Tkeys=tf.as_dtype(k),
                                                          Tvalues=tf.as_dtype(v))
            return keys.numpy(), values.numpy()
        except (tf.errors.OpError, TypeError, ValueError) as exc:
            last = exc
    why = str(last).strip().splitlines()[0][:200] if last else "unknown key/value types"
    raise ModelLoadError(f"cannot freeze {source}: lookup table {name!r} could not be read ({why}). "
                         "Export the model with its tables initialised (tf.lookup.StaticHashTable).")


def _table_nodes(hole, keys, values, *, mutable: bool) -> list:
    """Turn the placeholder `hole` into a table op (in place) and return its fill op + constants."""
    from tensorflow.core.framework import node_def_pb2, tensor_shape_pb2
    from tensorflow.python.framework import dtypes, tensor_util

    key_t = dtypes.as_dtype(keys.dtype if keys.dtype.kind != "O" else "string")
    value_t = dtypes.as_dtype(values.dtype if values.dtype.kind != "O" else "string")
    tensors = values.ndim > 1
    op = "MutableHashTableOfTensorsV2" if tensors else "MutableHashTableV2" if mutable else "HashTableV2"
    name = hole.name
    hole.Clear()
    hole.name, hole.op = name, op
    hole.attr["key_dtype"].type = key_t.as_datatype_enum
    hole.attr["value_dtype"].type = value_t.as_datatype_enum
    hole.attr["container"].s = b""
    hole.attr["shared_name"].s = b""
    hole.attr["use_node_name_sharing"].b = False
    if tensors:
        hole.attr["value_shape"].shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in values.shape[1:]]))
    out = []
    for suffix, array, dtype in (("keys", keys, key_t), ("values", values, value_t)):
        const = node_def_pb2.NodeDef(name=f"{name}/tfperf_{suffix}", op="Const")
        const.attr["dtype"].type = dtype.as_datatype_enum
        const.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(array, dtype=dtype))
        out.append(const)
    init = node_def_pb2.NodeDef(name=f"{name}/tfperf_init",
                                op="InitializeTableV2" if op == "HashTableV2" else "LookupTableImportV2",
                                input=[name, out[0].name, out[1].name])
    key_attr, value_attr = ("Tkey", "Tval") if op == "HashTableV2" else ("Tin", "Tout")
    init.attr[key_attr].type = key_t.as_datatype_enum
    init.attr[value_attr].type = value_t.as_datatype_enum
    return out + [init]


def initialize_tables(session) -> int:
    """Run every lookup-table fill op of `session.graph` once (what `tables_initializer` did for
    TF1 graphs); returns how many ran. Re-running a fill with the same data is harmless."""
    graph = session.graph
    inits = [op for op in graph.get_operations() if op.type in graphs.TABLE_INIT_OPS
             and op.inputs and _is_table(op.inputs[0].op)]
    if inits:
        try:
            session.run(inits)
        except Exception as exc:  # a text-file table whose file is gone, a bad import...
            text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"cannot initialise the lookup tables of the graph ({', '.join(op.name for op in inits[:3])}): "
                                 f"{type(exc).__name__}: {text}") from None
    return len(inits)


def _is_table(op) -> bool:
    while op.type == "Identity" and op.inputs:
        op = op.inputs[0].op
    return op.type in graphs.TABLE_OPS
