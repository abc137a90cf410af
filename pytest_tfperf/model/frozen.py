"""`load(ref) -> FrozenGraph`: every model format normalised to a frozen GraphDef + I/O specs.

A `FrozenGraph` is what every other part of tfperf works on: measurement, equivalence,
optimization, profiling and summaries. It holds the frozen `GraphDef` (no variables), the
required inputs, optional flags and outputs as `TensorSpec`s, where it came from, and one lazily
created `tf.compat.v1.Session` that is reused for every run (`make_callable` pre-binds feeds).

TensorFlow is imported inside functions only, so importing this module is cheap.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .. import graphs
from ..errors import InputError, ModelLoadError, NodeNotFoundError, TfperfError, unknown_name_message

Shape = "tuple[int | None, ...] | None"


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """A model input or output: tensor name ("node:0"), dtype name, shape (None dims unknown)."""

    name: str
    dtype: str
    shape: tuple | None

    @property
    def node(self) -> str:
        return graphs.node_name(self.name)

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def shape_text(self) -> str:
        """'[?,224,224,3]' as summarize_graph prints it."""
        if self.shape is None:
            return "<unknown>"
        return "[" + ",".join("?" if d is None else str(d) for d in self.shape) + "]"

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype,
                "shape": None if self.shape is None else list(self.shape)}


class FrozenGraph:
    """A frozen TensorFlow model ready to run: GraphDef, I/O specs, source, and a fast runner.

    Create one with `pytest_tfperf.load(ref)`. The session is created on first use and reused;
    `close()` releases it (the `frozen_graph` fixture does so at session end).
    """

    def __init__(self, graph_def, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], *,
                 source: str, kind: str, name: str | None = None, defaults: Sequence[TensorSpec] = (),
                 trainable_params: int | None = None, non_trainable_params: int | None = None,
                 keras_model: Any = None, input_shapes: Any = None):
        self.graph_def = graph_def
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.defaults = tuple(defaults)
        self.source = source
        self.kind = kind
        self.name = name or _display_name(source)
        self.trainable_params = trainable_params
        self.non_trainable_params = non_trainable_params
        self.keras_model = keras_model
        self.input_shapes = input_shapes
        self._graph = None
        self._session = None
        self._threads: tuple[int | None, int | None] = (None, None)

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name} {s.dtype}{s.shape_text()}" for s in self.inputs)
        outs = ", ".join(s.name for s in self.outputs)
        return f"<FrozenGraph {self.name!r} ({self.kind}) {len(self.graph_def.node)} nodes; {ins} -> {outs}>"

    # -- TensorFlow objects -------------------------------------------------------------------
    @property
    def graph(self):
        """The `tf.Graph` with this GraphDef imported under name prefix ""."""
        if self._graph is None:
            self._graph = _import_graph_def(self.graph_def, self.source)
        return self._graph

    def set_threads(self, intra_op: int | None = None, inter_op: int | None = None) -> None:
        """Thread counts for the session (0/None = TensorFlow's default); recreates it if needed."""
        if (intra_op, inter_op) != self._threads:
            self._threads = (intra_op, inter_op)
            if self._session is not None:
                self._session.close()
                self._session = None

    def session_config(self):
        import tensorflow as tf

        intra, inter = self._threads
        return tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra or 0,
                                        inter_op_parallelism_threads=inter or 0)

    @property
    def session(self):
        """The one `tf.compat.v1.Session` of this model (created on first use, reused)."""
        if self._session is None:
            import tensorflow as tf

            self._session = tf.compat.v1.Session(graph=self.graph, config=self.session_config())
        return self._session

    def close(self) -> None:
        """Close the session (the FrozenGraph stays usable: a new session opens on next use)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- feeding and running ------------------------------------------------------------------
    def spec(self, name: str) -> TensorSpec:
        """The input, default or output spec called `name` ("node" or "node:0")."""
        wanted = graphs.tensor_name(name)
        for s in self.inputs + self.defaults + self.outputs:
            if s.name == wanted:
                return s
        names = [s.name for s in self.inputs + self.defaults + self.outputs]
        raise NodeNotFoundError(unknown_name_message("tensor", name, names, f"model {self.name}"))

    def feed_dict(self, inputs) -> dict[str, np.ndarray]:
        """Normalise `inputs` to {tensor name: array}, checking count, shape and dtype.

        Args:
            inputs: an array (single-input models), a list/tuple in `self.inputs` order, or a
                dict keyed by "node" or "node:0" (optional flags such as `training` may be fed).
        Returns:
            {"node:0": np.ndarray}; float64 arrays are cast to float32 inputs etc.
        Raises:
            InputError: wrong count, rank, known dimension, or a dtype that cannot be cast safely.
        """
        if isinstance(inputs, Mapping):
            items = {}
            feedable = {s.name: s for s in self.inputs + self.defaults}
            for key, value in inputs.items():
                key_name = key if isinstance(key, str) else getattr(key, "name", str(key))
                tname = graphs.tensor_name(key_name)
                if tname not in feedable:
                    raise NodeNotFoundError(unknown_name_message(
                        "input", key_name, list(feedable), f"model {self.name}"))
                items[tname] = value
            missing = [s.name for s in self.inputs if s.name not in items]
            if missing:
                raise InputError(f"model {self.name}: no value for required input(s) "
                                 f"{', '.join(missing)}; feed a dict with every input. "
                                 f"Received keys: {sorted(items)}")
        else:
            if inputs is None:
                raise InputError(f"model {self.name} needs inputs "
                                 f"({', '.join(s.name for s in self.inputs)}); received None")
            if isinstance(inputs, (list, tuple)) and len(self.inputs) != 1:
                values = list(inputs)
            elif isinstance(inputs, (list, tuple)) and len(inputs) == 1 and _is_array_like(inputs[0]) \
                    and np.ndim(inputs[0]) == (self.inputs[0].rank or np.ndim(inputs[0])):
                values = [inputs[0]]
            else:
                values = [inputs]
            if len(values) != len(self.inputs):
                raise InputError(
                    f"model {self.name} has {len(self.inputs)} input(s) "
                    f"({', '.join(s.name for s in self.inputs)}) but {len(values)} value(s) were given; "
                    "pass a list in that order or a dict by name.")
            items = {s.name: v for s, v in zip(self.inputs, values)}
        return {name: _coerce(self.spec(name), value, self.name) for name, value in items.items()}

    def _tensors(self, names: Sequence[str]):
        graph = self.graph
        out = []
        for n in names:
            try:
                out.append(graph.get_tensor_by_name(graphs.tensor_name(n)))
            except (KeyError, ValueError):
                nodes = [node.name for node in self.graph_def.node]
                raise NodeNotFoundError(
                    unknown_name_message("tensor", n, nodes, f"model {self.name}")) from None
        return out

    def new_session(self):
        """A private `tf.compat.v1.Session` over this graph (same thread settings); the caller
        closes it. The timing engine re-times a failing gate in fresh sessions this way."""
        import tensorflow as tf

        return tf.compat.v1.Session(graph=self.graph, config=self.session_config())

    def make_callable(self, inputs, fetches: Sequence[str] | None = None, *,
                      session=None) -> Callable[[], list]:
        """A zero-argument runner with pre-bound feeds (`Session.make_callable`).

        Each call runs the graph once and returns the fetched values as numpy arrays (host memory).
        `session` defaults to the model's shared session.
        """
        feeds = self.feed_dict(inputs)
        fetch_names = list(fetches) if fetches is not None else [s.name for s in self.outputs]
        fetch_tensors = self._tensors(fetch_names)
        feed_tensors = self._tensors(list(feeds))
        values = list(feeds.values())
        runner = (session or self.session).make_callable(fetch_tensors, feed_list=feed_tensors)

        def run_once() -> list:
            return runner(*values)

        return run_once

    def run(self, inputs, fetches: Sequence[str] | None = None) -> list[np.ndarray]:
        """Run once; the outputs (or `fetches`) as numpy arrays, in order."""
        try:
            return list(self.make_callable(inputs, fetches)())
        except TfperfError:
            raise
        except Exception as exc:  # a kernel error inside session.run
            raise ModelLoadError(f"model {self.name} failed while running: "
                                 f"{type(exc).__name__}: {_first_line(exc)}") from exc

    # -- derived models -----------------------------------------------------------------------
    def with_graph_def(self, graph_def, **changes) -> "FrozenGraph":
        """A new FrozenGraph over `graph_def` with the same specs (override with keywords)."""
        kwargs = dict(inputs=self.inputs, outputs=self.outputs, source=self.source, kind=self.kind,
                      name=self.name, defaults=self.defaults, trainable_params=self.trainable_params,
                      non_trainable_params=self.non_trainable_params, keras_model=self.keras_model,
                      input_shapes=self.input_shapes)
        kwargs.update(changes)
        fg = FrozenGraph(graph_def, **kwargs)
        fg._threads = self._threads
        return fg

    def save(self, path: str | os.PathLike) -> str:
        """Write the frozen GraphDef (binary `.pb`, or text if the name ends in `.pbtxt`) atomically."""
        return save_graph_def(self.graph_def, path)


def save_graph_def(graph_def, path: str | os.PathLike) -> str:
    """Write a GraphDef atomically (temp file + rename): binary, or text for `.pbtxt` names."""
    from ..atomic import write_bytes

    path = os.fspath(path)
    if path.endswith(".pbtxt"):
        from google.protobuf import text_format

        data = text_format.MessageToString(graph_def).encode()
    else:
        data = graph_def.SerializeToString()
    write_bytes(path, data)
    return path


# ---------------------------------------------------------------------------------------------
# load()


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
    if isinstance(ref, FrozenGraph):
        if inputs is None and outputs is None and input_shapes is None:
            return ref
        return _finish(ref.graph_def, inputs or [s.name for s in ref.inputs],
                       outputs or [s.name for s in ref.outputs], input_shapes, source=ref.source,
                       kind=ref.kind, name=ref.name, trainable=ref.trainable_params,
                       non_trainable=ref.non_trainable_params, keras_model=ref.keras_model)
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
                        kind="saved_model", name=os.path.basename(os.path.normpath(path)))
    trainable = sum(int(np.prod(v.shape)) for v in getattr(loaded, "trainable_variables", []) or [])
    if trainable:
        fg.trainable_params = trainable
        total = sum(int(np.prod(v.shape)) for v in getattr(loaded, "variables", []) or [])
        fg.non_trainable_params = total - trainable
    return fg


def _load_keras_file(path, inputs, outputs, input_shapes, safe_mode) -> FrozenGraph:
    import zipfile

    if path.lower().endswith(".keras") and not zipfile.is_zipfile(path):
        # Keras would say "File not found" about a file that exists but is not its zip archive
        raise ModelLoadError(f"Keras file {path!r} ({os.path.getsize(path)} bytes) is not a .keras "
                             "zip archive: it is truncated or corrupt, or another format renamed. "
                             "Save it again with model.save('model.keras').")
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=safe_mode)
    except Exception as exc:
        text = _first_line(exc)
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise ModelLoadError(
                f"Keras file {path!r} was refused under safe mode: {text}. It contains code (e.g. a "
                "Lambda layer) that runs when loaded. If you trust the file, opt in explicitly: "
                "load(path, safe_mode=False), @pytest.mark.tfperf_model(path, safe_mode=False), or the CLI's --unsafe-keras.") from None
        raise ModelLoadError(f"cannot load Keras file {path!r}: {type(exc).__name__}: {text}") from None
    return _load_keras_model(model, inputs, outputs, input_shapes, source=path, kind="keras")


def _load_keras_model(model, inputs, outputs, input_shapes, *, source, kind) -> FrozenGraph:
    import tensorflow as tf

    model_inputs = list(getattr(model, "inputs", None) or [])
    if not model_inputs:
        raise ModelLoadError(f"Keras model {model.name!r} has no defined inputs (a subclassed model "
                             "never called?): build it with keras.Input or call it once on data.")
    shapes = _shape_list(input_shapes, [getattr(t, "name", f"input_{i}") for i, t in enumerate(model_inputs)])
    specs = []
    for i, t in enumerate(model_inputs):
        shape = shapes[i] if shapes and shapes[i] is not None else tuple(t.shape)
        specs.append(tf.TensorSpec(shape, tf.as_dtype(t.dtype), name=_clean(getattr(t, "name", f"input_{i}"))))
    single = len(specs) == 1

    @tf.function(input_signature=specs)
    def serve(*args):
        return model(args[0] if single else list(args), training=False)

    fg = _load_concrete(serve.get_concrete_function(), inputs, outputs, None, source=source, kind=kind,
                        name=os.path.basename(source) if kind == "keras" else model.name,
                        output_names=None if outputs else list(getattr(model, "output_names", None) or []))
    fg.keras_model = model
    fg.trainable_params = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    fg.non_trainable_params = int(sum(int(np.prod(w.shape)) for w in model.non_trainable_weights))
    fg.input_shapes = input_shapes
    return fg


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


def _load_concrete(concrete, inputs, outputs, input_shapes, *, source, kind, name,
                   output_names=None) -> FrozenGraph:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        frozen = convert_variables_to_constants_v2(concrete)
    except Exception as exc:
        raise ModelLoadError(f"cannot freeze {source}: {type(exc).__name__}: {_first_line(exc)}") from None
    graph_def = frozen.graph.as_graph_def()
    default_inputs = [t.name for t in frozen.inputs if t.dtype.name != "resource"]
    default_outputs = [t.name for t in frozen.outputs]
    if output_names and len(output_names) == len(default_outputs):
        default_outputs = _rename_outputs(graph_def, default_outputs, output_names)
    return _finish(graph_def, inputs or default_inputs, outputs or default_outputs, input_shapes,
                   source=source, kind=kind, name=name)


def _rename_outputs(graph_def, outputs: list[str], names: list[str]) -> list[str]:
    """Give a frozen function's `Identity` output nodes the model's output names (in place).

    `tf.function` names every output `Identity`, `Identity_1`...; Keras knows them as e.g.
    `predictions`. An output is renamed only when it is an unconsumed Identity node and the new
    name is free, so the graph stays valid.
    """
    taken = {n.name for n in graph_def.node}
    used = graphs.consumers(graph_def)
    nodes = {n.name: n for n in graph_def.node}
    renamed = []
    for out, new in zip(outputs, names):
        node = nodes.get(graphs.node_name(out))
        new = _clean(new)
        if node is None or node.op != "Identity" or node.name in used or new in taken \
                or not out.endswith(":0"):
            renamed.append(out)
            continue
        taken.discard(node.name)
        node.name = new
        taken.add(new)
        renamed.append(f"{new}:0")
    return renamed


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


def _freeze_session(sess, inputs, outputs, input_shapes, *, source, kind, name=None) -> FrozenGraph:
    """Seed 001's freeze: convert_variables_to_constants from the outputs back to the inputs."""
    import tensorflow as tf

    graph = sess.graph
    graph_def = graph.as_graph_def()
    if not outputs:
        candidates = graphs.detect_outputs(graph_def)
        if len(candidates) != 1:
            raise ModelLoadError(
                f"{source}: cannot tell the output among {len(candidates)} candidates "
                f"({', '.join(candidates[:10])}); name it: outputs=['logits_layer/BiasAdd'].")
        outputs = candidates
    out_nodes = [graphs.require_node(graph_def, o, "output", source) for o in outputs]
    trainable, non_trainable = _variable_counts(graph)
    from tensorflow.python.util import deprecation

    try:  # seed 001's API: deprecated for TF2 code, still the right tool for TF1 graphs
        with graph.as_default(), deprecation.silence():
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph_def, out_nodes)
    except Exception as exc:
        raise ModelLoadError(f"cannot freeze {source}: {type(exc).__name__}: {_first_line(exc)}. "
                             "Initialise or restore every variable the outputs need.") from None
    return _finish(frozen, inputs, outputs, input_shapes, source=source, kind=kind, name=name,
                   trainable=trainable, non_trainable=non_trainable)


def _variable_counts(graph) -> tuple[int | None, int | None]:
    import tensorflow as tf

    keys = tf.compat.v1.GraphKeys
    trainable = graph.get_collection(keys.TRAINABLE_VARIABLES)
    every = graph.get_collection(keys.GLOBAL_VARIABLES)
    if not every:
        return None, None

    def count(vs):
        return sum(int(np.prod(v.shape.as_list())) for v in vs if v.shape.is_fully_defined())

    t = count(trainable)
    return t, count(every) - t


def _finish(graph_def, inputs, outputs, input_shapes, *, source, kind, name=None, trainable=None,
            non_trainable=None, keras_model=None) -> FrozenGraph:
    """Detect/validate I/O, pin shapes, build specs: the common tail of every loader."""
    where = f"model {source}"
    for n in graph_def.node:
        if n.op in ("VariableV2", "VarHandleOp", "Variable"):
            raise ModelLoadError(
                f"{where} still has variable {n.name!r} ({n.op}): it is not frozen. Load the "
                "checkpoint prefix, SavedModel or Session instead so tfperf can freeze it.")
    given_inputs = bool(inputs)
    inputs = [graphs.tensor_name(i) for i in (inputs or graphs.detect_inputs(graph_def))]
    outputs = [graphs.tensor_name(o) for o in (outputs or graphs.detect_outputs(graph_def))]
    for name_ in inputs:
        graphs.require_node(graph_def, name_, "input", where)
    for name_ in outputs:
        graphs.require_node(graph_def, name_, "output", where)
    if not outputs:
        raise ModelLoadError(f"{where}: found no output (every node is consumed or a constant); "
                             "name them: outputs=[...].")
    if not given_inputs:  # detected placeholders the outputs do not use are not inputs
        used = graphs.ancestors(graph_def, outputs, control=False)
        inputs = [i for i in inputs if graphs.node_name(i) in used]
    graphs.validate(graph_def, inputs, outputs, where=where)
    if input_shapes is not None:
        graph_def = _pin_shapes(graph_def, inputs, input_shapes, where)
    graph = _import_graph_def(graph_def, source)
    in_specs = [_spec(graph, i) for i in inputs]
    out_specs = [_spec(graph, o) for o in outputs]
    needed = graphs.ancestors(graph_def, outputs)
    defaults = [_spec(graph, d) for d in graphs.detect_defaults(graph_def)
                if d not in inputs and graphs.node_name(d) in needed]
    fg = FrozenGraph(graph_def, in_specs, out_specs, source=source, kind=kind, name=name,
                     defaults=defaults, trainable_params=trainable, non_trainable_params=non_trainable,
                     keras_model=keras_model, input_shapes=input_shapes)
    fg._graph = graph
    return fg


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
            old_dims = [d.size for d in old.dim]
            if len(old_dims) != len(shape) or any(o >= 0 and o != s for o, s in zip(old_dims, shape)):
                raise InputError(f"{where}: input_shapes {list(shape)} does not fit input {name} of shape "
                                 f"{['?' if d < 0 else d for d in old_dims]}; only unknown (?) dims can be "
                                 f"pinned. Received: input_shapes={input_shapes!r}")
        proto = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(s)) for s in shape])
        node.attr["shape"].shape.CopyFrom(proto)
    return pinned


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
    if "tensorflow" in mod or "keras" in mod:
        import tensorflow as tf

        if isinstance(ref, tf.Graph):
            return "tf_graph"
        try:
            import keras

            if isinstance(ref, keras.Model):
                return "keras_model"
        except ImportError:  # pragma: no cover
            pass
        if hasattr(ref, "get_concrete_function"):
            return "function"
        if hasattr(ref, "structured_input_signature") and hasattr(ref, "graph"):
            return "concrete_function"
    return None


def _is_session(obj) -> bool:
    return type(obj).__name__ in ("Session", "InteractiveSession") and hasattr(obj, "graph") \
        and hasattr(obj, "run")


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
