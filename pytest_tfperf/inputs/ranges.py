"""The value range a model's image input expects, read from the model (issue 21).

A synthetic image fed in the wrong range proves nothing: a classifier without a Rescaling layer
fed pixel values 0..255 saturates its softmax, and two different models then agree "exactly".
`expected_range(model, spec)` says which preprocess puts pixel values [0, 255] into the range the
model expects, and why:

- a quantized (TFLite) input: its quantization parameters give the float range the integer
  type covers, `scale * (qmin - zero_point) .. scale * (qmax - zero_point)`; pixels are mapped
  onto it (`scale=S,offset=O`);
- a graph whose image input goes first through an elementwise affine prologue with constants
  (a Keras `Rescaling` / `Normalization` layer, seed 001's `(x - 127.5) * 0.0078125`): when the
  prologue maps [0, 255] to small values (within +-`SMALL`) the model takes raw pixels
  ("none"); when it maps [0, 1] there, it takes [0, 1] ("unit");
- otherwise the graph says nothing and the input policy's float range applies: pixels / 255,
  i.e. [0, 1] ("unit"), for a synthetic image and an image file alike (raw pixels 0..255 into
  a model without a Rescaling layer saturate it; `tfperf_preprocess = none` feeds them anyway).

`resolve_preprocess(model, spec, preprocess, synthetic=...)` applies that rule to the
`tfperf_preprocess` value "auto" (the default) and returns the preprocess to use and the words
every report shows ("pixels/255 [0,1]: the graph gives no input range").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pytest_tfperf.inputs.presets import Preprocess, parse_preprocess
from pytest_tfperf.model import graphs

SMALL = 10.0  # a prologue that maps a pixel range within +-SMALL normalises that range
_PASS = frozenset({"Identity", "Cast", "Snapshot", "StopGradient", "IdentityN"})
_AFFINE = frozenset({"Mul", "Sub", "Add", "AddV2", "RealDiv", "Div", "TrueDiv", "BiasAdd"})
_CONST_OPS = frozenset({"Const", "Identity", "Cast", "Sqrt", "Rsqrt", "Reshape", "Maximum",
                        "Minimum", "Mul", "Sub", "Add", "AddV2", "RealDiv", "Div", "Reciprocal",
                        "Square"})


def describe_preprocess(prep: Preprocess) -> str:
    """Words for a preprocess: 'pixels 0..255', 'pixels/255 [0,1]', '(x-127.5)*0.0078125 [-1,1]'."""
    name = prep.name
    if name == "none":
        return "pixels 0..255"
    if name == "unit":
        return "pixels/255 [0,1]"
    if name == "tf":
        return "(x-127.5)*0.0078125 [-1,1]"
    if name == "scale":
        lo, hi = sorted((prep.offset, 255.0 * prep.scale + prep.offset))
        return f"pixels*{prep.scale:.4g}{prep.offset:+.4g} [{lo:.4g},{hi:.4g}]"
    return f"preprocess {name}"


def expected_range(model: Any, spec: Any) -> tuple[Preprocess | None, str]:
    """(preprocess that puts pixels [0, 255] in the range `spec` expects, why), or (None, why)
    when the model does not say."""
    quant = getattr(spec, "quantization", None)
    dtype = str(getattr(spec, "dtype", ""))
    if quant is not None and dtype in ("int8", "uint8", "int16"):
        scale, zero = float(quant[0]), int(quant[1])
        if scale > 0:
            info = np.iinfo(np.dtype(dtype))
            lo, hi = scale * (int(info.min) - zero), scale * (int(info.max) - zero)
            prep = Preprocess("scale", (hi - lo) / 255.0, lo)
            return prep, f"{describe_preprocess(prep)}: input quantization scale={scale:.4g} zero_point={zero}"
    graph_def = getattr(model, "graph_def", None)
    if graph_def is None or spec is None:
        return None, "the model gives no input range"
    found = _prologue(graph_def, spec.name)
    if found is None:
        return None, "the graph gives no input range"
    (a, b), ops = found
    raw = _span(a, b, 255.0)
    unit = _span(a, b, 1.0)
    if raw <= SMALL:
        return Preprocess("none"), f"pixels 0..255: the graph rescales its input ({ops})"
    if unit <= SMALL:
        return Preprocess("unit"), f"pixels/255 [0,1]: the graph normalises [0,1] inputs ({ops})"
    return None, f"the graph's input prologue ({ops}) fits neither 0..255 nor [0,1]"


def resolve_preprocess(model: Any, spec: Any, preprocess: str | Preprocess | None, *,
                       synthetic: bool) -> tuple[Preprocess, str]:
    """The preprocess to apply to an image for `spec`, and the words naming the choice.

    "auto" (and None) take the model's range (`expected_range`), else pixels/255 ([0, 1], the
    input policy's float range); any other value is the user's choice, applied as is.
    `synthetic` only changes the words.
    """
    prep = parse_preprocess(preprocess if preprocess not in (None, "") else "auto")
    if prep.name != "auto":
        return prep, f"{describe_preprocess(prep)}: tfperf_preprocess"
    prep, why = expected_range(model, spec)
    if prep is not None:
        return prep, why
    what = "the input policy's float range" if synthetic else "set tfperf_preprocess for another"
    return Preprocess("unit"), f"pixels/255 [0,1]: {why} ({what})"


def _span(a: np.ndarray, b: np.ndarray, top: float) -> float:
    """Largest |a*x + b| for x in [0, top]."""
    return float(np.max(np.maximum(np.abs(b), np.abs(a * top + b))))


def _prologue(graph_def, input_name: str) -> tuple[tuple[np.ndarray, np.ndarray], str] | None:
    """The affine map (a, b) of the elementwise constant ops right after the input, and their
    ops in words; None when the input's first real op is not one."""
    nodes = graphs.node_map(graph_def)
    readers = graphs.consumers(graph_def)
    current = graphs.node_name(input_name)
    a, b = np.ones(1), np.zeros(1)
    seen: list[str] = []
    for _ in range(8):
        nexts = readers.get(current, [])
        if len(nexts) != 1:
            break
        node = nodes[nexts[0]]
        if node.op in _PASS:
            current = node.name
            continue
        if node.op not in _AFFINE or len(node.input) < 2:
            break
        data = [i for i in node.input[:2] if graphs.node_name(i) == current]
        other = [i for i in node.input[:2] if graphs.node_name(i) != current]
        if len(data) != 1 or len(other) != 1:
            break
        c = _const_value(nodes, other[0])
        if c is None or c.size == 0 or not np.all(np.isfinite(c)):
            break
        c = c.astype(np.float64).reshape(-1)
        first = graphs.node_name(node.input[0]) == current
        if node.op == "Mul":
            a, b = a * c, b * c
        elif node.op in ("Add", "AddV2", "BiasAdd"):
            b = b + c
        elif node.op == "Sub":
            a, b = (a, b - c) if first else (-a, c - b)
        elif first and not np.any(c == 0):  # x / c
            a, b = a / c, b / c
        else:
            break
        seen.append(node.op)
        current = node.name
    if not seen:
        return None
    return (a, b), " -> ".join(seen)


def _const_value(nodes: dict, name: str, depth: int = 0) -> np.ndarray | None:
    """The value of a small constant subgraph (Const through Cast/Sqrt/Reshape/arithmetic)."""
    node = nodes.get(graphs.node_name(name))
    if node is None or depth > 6 or node.op not in _CONST_OPS:
        return None
    if node.op == "Const":
        from tensorflow.python.framework import tensor_util

        value = np.asarray(tensor_util.MakeNdarray(node.attr["value"].tensor))
        return value.astype(np.float64) if value.dtype.kind in "biuf" and value.size <= 4096 else None
    args = [_const_value(nodes, i, depth + 1) for i in node.input if not i.startswith("^")]
    if not args or any(x is None for x in args):
        return None
    with np.errstate(all="ignore"):
        if node.op in ("Identity", "Cast"):
            return args[0]
        if node.op == "Reshape":
            return args[0].reshape(-1)
        unary = {"Sqrt": np.sqrt, "Rsqrt": lambda x: 1 / np.sqrt(x), "Reciprocal": lambda x: 1 / x,
                 "Square": np.square}
        if node.op in unary:
            return unary[node.op](args[0])
        if len(args) < 2:
            return None
        x, y = args[0].reshape(-1), args[1].reshape(-1)
        binary = {"Maximum": np.maximum, "Minimum": np.minimum, "Mul": np.multiply,
                  "Sub": np.subtract, "Add": np.add, "AddV2": np.add, "RealDiv": np.divide,
                  "Div": np.divide}
        try:
            return binary[node.op](x, y)
        except ValueError:
            return None


__all__ = ["SMALL", "describe_preprocess", "expected_range", "resolve_preprocess"]
