"""Helpers shared by `FrozenGraph` and the loaders: shape pinning, specs, input coercion,
reference-kind detection, names. TensorFlow is imported inside functions only."""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from pytest_tfperf.model import graphs
from pytest_tfperf.errors import InputError, ModelLoadError, NodeNotFoundError, unknown_name_message
from pytest_tfperf.model.specs import TensorSpec


def _pin_shapes(graph_def, inputs, input_shapes, where):
    """Copy of graph_def with the input Placeholders' shape attrs set to the pinned shapes."""
    from tensorflow.core.framework import graph_pb2, tensor_shape_pb2

    shapes = _shape_list(input_shapes, inputs)
    if len(shapes) != len(inputs):
        raise InputError(f"{where}: input_shapes gives {len(shapes)} shape(s) for {len(inputs)} "
                         f"input(s) ({', '.join(inputs)}). Received: input_shapes={input_shapes!r}")
    pinned = graph_pb2.GraphDef()
    pinned.CopyFrom(graph_def)
    nodes = {n.name: n for n in pinned.node}
    for name, shape in zip(inputs, shapes):
        if shape is None:
            continue
        node = nodes[graphs.node_name(name)]
        old = node.attr["shape"].shape if "shape" in node.attr else None
        if old is not None and not old.unknown_rank:
            check_pinnable(name, [None if d.size < 0 else d.size for d in old.dim], shape, where,
                           input_shapes)
        proto = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(s)) for s in shape])
        node.attr["shape"].shape.CopyFrom(proto)
    return pinned


def check_pinnable(name: str, fixed, shape, where: str, input_shapes) -> None:
    """`InputError` unless `shape` only fills the unknown (None) dims of `fixed` (same rank)."""
    fixed = list(fixed)
    if len(fixed) != len(shape) or any(o is not None and o != s for o, s in zip(fixed, shape)):
        raise InputError(f"{where}: input_shapes {list(shape)} does not fit input {name} of shape "
                         f"[{','.join('?' if d is None else str(d) for d in fixed)}]; only unknown (?) dims can be "
                         f"pinned: feed that shape, or rebuild the model with unknown dims there. "
                         f"Received: input_shapes={input_shapes!r}")


def _shape_list(input_shapes, names):
    """Normalise input_shapes (list of shapes, one shape, or dict by name) to a list in `names` order."""
    if input_shapes is None:
        return None
    if isinstance(input_shapes, Mapping):
        if names is None:
            return [tuple(s) for s in input_shapes.values()]
        by_node = {graphs.node_name(k): v for k, v in input_shapes.items()}
        unknown = [k for k in by_node if k not in {graphs.node_name(n) for n in names}]
        if unknown:
            raise InputError(unknown_name_message("input_shapes key", unknown[0], names, "the model inputs"))
        return [tuple(by_node[graphs.node_name(n)]) if graphs.node_name(n) in by_node else None
                for n in names]
    items = list(input_shapes)
    if items and all(isinstance(d, (int, np.integer)) or d is None for d in items):
        items = [items]  # a single shape
    return [None if s is None else tuple(None if d is None else int(d) for d in s) for s in items]


def _spec(graph, name) -> TensorSpec:
    try:
        t = graph.get_tensor_by_name(name)
    except (KeyError, ValueError) as exc:  # "node:7" when the node has fewer outputs
        why = str(exc.args[0] if exc.args else exc).rstrip(".")
        raise NodeNotFoundError(f"tensor {name!r} does not exist: {why}. Output indices start at 0 "
                                "('node:0').") from None
    shape = None if t.shape.rank is None else tuple(t.shape.as_list())
    return TensorSpec(name=t.name, dtype=t.dtype.name, shape=shape)


def _import_graph_def(graph_def, source):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        try:
            tf.compat.v1.import_graph_def(graph_def, name="")
        except Exception as exc:
            raise ModelLoadError(f"cannot import the graph of {source}: {type(exc).__name__}: "
                                 f"{_first_line(exc)}") from None
    return graph


def pair_inputs(inputs, required: Sequence[TensorSpec], model_name: str, *,
                optional: Sequence[TensorSpec] = ()) -> dict:
    """{spec name: value}: what a user passes, paired with a model's inputs (not yet coerced).

    Args:
        inputs: an array (single-input models), a list/tuple in `required` order (a one-item
            list of a single-input model is that input when the item has the input's rank, or
            is an array when the rank is unknown; otherwise the list is the data), or a dict
            keyed by tensor name ("node:0") or node name ("node").
        required: the inputs every call feeds, in order.
        model_name: for the messages.
        optional: inputs a dict may feed too (a graph's PlaceholderWithDefault flags).
    Raises:
        InputError: None, a wrong count, or a dict without every required input.
        NodeNotFoundError: a dict key that names no input (close matches listed).
    """
    if isinstance(inputs, Mapping):
        feedable = [*required, *optional]
        items = {}
        for key, value in inputs.items():
            key_name = key if isinstance(key, str) else getattr(key, "name", str(key))
            spec = next((s for s in feedable if s.name in (key_name, graphs.tensor_name(key_name))), None)
            if spec is None:
                raise NodeNotFoundError(unknown_name_message(
                    "input", key_name, [s.name for s in feedable], f"model {model_name}"))
            items[spec.name] = value
        missing = [s.name for s in required if s.name not in items]
        if missing:
            raise InputError(f"model {model_name}: no value for required input(s) "
                             f"{', '.join(missing)}; feed a dict with every input. "
                             f"Received keys: {sorted(items)}")
        return items
    names = ", ".join(s.name for s in required)
    if inputs is None:
        raise InputError(f"model {model_name} needs inputs ({names}); received None")
    if isinstance(inputs, (list, tuple)) and len(required) != 1:
        values = list(inputs)
    elif isinstance(inputs, (list, tuple)) and len(inputs) == 1 and (
            np.ndim(inputs[0]) == required[0].rank if required[0].rank is not None
            else _is_array_like(inputs[0])):
        values = [inputs[0]]
    else:
        values = [inputs]
    if len(values) != len(required):
        raise InputError(
            f"model {model_name} has {len(required)} input(s) ({names}) but {len(values)} value(s) "
            "were given; pass a list in that order or a dict by name.")
    return {s.name: v for s, v in zip(required, values)}


def _coerce(spec: TensorSpec, value, model_name: str) -> np.ndarray:
    arr = np.asarray(value)
    want = np.dtype(spec.dtype) if spec.dtype not in ("string", "resource", "variant") else None
    if want is not None and arr.dtype != want:
        safe = np.can_cast(arr.dtype, want, casting="safe")
        float_narrowing = arr.dtype.kind == "f" and want.kind == "f"  # float64 data, float32 model
        int_to_float = arr.dtype.kind in "biu" and want.kind == "f"
        if not (safe or float_narrowing or int_to_float):
            raise InputError(f"input {spec.name} of model {model_name} wants {spec.dtype}; received "
                             f"{arr.dtype} (cannot convert safely). Cast it first.")
        arr = arr.astype(want)
    if spec.shape is not None:
        if arr.ndim != len(spec.shape) or any(d is not None and d != a for d, a in zip(spec.shape, arr.shape)):
            raise InputError(f"input {spec.name} of model {model_name} wants shape {spec.shape_text()}; "
                             f"received {list(arr.shape)}. Resize the input or pin input_shapes.")
    return arr


def _object_kind(ref) -> str | None:
    mod = type(ref).__module__ or ""
    cls = type(ref).__name__
    if cls == "GraphDef" and hasattr(ref, "node"):
        return "graph_def"
    if keras_module(ref) is not None:  # subclassed models live in the user's modules
        return "keras_model"
    if "tensorflow" in mod or "keras" in mod:
        import tensorflow as tf

        if isinstance(ref, tf.Graph):
            return "tf_graph"
        if hasattr(ref, "get_concrete_function"):
            return "function"
        if hasattr(ref, "structured_input_signature") and hasattr(ref, "graph"):
            return "concrete_function"
    return None


def keras_module(obj):
    """The Keras package whose `Model` `obj` is: `keras` (Keras 3, or Keras 2 before TF 2.16)
    or `tf_keras` (Keras 2 under TF 2.16+, e.g. `TF_USE_LEGACY_KERAS=1`); None for anything else.
    Neither is imported here: a Keras model exists only once its package was."""
    import sys

    for package in ("keras", "tf_keras"):  # a Keras model exists only once its package is imported
        module = sys.modules.get(package)
        model_class = getattr(module, "Model", None)
        if isinstance(model_class, type) and isinstance(obj, model_class):
            return module
    return None


def _is_session(obj) -> bool:
    """A tf.compat.v1.Session (or InteractiveSession), recognised without importing TensorFlow."""
    return hasattr(obj, "make_callable") and hasattr(obj, "partial_run") and hasattr(obj, "graph")


def _is_array_like(x) -> bool:
    return isinstance(x, np.ndarray) or hasattr(x, "__array__")


def _as_list(names) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    return [getattr(n, "name", n) for n in names]


def _clean(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in str(name)) or "input"


def _display_name(source: str) -> str:
    if source.startswith("<"):
        return source.strip("<>")
    return os.path.basename(os.path.normpath(source))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _short_repr(obj) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."
