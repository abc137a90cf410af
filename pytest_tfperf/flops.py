"""FLOPs of one inference from real tensor shapes (benchmark_model's estimate, wider).

`count_flops(model)` pins the input shapes (an unknown batch dimension becomes 1), imports the
graph and lets TensorFlow's shape inference resolve every tensor shape. Where a shape stays
unknown (data-dependent shapes) or the graph has control flow, it runs the graph once with
`RunOptions(trace_level=FULL_TRACE)` and grappler disabled, and reads the actual output shapes
of every executed node from `RunMetadata.step_stats` (nodes of a v1 `tf.cond` branch that did
not run are then dropped: the untaken branch costs nothing).

What is counted (a FLOP is one multiply or one add; a multiply-accumulate is 2):
- matmul/conv (`matmul_conv_flops`), 2 x MACs: `Conv2D`, `Conv3D`, `DepthwiseConv2dNative`,
  `Conv2DBackpropInput` (transposed convolution), `MatMul`, `BatchMatMul`/`V2`/`V3`, two-operand
  `Einsum`, and grappler's fused `_FusedConv2D`, `_FusedConv3D`, `_FusedMatMul`,
  `_FusedDepthwiseConv2dNative`, `_FusedBatchMatMulV2` (their fused epilogue - `BiasAdd`, `Relu`,
  ... - counts as element-wise, one FLOP per output element per fused op).
- element-wise (`elementwise_flops`): one FLOP per output element, whatever the op's arithmetic
  (an `Exp` or a batch norm is "one operation per element", as `tf.profiler` counts them); see
  `ELEMENTWISE_OPS` (arithmetic, comparisons, activations, `BiasAdd`, `FusedBatchNorm*`,
  `Softmax`). `AddN` of n tensors counts n - 1 per output element.
- pooling and reductions (`other_flops`): `MaxPool`/`AvgPool` (3D too) count the window size per
  output element, `LRN` its window depth per output element, reductions (`Mean`, `Sum`, `Max`,
  `ArgMax`, ...) one per input element; see `WINDOW_OPS`, `REDUCTION_OPS`.
- data movement and bookkeeping (`Const`, `Identity`, `Reshape`, `Transpose`, `ConcatV2`, `Pad`,
  `Cast`, `Switch`, ... see `NO_ARITHMETIC_OPS`) and training leftovers are 0 FLOPs by nature.
Every other op type is reported in `FlopsReport.uncounted` with its node count, and a counted op
whose shapes could not be resolved in `FlopsReport.unresolved`: never a silent 0. Ops that call
functions (`If`, `While`, `PartitionedCall`, ...) are uncounted: their bodies are not walked.

oneDNN kernel names (`_MklNativeConv2D`, `_MklFusedMatMul`, ...) are read as the op they
implement (`canonical_op_type`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import graphs
from .errors import InputError, ModelLoadError
from .flops_ops import (  # noqa: F401  (the op tables are public here too)
    ELEMENTWISE_OPS,
    FUSED_OPS,
    MATMUL_CONV_OPS,
    NO_ARITHMETIC_OPS,
    REDUCTION_OPS,
    WINDOW_OPS,
    canonical_op_type,
    classify,
    node_flops,
)


@dataclasses.dataclass(frozen=True)
class FlopsReport:
    """FLOPs of one inference, by category and op type.

    Attributes:
        total: matmul_conv_flops + elementwise_flops + other_flops.
        by_op_type: op type -> FLOPs (counted op types only, fused ops under their own name).
        matmul_conv_flops: 2 x multiply-accumulates of convolutions, matmuls and einsums.
        elementwise_flops: one per output element of element-wise ops (and fused epilogues).
        other_flops: pooling windows and reductions.
        uncounted: op type -> node count of ops with no FLOP formula here (e.g. `Cumsum`).
        unresolved: op type -> node count of counted ops whose shapes stayed unknown.
        batch: the batch size the FLOPs are for (leading dim of the first input).
        input_shapes: input tensor name -> the shape the FLOPs were computed with.
        shapes_from: "static" (shape inference) or "run" (step_stats of one traced run).
    """

    total: int
    by_op_type: dict
    matmul_conv_flops: int
    elementwise_flops: int
    other_flops: int
    uncounted: dict
    unresolved: dict
    batch: int
    input_shapes: dict
    shapes_from: str = "static"

    def to_dict(self) -> dict:
        return {
            "total": int(self.total), "by_op_type": {k: int(v) for k, v in self.by_op_type.items()},
            "matmul_conv_flops": int(self.matmul_conv_flops),
            "elementwise_flops": int(self.elementwise_flops), "other_flops": int(self.other_flops),
            "uncounted": {k: int(v) for k, v in self.uncounted.items()},
            "unresolved": {k: int(v) for k, v in self.unresolved.items()},
            "batch": int(self.batch),
            "input_shapes": {k: [int(d) for d in v] for k, v in self.input_shapes.items()},
            "shapes_from": self.shapes_from,
        }



# ---------------------------------------------------------------------------------------------
# shapes


def _as_frozen_graph(model):
    """A FrozenGraph for `model` (`load` returns a FrozenGraph as is)."""
    from .model import load

    return load(model)


def synthetic_inputs(frozen_graph, seed: int = 0) -> dict:
    """Seeded random feeds for every required input; unknown batch dims are 1.

    Floats are uniform in [0, 1), integers and bools zero. Unknown non-batch dims raise
    `InputError` (there is no sensible default for them).
    """
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in frozen_graph.inputs:
        shape = _pinned_shape(spec, frozen_graph)
        dtype = np.dtype(spec.dtype) if spec.dtype not in ("bfloat16", "string") else np.float32
        if np.issubdtype(dtype, np.floating):
            feeds[spec.name] = rng.random(shape).astype(dtype)
        else:
            feeds[spec.name] = np.zeros(shape, dtype=dtype)
    return feeds


def _pinned_shape(spec, frozen_graph) -> list[int]:
    model = getattr(frozen_graph, "name", "the model")
    if spec.shape is None:
        raise InputError(f"input {spec.name} of model {model} has unknown rank: pass inputs=... or "
                         "load the model with input_shapes=[[1, H, W, C]].")
    unknown = [i for i, d in enumerate(spec.shape) if d is None and i > 0]
    if unknown:
        raise InputError(
            f"input {spec.name} of model {model} has unknown dims "
            f"[{','.join('?' if d is None else str(d) for d in spec.shape)}] besides the batch: "
            "pass inputs=... or load the model with input_shapes=[[1, H, W, C]]. "
            f"Received: shape={list(spec.shape)}")
    return [1 if d is None else int(d) for d in spec.shape]


def _pin_graph_def(graph_def, shapes: dict):
    from tensorflow.core.framework import graph_pb2, tensor_shape_pb2

    pinned = graph_pb2.GraphDef()
    pinned.CopyFrom(graph_def)
    nodes = {n.name: n for n in pinned.node}
    for name, shape in shapes.items():
        node = nodes[graphs.node_name(name)]
        if node.op != "Placeholder":
            continue
        node.attr["shape"].shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in shape]))
    return pinned


def _shape_only_copy(graph_def, shapes: dict, min_elements: int = 4096):
    """`_pin_graph_def` of `graphs.weightless_copy`: the same static shapes without the weights
    (AlexNet-224: ~0.2 MB instead of 250 MB, +0 instead of +250 MB once imported). Not for
    running: the traced-run fallback imports `_pin_graph_def`'s full copy."""
    return _pin_graph_def(graphs.weightless_copy(graph_def, min_elements=min_elements), shapes)


def _import(graph_def, where: str):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        try:
            tf.compat.v1.import_graph_def(graph_def, name="")
        except (ValueError, TypeError, tf.errors.OpError) as exc:
            raise ModelLoadError(f"cannot import the graph of {where} to count FLOPs: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    return graph


def _static_shapes(graph) -> dict[str, list]:
    """node name -> output shapes (list of ints with None for unknown dims; None unknown rank)."""
    shapes = {}
    for op in graph.get_operations():
        shapes[op.name] = [None if t.shape.rank is None else t.shape.as_list() for t in op.outputs]
    return shapes


def traced_run_metadata(graph, feeds: dict, fetches: Sequence[str], *, optimize: bool = False):
    """One run of `graph` with FULL_TRACE; returns its `RunMetadata`.

    With `optimize=False` grappler and graph-level constant folding are off, so every node of
    the GraphDef executes under its own name (what shape reading needs).
    """
    import tensorflow as tf

    v1 = tf.compat.v1
    config = v1.ConfigProto()
    if not optimize:
        config.graph_options.rewrite_options.disable_meta_optimizer = True
        config.graph_options.optimizer_options.opt_level = v1.OptimizerOptions.L0
        config.graph_options.optimizer_options.do_constant_folding = False
    options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
    metadata = v1.RunMetadata()
    with v1.Session(graph=graph, config=config) as sess:
        sess.run(list(fetches), feed_dict=feeds, options=options, run_metadata=metadata)
    return metadata


def _run_shapes(step_stats) -> dict[str, list]:
    """node name -> output shapes read from a traced run's step_stats (executed nodes only)."""
    shapes: dict[str, list] = {}
    for dev in step_stats.dev_stats:
        for ns in dev.node_stats:
            outs: list = [None] * len(ns.output)
            for out in ns.output:
                if 0 <= out.slot < len(outs):
                    td = out.tensor_description
                    outs[out.slot] = [int(d.size) for d in td.shape.dim]
            if ns.node_name not in shapes or any(s is not None for s in outs):
                shapes[ns.node_name] = outs
    return shapes


def _input_shape(shapes: dict, tensor: str):
    name = graphs.node_name(tensor)
    slot = int(tensor.rsplit(":", 1)[1]) if ":" in tensor else 0
    outs = shapes.get(name)
    if outs is None or slot >= len(outs):
        return None
    return outs[slot]


# ---------------------------------------------------------------------------------------------
# count_flops


def count_flops(frozen_graph, inputs: Any = None) -> FlopsReport:
    """FLOPs of one inference of a model, from the real tensor shapes.

    Args:
        frozen_graph: a `FrozenGraph` (or anything `pytest_tfperf.load` accepts: a GraphDef,
            a `.pb` path, a keras.Model...).
        inputs: optional feeds (array, list, or dict by name) fixing the input shapes; by
            default an unknown batch dimension is pinned to 1 (FLOPs at batch 1), and other
            unknown dimensions are an `InputError` asking for inputs or `input_shapes`.
    Returns:
        `FlopsReport` (see the module docstring for what each op type counts).
    Raises:
        InputError: input shapes that cannot be pinned; ModelLoadError: a graph that cannot be
            imported or run.

    Example:
        >>> report = count_flops(load("alexnet.pb"))
        >>> report.matmul_conv_flops, report.uncounted   # uncounted: {op type: node count}
    """
    fg = _as_frozen_graph(frozen_graph)
    if inputs is not None:
        feeds = fg.feed_dict(inputs)
        shapes_in = {name: list(np.shape(value)) for name, value in feeds.items()
                     if name in {s.name for s in fg.inputs}}
    else:
        feeds = None
        shapes_in = {spec.name: _pinned_shape(spec, fg) for spec in fg.inputs}
    graph_def = _shape_only_copy(fg.graph_def, shapes_in)  # weights are not needed for shapes
    outputs = [s.name for s in fg.outputs]
    wanted = graphs.ancestors(graph_def, outputs, control=False)
    nodes = [n for n in fg.graph_def.node if n.name in wanted]

    graph = _import(graph_def, f"model {fg.name}")
    shapes = _static_shapes(graph)
    counts, unresolved_nodes = _count(nodes, shapes)
    shapes_from = "static"
    switches = [n.name for n in nodes if n.op in ("Switch", "RefSwitch")]
    if unresolved_nodes or switches:
        if feeds is None:
            feeds = synthetic_inputs(fg)
        graph_def = _pin_graph_def(fg.graph_def, shapes_in)  # running needs the weights
        graph = _import(graph_def, f"model {fg.name}")
        try:
            metadata = traced_run_metadata(graph, feeds, outputs)
        except Exception as exc:
            raise ModelLoadError(f"model {fg.name} failed while running once to read tensor "
                                 f"shapes for FLOP counting: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0]}") from exc
        run_shapes = _run_shapes(metadata.step_stats)
        merged = dict(shapes)
        merged.update({k: v for k, v in run_shapes.items() if any(s is not None for s in v)})
        # a tf.cond branch that did not run costs nothing: drop its nodes (v1 control flow)
        dead = graphs.descendants(graph_def, switches) - set(run_shapes) if switches else set()
        counts, unresolved_nodes = _count([n for n in nodes if n.name not in dead], merged)
        shapes_from = "run"

    by_type: dict[str, int] = {}
    totals = {"matmul_conv": 0, "elementwise": 0, "other": 0}
    uncounted: dict[str, int] = {}
    for node, result in counts:
        op = canonical_op_type(node.op)
        kind = classify(op)
        if kind == "uncounted":
            uncounted[op] = uncounted.get(op, 0) + 1
        elif kind == "counted":
            by_type[op] = by_type.get(op, 0) + sum(result.values())
            for cat, value in result.items():
                totals[cat] += value
    unresolved: dict[str, int] = {}
    for node in unresolved_nodes:
        op = canonical_op_type(node.op)
        unresolved[op] = unresolved.get(op, 0) + 1
    first = next(iter(shapes_in.values()), None)
    batch = int(first[0]) if first else 1
    return FlopsReport(
        total=sum(totals.values()), by_op_type=dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        matmul_conv_flops=totals["matmul_conv"], elementwise_flops=totals["elementwise"],
        other_flops=totals["other"], uncounted=dict(sorted(uncounted.items())),
        unresolved=dict(sorted(unresolved.items())), batch=batch,
        input_shapes={k: list(v) for k, v in shapes_in.items()}, shapes_from=shapes_from)


def _count(nodes, shapes: dict):
    """[(node, {category: flops})] for every node, and the nodes whose shapes were missing."""
    counted, unresolved = [], []
    for node in nodes:
        ins = [_input_shape(shapes, i) for i in node.input if not i.startswith("^")]
        outs = shapes.get(node.name) or []
        result, ok = node_flops(node, ins, outs)
        if ok:
            counted.append((node, result))
        else:
            unresolved.append(node)
    return counted, unresolved
