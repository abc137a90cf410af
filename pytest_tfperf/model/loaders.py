"""`load(ref) -> FrozenGraph` for every reference kind, and `as_model(ref)`.

Paths (.pb, .pbtxt, SavedModel dir, .keras/.h5, checkpoints) and in-memory objects (GraphDef,
tf.Graph, keras.Model, tf.function, ConcreteFunction, Session) are all normalised to a frozen
GraphDef + I/O specs. TensorFlow is imported inside functions only.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from pytest_tfperf.errors import ModelLoadError, unknown_name_message
from pytest_tfperf.model.freeze import _finish, _freeze_session, _load_concrete
from pytest_tfperf.model.frozen import FrozenGraph
from pytest_tfperf.model.keras_models import _load_keras_file, _load_keras_model
from pytest_tfperf.model.protocol import is_model
from pytest_tfperf.model.shapes import _as_list, _first_line, _is_session, _object_kind, _shape_list, _short_repr
from pytest_tfperf.model.source_params import saved_model_params, set_source_params


def as_model(ref, **load_kwargs):
    """`ref` unchanged when it already is a `Model` (FrozenGraph, TFLite model...), else
    `load(ref, **load_kwargs)`. The one way to turn a model reference into a Model."""
    if is_model(ref):
        return ref
    return load(ref, **load_kwargs)


def load(ref, inputs: Sequence[str] | str | None = None, outputs: Sequence[str] | str | None = None,
         input_shapes: Any = None, signature: str | None = None, *, safe_mode: bool = True) -> FrozenGraph:
    """Load any model reference as a `FrozenGraph`.

    Args:
        ref: a path (`.pb`, `.pbtxt`, SavedModel directory, `.keras`/`.h5`, TF1 checkpoint prefix
            or its `.meta`), or in memory: `GraphDef`, `tf.Graph` (variables take their initial
            values), `keras.Model`, `tf.function` / `ConcreteFunction`, a TF1 `Session` (with
            `outputs`), or a `(session, outputs)` tuple. A `FrozenGraph` is returned as is.
        inputs: input tensor names ("node" or "node:0"); detected when None (Placeholders).
        outputs: output names; detected when None (nodes nobody consumes). Checkpoints and
            sessions with several candidate outputs need them.
        input_shapes: pin unknown dims, e.g. `[[1, 224, 224, 3]]` (input order) or
            `{"input_node": [1, 224, 224, 3]}`; written into the Placeholder shapes so shape
            inference (FLOP counting) sees them.
        signature: SavedModel signature (default `serving_default`).
        safe_mode: Keras files load with `safe_mode=True` (no arbitrary code, e.g. Lambda
            layers); set False only for files you trust.
    Returns:
        FrozenGraph.
    Raises:
        ModelLoadError: missing/corrupt/unsupported reference; GraphValidationError /
        NodeNotFoundError: invalid graph or mistyped names (with close matches).

    Example:
        >>> fg = load("alexnet.pb", input_shapes=[[1, 224, 224, 3]])
        >>> logits, = fg.run(image)
    """
    inputs = _as_list(inputs)
    outputs = _as_list(outputs)
    if signature is not None:
        _check_signature_applies(ref, signature)
    if isinstance(ref, FrozenGraph) and inputs is None and outputs is None and input_shapes is None:
        return ref
    fg = _load_ref(ref, inputs, outputs, input_shapes, signature, safe_mode)
    fg._identity = _identity(ref, fg, explicit_outputs=bool(outputs))
    return fg


def _check_signature_applies(ref, signature) -> None:
    """`signature=` picks a SavedModel signature: anywhere else it would be silently ignored."""
    if not isinstance(signature, str) or not signature:
        raise ModelLoadError(f"signature must be a SavedModel signature name (a non-empty string), "
                             f"e.g. signature='serving_default'. Received: signature={signature!r}")
    path = os.fspath(ref) if isinstance(ref, (str, os.PathLike)) else None
    if path is not None and os.path.isdir(path) and any(
            os.path.exists(os.path.join(path, f)) for f in ("saved_model.pb", "saved_model.pbtxt")):
        return
    what = (f"{path!r} is not a SavedModel directory" if path is not None
            else f"a {type(ref).__name__} is not a SavedModel")
    raise ModelLoadError(f"signature={signature!r} only applies to SavedModel directories, but {what}; "
                         "remove signature=... (marker: tfperf_model(ref, signature=...)) or point at "
                         f"the SavedModel directory. Received: signature={signature!r}")


def _identity(ref, fg: FrozenGraph, *, explicit_outputs: bool) -> str:
    """The `Model.identity` rule: realpath (+ "#signature") for paths, "<kind name>" in memory,
    + "[out1,out2]" when outputs were named explicitly."""
    if isinstance(ref, FrozenGraph):
        base = ref.identity.split("[", 1)[0] if ref.identity.endswith("]") else ref.identity
    elif isinstance(ref, (str, os.PathLike)):
        base = os.path.realpath(fg.source)
        if fg.kind == "saved_model" and fg._identity:  # "#signature" set by _load_saved_model
            base += fg._identity[fg._identity.index("#"):]
    else:
        base = f"<{fg.kind} {fg.name}>"
    if explicit_outputs:
        base += "[" + ",".join(s.name for s in fg.outputs) + "]"
    return base


def _load_ref(ref, inputs, outputs, input_shapes, signature, safe_mode) -> FrozenGraph:
    if isinstance(ref, FrozenGraph):
        fg = _finish(ref.graph_def, inputs or [s.name for s in ref.inputs],
                     outputs or [s.name for s in ref.outputs], input_shapes, source=ref.source,
                     kind=ref.kind, name=ref.name, trainable=ref.trainable_params,
                     non_trainable=ref.non_trainable_params, keras_model=ref.keras_model)
        fg.unread_variables = ref.unread_variables
        return fg
    if isinstance(ref, (str, os.PathLike)):
        return _load_path(os.fspath(ref), inputs, outputs, input_shapes, signature, safe_mode)
    if isinstance(ref, tuple) and len(ref) == 2 and _is_session(ref[0]):
        return _load_session(ref[0], inputs, outputs or _as_list(ref[1]), input_shapes)
    if _is_session(ref):
        return _load_session(ref, inputs, outputs, input_shapes)
    kind = _object_kind(ref)
    if kind == "graph_def":
        return _finish(ref, inputs, outputs, input_shapes, source="<GraphDef>", kind=kind,
                       name="graph_def")
    if kind == "tf_graph":
        return _load_tf_graph(ref, inputs, outputs, input_shapes)
    if kind == "keras_model":
        return _load_keras_model(ref, inputs, outputs, input_shapes, source=f"<keras.Model {ref.name!r}>",
                                 kind="keras_model")
    if kind in ("function", "concrete_function"):
        return _load_function(ref, inputs, outputs, input_shapes)
    raise ModelLoadError(
        f"cannot load a model from {type(ref).__module__}.{type(ref).__qualname__}: expected a path "
        "(.pb, .pbtxt, SavedModel dir, .keras/.h5, checkpoint prefix), a GraphDef, tf.Graph, "
        f"keras.Model, tf.function, ConcreteFunction or Session. Received: ref={_short_repr(ref)}")


def _load_path(path, inputs, outputs, input_shapes, signature, safe_mode) -> FrozenGraph:
    lower = path.lower()
    if os.path.isdir(path):
        if any(os.path.exists(os.path.join(path, f)) for f in ("saved_model.pb", "saved_model.pbtxt")):
            return _load_saved_model(path, inputs, outputs, input_shapes, signature)
        if os.path.exists(os.path.join(path, "checkpoint")):
            import tensorflow as tf

            prefix = tf.train.latest_checkpoint(path)
            if prefix:
                return _load_checkpoint(prefix, inputs, outputs, input_shapes)
        listing = sorted(os.listdir(path))[:10]
        raise ModelLoadError(
            f"directory {path!r} is not a SavedModel (no saved_model.pb) nor a checkpoint directory "
            f"(no 'checkpoint' file). It holds: {listing}. Point at the SavedModel directory, a "
            ".pb/.pbtxt/.keras file, or a checkpoint prefix.")
    if lower.endswith(".meta"):
        return _load_checkpoint(path[: -len(".meta")], inputs, outputs, input_shapes)
    if not os.path.exists(path):
        if os.path.exists(path + ".meta") or os.path.exists(path + ".index"):
            return _load_checkpoint(path, inputs, outputs, input_shapes)
        hint = ""
        parent = os.path.dirname(path) or "."
        if os.path.isdir(parent):
            import difflib

            near = difflib.get_close_matches(os.path.basename(path), os.listdir(parent), n=3, cutoff=0.7)
            hint = f" Did you mean: {', '.join(near)}?" if near else ""
        raise ModelLoadError(f"model file {path!r} does not exist.{hint} Check the path (relative "
                             f"paths are from {os.getcwd()!r}).")
    if lower.endswith(".tflite"):
        from pytest_tfperf.model.tflite import load_tflite  # LiteRT interpreter (tf.lite as fallback)

        return load_tflite(path, inputs=inputs, outputs=outputs, input_shapes=input_shapes)
    if lower.endswith(".index") or ".data-" in os.path.basename(lower):
        return _load_checkpoint(path.rsplit(".", 1)[0] if lower.endswith(".index")
                                else path.split(".data-")[0], inputs, outputs, input_shapes)
    if os.path.getsize(path) == 0:
        raise ModelLoadError(f"model file {path!r} is empty (0 bytes): the export was interrupted "
                             "or the file was truncated; export it again.")
    if lower.endswith((".keras", ".h5", ".hdf5")):
        return _load_keras_file(path, inputs, outputs, input_shapes, safe_mode)
    if lower.endswith(".pbtxt") or lower.endswith(".txt"):
        graph_def = _parse_pbtxt(path)
        kind = "pbtxt"
    else:
        graph_def = _parse_pb(path)
        kind = "pb"
    return _finish(graph_def, inputs, outputs, input_shapes, source=path, kind=kind)


def _parse_pb(path: str):
    from google.protobuf.message import DecodeError
    from tensorflow.core.framework import graph_pb2

    with open(path, "rb") as f:
        data = f.read()
    graph_def = graph_pb2.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(
            f"{path!r} ({len(data)} bytes) is not a binary GraphDef: {_first_line(exc)}. The file is "
            "truncated or corrupt, or not a frozen graph (a SavedModel needs its directory; a text "
            "graph should end in .pbtxt).") from None
    if not graph_def.node or not all(n.name and n.op for n in graph_def.node):
        raise ModelLoadError(
            f"{path!r} ({len(data)} bytes) parsed, but holds no valid nodes: it is not a GraphDef "
            "(random bytes, or another protobuf). Export the model again.")
    return graph_def


def _parse_pbtxt(path: str):
    from google.protobuf import text_format
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    try:
        with open(path, encoding="utf-8") as f:
            text_format.Merge(f.read(), graph_def)
    except UnicodeDecodeError:
        raise ModelLoadError(f"{path!r} is not a text GraphDef: it holds binary data (not UTF-8 "
                             "text). A binary GraphDef should be named .pb.") from None
    except text_format.ParseError as exc:
        raise ModelLoadError(f"{path!r} is not a valid text GraphDef: {_first_line(exc)}. Fix the "
                             "syntax at that line:column or re-export it.") from None
    if not graph_def.node:
        raise ModelLoadError(f"{path!r} is a text GraphDef with no nodes; export the model again.")
    return graph_def


def _load_saved_model(path, inputs, outputs, input_shapes, signature) -> FrozenGraph:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(path)
    except Exception as exc:  # TF raises many kinds (OSError, ValueError, NotFoundError...)
        from pytest_tfperf.model.saved_model_v1 import load_saved_model_v1, needs_v1_loader

        if needs_v1_loader(exc):  # tf.keras-2 optimizer state without tf_keras installed
            return load_saved_model_v1(path, inputs, outputs, input_shapes, signature, exc)
        raise ModelLoadError(f"cannot load SavedModel {path!r}: {type(exc).__name__}: "
                             f"{_first_line(exc)}") from None
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    wanted = signature or "serving_default"
    if wanted not in signatures:
        if signature is None and len(signatures) == 1:
            wanted = next(iter(signatures))
        else:
            raise ModelLoadError(unknown_name_message(
                "signature", wanted, list(signatures), f"SavedModel {path!r}")
                + ". Pass signature=... (marker: tfperf_model(ref, signature=...)).")
    fg = _load_concrete(signatures[wanted], inputs, outputs, input_shapes, source=path,
                        kind="saved_model", name=os.path.basename(os.path.normpath(path)),
                        output_names=signature_output_keys(signatures[wanted]))
    fg._identity = f"{os.path.realpath(path)}#{wanted}"
    set_source_params(fg, saved_model_params(loaded, signatures[wanted]))
    return fg


def signature_output_keys(concrete) -> list[str] | None:
    """A signature's output keys in the order of its flat outputs (TensorFlow flattens a dict
    by sorted key), so outputs are named `scores:0`, not `Identity_1:0`; None unless its
    outputs are one flat dict of tensors."""
    structured = getattr(concrete, "structured_outputs", None)
    if not isinstance(structured, dict) or not structured or any(
            isinstance(v, (dict, list, tuple)) or not isinstance(k, str) for k, v in structured.items()):
        return None
    return sorted(structured)


def _load_function(fn, inputs, outputs, input_shapes) -> FrozenGraph:
    import tensorflow as tf

    if _object_kind(fn) == "function":
        if getattr(fn, "input_signature", None):
            concrete = fn.get_concrete_function()
        elif input_shapes is not None:
            shapes = _shape_list(input_shapes, None)
            concrete = fn.get_concrete_function(*[tf.TensorSpec(s, tf.float32) for s in shapes])
        else:
            raise ModelLoadError(
                f"tf.function {getattr(fn, '__name__', fn)!r} has no input_signature: give one "
                "(@tf.function(input_signature=[tf.TensorSpec(...)])), pass input_shapes=..., or "
                "pass fn.get_concrete_function(...).")
    else:
        concrete = fn
    name = getattr(concrete, "name", "function")
    name = name.decode() if isinstance(name, bytes) else str(name)
    return _load_concrete(concrete, inputs, outputs, input_shapes, source=f"<tf.function {name}>",
                          kind="function", name=name)


def _load_checkpoint(prefix, inputs, outputs, input_shapes) -> FrozenGraph:
    import tensorflow as tf

    meta = prefix + ".meta"
    if not os.path.exists(meta):
        raise ModelLoadError(f"checkpoint {prefix!r} has no {os.path.basename(meta)!r}: the graph "
                             "structure is needed to freeze it. Save with tf.compat.v1.train.Saver "
                             "(which writes .meta) or load a SavedModel instead.")
    graph = tf.Graph()
    with graph.as_default():
        try:
            saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        except Exception as exc:
            raise ModelLoadError(f"cannot read checkpoint graph {meta!r}: {_first_line(exc)}") from None
        with tf.compat.v1.Session(graph=graph) as sess:
            try:
                saver.restore(sess, prefix)
            except Exception as exc:
                raise ModelLoadError(f"cannot restore checkpoint {prefix!r}: {type(exc).__name__}: "
                                     f"{_first_line(exc)}") from None
            return _freeze_session(sess, inputs, outputs, input_shapes, source=prefix, kind="checkpoint")


def _load_tf_graph(graph, inputs, outputs, input_shapes) -> FrozenGraph:
    import tensorflow as tf

    with graph.as_default():
        init = tf.compat.v1.global_variables_initializer()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(init)
            return _freeze_session(sess, inputs, outputs, input_shapes, source="<tf.Graph>", kind="tf_graph",
                                   name="tf_graph")


def _load_session(sess, inputs, outputs, input_shapes) -> FrozenGraph:
    return _freeze_session(sess, inputs, outputs, input_shapes, source="<Session>", kind="session",
                           name="session")


