"""optimize / optimize_with_report / tfperf optimize on real graphs (no mocks of TensorFlow)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pytest_tfperf import optimization as tx
from pytest_tfperf.errors import ModelLoadError, OptimizeError
from pytest_tfperf.optimization import (
    DEFAULT_TRANSFORMS,
    OptimizeReport,
    optimize,
    optimize_with_report,
    parse_transforms,
    transform_names,
)

BN_ARITHMETIC = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Mul", "Rsqrt", "Sub",
                 "Add", "AddV2"}
CONV_OPS = {"Conv2D", "DepthwiseConv2dNative", "MatMul"}


def _readers(graph_def, name):
    return [n for n in graph_def.node if any(i.split(":")[0] == name for i in n.input)]


def _assert_bn_folded(graph_def):
    """Every conv/matmul is read by a BiasAdd or a non-arithmetic op: no BN maths after it."""
    ops = {n.op for n in graph_def.node}
    assert not ops & BN_ARITHMETIC, ops & BN_ARITHMETIC
    for n in graph_def.node:
        if n.op in CONV_OPS:
            assert all(r.op not in BN_ARITHMETIC for r in _readers(graph_def, n.name))


def _max_err(a_outputs, b_outputs):
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(a_outputs, b_outputs))


@pytest.fixture(scope="module")
def keras_model():
    from pytest_tfperf.model import zoo

    return zoo.keras_bn_cnn(input_size=32)


@pytest.fixture(scope="module")
def keras_frozen(keras_model):
    from pytest_tfperf import load

    return load(keras_model)


@pytest.fixture(scope="module")
def keras_optimized(keras_frozen):
    return optimize_with_report(keras_frozen)


@pytest.fixture(scope="module")
def fused_optimized(small_frozen):
    return optimize_with_report(small_frozen)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(7).uniform(0, 1, (2, 32, 32, 3)).astype("float32")


# --- the default pipeline ---------------------------------------------------------------------
def test_tf1_fused_batch_norm_folded_and_equivalent(small_frozen, fused_optimized, image):
    from pytest_tfperf.equivalence import assert_equivalent

    optimized, report = fused_optimized
    before = report.ops_before
    assert before["FusedBatchNormV3"] == 2
    _assert_bn_folded(optimized.graph_def)
    assert report.nodes_after < report.nodes_before == len(small_frozen.graph_def.node)
    assert report.ops_after["Conv2D"] == before["Conv2D"]
    assert report.applied == DEFAULT_TRANSFORMS and report.dropped == ()
    # the `training` flag (PlaceholderWithDefault) survives as an optional feed
    assert "PlaceholderWithDefault" in report.ops_after
    assert [s.name for s in optimized.defaults] == ["training:0"]
    proof = assert_equivalent(small_frozen, optimized, image, atol=1e-4, rtol=0, n_random=2)
    assert max(o.max_abs_error for o in proof.outputs) < 1e-4
    assert _max_err(small_frozen.run({"input_node": image, "training": True}),
                    optimized.run({"input_node": image, "training": True})) > 0  # dropout is live


def test_keras3_decomposed_batch_norm_folded(keras_model, keras_frozen, keras_optimized, image):
    optimized, report = keras_optimized
    assert report.ops_before["Rsqrt"] == 3 and report.ops_before["Mul"] == 9
    _assert_bn_folded(optimized.graph_def)
    convs = [n for n in optimized.graph_def.node if n.op == "Conv2D"]
    assert len(convs) == 3
    assert all([r.op for r in _readers(optimized.graph_def, c.name)] == ["BiasAdd"] for c in convs)
    assert report.nodes_after < report.nodes_before
    step = {s.name: s for s in report.steps}
    assert step["fold_batch_norms"].node_delta < 0 and step["fold_constants"].node_delta < 0
    expected = keras_model.predict(image, verbose=0)
    assert _max_err([expected], optimized.run(image)) < 1e-4
    assert _max_err(keras_frozen.run(image), optimized.run(image)) < 1e-4


def test_report_to_dict_is_json(keras_optimized):
    _, report = keras_optimized
    data = json.loads(json.dumps(report.to_dict()))
    assert data["nodes_before"] == report.nodes_before and data["nodes_after"] == report.nodes_after
    assert data["op_delta"]["Rsqrt"] == -3
    assert [s["name"] for s in data["steps"]] == list(DEFAULT_TRANSFORMS)
    assert sum(s["node_delta"] for s in data["steps"]) == report.nodes_after - report.nodes_before
    assert isinstance(report, OptimizeReport) and "fold_batch_norms" in "\n".join(report.lines())


def test_dead_branches_and_training_nodes_removed(small_frozen, image):
    from tensorflow.core.framework import graph_pb2

    from pytest_tfperf import load

    gd = graph_pb2.GraphDef()
    gd.CopyFrom(small_frozen.graph_def)
    check = gd.node.add(name="conv_1/check", op="CheckNumerics", input=["conv_1/BiasAdd"])
    check.attr["T"].type = 1  # DT_FLOAT
    check.attr["message"].s = b"nan in conv_1"
    bn = next(n for n in gd.node if n.name == "bn_1/FusedBatchNorm")
    bn.input[0] = "conv_1/check"  # a live training node between the conv and its batch norm
    gd.node.extend([tx.make_const("dead/const", np.ones([4], np.float32))])
    for name, op, inputs in [("dead/mul", "Mul", ["dead/const", "dead/const"]),
                             ("dead/square", "Square", ["dead/mul"]),
                             ("dead/from_input", "Square", ["input_node"])]:
        gd.node.add(name=name, op=op, input=inputs).attr["T"].type = 1
    model = load(gd, inputs=["input_node"], outputs=["logits_layer/BiasAdd"])
    optimized, report = optimize_with_report(model)
    names = {n.name for n in optimized.graph_def.node}
    assert not names & {"dead/const", "dead/mul", "dead/square", "dead/from_input", "conv_1/check"}
    assert report.steps[0].node_delta == -4  # strip_unused_nodes removed the dead branch
    assert report.ops_before["CheckNumerics"] == 1 and "CheckNumerics" not in report.ops_after
    _assert_bn_folded(optimized.graph_def)
    assert _max_err(model.run(image), optimized.run(image)) < 1e-4


def test_fold_constants_session_backend_matches_transform_graph(keras_frozen, image):
    ins = [s.name for s in keras_frozen.inputs]
    outs = [s.name for s in keras_frozen.outputs]
    base = tx.remove_training_nodes(keras_frozen.graph_def, ins, outs)
    by_tf = tx.fold_constants(base, ins, outs, backend="transform_graph")
    by_session = tx.fold_constants(base, ins, outs, backend="session")
    ops = [{n.op for n in g.node} for g in (by_tf, by_session)]
    assert all("Rsqrt" not in o and "Sub" not in o for o in ops)
    assert len(by_session.node) == len(by_tf.node) < len(base.node)
    run = keras_frozen.with_graph_def(by_session).run(image)
    assert _max_err(keras_frozen.run(image), run) < 1e-5


def test_optimize_returns_frozen_graph_with_same_specs(keras_frozen, keras_optimized):
    optimized = optimize(keras_frozen, "default")
    assert optimized.inputs == keras_frozen.inputs and optimized.outputs == keras_frozen.outputs
    assert len(optimized.graph_def.node) == keras_optimized[1].nodes_after


# --- refusing what cannot be proven ----------------------------------------------------------
def test_perturbed_optimized_graph_fails_equivalence(small_frozen, fused_optimized, image):
    from tensorflow.core.framework import graph_pb2

    from pytest_tfperf.equivalence import NotEquivalentError, assert_equivalent

    optimized, _ = fused_optimized
    gd = graph_pb2.GraphDef()
    gd.CopyFrom(optimized.graph_def)
    conv = next(n for n in gd.node if n.op == "Conv2D")
    weights = next(n for n in gd.node if n.name == conv.input[1].split(":")[0])
    tx.set_const_value(weights, tx.const_value(weights) * 1.01)
    with pytest.raises(NotEquivalentError) as info:
        assert_equivalent(small_frozen, optimized.with_graph_def(gd), image, atol=1e-4, rtol=0)
    assert info.value.report.passed is False


def _perturb_weights(graph_def, inputs, outputs):
    """A 'transform' that changes the model: scales the first conv's weights by 1.5."""
    from tensorflow.core.framework import graph_pb2

    gd = graph_pb2.GraphDef()
    gd.CopyFrom(graph_def)
    conv = next(n for n in gd.node if n.op == "Conv2D")
    weights = next(n for n in gd.node if n.name == conv.input[1].split(":")[0])
    tx.set_const_value(weights, tx.const_value(weights) * 1.5)
    return gd


def test_transform_that_changes_outputs_is_dropped_and_reported(small_frozen, image):
    optimized, report = optimize_with_report(
        small_frozen, ["remove_training_nodes", _perturb_weights, "fold_batch_norms"], check_inputs=image)
    assert report.dropped == ("_perturb_weights",)
    assert report.applied == ("remove_training_nodes", "fold_batch_norms")
    step = report.steps[1]
    assert not step.kept and step.max_abs_error > 1e-4 and "logits_layer/BiasAdd" in step.reason
    assert step.nodes_after == step.nodes_before
    assert "given" in report.input_sets
    assert _max_err(small_frozen.run(image), optimized.run(image)) < 1e-4
    with pytest.raises(OptimizeError, match="_perturb_weights.*cannot be kept"):
        optimize(small_frozen, ["remove_training_nodes", _perturb_weights], strict=True)


def test_quantize_weights_by_name_runs_transform_graph(keras_frozen):
    _, strict_report = optimize_with_report(keras_frozen, "default, quantize_weights",
                                                     atol=1e-7, rtol=0)
    assert strict_report.dropped == ("quantize_weights",)
    assert strict_report.steps[-1].max_abs_error > 1e-7
    _, loose_report = optimize_with_report(keras_frozen, "default, quantize_weights", atol=0.05)
    assert loose_report.applied[-1] == "quantize_weights"
    assert "Dequantize" in loose_report.ops_after and "Dequantize" not in strict_report.ops_after


def test_unknown_transform_name_lists_close_matches():
    with pytest.raises(OptimizeError) as info:
        parse_transforms("strip_unused_nodes, fold_batchnorms")
    msg = str(info.value)
    assert "'fold_batchnorms'" in msg and "Did you mean: 'fold_batch_norms'" in msg
    assert "merge_biases" in msg and "quantize_weights" in msg
    assert set(DEFAULT_TRANSFORMS) <= set(transform_names())
    with pytest.raises(OptimizeError, match="key=value"):
        parse_transforms("fold_constants(session)")


def test_transform_failing_inside_tensorflow(small_frozen):
    ins, outs = ["input_node:0"], ["logits_layer/BiasAdd:0"]
    with pytest.raises(OptimizeError, match="TransformGraph failed.*remove_nodes expects"):
        tx.tf_transform_graph(small_frozen.graph_def, ins, outs, "remove_nodes")
    _, report = optimize_with_report(small_frozen, ["remove_nodes", "strip_unused_nodes"])
    assert report.dropped == ("remove_nodes",)
    assert "remove_nodes expects at least one 'op'" in report.steps[0].reason
    with pytest.raises(OptimizeError, match="remove_nodes.*cannot be kept.*expects"):
        optimize(small_frozen, ["remove_nodes"], strict=True)


def test_transform_removing_an_output_is_refused(keras_frozen):
    out = keras_frozen.outputs[0].node

    def drop_output(graph_def, inputs, outputs):
        return tx.strip_unused_nodes(graph_def, inputs, [keras_frozen.outputs[0].name.replace(
            out, next(n.name for n in graph_def.node if n.op == "Softmax"))])
    _, report = optimize_with_report(keras_frozen, [drop_output])
    assert report.dropped == ("drop_output",) and "removed" in report.steps[0].reason


def test_transform_that_bakes_in_a_training_flag_is_refused(small_frozen):
    # TensorFlow's fold_constants folds PlaceholderWithDefault `training` into its default value
    _, report = optimize_with_report(small_frozen, ["fold_constants(backend=transform_graph)"])
    assert report.dropped == ("fold_constants(backend=transform_graph)",)
    assert "PlaceholderWithDefault training:0" in report.steps[0].reason
    _, report = optimize_with_report(small_frozen, ["fold_constants"])  # auto: the session backend
    assert report.applied == ("fold_constants",)


def test_graph_that_cannot_be_frozen():
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        w = tf.compat.v1.get_variable("w", [4, 2], collections=[])  # never initialised
        tf.matmul(x, w, name="y")
    with pytest.raises(ModelLoadError, match="cannot freeze"):
        optimize(graph, outputs=["y"])


# --- tfperf optimize --------------------------------------------------------------------------
def _run_cli(argv, capsys):
    from pytest_tfperf.cli import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_writes_optimized_pb_and_json(small_pb, tmp_path, capsys):
    from pytest_tfperf import load

    out = tmp_path / "opt.pb"
    rc, stdout, err = _run_cli(["optimize", str(small_pb), "-o", str(out), "--json",
                                "--outputs", "logits_layer/BiasAdd"], capsys)
    assert rc == 0, err
    data = json.loads(stdout)
    assert data["output"] == str(out) and data["equivalence"]["passed"] is True
    rows = data["timings"]
    assert [r["variant"] for r in rows] == ["frozen graph", "optimized graph"]
    assert data["speedup_reference"] == "frozen graph" and data["speedup_source"] is None
    assert rows[0]["speedup"] == 1.0 and rows[0]["reference"] and rows[1]["nodes"] < rows[0]["nodes"]
    assert rows[1]["speedup"] == pytest.approx(rows[0]["median_ms"] / rows[1]["median_ms"])
    assert rows[1]["max_abs_error"] < 1e-4 and rows[1]["speedup_vs_source"] is None
    # the sample was a synthetic image, and the labels say so (issue 14 item 8: not "given")
    assert data["sample"] == "synthetic image [1,32,32,3] float32 (pixels/255 [0,1])"  # issue 21: its range
    assert data["inputs"] == [{"name": "input_node:0", "shape": [1, 32, 32, 3], "dtype": "float32",
                               "guessed": [], "source": "sample image"}]  # issue 11 item 7
    assert data["report"]["input_sets"][-1] == data["equivalence"]["input_sets"][0] == data["sample"]
    reloaded = load(str(out), outputs=["logits_layer/BiasAdd"])
    assert len(reloaded.graph_def.node) == data["report"]["nodes_after"]
    assert not {n.op for n in reloaded.graph_def.node} & BN_ARITHMETIC
    assert [p.name for p in tmp_path.iterdir()] == ["opt.pb"]  # no temp file left behind


def test_cli_keras_model_prints_three_rows(keras_model, tmp_path, capsys):
    # issue 14 item 8: the speed-up is against the frozen original, Keras predict's figure apart
    path = tmp_path / "bn.keras"
    keras_model.save(path)
    out = tmp_path / "bn_opt.pb"
    rc, stdout, err = _run_cli(["optimize", str(path), "-o", str(out), "--transforms",
                                "default", "--rounds", "2"], capsys)
    assert rc == 0, err
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("variant"))
    assert lines[head].split()[1:] == ["median", "ms", "vs", "frozen", "vs", "keras", "nodes", "max", "abs",
                                       "err"]
    rows = [line.split() for line in lines[head + 2:head + 5]]
    assert [r[0] for r in rows] == ["keras", "frozen", "optimized"]
    keras, frozen, optimized = rows
    assert frozen[-4] == "1.00x" and frozen[-1] == "-"  # the reference row
    assert keras[-3] == "1.00x" and keras[-2] == "-"  # vs keras: 1.00x on its own row
    # vs frozen = frozen median / row median, from the printed medians (3 decimals)
    for row in (keras, optimized):
        assert float(row[-4].rstrip("x")) == pytest.approx(float(frozen[-5]) / float(row[-5]), rel=0.02,
                                                           abs=0.01)
    assert float(optimized[-1]) < 1e-4 and int(optimized[-2]) < int(frozen[-2])
    text = "\n".join(lines[head + 5:])
    assert "speed-up of the optimized graph over the frozen graph: " + optimized[-4] in text
    assert "speed-up of the frozen graph over keras predict: " + frozen[-3] + " (freezing alone)" in text
    assert "on the synthetic image" in text
    assert "given" not in stdout  # the input was made up: it is called what it is
    assert "synthetic image" in lines[1] and out.stat().st_size > 0


def test_cli_unwritable_output_directory(small_pb, tmp_path, capsys):
    # the one writable-path check (`atomic.unwritable`): missing folders are created, as every
    # tfperf output's are; a parent that is a file is an error naming it, before any work
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    rc, _, err = _run_cli(["optimize", str(small_pb), "-o", str(not_a_dir / "sub" / "opt.pb")], capsys)
    assert rc == 2 and f"output {not_a_dir} is a file, not a directory" in err
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]
    out = tmp_path / "missing" / "opt.pb"
    rc, _, err = _run_cli(["optimize", str(small_pb), "-o", str(out)], capsys)
    assert rc == 0, err
    assert out.is_file()


def test_cli_unknown_transform_writes_nothing(small_pb, tmp_path, capsys):
    out = tmp_path / "opt.pb"
    rc, _, err = _run_cli(["optimize", str(small_pb), "-o", str(out), "--transforms",
                           "fold_batch_norm"], capsys)
    assert rc == 2 and "Did you mean: 'fold_batch_norms'" in err
    assert not out.exists()


def test_cli_nothing_written_when_equivalence_fails(small_frozen, small_pb, tmp_path, capsys,
                                                    monkeypatch):
    import pytest_tfperf.optimization as opt

    real = opt.optimize_with_report

    def broken(frozen, *args, **kwargs):  # a transform bug that slipped past the per-step checks
        optimized, report = real(frozen, *args, **kwargs)
        return optimized.with_graph_def(_perturb_weights(optimized.graph_def, [], [])), report
    monkeypatch.setattr(opt, "optimize_with_report", broken)
    out = tmp_path / "opt.pb"
    out.write_bytes(b"previous")
    rc, _, err = _run_cli(["optimize", str(small_pb), "-o", str(out),
                           "--outputs", "logits_layer/BiasAdd"], capsys)
    assert rc == 2 and "not equivalent" in err and "nothing was written" in err
    assert out.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["opt.pb"]


def test_cli_model_that_cannot_be_loaded_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "corrupt.pb"
    bad.write_bytes(b"\x00not a graph")
    out = tmp_path / "opt.pb"
    rc, _, err = _run_cli(["optimize", str(bad), "-o", str(out)], capsys)
    assert rc == 2 and "corrupt.pb" in err
    assert not out.exists()


# --- the folding patterns, one small raw-op graph ---------------------------------------------
@pytest.fixture(scope="module")
def pattern_graph():
    """Conv2D->BiasAdd->Mul(c, x)->Add; Depthwise->Mul->AddV2(c, x); MatMul(transpose_b)->Mul->Sub;
    and a conv read twice (its Mul must stay: the other reader would see scaled values)."""
    import tensorflow as tf

    from pytest_tfperf import load

    rng = np.random.default_rng(3)

    def c(*shape, lo=-1.0, hi=1.0):
        return tf.constant(rng.uniform(lo, hi, shape).astype("float32"))

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        y = tf.nn.bias_add(tf.nn.conv2d(x, c(3, 3, 3, 4), 1, "SAME"), c(4))
        y = tf.nn.relu(tf.math.add(tf.multiply(c(1, 1, 1, 4, lo=0.5, hi=2.0), y), c(4)))
        d = tf.nn.depthwise_conv2d(y, c(3, 3, 4, 2), [1, 1, 1, 1], "SAME")
        d = tf.nn.relu(tf.raw_ops.AddV2(x=c(8), y=d * c(8, lo=0.5, hi=2.0)))
        m = tf.matmul(tf.reshape(d, [-1, 8 * 8 * 8]), c(5, 512), transpose_b=True)
        m = tf.subtract(m * c(5, lo=0.5, hi=2.0), c(5), name="head")
        shared = tf.nn.conv2d(x, c(3, 3, 3, 2), 1, "SAME")
        side = tf.reduce_sum(shared * c(2) + tf.nn.relu(shared), axis=[1, 2, 3])
        tf.add(m, side[:, None], name="out")
    return load(graph.as_graph_def(), inputs=["x"], outputs=["out"])


def test_fold_patterns_conv_depthwise_matmul(pattern_graph):
    from pytest_tfperf.equivalence import assert_equivalent

    optimized, report = optimize_with_report(pattern_graph)
    gd = optimized.graph_def
    assert report.ops_before["Mul"] == 4 and "Sub" in report.ops_before
    assert report.ops_after["Mul"] == 1  # only the shared conv's Mul is left
    assert "Sub" not in report.ops_after and "Add" not in report.ops_after
    assert report.ops_after["AddV2"] == 2  # the two adds of non-constant tensors stay
    for op in ("Conv2D", "DepthwiseConv2dNative", "MatMul"):
        producers = [n for n in gd.node if n.op == op]
        readers = [r.op for p in producers for r in _readers(gd, p.name)]
        if op == "Conv2D":
            assert sorted(readers) == ["BiasAdd", "Mul", "Relu"]  # folded conv; the shared one
        else:
            assert readers == ["BiasAdd"]
    assert report.ops_after["BiasAdd"] == 3  # BiasAdd + Add merged into one for the first conv
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 3)).astype("float32")
    assert_equivalent(pattern_graph, optimized, x, atol=1e-4, rtol=1e-5, n_random=2)


def test_per_channel_broadcasting():
    assert tx.per_channel(np.ones([1, 1, 1, 4]), 4, -1).shape == (4,)
    assert tx.per_channel(np.float32(2.0), 3, -1).tolist() == [2.0, 2.0, 2.0]
    assert tx.per_channel(np.ones([4, 1, 1]), 4, -3).shape == (4,)   # NCHW
    assert tx.per_channel(np.ones([4, 1, 1]), 4, -1) is None          # not per channel for NHWC
    assert tx.per_channel(np.ones([8, 4]), 4, -1) is None             # varies along another axis
