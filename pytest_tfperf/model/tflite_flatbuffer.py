"""Reading a `.tflite` flatbuffer without running it: validity, op histogram, constant buffers.

Uses the flatbuffer schema module LiteRT ships (TensorFlow's copy as a fallback).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any, Mapping

import numpy as np

from pytest_tfperf.errors import ModelLoadError


def schema():
    """The TFLite flatbuffer schema module (LiteRT's copy, else TensorFlow's)."""
    try:
        from ai_edge_litert import schema_py_generated as schema_fb
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema_fb
    return schema_fb


def read_flatbuffer(content: bytes, source: str):
    """Parse `content` as a TFLite model (identifier 'TFL3' checked first); ModelLoadError else."""
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ModelLoadError(
            f"{source!r} ({len(content)} bytes) is not a TFLite flatbuffer (no 'TFL3' file "
            "identifier at bytes 4-8): the file is truncated or corrupt, or another format. "
            "Convert the model again (pytest_tfperf.to_tflite).")
    try:
        return schema().ModelT.InitFromPackedBuf(bytearray(content), 0)
    except Exception as exc:  # flatbuffers raises IndexError/struct.error on a cut file
        raise ModelLoadError(
            f"{source!r} ({len(content)} bytes) is a damaged TFLite flatbuffer "
            f"({type(exc).__name__}: {str(exc)[:200]}): the file is truncated or corrupt. "
            "Convert or download it again.") from None


def _op_names() -> dict[int, str]:
    ops = schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


_TENSOR_TYPES = {"FLOAT32": "float32", "FLOAT16": "float16", "INT32": "int32", "UINT8": "uint8",
                 "INT64": "int64", "STRING": "string", "BOOL": "bool", "INT16": "int16",
                 "INT8": "int8", "FLOAT64": "float64", "UINT32": "uint32", "UINT16": "uint16",
                 "INT4": "int4"}


@dataclasses.dataclass(frozen=True)
class FlatbufferFacts:
    """What the flatbuffer says without running it: ops, constant tensors, weights."""

    op_histogram: tuple[tuple[str, int], ...]     # (op, count), most frequent first
    n_ops: int
    n_tensors: int
    n_subgraphs: int
    weight_params: int          # elements of constant float / quantized tensors (weights, biases)
    constant_elements: int      # elements of every constant tensor (shapes and axes included)
    constant_bytes: int         # bytes of constant buffers
    weight_dtypes: tuple[tuple[str, int], ...]    # (dtype, elements) of the weights

    def to_dict(self) -> dict:
        return {"op_histogram": [list(p) for p in self.op_histogram], "n_ops": self.n_ops,
                "n_tensors": self.n_tensors, "n_subgraphs": self.n_subgraphs,
                "weight_params": self.weight_params, "constant_elements": self.constant_elements,
                "constant_bytes": self.constant_bytes,
                "weight_dtypes": [list(p) for p in self.weight_dtypes]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FlatbufferFacts":
        return cls(op_histogram=tuple((str(a), int(b)) for a, b in data["op_histogram"]),
                   n_ops=int(data["n_ops"]), n_tensors=int(data["n_tensors"]),
                   n_subgraphs=int(data["n_subgraphs"]), weight_params=int(data["weight_params"]),
                   constant_elements=int(data["constant_elements"]),
                   constant_bytes=int(data["constant_bytes"]),
                   weight_dtypes=tuple((str(a), int(b)) for a, b in data["weight_dtypes"]))


def flatbuffer_facts(model_t) -> FlatbufferFacts:
    """Op histogram and constant-buffer counts of a parsed flatbuffer (`read_flatbuffer`).

    A weight is a constant tensor (non-empty buffer) of a float type, or of an integer type that
    carries quantization parameters (int8 weights, int32 biases); constant shapes and axes are
    counted in `constant_elements` only.
    """
    names = _op_names()
    type_names = {v: k for k, v in vars(schema().TensorType).items() if not k.startswith("_")}
    ops: Counter = Counter()
    for sub in model_t.subgraphs or []:
        for op in sub.operators or []:
            code = model_t.operatorCodes[op.opcodeIndex]
            builtin = max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0))
            if code.customCode:
                name = code.customCode.decode() if isinstance(code.customCode, bytes) \
                    else str(code.customCode)
            else:
                name = names.get(builtin, str(builtin))
            ops[name] += 1
    weights = constants = const_bytes = 0
    by_dtype: Counter = Counter()
    n_tensors = 0
    buffers = model_t.buffers or []
    for sub in model_t.subgraphs or []:
        for t in sub.tensors or []:
            n_tensors += 1
            buf = buffers[t.buffer] if 0 <= t.buffer < len(buffers) else None
            data = getattr(buf, "data", None)
            size = int(getattr(buf, "size", 0) or 0)
            if data is None and not size:
                continue
            nbytes = len(data) if data is not None else size
            if not nbytes:
                continue
            n = int(np.prod(t.shape)) if t.shape is not None and len(t.shape) else 1
            constants += n
            const_bytes += nbytes
            dtype = _TENSOR_TYPES.get(type_names.get(t.type, ""), "unknown")
            quantized = t.quantization is not None and t.quantization.scale is not None \
                and len(t.quantization.scale) > 0
            if dtype.startswith("float") or (quantized and dtype.startswith(("int", "uint"))):
                weights += n
                by_dtype[dtype] += n
    return FlatbufferFacts(op_histogram=tuple(sorted(ops.items(), key=lambda p: (-p[1], p[0]))),
                           n_ops=sum(ops.values()), n_tensors=n_tensors,
                           n_subgraphs=len(model_t.subgraphs or []), weight_params=weights,
                           constant_elements=constants, constant_bytes=const_bytes,
                           weight_dtypes=tuple(sorted(by_dtype.items())))


def tensor_table(model_t) -> list[dict]:
    """Every tensor of every subgraph: {subgraph, index, name, dtype, shape, constant,
    quantization: (scale, zero_point) | None} (per-channel scales: the first one)."""
    type_names = {v: k for k, v in vars(schema().TensorType).items() if not k.startswith("_")}
    buffers = model_t.buffers or []
    out = []
    for g, sub in enumerate(model_t.subgraphs or []):
        for i, t in enumerate(sub.tensors or []):
            buf = buffers[t.buffer] if 0 <= t.buffer < len(buffers) else None
            data = getattr(buf, "data", None)
            q = t.quantization
            scale = q.scale if q is not None and q.scale is not None and len(q.scale) else None
            name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
            out.append({"subgraph": g, "index": i, "name": name,
                        "dtype": _TENSOR_TYPES.get(type_names.get(t.type, ""), "unknown"),
                        "shape": [int(d) for d in (t.shape if t.shape is not None else [])],
                        "constant": bool(data is not None and len(data))
                        or bool(getattr(buf, "size", 0)),
                        "quantization": None if scale is None else
                        (float(scale[0]), int(q.zeroPoint[0]) if q.zeroPoint is not None
                         and len(q.zeroPoint) else 0)})
    return out


def op_table(model_t) -> list[dict]:
    """Every operator in execution order: {subgraph, index, op, inputs, outputs} (tensor names;
    constant inputs included). Static facts only: LiteRT's Python API has no per-op timings."""
    names = _op_names()
    out = []
    for g, sub in enumerate(model_t.subgraphs or []):
        tensors = [t.name.decode() if isinstance(t.name, bytes) else str(t.name)
                   for t in sub.tensors or []]

        def name(i, tensors=tensors):
            return tensors[i] if 0 <= i < len(tensors) else None  # -1: an omitted optional input
        for k, op in enumerate(sub.operators or []):
            code = model_t.operatorCodes[op.opcodeIndex]
            builtin = max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0))
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            out.append({"subgraph": g, "index": k, "op": custom or names.get(builtin, str(builtin)),
                        "inputs": [name(int(i)) for i in (op.inputs if op.inputs is not None else [])],
                        "outputs": [name(int(i)) for i in (op.outputs if op.outputs is not None else [])]})
    return out
