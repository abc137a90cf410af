"""FLOPs under control flow, per execution: loops (static trip counts, traced ones, nested),
conds, functional While/If/Case/calls, Keras and SavedModel loops, unresolved -> a budget error;
and the attention/embedding formulas the zoo relies on. Every number is a hand formula."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

import pytest_tfperf
from pytest_tfperf import cli
from pytest_tfperf.analysis.flops.count import FlopsReport, count_flops
from pytest_tfperf.inputs.policy import sample_inputs

tf = pytest.importorskip("tensorflow")


def _mm(m: int, k: int, n: int) -> int:
    """FLOPs of an [m, k] x [k, n] MatMul: 2 x MACs."""
    return 2 * m * k * n


def _loop(report, name: str | None = None) -> dict:
    loops = [e for e in report.control_flow if e["kind"] == "while"
             and (name is None or e["name"] == name)]
    assert len(loops) == 1, report.control_flow
    return loops[0]


def _spec():
    return [tf.TensorSpec([1, 3], tf.float32)]


W3 = np.full((3, 3), 1 / 3, np.float32)


def issue_loop():
    """The issue's model: a 5-iteration tf.while_loop of a 72-FLOP MatMul ([1,3] x [3,12])."""
    w = tf.constant(np.full((3, 12), 0.5, np.float32))

    @tf.function(input_signature=_spec())
    def loop5(x):
        _, acc = tf.while_loop(lambda i, a: i < 5, lambda i, a: (i + 1, a + tf.matmul(x, w)),
                               [0, tf.zeros([1, 12])])
        return acc
    return loop5


# MatMul 5 x 72; AddV2: 5 x 12 (the accumulator) + 5 x 1 (the counter); Less: 6 checks x 1
ISSUE_LOOP_FLOPS = 5 * _mm(1, 3, 12) + 5 * 12 + 5 + 6


@pytest.fixture(scope="module")
def issue_model():
    fg = pytest_tfperf.load(issue_loop())
    yield fg
    fg.close()


def test_a_five_iteration_loop_counts_its_matmul_five_times(issue_model):
    report = count_flops(issue_model)
    assert report.by_op_type["MatMul"] == 5 * 72 == 360
    assert report.by_op_type["Less"] == 6 and report.by_op_type["AddV2"] == 65
    assert report.total == ISSUE_LOOP_FLOPS == 431
    assert report.unresolved == {} and report.uncounted == {}
    loop = _loop(report)
    assert (loop["resolved"], loop["trip_count"], loop["entries"], loop["iterations"]) == \
        ("static", 5, 1, 5)
    assert "static trip count 5; a traced run agrees" in loop["detail"]
    assert FlopsReport.from_dict(json.loads(json.dumps(report.to_dict()))).total == report.total


def test_bench_times_called_and_flops_agree_with_count_flops(issue_model, tmp_path, capsys):
    path = issue_model.save(tmp_path / "loop5.pb")
    assert cli.main(["bench", str(path), "--json", "--runs", "2", "--top", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    matmul = next(r for r in data["node_types"] if r["node_type"] == "MatMul")
    assert matmul["times_called"] == 5  # one MatMul node, run 5 times per inference
    assert data["flops"] == ISSUE_LOOP_FLOPS
    assert cli.main(["bench", str(path), "--runs", "1", "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs estimate: 431" in out
    assert "Loop while: 5 iterations (static: static trip count 5; a traced run agrees)" in out


def _until_100():
    """Doubles y until its sum reaches 100: the trip count depends on the input."""
    double = tf.constant(2 * np.eye(3, dtype=np.float32))

    @tf.function(input_signature=_spec())
    def until(x):
        i, y = tf.while_loop(lambda i, y: tf.reduce_sum(y) < 100.0,
                             lambda i, y: (i + 1, tf.matmul(y, double)), [0, x])
        return y, i
    return until


@pytest.mark.parametrize("value", [1.0, 0.1])
def test_a_data_dependent_trip_count_is_counted_from_one_traced_run(value):
    fg = pytest_tfperf.load(_until_100())
    x = np.full((1, 3), value, np.float32)
    trips = int(fg.run(x)[1])
    assert trips == int(np.ceil(np.log2(100 / (3 * value))))  # 6 for ones, 9 for 0.1s
    report = count_flops(fg, x)
    # body: MatMul 18 + counter 1, trips times; cond: Sum 3 + Less 1, trips + 1 times
    assert report.by_op_type["MatMul"] == trips * _mm(1, 3, 3)
    assert report.by_op_type["Sum"] == (trips + 1) * 3
    assert report.total == trips * (18 + 1) + (trips + 1) * (3 + 1)
    loop = _loop(report)
    assert loop["resolved"] == "traced" and loop["iterations"] == trips
    assert "not static" in loop["detail"] and "counted from one traced run" in loop["detail"]
    # without inputs: the synthetic inputs the FLOP counter feeds
    default = count_flops(fg)
    assert _loop(default)["iterations"] == int(fg.run(sample_inputs(fg)["x:0"])[1])


def _nested(inner_limit_is_outer_counter: bool):
    @tf.function(input_signature=_spec())
    def nested(x):
        three = tf.shape(x)[1]  # captured by both loops: a loop variable passed on unchanged

        def outer(i, y):
            limit = i if inner_limit_is_outer_counter else three
            _, y = tf.while_loop(lambda j, y: j < limit, lambda j, y: (j + 1, tf.matmul(y, W3)),
                                 [0, y])
            return i + 1, y
        _, y = tf.while_loop(lambda i, y: i < 4, outer, [0, x])
        return y
    return nested


def test_nested_static_loops_multiply():
    report = count_flops(pytest_tfperf.load(_nested(False)))
    assert report.by_op_type["MatMul"] == 4 * 3 * _mm(1, 3, 3) == 216
    assert report.by_op_type["Less"] == 5 + 4 * 4  # outer checks + inner checks per entry
    assert report.total == 216 + 21 + (4 + 12)
    outer, inner = sorted(report.control_flow, key=lambda e: len(e["name"]))
    assert (outer["resolved"], outer["trip_count"], outer["iterations"]) == ("static", 4, 4)
    assert (inner["resolved"], inner["trip_count"], inner["entries"], inner["iterations"]) == \
        ("static", 3, 4, 12)


def test_an_inner_loop_bounded_by_the_outer_counter_is_traced():
    report = count_flops(pytest_tfperf.load(_nested(True)))
    iterations = 0 + 1 + 2 + 3
    assert report.by_op_type["MatMul"] == iterations * _mm(1, 3, 3) == 108
    assert report.by_op_type["Less"] == 5 + (1 + 2 + 3 + 4)
    inner = max(report.control_flow, key=lambda e: len(e["name"]))
    assert inner["resolved"] == "traced" and inner["iterations"] == iterations
    assert inner["trip_count"] is None  # not the same on every entry
    assert "enclosing or other loop" in inner["detail"]


def _static_loops():
    """(tf.function, iterations): trip counts the graph fixes, written in different ways."""
    w = tf.constant(W3)

    @tf.function(input_signature=_spec())
    def maximum_iterations(x):
        return tf.while_loop(lambda i, y: i < 100, lambda i, y: (i + 1, tf.matmul(y, w)), [0, x],
                             maximum_iterations=7)[1]

    @tf.function(input_signature=_spec())
    def step_two(x):
        return tf.while_loop(lambda i, y: i < 10, lambda i, y: (i + 2, tf.matmul(y, w)), [0, x])[1]

    @tf.function(input_signature=_spec())
    def counting_down(x):
        return tf.while_loop(lambda i, y: i > 0, lambda i, y: (i - 2, tf.matmul(y, w)), [6, x])[1]

    @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32)])
    def shape_bound(x):  # 2 rows + 1
        n = tf.shape(x)[0] + 1
        return tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, tf.matmul(y[:1], w)), [0, x[:1]])[1]

    @tf.function(input_signature=_spec())
    def autograph_range(x):
        for _ in tf.range(4):
            x = tf.matmul(x, w)
        return x

    return [(maximum_iterations, 7), (step_two, 5), (counting_down, 3), (shape_bound, 3),
            (autograph_range, 4)]


def test_static_trip_counts_written_in_different_ways():
    for fn, iterations in _static_loops():
        fg = pytest_tfperf.load(fn)
        report = count_flops(fg)
        loop = _loop(report)
        assert (loop["resolved"], loop["trip_count"]) == ("static", iterations), fn.__name__
        assert report.by_op_type["MatMul"] == iterations * _mm(1, 3, 3), fn.__name__
        assert report.unresolved == {}


def _branchy():
    @tf.function(input_signature=_spec())
    def branchy(x):
        return tf.cond(tf.reduce_sum(x) > 1.5, lambda: tf.matmul(x, W3), lambda: x * 2.0)
    return branchy


def test_a_cond_counts_the_branch_it_takes():
    fg = pytest_tfperf.load(_branchy())
    true = count_flops(fg, np.ones((1, 3), np.float32))     # sum 3 > 1.5: the MatMul
    false = count_flops(fg, np.zeros((1, 3), np.float32))   # the Mul
    assert true.total == 3 + 1 + _mm(1, 3, 3) and "Mul" not in true.by_op_type
    assert false.total == 3 + 1 + 3 and "MatMul" not in false.by_op_type
    assert FlopsReport.from_dict(json.loads(json.dumps(true.to_dict()))) == true
    (cond_true,), (cond_false,) = true.control_flow, false.control_flow
    assert cond_true["kind"] == "cond" and cond_true["resolved"] == "traced"
    assert cond_true["branches"] == {1: 1} and cond_false["branches"] == {0: 1}


def test_a_cond_inside_a_loop_counts_each_iteration_branch():
    w = tf.constant(W3)

    @tf.function(input_signature=_spec())
    def alternating(x):
        def body(i, y):
            return i + 1, tf.cond(i % 2 == 0, lambda: tf.matmul(y, w), lambda: y * 2.0)
        return tf.while_loop(lambda i, y: i < 5, body, [0, x])[1]

    report = count_flops(pytest_tfperf.load(alternating))
    assert report.by_op_type["MatMul"] == 3 * _mm(1, 3, 3)  # i = 0, 2, 4
    assert report.by_op_type["Mul"] == 2 * 3                 # i = 1, 3
    assert report.total == 54 + 6 + 5 + 5 + 6 + 5  # + FloorMod, Equal, Less, AddV2
    cond = next(e for e in report.control_flow if e["kind"] == "cond")
    assert cond["branches"] == {0: 2, 1: 3}


def test_a_keras_model_with_a_loop_layer_and_a_saved_model(tmp_path):
    import keras

    class Repeat(keras.layers.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1], shape[-1]), initializer="ones")

        def call(self, x):
            return tf.while_loop(lambda i, y: i < 5, lambda i, y: (i + 1, tf.matmul(y, self.w) / 3.0),
                                 [0, x])[1]

    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2)(Repeat()(inp)))
    report = count_flops(pytest_tfperf.load(model))
    assert report.by_op_type["MatMul"] == 5 * _mm(1, 3, 3) + _mm(1, 3, 2)
    assert report.total == 102 + 5 * 3 + 2 + 6 + 5  # + RealDiv, BiasAdd, Less, AddV2
    assert _loop(report)["trip_count"] == 5

    module = tf.Module()
    module.f = issue_loop()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures=module.f)
    saved = count_flops(pytest_tfperf.load(str(tmp_path / "sm")))
    assert saved.total == ISSUE_LOOP_FLOPS and _loop(saved)["resolved"] == "static"


def test_keras_recurrent_layers_count_every_time_step():
    import keras

    steps, features, units = 7, 5, 4
    for layer, gates in ((keras.layers.LSTM(units), 4), (keras.layers.GRU(units), 3)):
        inp = keras.Input((steps, features))
        report = count_flops(pytest_tfperf.load(keras.Model(inp, layer(inp))))
        per_step = _mm(1, features, gates * units) + _mm(1, units, gates * units)  # input + recurrent
        assert report.by_op_type["MatMul"] == steps * per_step, type(layer).__name__
        loop = _loop(report)
        assert (loop["resolved"], loop["trip_count"]) == ("static", steps)  # from the input's shape
        assert report.uncounted == {} and report.unresolved == {}  # TensorList ops move data: 0


def test_functional_while_kept_by_the_freezer_is_lowered_and_counted():
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(_nested(False).get_concrete_function(),
                                               lower_control_flow=False)
    graph_def = frozen.graph.as_graph_def()
    assert "StatelessWhile" in {n.op for n in graph_def.node}  # functional, bodies in the library
    fg = pytest_tfperf.load(graph_def, inputs=["x:0"], outputs=[t.name for t in frozen.outputs])
    report = count_flops(fg)
    assert report.by_op_type["MatMul"] == 216 and report.total == 253
    assert [e["iterations"] for e in report.control_flow] == [4, 12]


def test_an_output_read_straight_from_a_functional_while():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 3], name="x")
        tf.while_loop(lambda i, y: i < 4, lambda i, y: (i + 1, tf.matmul(y, W3)), [0, x])
    graph_def = graph.as_graph_def()
    loop = next(n.name for n in graph_def.node if n.op == "StatelessWhile")
    # the lowered While node is gone: its output must still be counted, not come out as 0
    report = count_flops(pytest_tfperf.load(graph_def, inputs=["x:0"], outputs=[f"{loop}:3"]))
    assert report.by_op_type["MatMul"] == 4 * _mm(1, 3, 3)


def test_a_tf1_graph_with_control_flow_v2_while_if_case_and_a_function_call():
    @tf.function
    def project(x):
        return tf.matmul(x, tf.constant(W3))

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 3], name="x")
        y = project(x)                                   # PartitionedCall: 18
        _, y = tf.while_loop(lambda i, y: i < 4, lambda i, y: (i + 1, tf.matmul(y, W3)), [0, y])
        y = tf.cond(tf.reduce_sum(y) > -1.0, lambda: y * 2.0, lambda: tf.matmul(y, W3))
        index = tf.cast(tf.reduce_sum(x) > 100.0, tf.int32) + 1       # 1 on the synthetic input
        y = tf.switch_case(index, [lambda: y + 1.0, lambda: tf.matmul(y, W3), lambda: y - 1.0])
        tf.identity(y, name="out")
    ops = {n.op for n in graph.as_graph_def().node}
    assert {"PartitionedCall", "StatelessWhile", "StatelessIf", "StatelessCase"} <= ops
    report = count_flops(pytest_tfperf.load(graph, outputs=["out"]))
    assert report.by_op_type["MatMul"] == (1 + 4 + 1) * _mm(1, 3, 3)  # call + loop + case branch 1
    assert report.by_op_type["Mul"] == 3                                # the cond's true branch
    assert "AddV2" in report.by_op_type and "Sub" not in report.by_op_type
    assert report.unresolved == {} and report.uncounted == {}
    kinds = sorted((e["kind"], e["resolved"]) for e in report.control_flow)
    assert kinds == [("cond", "traced"), ("cond", "traced"), ("while", "static")]


def test_a_legacy_tf1_graph_with_control_flow_v1_loops_and_a_cond():
    """TF1-era frozen graphs: v1 loops (constant Enters, loop invariants), a v1 cond."""
    tf.compat.v1.disable_control_flow_v2()
    try:
        graph = tf.Graph()
        with graph.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [1, 3], name="x")
            w = tf.constant(W3)
            _, y = tf.while_loop(lambda i, y: i < 4, lambda i, y: (i + 1, tf.matmul(y, w)), [0, x])
            y = tf.cond(tf.reduce_sum(y) > 0, lambda: y * 2.0, lambda: tf.matmul(y, w))
            n = tf.cast(tf.reduce_sum(x) * 10, tf.int32)  # a data-dependent trip count
            # tf.matmul(x, w) reads only loop invariants: it still runs once per iteration
            _, z = tf.while_loop(lambda i, z: i < n,
                                 lambda i, z: (i + 1, tf.matmul(z, w) + tf.matmul(x, w)), [0, y])
            tf.identity(z, name="out")
    finally:
        tf.compat.v1.enable_control_flow_v2()
    assert "StatelessWhile" not in {n.op for n in graph.as_graph_def().node}
    report = count_flops(pytest_tfperf.load(graph, outputs=["out"]), np.full((1, 3), 0.2, np.float32))
    trips = 6  # int(0.6 * 10)
    assert report.by_op_type["MatMul"] == (4 + 2 * trips) * _mm(1, 3, 3)
    assert report.by_op_type["Mul"] == 3 + 1  # the true branch, and the * 10
    assert report.unresolved == {}
    resolved = sorted((e["kind"], e["resolved"], e.get("iterations")) for e in report.control_flow)
    assert resolved == [("cond", "traced", None), ("while", "static", 4), ("while", "traced", trips)]


def _asserting(data_dependent: bool):
    """A model whose run fails on the synthetic input (an assert on the input's sum)."""
    @tf.function(input_signature=_spec())
    def checked(x):
        tf.debugging.assert_greater(tf.reduce_sum(x), 100.0)
        n = tf.cast(tf.reduce_sum(x), tf.int32) if data_dependent else 5
        return tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, tf.matmul(y, W3)), [0, x])[1]
    return checked


def test_a_loop_neither_static_nor_traced_is_unresolved():
    report = count_flops(pytest_tfperf.load(_asserting(True)))
    assert report.unresolved == {"AddV2": 1, "Less": 1, "MatMul": 1}
    assert "MatMul" not in report.by_op_type  # left out, not counted once
    reason = next(r for n, r in report.unresolved_reasons.items() if n.endswith("MatMul"))
    assert "trip count of loop 'while' is not static" in reason
    assert "the traced run failed: InvalidArgumentError: assertion failed" in reason
    assert _loop(report)["resolved"] == "unresolved"


def test_a_static_loop_needs_no_run():
    report = count_flops(pytest_tfperf.load(_asserting(False)))
    assert report.unresolved == {}
    assert report.by_op_type["MatMul"] == 5 * _mm(1, 3, 3)
    assert _loop(report)["resolved"] == "static" and report.shapes_from == "static"


def test_a_cond_is_static_or_traced_or_unresolved_never_the_larger_branch():
    def checked_cond(predicate_is_constant: bool):
        @tf.function(input_signature=_spec())
        def checked(x):
            tf.debugging.assert_greater(tf.reduce_sum(x), 100.0)  # the run fails
            pred = tf.constant(False) if predicate_is_constant else tf.reduce_sum(x) > 1.0
            return tf.cond(pred, lambda: tf.matmul(x, W3), lambda: x * 2.0)
        return pytest_tfperf.load(checked)

    static = count_flops(checked_cond(True))
    assert static.by_op_type == {"Mul": 3} and static.unresolved == {}  # the assert is not data
    assert static.control_flow[0]["resolved"] == "static"
    assert static.control_flow[0]["detail"] == "static predicate: the false branch"
    unknown = count_flops(checked_cond(False))
    assert unknown.unresolved == {"MatMul": 1, "Mul": 1}  # not max(18, 3), not 18 + 3
    assert "MatMul" not in unknown.by_op_type and unknown.total == 3 + 1  # the predicate
    assert unknown.control_flow[0]["resolved"] == "unresolved"
    assert all("the branch of the cond on Greater:0 is not static" in r
               for r in unknown.unresolved_reasons.values())


def test_a_flops_budget_on_an_unresolved_model_is_an_error(pytester, issue_model):
    (pytester.path / "models").mkdir()
    issue_model.save(pytester.path / "models" / "loop5.pb")
    bad = pytest_tfperf.load(_asserting(True))
    bad.save(pytester.path / "models" / "unresolved.pb")
    bad.close()
    pytester.makepyfile(test_user=textwrap.dedent("""
        import pytest

        @pytest.mark.tfperf_model("models/loop5.pb")
        @pytest.mark.flops_budget(max=431)
        def test_loop_fits_exactly(frozen_graph):
            pass

        @pytest.mark.tfperf_model("models/loop5.pb")
        @pytest.mark.flops_budget(max=430)
        def test_loop_one_flop_over(frozen_graph):
            pass

        @pytest.mark.tfperf_model("models/unresolved.pb")
        def test_unresolved_in_the_report(frozen_graph, tfperf):
            pass

        @pytest.mark.tfperf_model("models/unresolved.pb")
        @pytest.mark.flops_budget(max="1G")
        def test_unresolved_loop(frozen_graph):
            pass
    """))
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--tfperf-report",
                                "--tfperf-json=out.json")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    out = result.stdout.str()
    models = json.loads((pytester.path / "out.json").read_text())["tfperf"]["models"]
    flops = {(m["model"], m["flops"]) for m in models}
    assert ("loop5.pb", ISSUE_LOOP_FLOPS) in flops
    assert ("unresolved.pb", None) in flops  # the report shows no partial total
    assert "INTERNALERROR" not in out
    assert "test_unresolved_loop" in out and "could not be counted (unresolved: AddV2 x1, Less x1, " \
        "MatMul x1: the trip count of loop 'while' is not static" in out


def test_attention_einsums_and_embedding_gathers():
    import keras

    t, d, heads, key_dim, vocab = 6, 16, 2, 8, 50
    tokens = keras.Input((t,), dtype="int32")
    embedded = keras.layers.Embedding(vocab, d)(tokens)
    attended = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim)(embedded, embedded)
    report = count_flops(pytest_tfperf.load(keras.Model(tokens, attended)))
    projections = 3 * _mm(t, d, heads * key_dim) + _mm(t, heads * key_dim, d)  # q, k, v, output
    scores_and_mix = 2 * heads * _mm(t, key_dim, t)  # QK^T and softmax(.)V, per head
    assert report.matmul_conv_flops == projections + scores_and_mix == 2 * t * heads * key_dim * (4 * d + 2 * t)
    assert report.by_op_type["Einsum"] == scores_and_mix
    assert report.by_op_type["Softmax"] == heads * t * t
    assert "GatherV2" not in report.by_op_type and report.uncounted == {}  # a lookup: 0 FLOPs
