"""Freezing and the common tail of every loader: `_finish` (detect/validate I/O, pin shapes,
build specs), `_load_concrete` (TF2 functions: variables and lookup tables to constants) and
`_freeze_session` (TF1 sessions: seed 001's convert_variables_to_constants).
TensorFlow is imported inside functions only."""
from __future__ import annotations

import contextlib
from typing import Sequence

from pytest_tfperf.model import graphs
from pytest_tfperf.errors import ModelLoadError, NodeNotFoundError, unknown_name_message
from pytest_tfperf.model.frozen import GRAPPLER_LIMIT_BYTES, FrozenGraph
from pytest_tfperf.model.shapes import _clean, _first_line, _import_graph_def, _pin_shapes, _spec
from pytest_tfperf.model.source_params import graph_params
from pytest_tfperf.model.tables import freeze_tables


def _load_concrete(concrete, inputs, outputs, input_shapes, *, source, kind, name,
                   output_names=None, known_names: Sequence[str] = ()) -> FrozenGraph:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        with _quiet_tf_logger():  # "Issue encountered when serializing table_initializer": handled below
            frozen = convert_variables_to_constants_v2(concrete)
    except Exception as exc:
        raise ModelLoadError(f"cannot freeze {source}: {type(exc).__name__}: {_first_line(exc)}") from None
    graph_def = freeze_tables(frozen.graph.as_graph_def(), concrete, source)
    default_inputs = [t.name for t in frozen.inputs if t.dtype.name != "resource"]
    default_outputs = [t.name for t in frozen.outputs]
    if output_names and len(output_names) == len(default_outputs):
        default_outputs = _rename_outputs(graph_def, default_outputs, output_names)
    return _finish(graph_def, inputs or default_inputs, outputs or default_outputs, input_shapes,
                   source=source, kind=kind, name=name, known_names=known_names)


@contextlib.contextmanager
def _quiet_tf_logger():
    """TensorFlow's Python logger at ERROR for the duration (its freezing warnings are noise here)."""
    import logging

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


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
    require_names(graph_def, outputs, "output", source)
    out_nodes = [graphs.node_name(o) for o in outputs]
    counts = graph_params(graph, graph_def, out_nodes)
    trainable, non_trainable = (counts.trainable, counts.non_trainable) if counts else (None, None)
    from tensorflow.python.util import deprecation

    try:  # seed 001's API: deprecated for TF2 code, still the right tool for TF1 graphs
        with graph.as_default(), deprecation.silence():
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, graph_def, out_nodes + graphs.table_initializers(graph_def))  # keep table fills
    except Exception as exc:
        raise ModelLoadError(f"cannot freeze {source}: {type(exc).__name__}: {_first_line(exc)}. "
                             "Initialise or restore every variable the outputs need.") from None
    return _finish(frozen, inputs, outputs, input_shapes, source=source, kind=kind, name=name,
                   trainable=trainable, non_trainable=non_trainable)


def require_names(graph_def, names: Sequence[str], what: str, where: str,
                  known_names: Sequence[str] = (), known_label: str | None = None) -> None:
    """`NodeNotFoundError` for the first of `names` the graph lacks: close matches among the
    model's real inputs/outputs (and `known_names`) first, then among all node names, and at
    most 10 names listed, the real ones first (a Keras graph has thousands of internal nodes)."""
    nodes = graphs.node_map(graph_def)
    for name in names:
        if graphs.node_name(name) in nodes:
            continue
        detected = graphs.detect_inputs(graph_def) if what == "input" else graphs.detect_outputs(graph_def)
        preferred = list(dict.fromkeys(list(known_names) + [graphs.node_name(d) for d in detected]))
        raise NodeNotFoundError(unknown_name_message(what, name, nodes, where, preferred=preferred,
                                                     preferred_label=known_label if known_names else None))


def _finish(graph_def, inputs, outputs, input_shapes, *, source, kind, name=None, trainable=None,
            non_trainable=None, keras_model=None, known_names: Sequence[str] = ()) -> FrozenGraph:
    """Detect/validate I/O, pin shapes, build specs: the common tail of every loader.

    `known_names`: names the source knows the model by (Keras output and layer names), offered
    first when a given output name is not found.
    """
    where = f"model {source}"
    for n in graph_def.node:
        if n.op in ("VariableV2", "VarHandleOp", "Variable"):
            raise ModelLoadError(
                f"{where} still has variable {n.name!r} ({n.op}): it is not frozen. Load the "
                "checkpoint prefix, SavedModel or Session instead so tfperf can freeze it.")
    given_inputs = bool(inputs)
    require_names(graph_def, inputs or (), "input", where)
    require_names(graph_def, outputs or (), "output", where, known_names, "Keras outputs, then layers")
    inputs = [graphs.tensor_name(i) for i in (inputs or graphs.detect_inputs(graph_def))]
    outputs = [graphs.tensor_name(o) for o in (outputs or graphs.detect_outputs(graph_def))]
    if not outputs:
        raise ModelLoadError(f"{where}: found no output (every node is consumed or a constant); "
                             "name them: outputs=[...].")
    if not given_inputs:  # detected placeholders the outputs do not use are not inputs
        used = graphs.ancestors(graph_def, outputs, control=False)
        inputs = [i for i in inputs if graphs.node_name(i) in used]
    graphs.validate(graph_def, inputs, outputs, where=where)
    if input_shapes is not None:
        graph_def = _pin_shapes(graph_def, inputs, input_shapes, where)
    needed = graphs.ancestors(graph_def, outputs)
    default_names = [d for d in graphs.detect_defaults(graph_def)
                     if d not in inputs and graphs.node_name(d) in needed]
    large = graph_def.ByteSize() > GRAPPLER_LIMIT_BYTES
    # a large model's specs come from a weight-free copy (same shapes, ~0 memory); its real
    # tf.Graph is imported when it first runs (`FrozenGraph.graph`): a model that is only
    # summarized or counted never holds its weights twice
    spec_graph = _import_graph_def(graphs.weightless_copy(graph_def, keep=inputs + outputs + default_names)
                                   if large else graph_def, source)
    in_specs = [_spec(spec_graph, i) for i in inputs]
    out_specs = [_spec(spec_graph, o) for o in outputs]
    defaults = [_spec(spec_graph, d) for d in default_names]
    fg = FrozenGraph(graph_def, in_specs, out_specs, source=source, kind=kind, name=name,
                     defaults=defaults, trainable_params=trainable, non_trainable_params=non_trainable,
                     keras_model=keras_model, input_shapes=input_shapes)
    if not large:
        fg._graph = spec_graph
    return fg
