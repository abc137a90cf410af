"""`TFLiteModel`: a `.tflite` flatbuffer run by the LiteRT interpreter (`tf.lite` as fallback).

It implements the `Model` protocol: I/O specs with quantization parameters, `runner(inputs)`
(set_tensor + invoke + get_tensor on an interpreter built once per model; `fresh=True` builds a
new one), `run(inputs)` (quantized outputs dequantized to float32, float inputs quantized with
the input tensor's own scale / zero point), size, and facts read from the flatbuffer itself
(op histogram, constant-buffer parameters).

LiteRT (`ai_edge_litert`) is the maintained home of the interpreter; `tf.lite.Interpreter` is
deprecated since TF 2.19 and used only when LiteRT is not installed (or `runtime="tf.lite"`).
Neither is imported until a model is loaded.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pytest_tfperf.model import graphs
from pytest_tfperf.errors import InputError, ModelLoadError, NodeNotFoundError, unknown_name_message
from pytest_tfperf.model.frozen import TensorSpec
from pytest_tfperf.model.shapes import _as_list, pair_inputs  # _as_list: the one "a,b" / list-of-names parser
from pytest_tfperf.model.tflite_signatures import _dynamic, signature_keys
from pytest_tfperf.model.tflite_flatbuffer import (FlatbufferFacts, flatbuffer_facts, op_table, read_flatbuffer,
                                tensor_table)

__all__ = ["FlatbufferFacts", "RUNTIMES", "TFLiteModel", "load_tflite", "quantize"]

RUNTIMES = ("ai_edge_litert", "tf.lite")


def _spec(name: str, dtype: str, shape, quantization) -> TensorSpec:
    """A `TensorSpec` carrying `quantization` once TensorSpec has the field (issue 10)."""
    if "quantization" in {f.name for f in dataclasses.fields(TensorSpec)}:
        return TensorSpec(name=name, dtype=dtype, shape=shape, quantization=quantization)
    return TensorSpec(name=name, dtype=dtype, shape=shape)


def _interpreter_class(runtime: str | None):
    """(Interpreter class, OpResolverType, runtime name, version) for LiteRT or tf.lite."""
    if runtime not in (None, *RUNTIMES):
        raise ModelLoadError(f"unknown TFLite runtime {runtime!r}; use one of {', '.join(RUNTIMES)} "
                             f"(or None for LiteRT when installed). Received: runtime={runtime!r}")
    if runtime in (None, "ai_edge_litert"):
        try:
            import ai_edge_litert
            from ai_edge_litert import interpreter as litert

            return (litert.Interpreter, litert.OpResolverType, "ai_edge_litert",
                    str(getattr(ai_edge_litert, "__version__", "unknown")))
        except ImportError:
            if runtime == "ai_edge_litert":
                raise ModelLoadError("runtime='ai_edge_litert' but LiteRT is not installed: "
                                     "pip install 'pytest-tfperf[edge]' (ai-edge-litert).") from None
    import tensorflow as tf

    return tf.lite.Interpreter, tf.lite.experimental.OpResolverType, "tf.lite", tf.__version__


class TFLiteModel:
    """A TFLite flatbuffer ready to run: specs, a reused interpreter, flatbuffer facts.

    Create one with `load_tflite(path)` or `pytest_tfperf.to_tflite(model)`.

    Attributes:
        name, source, kind ("tflite"), identity (realpath of the file, "<tflite name>" in memory).
        runtime ("ai_edge_litert" or "tf.lite"), runtime_version, delegate ("xnnpack"/"none"),
        num_threads.
        inputs / outputs: `TensorSpec`s; unknown (dynamic) dims are None;
            `quantization[name]` is (scale, zero_point) or None for every input and output.
        size_bytes: the flatbuffer's size; facts: `FlatbufferFacts`.
    """

    kind = "tflite"

    def __init__(self, content: bytes, *, source: str, name: str | None = None,
                 path: str | None = None, inputs: Sequence[str] | None = None,
                 outputs: Sequence[str] | None = None, input_shapes: Any = None,
                 num_threads: int | None = 1, use_xnnpack: bool = True,
                 runtime: str | None = None):
        if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, int)
                                        or num_threads < 1):
            raise ModelLoadError(f"num_threads must be an int >= 1 (or None for the runtime's "
                                 f"default). Received: num_threads={num_threads!r}")
        self.content = bytes(content)
        self.source = source
        self.path = path
        self.name = name or (os.path.basename(path) if path else source.strip("<>"))
        self.num_threads = num_threads
        self.use_xnnpack = bool(use_xnnpack)
        self._model_t = read_flatbuffer(self.content, source)
        try:
            self.facts = flatbuffer_facts(self._model_t)
        except (IndexError, TypeError, ValueError, AttributeError) as exc:
            raise ModelLoadError(
                f"{source!r} ({len(self.content)} bytes) is a damaged TFLite flatbuffer: "
                f"{type(exc).__name__} while reading its operators and buffers ({exc}). The file is "
                "corrupt; convert or download it again.") from None
        self._cls, self._resolvers, self.runtime, self.runtime_version = _interpreter_class(runtime)
        self.trainable_params: int | None = None      # a flatbuffer knows no trainability
        self.non_trainable_params: int | None = None
        self.keras_model = None
        self.defaults: tuple = ()
        self._interpreter = None
        interp, state = self._new_pair()
        details_in = interp.get_input_details()
        details_out = interp.get_output_details()
        self._keys = signature_keys(interp)  # tensor index -> signature key, when it has one
        for d in details_in + details_out:
            d["key"] = self._keys.get(d["index"])
        self._in_index = _select(details_in, inputs, "input", self.name)
        self._out_index = _select(details_out, outputs, "output", self.name)
        self._named_outputs = outputs is not None
        by_index = {d["index"]: d for d in details_in + details_out}
        self.quantization: dict[str, tuple[float, int] | None] = {}
        self.inputs = tuple(self._make_spec(by_index[i]) for i in self._in_index)
        self.outputs = tuple(self._make_spec(by_index[i]) for i in self._out_index)
        self._interpreter = interp
        self._current = state   # the input shapes the shared interpreter has now
        if input_shapes is not None:
            self._pin(input_shapes)

    # -- Model protocol ---------------------------------------------------------------------
    @property
    def identity(self) -> str:
        base = os.path.realpath(self.path) if self.path else f"<tflite {self.name}>"
        if self._named_outputs:
            base += "[" + ",".join(s.name for s in self.outputs) + "]"
        return base

    @property
    def delegate(self) -> str:
        return "xnnpack" if self.use_xnnpack else "none"

    @property
    def size_bytes(self) -> int:
        return len(self.content)

    @property
    def weight_params(self) -> int:
        """Elements of the constant weight tensors (float, or quantized int8/int32)."""
        return self.facts.weight_params

    def tensors(self) -> list[dict]:
        """Every tensor of the flatbuffer: name, dtype, shape, constant?, quantization."""
        return tensor_table(self._model_t)

    def ops(self) -> list[dict]:
        """Every operator in execution order: index, op type, input and output tensor names."""
        return op_table(self._model_t)

    def configure(self, *, num_threads: int | None = None, use_xnnpack: bool | None = None) -> None:
        """Change the interpreter settings (e.g. from the `tfperf_tflite_threads` ini key);
        the shared interpreter is rebuilt on next use when anything changed."""
        changed = False
        if num_threads is not None and num_threads != self.num_threads:
            if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
                raise ModelLoadError(f"num_threads must be an int >= 1. Received: "
                                     f"num_threads={num_threads!r}")
            self.num_threads, changed = num_threads, True
        if use_xnnpack is not None and bool(use_xnnpack) != self.use_xnnpack:
            self.use_xnnpack, changed = bool(use_xnnpack), True
        if changed:
            self.close()

    def runtime_info(self) -> dict:
        """What ran: {"runtime", "runtime_version", "delegate", "num_threads"} (for records)."""
        return {"runtime": self.runtime, "runtime_version": self.runtime_version,
                "delegate": self.delegate, "num_threads": self.num_threads}

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name} {s.dtype}{s.shape_text()}" for s in self.inputs)
        outs = ", ".join(s.name for s in self.outputs)
        return (f"<TFLiteModel {self.name!r} {self.facts.n_ops} ops, {self.size_bytes} bytes, "
                f"{self.runtime} {self.delegate}; {ins} -> {outs}>")

    def spec(self, name: str) -> TensorSpec:
        """The input or output spec called `name` ("name" or "name:0")."""
        wanted = graphs.tensor_name(name)
        for s in self.inputs + self.outputs:
            if s.name in (name, wanted):
                return s
        raise NodeNotFoundError(unknown_name_message(
            "tensor", name, [s.name for s in self.inputs + self.outputs], f"model {self.name}"))

    def feed_dict(self, inputs) -> dict[str, np.ndarray]:
        """{input name: array}, checked: count, known dims, dtype (safe casts as
        `FrozenGraph.feed_dict` does). Float data for a quantized (int8/uint8) input stays
        float32 here, so the same feed can go to a float model (`assert_equivalent` with a
        TFLite reference); `runner` quantizes it with the input's scale and zero point.

        Raises:
            InputError: wrong count, known dims that do not match, an unsafe dtype.
        """
        items = pair_inputs(inputs, self.inputs, self.name)
        return {s.name: self._coerce(s, items[s.name]) for s in self.inputs}

    def runner(self, inputs, *, fresh: bool = False,
               num_threads: int | None = None) -> Callable[[], list]:
        """A zero-argument callable: set_tensor for each bound input, invoke, get_tensor for each
        output (raw values: int8 outputs stay int8; `dequantize` converts them).

        Args:
            inputs: as `feed_dict` takes them; converted once, here.
            fresh: build a new interpreter (independent timing replicate) instead of the
                model's shared one.
            num_threads: a new interpreter with this many threads (sweeps; implies `fresh`).
        """
        feeds = self.feed_dict(inputs)
        if self._interpreter is None:
            self._interpreter, self._current = self._new_pair()
        interp, state = self._new_pair(num_threads) if fresh or num_threads is not None \
            else (self._interpreter, self._current)
        shapes = {i: tuple(feeds[s.name].shape) for i, s in zip(self._in_index, self.inputs)}
        me = object()  # this runner's token: who sized the interpreter's inputs last
        self._resize(interp, state, shapes, me)
        pairs = tuple((i, self._quantized(s, feeds[s.name]))
                      for i, s in zip(self._in_index, self.inputs))
        out_index = tuple(self._out_index)
        set_tensor, invoke, get_tensor = interp.set_tensor, interp.invoke, interp.get_tensor
        resize = self._resize

        def run_once() -> list:
            if state.owner is not me:  # another runner may have resized the inputs
                resize(interp, state, shapes, me)
            for index, value in pairs:
                set_tensor(index, value)
            invoke()
            return [get_tensor(i) for i in out_index]

        return run_once

    def run(self, inputs) -> list[np.ndarray]:
        """One inference; outputs in `outputs` order, quantized ones dequantized to float32."""
        try:
            raw = self.runner(inputs)()
        except (InputError, NodeNotFoundError):
            raise
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"model {self.name} failed while running: "
                                 f"{type(exc).__name__}: {str(exc).strip()[:300]}") from exc
        return self.dequantize(raw)

    def dequantize(self, raw: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Raw outputs (as `runner` returns them) -> float32 where the output is quantized."""
        out = []
        for spec, value in zip(self.outputs, raw):
            q = self.quantization.get(spec.name)
            if q is not None and np.asarray(value).dtype.kind in "iu":
                scale, zero = q
                value = ((np.asarray(value).astype(np.float32) - zero) * scale).astype(np.float32)
            out.append(value)
        return out

    def close(self) -> None:
        """Drop the interpreter (a new one is built on next use)."""
        self._interpreter, self._current = None, _State()

    # -- internals --------------------------------------------------------------------------
    def _new_pair(self, num_threads: int | None = None) -> tuple[Any, "_State"]:
        """A new interpreter (at `num_threads`, else the model's) and its `_State`, allocated at
        the model's own input shapes. A model with dynamic (-1) input dims whose allocation there
        fails (its tensors sized for 1x1 inputs, where e.g. a valid-padded conv has no output)
        stays unallocated: `_resize` allocates it at the shapes it is fed or pinned to."""
        kwargs: dict = {"model_content": self.content, "num_threads": num_threads or self.num_threads}
        if not self.use_xnnpack:
            kwargs["experimental_op_resolver_type"] = \
                self._resolvers.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            with warnings.catch_warnings():  # tf.lite's deprecation notice: we chose the fallback
                warnings.simplefilter("ignore")
                interp = self._cls(**kwargs)
                state = _State()
                try:
                    interp.allocate_tensors()
                except (ValueError, RuntimeError):
                    if not _dynamic(interp):
                        raise
                    state.allocated = False
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(
                f"{self.source!r}: the {self.runtime} interpreter cannot load this model: "
                f"{str(exc).strip()[:400]}. If it names unsupported or custom ops (Flex / "
                "SELECT_TF_OPS), convert without them or run with a runtime that links them.") from None
        return interp, state

    def _make_spec(self, d: Mapping) -> TensorSpec:
        label = d.get("key") or d["name"]  # the signature's key first (what a SavedModel calls it)
        name = graphs.tensor_name(label) if label else f"tensor_{d['index']}:0"
        signature = d.get("shape_signature")
        dims = list(signature if signature is not None and len(signature) else d["shape"])
        shape = tuple(None if int(v) < 0 else int(v) for v in dims)
        dtype = np.dtype(d["dtype"]).name if d["dtype"] not in (np.bytes_, np.object_, bytes) \
            else "string"
        scale, zero = d.get("quantization", (0.0, 0))
        q = (float(scale), int(zero)) if scale else None
        self.quantization[name] = q
        return _spec(name, dtype, shape, q)

    def _pin(self, input_shapes) -> None:
        from pytest_tfperf.model.shapes import _shape_list

        shapes = _shape_list(input_shapes, [s.name for s in self.inputs])
        if len(shapes) != len(self.inputs):
            raise InputError(f"model {self.name}: input_shapes gives {len(shapes)} shape(s) for "
                             f"{len(self.inputs)} input(s). Received: input_shapes={input_shapes!r}")
        pinned = list(self.inputs)
        for k, (spec, shape) in enumerate(zip(self.inputs, shapes)):
            if shape is None:
                continue
            if len(shape) != len(spec.shape) or any(
                    d is not None and d != s for d, s in zip(spec.shape, shape)):
                raise InputError(
                    f"model {self.name}: input_shapes {list(shape)} does not fit input {spec.name} "
                    f"of shape {spec.shape_text()}; only unknown (?) dims can be pinned. "
                    f"Received: input_shapes={input_shapes!r}")
            pinned[k] = dataclasses.replace(spec, shape=tuple(int(s) for s in shape))
        self.inputs = tuple(pinned)
        self._resize(self._interpreter, self._current,
                     {i: tuple(s.shape) for i, s in zip(self._in_index, self.inputs) if None not in s.shape})

    def _resize(self, interp, state: "_State", shapes: Mapping[int, tuple], owner=None) -> None:
        """Resize `interp`'s inputs to `shapes` (and reallocate) unless it has them already;
        `state` records what it has and which runner set it."""
        if state.allocated and all((state.shapes[i] if i in state.shapes else _now(interp, i))
                                   == tuple(s) for i, s in shapes.items()):
            state.shapes.update({i: tuple(s) for i, s in shapes.items()})
            state.owner = owner
            return
        if not shapes:  # nothing to size it at yet (a dynamic model pinned at no input)
            return
        try:
            for i, shape in shapes.items():
                interp.resize_tensor_input(i, list(shape), strict=True)
            interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            specs = {i: s for i, s in zip(self._in_index, self.inputs)}
            wanted = ", ".join(f"{specs[i].name} -> {list(s)} (signature {specs[i].shape_text()})"
                               for i, s in shapes.items())
            fix = ("Pin a shape the model supports: load_tflite(path, input_shapes=[[1, H, W, C]]) "
                   "or convert with fixed shapes.")
            if not state.allocated:  # it never ran at any shape: too small for it, or damaged
                raise ModelLoadError(
                    f"model {self.name}: the {self.runtime} interpreter cannot allocate it at "
                    f"{wanted} (nor at 1 for each unknown dim): {str(exc).strip()[:300]}. {fix} "
                    "If no shape works, the file is damaged: convert it again.") from None
            raise InputError(f"model {self.name}: cannot resize the input(s) to {wanted}: "
                             f"{str(exc).strip()[:300]}. {fix}") from None
        state.shapes = {i: tuple(s) for i, s in shapes.items()}
        state.owner = owner
        state.allocated = True

    def _quantized(self, spec: TensorSpec, arr: np.ndarray) -> np.ndarray:
        q = self.quantization.get(spec.name)
        want = np.dtype(spec.dtype) if spec.dtype != "string" else None
        if q is not None and want is not None and want.kind in "iu" and arr.dtype.kind == "f":
            return np.ascontiguousarray(quantize(arr, q, want))
        return arr

    def _coerce(self, spec: TensorSpec, value) -> np.ndarray:
        arr = np.asarray(value)
        if spec.dtype == "string":
            if arr.dtype.kind not in "SUO":
                raise InputError(f"input {spec.name} of model {self.name} wants strings; received "
                                 f"{arr.dtype}. Pass an array of bytes/str.")
        else:
            want = np.dtype(spec.dtype)
            q = self.quantization.get(spec.name)
            if q is not None and want.kind in "iu" and arr.dtype.kind == "f":
                arr = arr.astype(np.float32)  # quantized in `runner`
            elif arr.dtype != want:
                ok = np.can_cast(arr.dtype, want, casting="safe") or (
                    arr.dtype.kind == "f" and want.kind == "f") or (
                    arr.dtype.kind in "biu" and want.kind == "f")
                if not ok:
                    raise InputError(f"input {spec.name} of model {self.name} wants {spec.dtype}; "
                                     f"received {arr.dtype} (cannot convert safely). Cast it first.")
                arr = arr.astype(want)
        if spec.shape is not None and (arr.ndim != len(spec.shape) or any(
                d is not None and d != a for d, a in zip(spec.shape, arr.shape))):
            raise InputError(f"input {spec.name} of model {self.name} wants shape "
                             f"{spec.shape_text()}; received {list(arr.shape)}. Resize the input, "
                             "or convert the model with that shape.")
        return np.ascontiguousarray(arr)


class _State:
    """An interpreter's current input shapes and the runner that set them."""

    __slots__ = ("shapes", "owner", "allocated")

    def __init__(self) -> None:
        self.shapes: dict[int, tuple] = {}
        self.owner: object = None
        self.allocated = True   # False: a dynamic-shape model's interpreter, not sized yet


def quantize(x: np.ndarray, quantization: tuple[float, int], dtype) -> np.ndarray:
    """Float `x` -> integer `dtype` with (scale, zero_point): round(x / scale) + zero_point, clipped."""
    scale, zero = quantization
    info = np.iinfo(np.dtype(dtype))
    q = np.rint(np.asarray(x, dtype=np.float64) / scale) + zero
    return np.clip(q, info.min, info.max).astype(dtype)


def _now(interp, index: int) -> tuple:
    for d in interp.get_input_details():
        if d["index"] == index:
            return tuple(int(v) for v in d["shape"])
    return ()


def _select(details: list, names: Sequence[str] | None, what: str, model: str) -> list[int]:
    """Tensor indices of the named inputs/outputs (all of them, in model order, when None)."""
    if names is None:
        return [d["index"] for d in details]
    by_name = {}
    for d in details:
        for label in (d["name"], d.get("key")):  # the tensor's name or its signature key
            if label:
                by_name[label] = d["index"]
                by_name[graphs.tensor_name(label)] = d["index"]
    out = []
    for n in ([names] if isinstance(names, str) else names):
        n = getattr(n, "name", n)
        if n not in by_name:
            raise NodeNotFoundError(unknown_name_message(
                what, n, [graphs.tensor_name(d.get("key") or d["name"]) for d in details],
                f"TFLite model {model}"))
        out.append(by_name[n])
    return out


def load_tflite(path: str | os.PathLike, *, inputs: Sequence[str] | None = None,
                outputs: Sequence[str] | None = None, input_shapes: Any = None,
                num_threads: int | None = 1, use_xnnpack: bool = True,
                runtime: str | None = None) -> TFLiteModel:
    """Load a `.tflite` flatbuffer as a `TFLiteModel`.

    Args:
        path: the `.tflite` file.
        inputs / outputs: a subset of the model's inputs/outputs by name (default: all).
            Every model input must be fed, so `inputs` only reorders them.
        input_shapes: pin dynamic (-1) dims, e.g. `[[1, 224, 224, 3]]` or
            `{"image": [1, 224, 224, 3]}` (the input tensor is resized to it).
        num_threads: interpreter threads (default 1, like the plugin's TF sessions).
        use_xnnpack: apply the XNNPACK delegate (LiteRT's default CPU delegate); False runs the
            builtin kernels alone.
        runtime: "ai_edge_litert" or "tf.lite"; None = LiteRT when installed, else tf.lite.
    Returns:
        TFLiteModel.
    Raises:
        ModelLoadError: a missing, empty, truncated or corrupt file (named), or an interpreter
        that cannot load it; NodeNotFoundError: a mistyped input/output name.

    Example:
        >>> m = load_tflite("alexnet_int8.tflite")
        >>> logits, = m.run(image)          # float image quantized, logits dequantized
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelLoadError(f"TFLite model {path!r} does not exist (cwd {os.getcwd()!r}). Check the "
                             "path, or write one with pytest_tfperf.to_tflite(model, path).")
    with open(path, "rb") as f:
        content = f.read()
    if not content:
        raise ModelLoadError(f"TFLite model {path!r} is empty (0 bytes): the export was "
                             "interrupted; convert it again.")
    if inputs is not None and not isinstance(inputs, str):
        inputs = list(inputs)
    return TFLiteModel(content, source=path, path=path, inputs=_as_list(inputs),
                       outputs=_as_list(outputs), input_shapes=input_shapes,
                       num_threads=num_threads, use_xnnpack=use_xnnpack, runtime=runtime)


