"""FLOPs of one inference from real tensor shapes (benchmark_model's estimate, wider).

`count_flops(model)` pins the input shapes (an unknown batch dimension becomes 1), imports the
graph and lets TensorFlow's shape inference resolve every tensor shape (inside loops too, for loop
variables that keep their shape). Where a shape stays unknown (data-dependent shapes) or the graph
has control flow, it runs the graph once with `RunOptions(trace_level=FULL_TRACE)` and grappler
disabled, and reads every execution of every node, with its output shapes, from
`RunMetadata.step_stats`.

Each node counts its FLOPs once per execution (`flops_control`): once outside control flow; in a
loop, N times in the body and N + 1 times in the condition per entry into the loop, with N the
static trip count when the graph fixes it (nested loops multiply), else the count of the traced
run; in a cond branch, as often as the branch was taken (a branch that did not run costs
nothing). Functional control flow (`While`, `If`, `Case`, function calls) is lowered and inlined
first, so its bodies are counted like the rest. `FlopsReport.control_flow` says how each loop and
cond was resolved.

What is counted (a FLOP is one multiply or one add; a multiply-accumulate is 2):
- matmul/conv (`matmul_conv_flops`), 2 x MACs: `Conv2D`, `Conv3D`, `DepthwiseConv2dNative`,
  `Conv2DBackpropInput` (transposed convolution), `MatMul`, `BatchMatMul`/`V2`/`V3`, two-operand
  `Einsum` (2 x the product of all index sizes when an index is contracted: attention's
  `BTNH,BSNH->BNTS` is 2*B*T*S*N*H), and grappler's fused `_FusedConv2D`, `_FusedConv3D`,
  `_FusedMatMul`, `_FusedDepthwiseConv2dNative`, `_FusedBatchMatMulV2` (their fused epilogue -
  `BiasAdd`, `Relu`, ... - counts as element-wise, one FLOP per output element per fused op).
- element-wise (`elementwise_flops`): one FLOP per output element, whatever the op's arithmetic
  (an `Exp` or a batch norm is "one operation per element", as `tf.profiler` counts them); see
  `ELEMENTWISE_OPS` (arithmetic, comparisons, activations, `BiasAdd`, `FusedBatchNorm*`,
  `Softmax`). `AddN` of n tensors counts n - 1 per output element.
- pooling and reductions (`other_flops`): `MaxPool`/`AvgPool` (3D too) count the window size per
  output element, `LRN` its window depth per output element, reductions (`Mean`, `Sum`, `Max`,
  `ArgMax`, ...) one per input element; see `WINDOW_OPS`, `REDUCTION_OPS`.
- data movement and bookkeeping (`Const`, `Identity`, `Reshape`, `Transpose`, `ConcatV2`, `Pad`,
  `Cast`, `Gather` (an embedding lookup), `Switch`, ... see `NO_ARITHMETIC_OPS`) and training
  leftovers are 0 FLOPs by nature.
Every other op type is reported in `FlopsReport.uncounted` with its node count. A counted op
whose FLOPs could not be established - shapes unknown, or a loop trip count / branch that is
neither static nor seen in a traced run (e.g. the run failed), or a function call that could not
be inlined - is in `FlopsReport.unresolved`, with the reason per node in `unresolved_reasons`,
and left out of the total: never a silent 0 or a silent single count.

oneDNN kernel names (`_MklNativeConv2D`, `_MklFusedMatMul`, ...) are read as the op they
implement (`canonical_op_type`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_tfperf.analysis.flops import control as flops_control
from pytest_tfperf.analysis.flops import lower as flops_lower
from pytest_tfperf.model import graphs
from pytest_tfperf.errors import ConfigError, ModelLoadError
from pytest_tfperf.analysis.flops.ops import (  # noqa: F401  (the op tables are public here too)
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
from pytest_tfperf.inputs.policy import choose_shape, describe_guesses, sample_inputs
from pytest_tfperf.model import initialize_tables


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
        input_notes: dims the input policy chose (`inputs.choose_shape`), e.g.
            "x:0: dynamic H/W: pinned to 224"; empty when the caller gave the inputs.
        control_flow: one dict per loop and per cond of the model, saying how its executions
            were established: {"kind": "while", "name": frame, "resolved": "static" | "traced"
            | "unresolved", "trip_count": per entry, "entries", "iterations": in all, "detail"}
            or {"kind": "cond", "name": predicate tensor, "resolved", "branches": {port:
            executions}, "detail"}.
        unresolved_reasons: node name -> why its FLOPs could not be established.
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
    input_notes: tuple = ()
    control_flow: tuple = ()
    unresolved_reasons: dict = dataclasses.field(default_factory=dict)

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
            "input_notes": list(self.input_notes),
            "control_flow": [dict(entry) for entry in self.control_flow],
            "unresolved_reasons": dict(self.unresolved_reasons),
        }

    @classmethod
    def from_dict(cls, data: dict) -> FlopsReport:
        """The report `to_dict` wrote (also after JSON, which turns branch ports into strings)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        entries = []
        for entry in values.get("control_flow", ()):
            entry = dict(entry)
            if isinstance(entry.get("branches"), dict):
                entry["branches"] = {int(k): v for k, v in entry["branches"].items()}
            entries.append(entry)
        values["control_flow"] = tuple(entries)
        values["input_notes"] = tuple(values.get("input_notes", ()))
        return cls(**values)



# ---------------------------------------------------------------------------------------------
# shapes


def _as_frozen_graph(model, what: str = "count_flops"):
    """A FrozenGraph for `model` (`load` returns a FrozenGraph as is); ConfigError for a TFLite
    model: `what` (FLOPs, per-op profiles) is read from a TensorFlow graph."""
    import os

    from pytest_tfperf.model import load

    if getattr(model, "kind", None) == "tflite" or (
            isinstance(model, (str, os.PathLike)) and os.fspath(model).lower().endswith(".tflite")):
        raise ConfigError(
            f"{what}: {getattr(model, 'name', model)!r} is a TFLite model, and {what} works on a "
            "TensorFlow graph (LiteRT's Python API gives no per-op timings or shapes to count). "
            "Pass the model it was converted from; time the TFLite model with tfperf.measure(model) "
            "or `tfperf bench model.tflite`, and see its ops with pytest_tfperf.summarize(model).")
    return load(model)


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


def _loop_shapes(graph_def, shapes: dict, where: str) -> dict:
    """`shapes` completed inside loops whose variables keep their shapes (checked, not assumed).

    Shape inference stops at a loop's Merge (it cannot see around the back edge); this infers
    the graph again with every loop variable assumed to keep its entry shape, drops the
    assumption for the variables that come back with another shape, and repeats until it holds.
    """
    merges = flops_lower.loop_merges(graph_def.node)
    variant: set[str] = set()
    while merges and len(variant) < len(merges):
        try:
            trial = _static_shapes(_import(flops_lower.assume_invariant(graph_def, merges, variant),
                                           where))
        except ModelLoadError:  # the rewritten copy does not import: keep what inference gave
            return shapes
        changed = {m for m, (_, nxt) in merges.items() if m not in variant
                   and _input_shape(trial, nxt) != _input_shape(trial, m)}
        if not changed:
            return trial
        variant |= changed
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
        initialize_tables(sess)
        sess.run(list(fetches), feed_dict=feeds, options=options, run_metadata=metadata)
    return metadata


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
    """FLOPs of one inference of a model, from the real tensor shapes, per execution.

    Args:
        frozen_graph: a `FrozenGraph` (or anything `pytest_tfperf.load` accepts: a GraphDef,
            a `.pb` path, a keras.Model...).
        inputs: optional feeds (array, list, or dict by name) fixing the input shapes; by
            default the input policy's shapes (`inputs.choose_shape`: batch 1, unknown H/W
            224, other unknown dims 16; each guess listed in `FlopsReport.input_notes`).
    Returns:
        `FlopsReport` (see the module docstring for what each op type counts and how loops and
        conds are counted). Ops whose FLOPs could not be established are in `unresolved`, with
        the reason per node in `unresolved_reasons`; the total then leaves them out.
    Raises:
        InputError: an input of unknown rank; ModelLoadError: a graph that cannot be
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
        notes = []
    else:
        feeds = None
        shapes_in, notes = {}, []
        for spec in fg.inputs:  # the input policy's shapes: batch 1, other unknown dims guessed
            shape, guessed = choose_shape(spec.shape, name=spec.name, model=fg.name)
            shapes_in[spec.name] = list(shape)
            notes += [f"{spec.name}: {n}" for n in describe_guesses(guessed)]
    outputs = [s.name for s in fg.outputs]
    lowering_error = None
    full = None  # the pinned graph with its weights: only a traced run (or lowering) needs it
    if flops_lower.function_calls(fg.graph_def):
        full = graph_def = _pin_graph_def(fg.graph_def, shapes_in)
        try:
            full, outputs = flops_lower.lower_function_calls(
                graph_def, [s.name for s in fg.inputs], {s.name: s.dtype for s in fg.outputs})
            graph_def = full
        except Exception as exc:  # noqa: BLE001 - the calls are then reported unresolved
            lowering_error = f"{type(exc).__name__}: {_first_line(exc)}"
    else:
        graph_def = _shape_only_copy(fg.graph_def, shapes_in)  # weights are not needed for shapes
    wanted = graphs.ancestors(graph_def, outputs, control=False)
    nodes = [n for n in graph_def.node if n.name in wanted]
    graph = _import(graph_def, f"model {fg.name}")
    shapes = _loop_shapes(graph_def, _static_shapes(graph), f"model {fg.name}")
    control = flops_control.ControlFlow(graph_def, shapes)

    counted = [n for n in nodes if classify(n.op) == "counted"]
    needs_run = any(control.in_control_flow(n.name) for n in counted) or not all(
        node_flops(n, [_input_shape(shapes, i) for i in n.input if not i.startswith("^")],
                   shapes.get(n.name) or [])[1] for n in counted)
    execs = traced = run_error = None
    if needs_run:
        if feeds is None:
            feeds = sample_inputs(fg)
        if full is None:  # running needs the weights
            graph = _import(_pin_graph_def(fg.graph_def, shapes_in), f"model {fg.name}")
        try:
            metadata = traced_run_metadata(graph, feeds, outputs)
            execs = flops_control.executions(metadata.step_stats)
            traced = flops_control.traced_counts(execs, control)
        except Exception as exc:  # noqa: BLE001 - what needed the run is reported unresolved
            run_error = f"{type(exc).__name__}: {_first_line(exc)}"

    tally = _Tally()
    library = {f.signature.name for f in graph_def.library.function}
    for node in nodes:
        if node.op in flops_lower.FUNCTION_CALL_OPS or node.op in library:
            tally.unresolve(node, "it calls a function whose body could not be inlined to count it"
                            + (f" ({lowering_error})" if lowering_error else ""))
        else:
            _count_node(tally, node, control, shapes, execs, traced, run_error)
    first = next(iter(shapes_in.values()), None)
    wanted_cf = [s for s in control.summaries(traced) if _summary_nodes(s, control) & wanted]
    return FlopsReport(
        total=sum(tally.totals.values()),
        by_op_type=dict(sorted(tally.by_type.items(), key=lambda kv: -kv[1])),
        matmul_conv_flops=tally.totals["matmul_conv"], elementwise_flops=tally.totals["elementwise"],
        other_flops=tally.totals["other"], uncounted=dict(sorted(tally.uncounted.items())),
        unresolved=dict(sorted(tally.unresolved.items())), batch=int(first[0]) if first else 1,
        input_shapes={k: list(v) for k, v in shapes_in.items()},
        shapes_from="run" if execs is not None else "static", input_notes=tuple(notes),
        control_flow=tuple(wanted_cf), unresolved_reasons=dict(tally.reasons))


def _first_line(exc: BaseException) -> str:
    """The line of an error that says what went wrong (TensorFlow's start with boilerplate)."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line and not line.startswith(("Graph execution error", "Detected at node", "Node:")):
            return line[:300]
    return ""


class _Tally:
    """FLOPs summed by category and op type, and what could not be counted."""

    def __init__(self) -> None:
        self.by_type: dict[str, int] = {}
        self.totals = {"matmul_conv": 0, "elementwise": 0, "other": 0}
        self.uncounted: dict[str, int] = {}
        self.unresolved: dict[str, int] = {}
        self.reasons: dict[str, str] = {}

    def add(self, op: str, result: dict) -> None:
        self.by_type[op] = self.by_type.get(op, 0) + sum(result.values())
        for category, value in result.items():
            self.totals[category] += value

    def unresolve(self, node, why: str) -> None:
        op = canonical_op_type(node.op)
        self.unresolved[op] = self.unresolved.get(op, 0) + 1
        self.reasons[node.name] = why


def _count_node(tally: _Tally, node, control, shapes: dict, execs, traced, run_error) -> None:
    """Add one node's FLOPs over all its executions to `tally` (or why they are unknown)."""
    op = canonical_op_type(node.op)
    kind = classify(op)
    if kind == "free":
        return
    count, why = _executions(node.name, control, traced, run_error)
    if count == 0:
        return  # an untaken branch or a loop that did not iterate
    if kind == "uncounted":
        tally.uncounted[op] = tally.uncounted.get(op, 0) + 1
    elif count is None:
        tally.unresolve(node, why)
    else:
        result, why = _node_total(node, count, shapes, execs)
        if result is None:
            tally.unresolve(node, why + (f"; the traced run failed: {run_error}" if run_error else ""))
        else:
            tally.add(op, result)


def _summary_nodes(summary: dict, control) -> set[str]:
    if summary["kind"] == "while":
        return {control.loops[summary["name"]].loop_cond}
    return set(control.cond_switches[summary["name"]])


def _executions(name: str, control, traced: dict | None, run_error: str | None):
    """(executions of node `name` in one inference, "") or (None, why not)."""
    if not control.in_control_flow(name):
        return 1, ""
    static, why = control.static_count(name)
    seen = traced.get(name, 0) if traced is not None else None
    if static is not None:
        if seen is not None and seen != static:
            return None, (f"the graph says it runs {static} times, but a traced run executed it "
                          f"{seen} times")
        return static, ""
    if seen is not None:
        return seen, ""
    return None, why + (f"; the traced run failed: {run_error}" if run_error else "")


def _shape_runs(tensor: str, shapes: dict, execs: dict | None) -> list:
    """Shapes of `tensor` in each execution of its node (one entry when it never changes)."""
    name = graphs.node_name(tensor)
    slot = int(graphs.tensor_name(tensor).rsplit(":", 1)[1])
    runs = [r[slot] for r in (execs or {}).get(name, ()) if slot < len(r) and r[slot] is not None]
    if not runs or all(r == runs[0] for r in runs):
        return runs[:1] or [_input_shape(shapes, tensor)]
    return runs


def _node_total(node, count: int, shapes: dict, execs: dict | None):
    """({category: FLOPs} over `count` executions, "") or (None, why not)."""
    ins = [_shape_runs(i, shapes, execs) for i in node.input if not i.startswith("^")]
    static_outs = shapes.get(node.name) or []
    outs = [_shape_runs(f"{node.name}:{k}", shapes, execs) for k in range(len(static_outs))]
    varying = [len(r) for r in ins + outs if len(r) > 1]
    if not varying:
        result, ok = node_flops(node, [r[0] for r in ins], [r[0] for r in outs])
        if not ok:
            return None, "its tensor shapes are unknown"
        return {k: v * count for k, v in result.items()}, ""
    if any(n != count for n in varying):
        return None, (f"its shapes change between its {count} executions and the traced run "
                      "cannot pair them with its inputs'")
    total: dict[str, int] = {}
    for i in range(count):
        result, ok = node_flops(node, [r[i] if len(r) > 1 else r[0] for r in ins],
                                [r[i] if len(r) > 1 else r[0] for r in outs])
        if not ok:
            return None, "its tensor shapes are unknown in some executions"
        for k, v in result.items():
            total[k] = total.get(k, 0) + v
    return total, ""
