"""SavedModels TensorFlow 2's object loader cannot revive, loaded with TensorFlow's v1 loader.

A SavedModel written by tf.keras 2 (`tf_keras`, or `keras` 2 before TF 2.16) with optimizer
state records the optimizer's slot variables. `tf.saved_model.load` re-creates them with
`optimizer.add_slot`, which exists only when tf_keras is installed (TensorFlow imports it for
that); without it the optimizer is revived as a bare `_UserObject` and loading fails with
`AttributeError: '_UserObject' object has no attribute 'add_slot'`. The v1 loader
(`tf.compat.v1.saved_model.loader.load` into a `tf.Graph` session) restores the variables by
name from the checkpoint and needs no Python object: the signature's tensors are then frozen
like any TF1 session, its outputs named by the signature's keys.
TensorFlow is imported inside functions only.
"""
from __future__ import annotations

import os

from pytest_tfperf.errors import ModelLoadError, unknown_name_message
from pytest_tfperf.model import graphs
from pytest_tfperf.model.freeze import _finish, _freeze_session
from pytest_tfperf.model.frozen import FrozenGraph
from pytest_tfperf.model.shapes import _first_line


def needs_v1_loader(exc: BaseException) -> bool:
    """True for the TF2 loader's failure on a tf.keras-2 optimizer (no `add_slot`)."""
    return isinstance(exc, AttributeError) and "add_slot" in str(exc)


def remedy() -> str:
    """What to install so that TF2's own loader revives such a SavedModel."""
    try:
        import tensorflow as tf

        version = ".".join(tf.__version__.split(".")[:2])
    except ImportError:  # pragma: no cover
        version = "<your TensorFlow major.minor>"
    return (f"install tf_keras, which TensorFlow imports to revive tf.keras-2 optimizers: pip "
            f"install 'tf-keras=={version}.*' (add --no-deps next to tensorflow-cpu: tf-keras "
            "depends on the full tensorflow wheel)")


def _meta_graphs(path: str) -> list:
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    binary = os.path.join(path, "saved_model.pb")
    if os.path.exists(binary):
        with open(binary, "rb") as f:
            saved.ParseFromString(f.read())
    else:
        with open(os.path.join(path, "saved_model.pbtxt"), encoding="utf-8") as f:
            text_format.Merge(f.read(), saved)
    return list(saved.meta_graphs)


def load_saved_model_v1(path: str, inputs, outputs, input_shapes, signature: str | None,
                        first_error: BaseException) -> FrozenGraph:
    """Load SavedModel `path`'s signature (default `serving_default`) with the v1 loader.

    `first_error` is TF2's loader's failure, quoted when this one fails too.
    Raises:
        ModelLoadError: unknown signature (with the available ones), or both loaders failed
        (both reasons and the tf_keras remedy).
    """
    import tensorflow as tf

    first = f"{type(first_error).__name__}: {_first_line(first_error)}"
    try:
        metas = _meta_graphs(path)
    except Exception as exc:  # a corrupt saved_model.pb: TF2's loader said so first
        raise ModelLoadError(f"cannot load SavedModel {path!r}: {first}; its saved_model.pb does "
                             f"not parse either ({type(exc).__name__}: {_first_line(exc)}).") from None
    wanted = signature or "serving_default"
    every = [key for meta in metas for key in meta.signature_def]
    meta = next((m for m in metas if wanted in m.signature_def), None)
    if meta is None and signature is None and len(every) == 1:
        wanted = every[0]
        meta = next(m for m in metas if wanted in m.signature_def)
    if meta is None:
        raise ModelLoadError(unknown_name_message("signature", wanted, every, f"SavedModel {path!r}")
                             + ". Pass signature=... (marker: tfperf_model(ref, signature=...)).")
    sig = meta.signature_def[wanted]
    from tensorflow.python.util import deprecation

    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        try:
            with deprecation.silence():  # the v1 loader is deprecated: it is the fallback here
                tf.compat.v1.saved_model.loader.load(sess, list(meta.meta_info_def.tags), path)
        except Exception as exc:
            raise ModelLoadError(
                f"cannot load SavedModel {path!r}: TensorFlow 2's loader failed ({first}) and so "
                f"did the v1 loader ({type(exc).__name__}: {_first_line(exc)}). If it was written "
                f"by tf.keras 2, {remedy()}.") from None
        in_names = [sig.inputs[key].name for key in sorted(sig.inputs)]
        out_names = []
        for key in sorted(sig.outputs):  # named by the signature's keys, as TF2's loader does
            tensor = graph.get_tensor_by_name(sig.outputs[key].name)
            out_names.append(tf.identity(tensor, name=key).name)
        fg = _freeze_session(sess, inputs or in_names, outputs or out_names, None,
                             source=path, kind="saved_model",
                             name=os.path.basename(os.path.normpath(path)))
    keyed = {} if inputs else {graphs.node_name(sig.inputs[key].name): key for key in sorted(sig.inputs)}
    graph_def, renamed = _rename_placeholders(fg.graph_def, keyed)
    fg = _finish(graph_def, [renamed.get(graphs.node_name(s.name), s.name) for s in fg.inputs],
                 [s.name for s in fg.outputs], input_shapes, source=path, kind="saved_model",
                 name=fg.name, trainable=fg.trainable_params, non_trainable=fg.non_trainable_params)
    fg._identity = f"{os.path.realpath(path)}#{wanted}"
    return fg


def _rename_placeholders(graph_def, names: dict[str, str]):
    """A copy of `graph_def` whose Placeholders `names` maps are renamed (the signature's input
    keys instead of e.g. `serving_default_image`), consumers rewired; a name already taken is
    left alone. Returns (graph_def, {old: new} for the renamed ones)."""
    from tensorflow.core.framework import graph_pb2

    taken = {n.name for n in graph_def.node}
    placeholders = {n.name for n in graph_def.node if n.op == "Placeholder"}
    renamed = {old: new for old, new in names.items() if old != new and new not in taken
               and old in placeholders}
    if not renamed:
        return graph_def, {}
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        if node.name in renamed:
            node.name = renamed[node.name]
        for k, ref in enumerate(node.input):
            control = ref.startswith("^")
            base, sep, port = ref.lstrip("^").partition(":")
            if base in renamed:
                node.input[k] = ("^" if control else "") + renamed[base] + sep + port
    return out, {old: f"{new}:0" for old, new in renamed.items()}
