"""Issue 11 items 1-2: what "weights" means, the source's own count beside the frozen graph's, and
where reports show both. (The same on real architectures: test_zoo.py.)"""
from __future__ import annotations

import numpy as np
import pytest

from pytest_tfperf.report.summary_text import params_line, render_summary
from pytest_tfperf.analysis.summary import summarize_graph_def


def _graph_def():
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        tf.matmul(x, tf.constant(np.ones((3, 2), np.float32)), name="y")
    return graph.as_graph_def()


def test_params_are_the_source_count_when_known_else_the_graph_count():
    graph_def = _graph_def()
    bare = summarize_graph_def(graph_def, ["x:0"], ["y:0"])
    assert (bare.weight_params, bare.source_params, bare.params, bare.params_from) == (6, None, 6, "graph")
    known = summarize_graph_def(graph_def, ["x:0"], ["y:0"], trainable_params=6, non_trainable_params=1,
                                unread_variables=[("norm/count", 1)])
    assert (known.params, known.params_from) == (7, "source")
    data = known.to_dict()
    assert (data["params"], data["params_from"], data["weight_params"]) == (7, "source", 6)
    assert data["unread_variables"] == [["norm/count", 1]]


def test_the_summary_text_shows_both_counts_only_when_they_differ():
    graph_def = _graph_def()
    same = summarize_graph_def(graph_def, ["x:0"], ["y:0"], trainable_params=6, non_trainable_params=0)
    assert params_line(same.to_dict()) is None
    fewer = summarize_graph_def(graph_def, ["x:0"], ["y:0"], trainable_params=6, non_trainable_params=1,
                                unread_variables=[("norm/count", 1)]).to_dict()
    assert params_line(fewer) == (
        "Parameters: 7 as the source counts them (what param_budget checks); the frozen graph holds "
        "6 weights; source variables inference does not read (values it uses are baked in as "
        "constants): norm/count (1)")
    assert params_line(fewer) in render_summary(fewer)
    more = summarize_graph_def(graph_def, ["x:0"], ["y:0"], trainable_params=4, non_trainable_params=0)
    assert params_line(more.to_dict()).endswith(
        "holds 6 weights (constants the source does not count as parameters)")


def test_params_note_of_a_budget_verdict():
    from pytest_tfperf.plugin.gate import params_note

    graph_def = _graph_def()
    differ = summarize_graph_def(graph_def, ["x:0"], ["y:0"], trainable_params=6, non_trainable_params=1,
                                 unread_variables=[("norm/count", 1)]).to_dict()
    assert params_note(differ) == ("the source's own count; the frozen graph holds 6 (variables "
                                   "inference does not read: norm/count)")
    assert params_note(summarize_graph_def(graph_def, ["x:0"], ["y:0"]).to_dict()) is None


def _results_with(summary: dict):
    from pytest_tfperf.results.session import SessionResults

    r = SessionResults()
    r.add("model", {"test_id": "t.py::test_b0", "model": "efficientnetb0", "flops": 17_838_202,
                    "summary": summary, "verdicts": []})
    return r


EFFICIENTNET = {"name": "efficientnetb0", "weight_params": 4_062_380, "params": 4_062_381,
                "params_from": "source", "unread_variables": [["normalization/count", 1]],
                "node_count": 900, "serialized_bytes": 16_608_708}


def test_report_tables_show_the_source_count_and_a_note():
    from pytest_tfperf.report import html, markdown, terminal

    r = _results_with(EFFICIENTNET)
    lines = terminal.render_models(r)
    row = next(line for line in lines if line.startswith("efficientnetb0 "))
    assert "4.06M" in row
    note = "\n".join(lines[lines.index(row) + 1:])
    assert "efficientnetb0: Parameters: 4,062,381 as the source counts them" in note
    assert all(len(line) <= 100 for line in lines)
    md = markdown.render(r)
    assert "- efficientnetb0: Parameters: 4,062,381 as the source counts them" in md
    assert "the frozen graph holds 4,062,380 weights" in html.render(r)
    plain = _results_with(dict(EFFICIENTNET, params=4_062_380))
    assert not any("Parameters:" in line for line in terminal.render_models(plain))


def test_saved_module_variables_are_all_counted_once(tmp_path):
    """tf.saved_model.save of a tf.Module: every variable, shared ones once, non-trainable ones
    too; a lookup table's contents are not variables (Keras does not count them either)."""
    import tensorflow as tf

    from pytest_tfperf import load, summarize

    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(["a", "b"], [0, 1]), -1)
            self.scale = tf.Variable(np.full((2, 3), 2.0, np.float32), trainable=False)
            self.same = self.scale  # tracked twice, counted once

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.matmul(x, self.scale)}

    module = Module()
    tf.saved_model.save(module, str(tmp_path / "m"), signatures=module.serve)
    s = summarize(load(str(tmp_path / "m")))
    assert (s.trainable_params, s.non_trainable_params, s.weight_params) == (0, 6, 6)


def test_a_saved_model_without_variables_has_no_source_count(tmp_path):
    import tensorflow as tf

    from pytest_tfperf import load

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"y": x * 2.0}

    module = Module()
    tf.saved_model.save(module, str(tmp_path / "m"), signatures=module.serve)
    model = load(str(tmp_path / "m"))
    assert (model.trainable_params, model.non_trainable_params) == (None, None)


@pytest.mark.parametrize("ops", [("Switch",), ("Enter",), ("Merge",)])
def test_weights_reach_compute_ops_through_frozen_control_flow(ops):
    """A weight routed through v1 control flow (what freezing lowers tf.cond/while_loop to)."""
    from tensorflow.core.framework import graph_pb2

    from pytest_tfperf.analysis.summary import weight_const_nodes

    graph_def = _graph_def()
    nodes = {n.name: n for n in graph_def.node}
    const = next(n for n in graph_def.node if n.op == "Const")
    previous = const.name
    new = graph_pb2.GraphDef()
    new.CopyFrom(graph_def)
    for i, op in enumerate(ops):
        node = new.node.add(name=f"route{i}", op=op)
        node.input.append(previous)
        previous = node.name
    matmul = next(n for n in new.node if n.name == nodes["y"].name)
    matmul.input[1] = previous
    assert weight_const_nodes(new) == {const.name}
