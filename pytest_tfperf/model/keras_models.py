"""Keras models (`.keras` / `.h5` files and in-memory `keras.Model`s) to `FrozenGraph`s.

The model is traced in a `tf.function` with its input specs (pinned by `input_shapes`, which
must fit the model's fixed dims), frozen, and its outputs get the model's output names.
Outputs named by Keras output or layer name ("predictions", "global_average_pooling2d") are
taken from a functional sub-model, so a layer's name works as an output name.
TensorFlow and Keras are imported inside functions only.
"""
from __future__ import annotations

import os


from pytest_tfperf.model import graphs
from pytest_tfperf.errors import InputError, ModelLoadError
from pytest_tfperf.model.freeze import _load_concrete
from pytest_tfperf.model.frozen import FrozenGraph
from pytest_tfperf.model.shapes import _clean, _first_line, _shape_list, check_pinnable, keras_module
from pytest_tfperf.model.source_params import keras_params, set_source_params


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
    display = os.path.basename(source) if kind == "keras" else model.name
    names = [getattr(t, "name", f"input_{i}") for i, t in enumerate(model_inputs)]
    shapes = _shape_list(input_shapes, names)
    if shapes is not None and len(shapes) != len(names):
        raise InputError(f"model {display}: input_shapes gives {len(shapes)} shape(s) for {len(names)} "
                         f"input(s) ({', '.join(names)}). Received: input_shapes={input_shapes!r}")
    specs = []
    for i, t in enumerate(model_inputs):
        shape = tuple(t.shape)
        if shapes and shapes[i] is not None:  # Keras would raise its own ValueError mid-trace
            check_pinnable(repr(names[i]), shape, shapes[i], f"model {display}", input_shapes)
            shape = shapes[i]
        specs.append(tf.TensorSpec(shape, tf.as_dtype(t.dtype), name=_clean(names[i])))
    target, out_names, graph_outputs = model, list(getattr(model, "output_names", None) or []), outputs
    if outputs:
        sub = _sub_model(model, outputs)
        if sub is not None:  # Keras output / layer names: outputs of a functional sub-model
            target, out_names, graph_outputs = sub, [graphs.node_name(o) for o in outputs], None
    single = len(specs) == 1

    @tf.function(input_signature=specs)
    def serve(*args):
        return target(args[0] if single else list(args), training=False)

    try:
        concrete = serve.get_concrete_function()
    except Exception as exc:  # Keras' own checks (ValueError) and tracing errors
        raise ModelLoadError(f"cannot trace Keras model {display}: {type(exc).__name__}: "
                             f"{_keras_reason(exc)}") from None
    fg = _load_concrete(concrete, inputs, graph_outputs, None, source=source, kind=kind, name=display,
                        output_names=out_names,
                        known_names=_known_names(model))
    fg.keras_model = model
    set_source_params(fg, keras_params(model, concrete))
    fg.input_shapes = input_shapes
    return fg


def _layer_output(model, name: str):
    """The output tensor of layer `name` of a functional model, or None."""
    try:
        out = model.get_layer(name).output
    except (ValueError, AttributeError, KeyError):  # no such layer, or not functional / shared
        return None
    return out if not isinstance(out, (list, tuple, dict)) else None


def _sub_model(model, outputs):
    """`model` itself, or a functional model from its inputs to the named outputs, when every
    name is a Keras output or layer name; None otherwise (graph node names)."""
    output_names = list(getattr(model, "output_names", None) or [])
    wanted = [graphs.node_name(o) for o in outputs]
    if wanted == output_names:
        return model
    tensors = []
    for name in wanted:
        if name in output_names:
            tensors.append(model.outputs[output_names.index(name)])
            continue
        tensor = _layer_output(model, name)
        if tensor is None:
            return None
        tensors.append(tensor)
    keras = keras_module(model)  # a tf_keras model's sub-model is a tf_keras one
    if keras is None:
        return None
    try:
        return keras.Model(model.inputs, tensors, name=model.name)
    except Exception:  # noqa: BLE001 - not a functional graph: fall back to graph node names
        return None


def _known_names(model) -> list[str]:
    """The model's output names, then its layer names that work as outputs."""
    names = list(getattr(model, "output_names", None) or [])
    return names + [layer.name for layer in getattr(model, "layers", ())
                    if layer.name not in names and type(layer).__name__ != "InputLayer"
                    and _layer_output(model, layer.name) is not None]


def _keras_reason(exc: BaseException) -> str:
    """Keras' message without the 'in user code:' traceback preamble."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if line.startswith(("ValueError:", "TypeError:")):
            return " ".join(lines[i:i + 3])[:400]
    return _first_line(exc)
