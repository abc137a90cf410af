"""load(): every model reference kind, I/O detection, feeding, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import pytest_tfperf
from pytest_tfperf import GraphValidationError, InputError, ModelLoadError, NodeNotFoundError, TfperfError, load
from pytest_tfperf.model import zoo


def _logits(fg, image):
    return fg.run(image)[0]


def test_tf_graph_is_frozen_with_io_detected(small_frozen, image32):
    fg = small_frozen
    assert fg.kind == "tf_graph"
    assert [s.name for s in fg.inputs] == ["input_node:0"]
    assert fg.inputs[0].shape == (None, 32, 32, 3) and fg.inputs[0].dtype == "float32"
    assert [s.name for s in fg.outputs] == ["logits_layer/BiasAdd:0"]
    # seed 001's training flag is an optional feed, not a required input
    assert [s.name for s in fg.defaults] == ["training:0"]
    assert not any(n.op in ("VariableV2", "VarHandleOp") for n in fg.graph_def.node)
    assert _logits(fg, image32).shape == (1, 10)
    assert fg.trainable_params == zoo.trainable_parameter_count(zoo.small_convnet_graph(
        fused_batch_norm=True, training_flag=True))


def test_detected_outputs_without_naming_them(small_pb):
    fg = load(small_pb)
    assert [s.name for s in fg.outputs] == ["logits_layer/BiasAdd:0"]


def test_pb_and_pbtxt_give_the_same_outputs(small_frozen, small_pb, model_dir, image32):
    pbtxt = model_dir / "small.pbtxt"
    pbtxt.write_text(str(small_frozen.graph_def))
    a = load(small_pb)
    b = load(str(pbtxt))
    assert (a.kind, b.kind) == ("pb", "pbtxt")
    np.testing.assert_array_equal(_logits(a, image32), _logits(b, image32))
    np.testing.assert_array_equal(_logits(a, image32), _logits(small_frozen, image32))


def test_training_flag_keeps_its_default_and_can_be_fed(small_pb, image32):
    fg = load(small_pb)
    default = fg.run(image32)[0]
    explicit = fg.run({"input_node": image32, "training:0": False})[0]
    np.testing.assert_array_equal(default, explicit)


def test_checkpoint_prefix_and_meta_freeze_like_seed_001(tmp_path, image32):
    graph = zoo.small_convnet_graph(seed=3)
    prefix = zoo.save_checkpoint(graph, tmp_path / "ckpt")
    fg = load(prefix, outputs=["logits_layer/BiasAdd"])
    fg_meta = load(prefix + ".meta", outputs="logits_layer/BiasAdd:0")
    assert fg.kind == "checkpoint"
    assert fg.trainable_params == zoo.trainable_parameter_count(graph)
    np.testing.assert_array_equal(_logits(fg, image32), _logits(fg_meta, image32))
    # restored weights, not re-initialised ones: a second load gives identical logits
    np.testing.assert_array_equal(_logits(fg, image32), _logits(load(prefix, outputs="logits_layer/BiasAdd"),
                                                                image32))


def test_keras_model_file_and_savedmodel_match_predict(keras_cnn, tmp_path, image32):
    expected = keras_cnn.predict(image32, verbose=0)
    in_memory = load(keras_cnn)
    keras_path = tmp_path / "cnn.keras"
    keras_cnn.save(keras_path)
    from_file = load(str(keras_path))
    saved = tmp_path / "saved"
    keras_cnn.export(str(saved), verbose=False)
    from_saved = load(saved)
    assert (in_memory.kind, from_file.kind, from_saved.kind) == ("keras_model", "keras", "saved_model")
    for fg in (in_memory, from_file, from_saved):
        np.testing.assert_allclose(_logits(fg, image32), expected, atol=1e-5)
    assert from_file.trainable_params == sum(int(np.prod(w.shape)) for w in keras_cnn.trainable_weights)
    assert from_file.non_trainable_params > 0  # BN moving statistics
    assert from_file.keras_model is not None
    # outputs carry the Keras output names, not tf.function's `Identity`
    assert [s.name for s in in_memory.outputs] == [s.name for s in from_file.outputs] == ["predictions:0"]


def test_h5_file_loads(keras_cnn, tmp_path, image32):
    path = tmp_path / "cnn.h5"
    keras_cnn.save(path)
    np.testing.assert_allclose(_logits(load(path), image32), keras_cnn.predict(image32, verbose=0), atol=1e-5)


def test_tf_function_and_concrete_function():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def double_relu(x):
        return tf.nn.relu(x) * 2.0

    x = np.array([[-1, 0, 1, 2]], np.float32)
    for ref in (double_relu, double_relu.get_concrete_function()):
        fg = load(ref)
        assert fg.kind == "function"
        np.testing.assert_array_equal(fg.run(x)[0], [[0, 0, 2, 4]])

    @tf.function
    def no_signature(x):
        return x + 1.0

    with pytest.raises(ModelLoadError, match="input_signature"):
        load(no_signature)
    assert load(no_signature, input_shapes=[[2, 3]]).run(np.zeros((2, 3), np.float32))[0].sum() == 6


def test_session_with_outputs_and_graph_def(small_graph, image32):
    import tensorflow as tf

    with small_graph.as_default():
        init = tf.compat.v1.global_variables_initializer()
    sess = tf.compat.v1.Session(graph=small_graph)
    sess.run(init)
    expected = sess.run("logits_layer/BiasAdd:0", {"input_node:0": image32})
    for fg in (load((sess, ["logits_layer/BiasAdd"])), load(sess, outputs=["logits_layer/BiasAdd"])):
        assert fg.kind == "session"
        np.testing.assert_allclose(_logits(fg, image32), expected, rtol=1e-6, atol=1e-6)
    graph_def_fg = load(load(sess, outputs=["logits_layer/BiasAdd"]).graph_def)
    assert graph_def_fg.kind == "graph_def"
    sess.close()


def test_input_shapes_pin_the_batch_dim(small_pb):
    fg = load(small_pb, input_shapes=[[1, 32, 32, 3]])
    assert fg.inputs[0].shape == (1, 32, 32, 3)
    node = next(n for n in fg.graph_def.node if n.name == "input_node")
    assert [d.size for d in node.attr["shape"].shape.dim] == [1, 32, 32, 3]
    named = load(small_pb, input_shapes={"input_node": [4, 32, 32, 3]})
    assert named.inputs[0].shape == (4, 32, 32, 3)
    with pytest.raises(InputError, match="only unknown"):
        load(small_pb, input_shapes=[[1, 64, 64, 3]])


def test_frozen_graph_session_is_reused(small_pb, image32):
    fg = load(small_pb)
    fg.run(image32)
    first = fg.session
    fg.run(image32)
    assert fg.session is first
    fg.set_threads(1, 1)
    assert fg.session is not first and fg.session_config().intra_op_parallelism_threads == 1


def test_make_callable_prebinds_feeds(small_pb, image32):
    fg = load(small_pb)
    run = fg.make_callable(image32)
    np.testing.assert_array_equal(run()[0], fg.run(image32)[0])


def test_feeding_errors_name_the_input(small_pb):
    fg = load(small_pb)
    with pytest.raises(InputError, match=r"input_node:0 .* wants shape \[\?,32,32,3\]; received \[1, 16, 16, 3\]"):
        fg.run(np.zeros((1, 16, 16, 3), np.float32))
    with pytest.raises(InputError, match="wants float32; received <U1|cannot convert"):
        fg.run(np.full((1, 32, 32, 3), "a"))
    with pytest.raises(NodeNotFoundError, match="Did you mean: 'input_node:0'"):
        fg.run({"input_nod": np.zeros((1, 32, 32, 3), np.float32)})
    with pytest.raises(InputError, match="received None"):
        fg.run(None)
    # float64 is cast, not refused
    assert fg.run(np.zeros((1, 32, 32, 3), np.float64))[0].dtype == np.float32


def test_save_roundtrip(small_frozen, tmp_path, image32):
    path = small_frozen.save(tmp_path / "out.pb")
    np.testing.assert_array_equal(_logits(load(path), image32), _logits(small_frozen, image32))


def test_public_api_is_lazy_and_complete():
    assert pytest_tfperf.load is load
    assert issubclass(ModelLoadError, TfperfError)
    with pytest.raises(AttributeError):
        pytest_tfperf.no_such_thing  # noqa: B018


# -- bad input --------------------------------------------------------------------------------


def test_missing_file_suggests_close_names(small_pb):
    with pytest.raises(ModelLoadError, match=r"does not exist\. Did you mean: small\.pb"):
        load(small_pb.parent / "smal.pb")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pb"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        load(path)


def test_truncated_pb(small_pb, tmp_path):
    data = small_pb.read_bytes()
    path = tmp_path / "truncated.pb"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated.pb"):
        load(path)


def test_random_bytes_pb(tmp_path):
    path = tmp_path / "random.pb"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelLoadError, match="random.pb"):
        load(path)


def test_pbtxt_syntax_error(tmp_path):
    path = tmp_path / "bad.pbtxt"
    path.write_text('node { name: "x" op: "Placeholder" \n attr { key: "dtype" value { type: DT_FLOAT } ')
    with pytest.raises(ModelLoadError, match=r"bad\.pbtxt.*not a valid text GraphDef"):
        load(path)


def test_directory_that_is_not_a_savedmodel(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelLoadError, match="not a SavedModel.*notes.txt"):
        load(tmp_path)


def test_unknown_signature_lists_available(keras_cnn, tmp_path):
    saved = tmp_path / "saved"
    keras_cnn.export(str(saved), verbose=False)
    with pytest.raises(ModelLoadError, match="signature 'predict' not found.*serve"):
        load(saved, signature="predict")


def test_wrong_output_name_lists_close_matches(small_pb):
    with pytest.raises(NodeNotFoundError, match="Did you mean: 'logits_layer/BiasAdd'"):
        load(small_pb, outputs=["logits_layer/BiasAd"])
    with pytest.raises(NodeNotFoundError, match="input 'input' not found.*input_node"):
        load(small_pb, inputs=["input"])


def test_duplicate_names_and_dangling_input(small_frozen, tmp_path):
    from tensorflow.core.framework import graph_pb2

    dup = graph_pb2.GraphDef()
    dup.CopyFrom(small_frozen.graph_def)
    dup.node.add().CopyFrom(dup.node[3])
    with pytest.raises(GraphValidationError, match=f"duplicate node name '{dup.node[3].name}'"):
        load(dup)
    dangling = graph_pb2.GraphDef()
    dangling.CopyFrom(small_frozen.graph_def)
    node = next(n for n in dangling.node if n.name == "logits_layer/MatMul")
    node.input[0] = "flatt:0"
    with pytest.raises(GraphValidationError, match="input 'flatt:0' of node 'logits_layer/MatMul'.*flat"):
        load(dangling)


def test_unfrozen_graph_def_is_refused(small_graph):
    with pytest.raises(ModelLoadError, match="not frozen"):
        load(small_graph.as_graph_def())


def test_checkpoint_without_meta(tmp_path):
    (tmp_path / "model.ckpt.index").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="no 'model.ckpt.meta'"):
        load(tmp_path / "model.ckpt")


def test_unsupported_object():
    with pytest.raises(ModelLoadError, match="cannot load a model from builtins.int"):
        load(42)


def test_reloading_a_frozen_graph_with_names_given_as_strings(small_frozen):
    fg = load(small_frozen, inputs="input_node", outputs="logits_layer/BiasAdd")
    assert [s.name for s in fg.inputs] == ["input_node:0"]


def test_int64_is_not_narrowed_silently_to_int32():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="ids")])
    def plus_one(ids):
        return ids + 1

    fg = load(plus_one)
    assert fg.run(np.array([1, 2], np.int32))[0].tolist() == [2, 3]
    with pytest.raises(InputError, match="wants int32; received int64"):
        fg.run(np.array([2**40], np.int64))


def test_as_model_returns_a_model_unchanged_and_loads_a_path(small_frozen, small_pb):
    from pytest_tfperf.model import as_model, is_model

    assert is_model(small_frozen)
    assert as_model(small_frozen) is small_frozen
    loaded = as_model(small_pb)
    assert is_model(loaded) and loaded is not small_frozen and loaded.kind == "pb"
    assert (loaded.runtime, loaded.size_bytes) == ("tensorflow", loaded.graph_def.ByteSize())


def test_identity_tells_same_named_files_apart(small_frozen, tmp_path):
    a, b = tmp_path / "a" / "model.pb", tmp_path / "b" / "model.pb"
    for p in (a, b):
        p.parent.mkdir()
        small_frozen.save(p)
    fa, fb = load(str(a)), load(str(b))
    assert fa.name == fb.name == "model.pb"
    assert fa.identity != fb.identity
    assert fa.identity == str(a.resolve())
    named = load(str(a), outputs=["logits_layer/BiasAdd"])
    assert named.identity == str(a.resolve()) + "[logits_layer/BiasAdd:0]"


def test_runner_fresh_gives_the_same_outputs_as_run(small_frozen, image32):
    expected = small_frozen.run(image32)
    fresh = small_frozen.runner(image32, fresh=True)()
    shared = small_frozen.runner(image32)()
    assert len(fresh) == len(expected) == 1
    np.testing.assert_allclose(fresh[0], expected[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(shared[0], expected[0])
