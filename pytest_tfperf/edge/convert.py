"""`to_tflite(model, path=None, *, quantize=...)`: any loadable model -> a loaded `TFLiteModel`.

Converter: TensorFlow's MLIR converter through `tf.compat.v1.lite.TFLiteConverter(graph_def,
input_tensors, output_tensors)` on the model's frozen GraphDef (what `from_frozen_graph` does
after reading the file). Every reference tfperf loads is a `FrozenGraph` already, so one path
serves GraphDefs, checkpoints, SavedModels, Keras models and functions alike; tensor names stay
those of the frozen graph (so `assert_equivalent` pairs inputs and outputs by name), and it is
2x faster than `from_concrete_functions` and ~9x faster than Keras 3's `from_keras_model`, which
exports a temporary SavedModel and prints to stdout. `via="keras"` / `via="saved_model"` use
`from_keras_model` / `from_saved_model` when the source's own signature matters. LiteRT 2.x
ships the interpreter only (its converter protos, no Python converter), so conversion is TF's.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from typing import Any, Iterable

import numpy as np

from pytest_tfperf.errors import ConfigError, InputError, TfperfError, close_matches

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")
VIA = ("graph", "keras", "saved_model")


class ConversionError(TfperfError):
    """A model could not be converted to TFLite (unsupported ops, bad options, unwritable path)."""


def check_quantize(quantize: Any) -> str:
    """The quantize mode, or ConfigError naming the close match."""
    if isinstance(quantize, str) and quantize in QUANTIZE_MODES:
        return quantize
    aliases = {"fp32": "none", "float32": "none", None: "none", "fp16": "float16",
               "dynamic_range": "dynamic", "full_integer": "int8", "integer": "int8"}
    hint = aliases.get(quantize) if not isinstance(quantize, (list, dict)) else None
    if hint is None and isinstance(quantize, str):
        near = close_matches(quantize, QUANTIZE_MODES)
        hint = near[0] if near else None
    raise ConfigError(f"to_tflite: unknown quantize={quantize!r}; use one of "
                      f"{', '.join(repr(m) for m in QUANTIZE_MODES)}"
                      + (f". Did you mean {hint!r}?" if hint else ".")
                      + f" Received: quantize={quantize!r}")


def check_writable(path: str | os.PathLike) -> str:
    """The absolute path, or ConversionError when it cannot be written (`atomic.unwritable`)."""
    from pytest_tfperf.atomic import unwritable

    path = os.path.abspath(os.fspath(path))
    problem = unwritable(path)
    if problem is None:
        return path
    culprit, what = problem
    fix = {"is a directory": f"give a file name such as {os.path.join(path, 'model.tflite')!r}",
           "is a file, not a directory": "choose another path"}.get(
        what, "choose a writable directory (e.g. tmp_path) or fix its permissions")
    raise ConversionError(f"to_tflite: cannot write {path!r}: {culprit!r} {what}; {fix}.")


def _source_model(model, input_shapes=None):
    from pytest_tfperf.model import FrozenGraph, load
    from pytest_tfperf.model.tflite import TFLiteModel

    if isinstance(model, TFLiteModel):
        raise ConversionError(f"to_tflite: {model.name!r} is already a TFLite model; convert its "
                              "source (FrozenGraph, SavedModel, Keras model) instead.")
    if isinstance(model, FrozenGraph) and input_shapes is None:
        return model
    return load(model, input_shapes=input_shapes)


def check_representative(fg, representative: Any, *, needed: bool) -> list[list[np.ndarray]] | None:
    """The calibration data as a list of input lists (in `fg.inputs` order), checked.

    Each item of `representative` is one array (single-input models), a list/tuple in input
    order, or a dict by input name. Shapes must fit the model's inputs and dtypes its kinds
    (float data for float inputs): InputError naming the item and the input otherwise.
    """
    if representative is None:
        if needed:
            shapes = ", ".join(f"{s.name} {s.dtype}{s.shape_text()}" for s in fg.inputs)
            raise InputError(
                f"to_tflite(quantize='int8') needs representative=...: an iterable of input "
                f"arrays for model {fg.name} ({shapes}) to calibrate activation ranges, e.g. "
                "representative=[image] or a list of real samples (through the `tfperf` "
                "fixture the sample image's variants are used). Received: representative=None")
        return None
    for s in fg.inputs:
        if s.dtype == "string":
            raise InputError(f"to_tflite: model {fg.name} has a string input {s.name}; int8 "
                             "calibration needs numeric inputs. Use quantize='dynamic' or "
                             "'float16', or quantize the numeric part of the model.")
    if isinstance(representative, np.ndarray):
        items = [representative] if len(fg.inputs) != 1 or representative.ndim == \
            (fg.inputs[0].rank or representative.ndim) else list(representative)
    else:
        try:
            items = list(representative)
        except TypeError:
            raise InputError("to_tflite: representative must be an iterable of input arrays "
                             f"(or lists/dicts of them). Received: {type(representative).__name__}"
                             ) from None
    if not items:
        raise InputError("to_tflite: representative is empty; give at least one input sample.")
    out = []
    for k, item in enumerate(items):
        try:
            feed = fg.feed_dict(item)
        except TfperfError as exc:
            raise InputError(f"to_tflite: representative[{k}] does not fit model {fg.name}: {exc}") \
                from None
        for s in fg.inputs:
            original = _original(item, s, fg)
            if original is not None and np.dtype(s.dtype).kind == "f" and original.dtype.kind != "f":
                raise InputError(
                    f"to_tflite: representative[{k}] for input {s.name} is {original.dtype}; the "
                    f"model takes {s.dtype} (preprocessed values). Pass the arrays you would feed "
                    f"the model, as {s.dtype}.")
        out.append([np.asarray(feed[s.name]) for s in fg.inputs])
    return out


def _original(item, spec, fg):
    if isinstance(item, dict):
        for key in (spec.name, spec.name.split(":")[0]):
            if key in item:
                return np.asarray(item[key])
        return None
    if isinstance(item, (list, tuple)) and len(fg.inputs) > 1:
        return np.asarray(item[[s.name for s in fg.inputs].index(spec.name)])
    return np.asarray(item)


def build_converter(fg, quantize: str = "none", representative=None, *, via: str = "graph",
                    int8_io: bool = True, select_tf_ops: bool = False, **options):
    """A configured `tf.lite` converter for `fg` (used by `to_tflite` and the variant table's
    quantization debugger). `representative` is the checked list of `check_representative`."""
    import tensorflow as tf

    if via not in VIA:
        near = close_matches(str(via), VIA)
        raise ConfigError(f"to_tflite: unknown via={via!r}; use one of {', '.join(VIA)}"
                          + (f". Did you mean {near[0]!r}?" if near else "."))
    if via == "keras":
        if fg.keras_model is None:
            raise ConversionError(f"to_tflite(via='keras'): model {fg.name} is not a Keras model "
                                  f"(kind {fg.kind}); use via='graph'.")
        converter = tf.lite.TFLiteConverter.from_keras_model(fg.keras_model)
    elif via == "saved_model":
        if fg.kind != "saved_model":
            raise ConversionError(f"to_tflite(via='saved_model'): model {fg.name} is not a "
                                  f"SavedModel (kind {fg.kind}); use via='graph'.")
        converter = tf.lite.TFLiteConverter.from_saved_model(fg.source)
    else:
        graph = fg.graph
        converter = tf.compat.v1.lite.TFLiteConverter(
            fg.graph_def, [graph.get_tensor_by_name(s.name) for s in fg.inputs],
            [graph.get_tensor_by_name(s.name) for s in fg.outputs])
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        data = list(representative)
        converter.representative_dataset = lambda: iter(data)
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    if select_tf_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    for key, value in options.items():
        if not hasattr(converter, key) or key.startswith("_"):
            public = [a for a in dir(converter) if not a.startswith("_")
                      and not callable(getattr(converter, a, None))]
            near = close_matches(key, public)
            raise ConfigError(f"to_tflite: unknown converter option {key!r}"
                              + (f"; did you mean {near[0]!r}?" if near else "")
                              + f". Options are the converter's attributes: {', '.join(public)}.")
        setattr(converter, key, value)
    return converter


_NOT_SUPPORTED = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
_SELECT = re.compile(r"TF Select ops: ([^\n]+)")
_CUSTOM = re.compile(r"Custom ops: ([^\n]+)")


def unsupported_ops(message: str) -> list[str]:
    """TensorFlow op types the converter could not lower, from its error text."""
    found: list[str] = []
    for m in _SELECT.finditer(message):
        found += [o.strip() for o in m.group(1).split(",")]
    for m in _CUSTOM.finditer(message):
        found += [o.strip() for o in m.group(1).split(",")]
    found += _NOT_SUPPORTED.findall(message)
    return sorted({o for o in found if o})


@contextlib.contextmanager
def _quiet_stdout():
    """Silence stdout and stderr at the file-descriptor level too: the converter's C++ code
    prints ("fully_quantize: 0, ...", MLIR diagnostics) straight to fds 1 and 2, which would
    corrupt `tfperf variants --json`; its exceptions carry the same text."""
    saved = []
    try:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = [os.dup(1), os.dup(2)]
    except (OSError, ValueError, AttributeError):  # no real fds (embedded interpreters)
        for fd in saved:
            os.close(fd)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            for fd, target in zip(saved, (1, 2)):
                os.dup2(fd, target)
                os.close(fd)


def convert_bytes(fg, quantize: str = "none", representative=None, **options) -> bytes:
    """Run the converter; ConversionError listing unsupported ops (with the SELECT_TF_OPS hint)."""
    converter = build_converter(fg, quantize, representative, **options)
    try:
        with _quiet_stdout():  # Keras' export and the quantizer print
            return bytes(converter.convert())
    except Exception as exc:  # ConverterError, ValueError from the quantizer, ...
        text = str(exc)
        ops = unsupported_ops(text)
        if ops:
            raise ConversionError(
                f"to_tflite: model {fg.name} uses op(s) TFLite builtins cannot run: "
                f"{', '.join(ops)}. Pass select_tf_ops=True to keep them as TensorFlow (Flex) "
                "ops (target_spec.supported_ops += SELECT_TF_OPS; the runtime then needs the Flex "
                "delegate), or replace them in the model.") from None
        first = next((ln.strip() for ln in text.splitlines() if "error" in ln.lower()),
                     text.strip().splitlines()[0] if text.strip() else type(exc).__name__)
        raise ConversionError(f"to_tflite: converting model {fg.name} (quantize={quantize!r}) "
                              f"failed: {type(exc).__name__}: {first[:400]}") from None


def to_tflite(model, path: str | os.PathLike | None = None, *, quantize: str = "none",
              representative: Iterable | None = None, input_shapes: Any = None,
              num_threads: int | None = 1, use_xnnpack: bool = True, via: str = "graph",
              int8_io: bool = True, select_tf_ops: bool = False, **options):
    """Convert any loadable model to TFLite and return the loaded `TFLiteModel`.

    Args:
        model: a `FrozenGraph` or anything `pytest_tfperf.load` accepts (path, keras.Model...).
        path: write the flatbuffer here (atomically, only after the conversion and a test load
            succeeded); None keeps it in memory.
        quantize: "none" (float32), "float16" (fp16 weights), "dynamic" (int8 weights, float
            activations), "int8" (full integer, calibrated on `representative`).
        representative: for "int8": an iterable of input arrays (or per-input lists/dicts).
        input_shapes: pin unknown input dims of the source before converting.
        num_threads, use_xnnpack: interpreter settings of the returned model.
        via: "graph" (default), "keras" or "saved_model" (see the module docstring).
        int8_io: for "int8", int8 input/output tensors (the model quantizes nothing itself;
            `TFLiteModel.run` quantizes float inputs with the input's scale and zero point).
        select_tf_ops: allow TensorFlow (Flex) ops for what TFLite builtins lack.
        **options: converter attributes, e.g. `allow_custom_ops=True`.
    Returns:
        TFLiteModel.
    Raises:
        ConfigError: unknown quantize / via / option (with the close match).
        InputError: int8 without representative data, or data of the wrong shape or dtype.
        ConversionError: unsupported ops (listed, with the SELECT_TF_OPS hint), an unwritable
            `path`, or a TFLite model as `model`. Nothing is written on any error.

    Example:
        >>> int8 = to_tflite(keras_model, "model_int8.tflite", quantize="int8",
        ...                  representative=[image])
    """
    from pytest_tfperf.atomic import write_bytes
    from pytest_tfperf.model.tflite import TFLiteModel

    quantize = check_quantize(quantize)
    target = check_writable(path) if path is not None else None
    fg = _source_model(model, input_shapes)
    data = check_representative(fg, representative, needed=quantize == "int8") \
        if quantize == "int8" else None
    content = convert_bytes(fg, quantize, data, via=via, int8_io=int8_io,
                            select_tf_ops=select_tf_ops, **options)
    label = f"{fg.name} (tflite {quantize if quantize != 'none' else 'fp32'})"
    tfl = TFLiteModel(content, source=target or f"<{label}>", name=label if target is None else
                      os.path.basename(target), num_threads=num_threads, use_xnnpack=use_xnnpack)
    if target is not None:
        write_bytes(target, content)
        tfl.path = target
    return tfl


def image_variants(image: np.ndarray, n: int = 8, seed: int = 0) -> list[np.ndarray]:
    """`n` calibration samples from one image: itself, its mirror, brightness/contrast shifts and
    mild noise, kept within the image's own value range (the recorder's default int8
    representative set when the test gives none)."""
    x = np.asarray(image, dtype=np.float32)
    lo, hi = float(x.min()), float(x.max())
    span = (hi - lo) or 1.0
    rng = np.random.default_rng(seed)
    out = [x, x[..., ::-1, :].copy() if x.ndim == 4 else x]
    while len(out) < n:
        gain = rng.uniform(0.8, 1.2)
        shift = rng.uniform(-0.1, 0.1) * span
        noise = rng.normal(0.0, 0.02 * span, size=x.shape)
        out.append(np.clip((x - lo) * gain + lo + shift + noise, lo, hi).astype(np.float32))
    return out[:n]
