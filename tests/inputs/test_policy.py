"""inputs.py, the one synthetic / sample input policy, and lookup-table models (issue 11 item 4).

Real TensorFlow throughout: Keras StringLookup / TextVectorization models, a `model.export()`
artifact, a `tf.saved_model.save` module with a `tf.lookup.StaticHashTable`, a TF1 graph with a
table, an Embedding model on integer tokens. Each frozen output is compared with the source's
own output, each weight count with the source's own count.
"""
from __future__ import annotations

import numpy as np
import pytest

import pytest_tfperf
from pytest_tfperf.inputs import policy as inputs
from pytest_tfperf.errors import InputError, ModelLoadError
from pytest_tfperf.inputs.described import describe

VOCAB = ["the", "cat", "sat", "on", "mat", "dog", "ran"]


# -- the policy, pure -------------------------------------------------------------------------


def test_unknown_dims_get_the_documented_defaults_and_are_recorded():
    assert inputs.choose_shape([None, None, None, 3]) == (
        (1, 224, 224, 3), {0: (1, "batch"), 1: (224, "H/W"), 2: (224, "H/W")})
    assert inputs.choose_shape([None, None, None, None])[0] == (1, 224, 224, 3)
    assert inputs.choose_shape([None, None]) == ((1, 16), {0: (1, "batch"), 1: (16, "sequence length")})
    assert inputs.choose_shape([None, 4, None]) == ((1, 4, 16), {0: (1, "batch"), 2: (16, "dim 2")})
    assert inputs.choose_shape([None, None, None, 7])[0] == (1, 16, 16, 7)  # 7 channels: not an image
    assert inputs.choose_shape([4, 32, 32, 3]) == ((4, 32, 32, 3), {})
    assert inputs.choose_shape([]) == ((), {})
    assert inputs.describe_guesses(inputs.choose_shape([None, None, None, 3])[1]) == [
        "dynamic H/W: pinned to 224"]
    with pytest.raises(InputError, match=r"input x of model m has unknown rank.*input_shapes"):
        inputs.choose_shape(None, name="x", model="m")


def test_synthetic_arrays_are_deterministic_and_in_range_per_dtype():
    def make(dtype, **kw):
        return inputs.synthetic_array((64, 8), dtype, **kw)

    floats = make("float32")
    assert floats.dtype == np.float32 and floats.min() >= 0.0 and floats.max() < 1.0
    np.testing.assert_array_equal(floats, make("float32"))  # same seed, same bytes
    ints = make("int64")
    assert ints.dtype == np.int64 and ints.min() == 1 and ints.max() == 9  # [1, 9]: no 0
    rows = make("int32", domain=inputs.ValueDomain(low=0, high=5))
    assert rows.min() == 0 and rows.max() == 4
    cast = make("float32", domain=inputs.ValueDomain(low=0, high=5))  # floats cast to indices
    assert set(np.unique(cast)) == {0.0, 1.0, 2.0, 3.0, 4.0}
    keyed = make("int64", domain=inputs.ValueDomain(choices=(3, 70, 900)))
    assert set(np.unique(keyed)) == {3, 70, 900}
    flags = make("bool")
    assert flags.dtype == bool and 0 < flags.mean() < 1
    words = make("string")
    assert words.dtype == object and {w.decode() for w in words.ravel()} <= set(inputs.WORDS)
    vocab = make("string", domain=inputs.ValueDomain(vocabulary=("", "[UNK]", "cat", "two words")))
    assert {w.decode() for w in vocab.ravel()} == {"[UNK]", "cat"}  # no empty or spaced keys
    sentences = inputs.synthetic_array((2,), "string", domain=inputs.ValueDomain(words_per_item=16))
    assert [len(s.split()) for s in sentences] == [16, 16]
    with pytest.raises(InputError, match="dtype resource"):
        inputs.synthetic_array((1,), "resource", name="h")


def test_describe_says_what_was_fed_and_which_dims_were_pinned():
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="image")
        scale = tf.compat.v1.placeholder(tf.float32, [None], name="scale")
        tf.identity(tf.reduce_mean(image, axis=[1, 2, 3]) * scale, name="out")
    fg = pytest_tfperf.load(graph, outputs=["out"])
    feed = inputs.sample_inputs(fg)
    assert {k: v.shape for k, v in feed.items()} == {"image:0": (1, 224, 224, 3), "scale:0": (1,)}
    assert feed.sources == {"image:0": "synthetic", "scale:0": "synthetic"}
    assert describe(feed) == ("image [1,224,224,3] float32 (synthetic; dynamic H/W: pinned to "
                              "224), scale [1] float32 (synthetic)")
    assert feed.notes == ("dynamic H/W: pinned to 224 of image",)
    one = np.zeros((1, 300, 300, 3), np.float32)
    assert describe(one) == "[1,300,300,3] float32"
    # arrays the caller built are the caller's choice: no dim is said to be pinned by tfperf
    assert describe({"image": one, "scale": np.ones(1, np.float32)}, model=fg) == (
        "image [1,300,300,3] float32, scale [1] float32")
    assert describe(np.asarray([b"a b"], dtype=object)) == "[1] string"
    again = inputs.sample_inputs(fg)
    assert all(np.array_equal(feed[k], again[k]) for k in feed)
    assert not np.array_equal(feed["image:0"], inputs.sample_inputs(fg, seed=1)["image:0"])
    copied = feed.copy()
    assert copied.sources == feed.sources and copied["scale:0"] is not feed["scale:0"]


# -- models with tokens and lookup tables -----------------------------------------------------


@pytest.fixture(scope="module")
def text_models(tmp_path_factory):
    """{name: (reference to load, source callable on a numpy batch, source parameter count)}."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    root = tmp_path_factory.mktemp("text")
    made = {}

    words = keras.Input((3,), dtype="string", name="words")
    x = keras.layers.StringLookup(vocabulary=VOCAB, name="lookup")(words)
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(len(VOCAB) + 1, 4)(x))
    lookup = keras.Model(words, keras.layers.Dense(2, name="predictions")(x))
    lookup.save(root / "lookup.keras")
    made["string_lookup_keras"] = (root / "lookup.keras", lambda a: lookup(tf.constant(a)),
                                   lookup.count_params())

    text = keras.Input((1,), dtype="string", name="text")
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=6, name="tv")
    vectorize.adapt(tf.constant(["the cat sat on the mat", "the dog ran"]))
    y = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 4)(vectorize(text)))
    tv = keras.Model(text, keras.layers.Dense(3)(y))
    tv.save(root / "tv.keras")
    made["text_vectorization_keras"] = (root / "tv.keras", lambda a: tv(tf.constant(a)), tv.count_params())
    tv.export(str(root / "tv_export"), verbose=False)
    exported = tf.saved_model.load(str(root / "tv_export"))
    made["keras_export"] = (root / "tv_export", lambda a: exported.serve(tf.constant(a)), tv.count_params())

    class Tagger(tf.Module):
        def __init__(self):
            init = tf.lookup.KeyValueTensorInitializer(tf.constant(VOCAB), tf.range(len(VOCAB), dtype=tf.int64))
            self.table = tf.lookup.StaticHashTable(init, default_value=-1)
            self.w = tf.Variable(tf.random.stateless_normal([len(VOCAB) + 1, 3], seed=[1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="s")])
        def __call__(self, s):
            return {"out": tf.gather(self.w, self.table.lookup(s) + 1)}

    tf.saved_model.save(Tagger(), str(root / "static_table"))
    module = tf.saved_model.load(str(root / "static_table"))
    made["static_hash_table_module"] = (root / "static_table", lambda a: module(tf.constant(a))["out"],
                                        (len(VOCAB) + 1) * 3)
    return made


@pytest.mark.parametrize("name", ["string_lookup_keras", "text_vectorization_keras", "keras_export",
                                  "static_hash_table_module"])
def test_lookup_table_models_load_run_and_match_the_source(text_models, name, tmp_path):
    from pytest_tfperf.analysis.flops.count import count_flops
    from pytest_tfperf.analysis.summary import summarize

    ref, source, source_params = text_models[name]
    fg = pytest_tfperf.load(ref)
    assert not [n.name for n in fg.graph_def.node if n.op == "Placeholder"
                and n.attr["dtype"].type == 20], "a table handle left as a resource placeholder"
    feed = inputs.sample_inputs(fg)
    (values,) = feed.values()
    words = {w for item in values.ravel() for w in item.decode().split()}
    assert words and words <= set(VOCAB)  # the table's own vocabulary, never a float
    got = fg.run(feed)[0]
    np.testing.assert_array_equal(got, np.asarray(source(values)))  # exactly the source's output
    assert summarize(fg).weight_params == source_params  # Keras count_params() / the variables
    flops = count_flops(fg)
    assert flops.unresolved == {} and flops.total > 0
    optimized = pytest_tfperf.optimize(fg)  # proves equivalence on sample + random sets itself
    np.testing.assert_array_equal(optimized.run(feed)[0], got)
    again = pytest_tfperf.load(fg.save(tmp_path / "frozen.pb"))  # tables travel in the .pb
    np.testing.assert_array_equal(again.run(feed)[0], got)
    np.testing.assert_array_equal(fg.runner(feed, fresh=True)()[0], got)  # a new session fills too


def test_token_ids_stay_below_the_embedding_rows():
    import keras
    import tensorflow as tf

    from pytest_tfperf.analysis.flops.count import count_flops

    tokens = keras.Input((16,), dtype="int32", name="tokens")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(5, 4)(tokens))
    model = keras.Model(tokens, keras.layers.Dense(2)(x))
    fg = pytest_tfperf.load(model)
    assert inputs.value_domain(fg.graph_def, "tokens:0").high == 5
    feed = inputs.sample_inputs(fg)
    ids = feed["tokens:0"]
    assert ids.shape == (1, 16) and ids.min() >= 0 and ids.max() <= 4 and len(np.unique(ids)) > 1
    np.testing.assert_allclose(fg.run(feed)[0], model(tf.constant(ids)).numpy(), rtol=1e-6)
    assert count_flops(fg).by_op_type["MatMul"] == 2 * 4 * 2
    from pytest_tfperf.equivalence import make_input_sets

    sets = make_input_sets(fg, None, n_random=2, seed=4)
    assert all(s["tokens:0"].max() <= 4 for _, s in sets)  # random sets keep the valid range


def test_tf1_graph_with_a_table_keeps_its_initializer():
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        init = tf.lookup.KeyValueTensorInitializer(["a", "b", "c"], [0, 1, 2], tf.string, tf.int64)
        table = tf.lookup.StaticHashTable(init, -1)
        words = tf.compat.v1.placeholder(tf.string, [None], name="words")
        emb = tf.compat.v1.get_variable("emb", initializer=tf.constant([[1.0], [2.0], [3.0], [4.0]]))
        tf.identity(tf.gather(emb, table.lookup(words) + 1), name="out")
    fg = pytest_tfperf.load(graph, outputs=["out"])
    assert fg.run({"words": np.asarray([b"c", b"zz", b"a"], dtype=object)})[0].ravel().tolist() == [4.0, 1.0, 2.0]
    assert {w.decode() for w in inputs.sample_inputs(fg)["words:0"]} <= {"a", "b", "c"}


def test_a_captured_resource_that_is_no_table_is_a_clear_error():
    import tensorflow as tf

    queue = tf.queue.FIFOQueue(4, tf.float32, shapes=[[]])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def scaled(x):
        return x * tf.cast(queue.size(), tf.float32)

    with pytest.raises(ModelLoadError, match=r"captures resource .*QueueSizeV2.*neither a variable "
                                             r"nor a lookup table.*tfperf.measure\(fn, inputs\)"):
        pytest_tfperf.load(scaled)


def test_a_dense_hash_table_is_a_clear_error_and_a_mutable_one_freezes():
    import tensorflow as tf

    dense = tf.lookup.experimental.DenseHashTable(tf.int64, tf.float32, default_value=-1.0,
                                                  empty_key=-1, deleted_key=-2)
    dense.insert(tf.constant([3, 5], tf.int64), tf.constant([0.5, 1.5]))
    mutable = tf.lookup.experimental.MutableHashTable(tf.int64, tf.float32, default_value=-1.0)
    mutable.insert(tf.constant([3, 5], tf.int64), tf.constant([0.5, 1.5]))
    spec = [tf.TensorSpec([None], tf.int64, name="k")]
    with pytest.raises(ModelLoadError, match=r"is a dense hash table .*StaticHashTable or MutableHashTable"):
        pytest_tfperf.load(tf.function(dense.lookup, input_signature=spec))
    fg = pytest_tfperf.load(tf.function(mutable.lookup, input_signature=spec))
    keys = inputs.sample_inputs(fg)["k:0"]
    assert set(keys.tolist()) <= {3, 5}  # the table's own keys
    assert fg.run({"k": np.asarray([5, 3, 9])})[0].tolist() == [1.5, 0.5, -1.0]
