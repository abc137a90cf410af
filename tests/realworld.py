"""The real-world zoo: models users have, built locally with real TensorFlow/Keras (weights=None).

Each builder returns a `ZooModel`: the model loaded the way a user would load it, one valid batch
of inputs, the *source's* own outputs on them (`model(x)` / the SavedModel signature) and the
source's own parameter count (`count_params()`, the module's variables), plus the matmul/conv
FLOPs from a hand formula over the source's layer configs — every expected value comes from the
source framework or a formula, never from the plugin under test.

Models are built lazily, once per process (`get(key)`), at small input sizes (32 px) so CI stays
fast; the session fixture `zoo` in test_zoo*.py hands out this cache. In-process pytester runs
reuse it too (`realworld.get` from the inner test file).
"""
from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
from typing import Any, Callable

import numpy as np

IMAGE = 32          # input side of every image model: small, CI stays fast
TOKENS, VOCAB, WIDTH, HEADS, KEY_DIM, FFN = 16, 1000, 32, 2, 16, 64
WORDS = ["the", "cat", "sat", "on", "mat", "dog"]


@dataclasses.dataclass
class ZooModel:
    """One zoo entry: the loaded model and the source's own facts about it."""

    key: str
    model: Any                            # the loaded FrozenGraph (as `pytest_tfperf.load` gives it)
    inputs: Any                           # one valid batch (batch 1) in model.inputs order
    expected: list                        # the source's outputs on `inputs`
    source_params: int                    # the source's own count (count_params / module variables)
    matmul_conv_flops: int | None         # hand formula: 2 x MACs of conv/dense/attention/loop
    source: Any = None                    # the Keras model / tf.Module / path it came from
    unread: tuple = ()                    # names of source variables inference never reads
    graph_missing: int = 0                # source_params - the frozen graph's weights (why: below)
    source_trainable: int | None = None   # the source's trainable count


# --- hand FLOP formulas (2 x multiply-accumulates) -------------------------------------------

def _prod(dims) -> int:
    return int(np.prod([int(d) for d in dims], dtype=np.int64))


def keras_matmul_conv_flops(model) -> int:
    """2 x MACs of every Conv2D / DepthwiseConv2D / Dense / MultiHeadAttention, from layer configs.

    Conv2D: H_out W_out C_out Kh Kw C_in/groups; DepthwiseConv2D: H_out W_out C_in M Kh Kw;
    Dense: positions x in x units; MultiHeadAttention (T tokens, d model width, h heads, k key
    dim): Q/K/V projections 3 T d h k, scores and context 2 h T T k, output projection T h k d.
    None when a spatial dim is unknown (dynamic H/W: no static count).
    """
    import keras

    if any(d is None for t in model.inputs for d in t.shape[1:]):
        return None

    macs = 0
    for layer in _leaf_layers(model):
        cfg = layer.get_config()
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            out = layer.output.shape
            macs += _prod(out[1:3]) * int(layer.input.shape[-1]) * cfg["depth_multiplier"] * \
                _prod(cfg["kernel_size"])
        elif isinstance(layer, keras.layers.Conv2D):
            out = layer.output.shape
            macs += _prod(out[1:3]) * cfg["filters"] * _prod(cfg["kernel_size"]) * \
                int(layer.input.shape[-1]) // cfg.get("groups", 1)
        elif isinstance(layer, keras.layers.Dense):
            shape = layer.input.shape
            macs += _prod(shape[1:-1]) * int(shape[-1]) * cfg["units"]
        elif isinstance(layer, keras.layers.MultiHeadAttention):
            tokens, d = int(layer.input[0].shape[1]), int(layer.input[0].shape[2])
            h, k = cfg["num_heads"], cfg["key_dim"]
            macs += 3 * tokens * d * h * k + 2 * h * tokens * tokens * k + tokens * h * k * d
    return 2 * macs


def _leaf_layers(model):
    """The layers of `model`, those of nested models (a ConvNeXt stem is a Sequential) included."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


# --- builders ---------------------------------------------------------------------------------

def _rng(seed: int = 0):
    return np.random.default_rng(seed)


def _image(batch: int = 1, size: int = IMAGE, seed: int = 1):
    return _rng(seed).random((batch, size, size, 3), dtype=np.float32)


def _keras(key: str, model, inputs, **load_kwargs) -> ZooModel:
    from pytest_tfperf import load

    expected = model(inputs, training=False)
    expected = [np.asarray(e) for e in (expected if isinstance(expected, (list, tuple)) else [expected])]
    return ZooModel(key, load(model, **load_kwargs), inputs, expected, model.count_params(),
                    keras_matmul_conv_flops(model), source=model,
                    source_trainable=_trainable(model.trainable_weights))


def _trainable(variables) -> int:
    return sum(_prod(v.shape) for v in variables)


def _informative(model) -> None:
    """Give a random-init application outputs that depend on its input, as a trained one's do.

    With weights=None at 32 px the signal dies on the way (MobileNetV2's features ~1e-11: every
    input gives the same softmax, 0.1 each) or saturates (EfficientNetB0: max 1.0 on every
    input), so an equivalence check on them proves nothing (and tfperf now refuses it). So: set
    every BatchNormalization's statistics to those of a batch (what training converges to) and
    scale the classifier so its logits have unit spread."""
    import keras
    import numpy as np

    x = np.random.default_rng(1).random((8, IMAGE, IMAGE, 3), dtype=np.float32)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0  # the next training call sets the moving statistics to the batch's
    model(x, training=True)
    for layer in norms:
        layer.momentum = 0.99
    # the classifier: a Dense (softmax inside it), or MobileNetV3's 1x1 Conv2D
    head = [layer for layer in model.layers
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))][-1]
    kernel = head.kernel.numpy()
    features = keras.Model(model.input, head.input)(x).numpy()
    logits = features.reshape(-1, kernel.shape[-2]) @ kernel.reshape(-1, kernel.shape[-1])
    head.kernel.assign(kernel / max(float(logits.std()), 1e-6))


def _application(key: str, name: str, **kwargs) -> ZooModel:
    import keras

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(input_shape=(IMAGE, IMAGE, 3), weights=None,
                                              classes=10, **kwargs)
    _informative(model)
    entry = _keras(key, model, _image())
    if name.startswith("EfficientNet"):
        # its Normalization layer's mean and variance reach the serving function as constants
        # (still weights: 3 + 3); the sample `count` is never used, so it is the one missing
        # (named after the layer: "normalization_2" when the process built two before it)
        norm = next(layer for layer in model.layers
                    if isinstance(layer, keras.layers.Normalization))
        entry.unread = tuple(f"{norm.name}/{v}" for v in ("mean", "variance", "count"))
        entry.graph_missing = 1
    return entry


class TokenAndPosition:  # a factory, so importing this module does not import Keras
    @staticmethod
    def layer():
        import keras

        class TokenAndPositionEmbedding(keras.layers.Layer):
            """Token embedding + learned position embedding (both tables read by Gather)."""

            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.tokens = keras.layers.Embedding(VOCAB, WIDTH, name="tok_emb")
                self.positions = keras.layers.Embedding(TOKENS, WIDTH, name="pos_emb")

            def call(self, ids):
                return self.tokens(ids) + self.positions(keras.ops.arange(keras.ops.shape(ids)[1]))

        return TokenAndPositionEmbedding(name="embed")


def transformer() -> ZooModel:
    """Integer tokens -> token+position Embedding -> MultiHeadAttention block -> pooled logits."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    ids = keras.Input((TOKENS,), dtype="int32", name="tokens")
    x = TokenAndPosition.layer()(ids)
    attn = L.MultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM, name="mha")(x, x)
    x = L.LayerNormalization(name="ln1")(x + attn)
    ffn = L.Dense(WIDTH, name="ffn2")(L.Dense(FFN, activation="relu", name="ffn1")(x))
    x = L.LayerNormalization(name="ln2")(x + ffn)
    logits = L.Dense(4, name="logits")(L.GlobalAveragePooling1D(name="pool")(x))
    model = keras.Model(ids, logits, name="transformer")
    tokens = _rng(2).integers(0, VOCAB, (1, TOKENS)).astype(np.int32)
    return _keras("transformer", model, tokens)


class ConvNeXtStyle:  # a factory, so importing this module does not import Keras
    """ConvNeXt's pieces as keras.applications.ConvNeXt builds them, at a small size."""

    @staticmethod
    def layer_scale(dim: int, name: str):
        import keras

        class LayerScale(keras.layers.Layer):
            """x * gamma, one learned scale per channel (ConvNeXt's layer scale)."""

            def build(self, input_shape):
                self.gamma = self.add_weight(shape=(dim,), initializer=keras.initializers.Constant(0.5),
                                             name="gamma")

            def call(self, x):
                return x * self.gamma

        return LayerScale(name=name)

    @staticmethod
    def block(x, dim: int, name: str):
        """Depthwise 7x7 as a grouped Conv2D (Keras 3 compiles it with XLA), LayerNorm, pointwise
        MLP (Dense 4x, GELU, Dense), layer scale, residual."""
        import keras

        L = keras.layers
        y = L.Conv2D(dim, 7, padding="same", groups=dim, name=f"{name}_depthwise")(x)
        y = L.LayerNormalization(epsilon=1e-6, name=f"{name}_ln")(y)
        y = L.Dense(4 * dim, activation="gelu", name=f"{name}_pw1")(y)
        y = L.Dense(dim, name=f"{name}_pw2")(y)
        y = ConvNeXtStyle.layer_scale(dim, f"{name}_scale")(y)
        return L.Add(name=f"{name}_add")([x, y])


def convnext() -> ZooModel:
    """ConvNeXt-style: patchify stem (a nested Sequential, as keras.applications builds it), two
    blocks, a downsampling Sequential, one block, pooled LayerNorm head. ConvNeXtTiny itself
    takes ~26 s and 2.4 GB to build and freeze: too much for every CI run."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    image = keras.Input((IMAGE, IMAGE, 3), name="image")
    x = keras.Sequential([L.Conv2D(16, 4, strides=4, name="stem_conv"),
                          L.LayerNormalization(epsilon=1e-6, name="stem_ln")], name="stem")(image)
    x = ConvNeXtStyle.block(x, 16, "s0b0")
    x = ConvNeXtStyle.block(x, 16, "s0b1")
    x = keras.Sequential([L.LayerNormalization(epsilon=1e-6, name="down_ln"),
                          L.Conv2D(32, 2, strides=2, name="down_conv")], name="down")(x)
    x = ConvNeXtStyle.block(x, 32, "s1b0")
    x = L.LayerNormalization(epsilon=1e-6, name="head_ln")(L.GlobalAveragePooling2D(name="pool")(x))
    model = keras.Model(image, L.Dense(10, name="logits")(x), name="convnext_style")
    return _keras("convnext", model, _image())


def _words():
    return np.array([["the", "cat", "sat", "zebra"]], dtype=object)


def string_lookup() -> ZooModel:
    """String words -> StringLookup (a tf.lookup table) -> Embedding -> pooled logits."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    words = keras.Input((4,), dtype="string", name="words")
    ids = L.StringLookup(vocabulary=WORDS, name="lookup")(words)
    x = L.GlobalAveragePooling1D(name="pool")(L.Embedding(len(WORDS) + 1, 4, name="emb")(ids))
    model = keras.Model(words, L.Dense(2, name="logits")(x), name="string_lookup")
    entry = _keras("string_lookup", model, _words().astype(str))
    entry.inputs = _words()
    return entry


def string_export() -> ZooModel:
    """`model.export()` of the StringLookup model: a SavedModel holding a lookup table."""
    import tensorflow as tf

    from pytest_tfperf import load

    model = get("string_lookup").source
    path = os.path.join(_workdir(), "string_export")
    model.export(path, verbose=False)
    exported = tf.saved_model.load(path)  # held: its function needs the loaded table
    expected = [np.asarray(exported.serve(tf.constant(_words().astype(str))))]
    return ZooModel("string_export", load(path), _words(), expected, model.count_params(),
                    2 * 4 * 2, source=path, source_trainable=_trainable(model.trainable_weights))


def text_vectorization() -> ZooModel:
    """Raw text -> TextVectorization (standardize, split, lookup, pad) -> Embedding -> logits."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    text = keras.Input((1,), dtype="string", name="text")
    vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=6, vocabulary=WORDS,
                                    name="vectorize")
    x = L.GlobalAveragePooling1D(name="pool")(L.Embedding(20, 4, name="emb")(vectorize(text)))
    model = keras.Model(text, L.Dense(2, name="logits")(x), name="text_vectorization")
    sentence = np.array([["The cat sat on the Zebra"]], dtype=object)
    entry = _keras("text_vectorization", model, sentence.astype(str))
    entry.inputs = sentence
    return entry


def two_inputs() -> ZooModel:
    """An image and a scalar: Conv -> pooled features, concatenated with the scalar -> Dense."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    image = keras.Input((IMAGE, IMAGE, 3), name="image")
    scalar = keras.Input((1,), name="scalar")
    x = L.GlobalAveragePooling2D(name="pool")(L.Conv2D(8, 3, activation="relu", name="conv")(image))
    out = L.Dense(3, name="head")(L.Concatenate(name="concat")([x, scalar]))
    model = keras.Model([image, scalar], out, name="two_inputs")
    return _keras("two_inputs", model, [_image(), np.array([[0.5]], np.float32)])


def _dynamic_model():
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    image = keras.Input((None, None, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv")(image)
    out = L.Dense(5, name="head")(L.GlobalAveragePooling2D(name="pool")(x))
    return keras.Model(image, out, name="dynamic")


def dynamic() -> ZooModel:
    """Dynamic batch, height and width, loaded as is (no shapes pinned)."""
    model = _dynamic_model()
    entry = _keras("dynamic", model, _image())
    entry.matmul_conv_flops = 2 * (IMAGE * IMAGE * 8 * 3 * 3 * 3 + 8 * 5)  # at 32x32 (no static H/W)
    return entry


def dynamic_pinned() -> ZooModel:
    """The dynamic model with input_shapes=[[1, 32, 32, 3]] pinned at load."""
    entry = dynamic()
    from pytest_tfperf import load

    entry.key = "dynamic_pinned"
    entry.model = load(entry.source, input_shapes=[[1, IMAGE, IMAGE, 3]])
    return entry


class _TwoSignatures:
    @staticmethod
    def module():
        import tensorflow as tf

        class Scorer(tf.Module):
            """A linear model with two signatures; `score` also reads a non-trainable `scale`."""

            def __init__(self):
                super().__init__(name="scorer")
                rng = _rng(3)
                self.w = tf.Variable(rng.normal(0, 0.5, (8, 4)).astype("float32"), name="w")
                self.b = tf.Variable(rng.normal(0, 0.1, (4,)).astype("float32"), name="b")
                self.scale = tf.Variable(rng.uniform(0.5, 1.5, (4,)).astype("float32"),
                                         trainable=False, name="scale")

            @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
            def predict(self, x):
                return {"y": tf.matmul(x, self.w) + self.b}

            @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
            def score(self, x):
                return {"score": tf.reduce_sum((tf.matmul(x, self.w) + self.b) * self.scale, axis=1)}

        return Scorer()


@functools.lru_cache(maxsize=None)
def _saved_module() -> tuple[Any, str]:
    import tensorflow as tf

    module = _TwoSignatures.module()
    path = os.path.join(_workdir(), "two_signatures")
    tf.saved_model.save(module, path, signatures={"serving_default": module.predict,
                                                  "score": module.score})
    return module, path


def _module_params(module) -> int:
    return sum(_prod(v.shape) for v in module.variables)


def saved_module(signature: str = "serving_default") -> ZooModel:
    """`tf.saved_model.save` of a tf.Module with two signatures, loaded by signature."""
    from pytest_tfperf import load

    module, path = _saved_module()
    x = _rng(4).random((1, 8), dtype=np.float32)
    fn = module.predict if signature == "serving_default" else module.score
    expected = [np.asarray(v) for v in fn(x).values()]
    unread = ("scale",) if signature == "serving_default" else ()  # only `score` reads it
    key = "saved_module" if signature == "serving_default" else "saved_module_score"
    return ZooModel(key, load(path, signature=signature), x, expected, _module_params(module),
                    2 * 8 * 4, source=path, unread=unread, graph_missing=4 * len(unread),
                    source_trainable=_trainable(module.trainable_variables))


def keras_export() -> ZooModel:
    """`model.export()` of a Keras CNN with an adapted Normalization layer and BatchNormalization."""
    import keras
    import tensorflow as tf

    from pytest_tfperf import load

    L = keras.layers
    keras.utils.set_random_seed(0)
    norm = L.Normalization(name="norm")
    norm.adapt(_image(8, 16, seed=5))
    model = keras.Sequential([keras.Input((16, 16, 3), name="image"), norm,
                              L.Conv2D(4, 3, name="conv"), L.BatchNormalization(name="bn"),
                              L.ReLU(name="relu"), L.Flatten(name="flat"), L.Dense(3, name="head")],
                             name="exported")
    path = os.path.join(_workdir(), "keras_export")
    model.export(path, verbose=False)
    x = _image(1, 16, seed=6)
    exported = tf.saved_model.load(path)  # held: its function needs the loaded variables
    expected = [np.asarray(exported.serve(x))]
    # adapt() bakes the mean and variance into the serving function as constants (still
    # weights: 3 + 3), so of the three Normalization variables only `count` is missing
    return ZooModel("keras_export", load(path), x, expected, model.count_params(),
                    keras_matmul_conv_flops(model), source=path,
                    unread=("norm/mean", "norm/variance", "norm/count"), graph_missing=1,
                    source_trainable=_trainable(model.trainable_weights))


LOOP_STEPS, LOOP_WIDTH = 5, 6


def loop_module() -> ZooModel:
    """tf.while_loop (5 steps of tanh(h @ W)) then tf.cond (h @ V, or 2 h @ V), saved as a SavedModel."""
    import tensorflow as tf

    from pytest_tfperf import load

    class Loop(tf.Module):
        def __init__(self):
            super().__init__(name="loop")
            rng = _rng(7)
            self.w = tf.Variable(rng.normal(0, 0.4, (LOOP_WIDTH, LOOP_WIDTH)).astype("float32"), name="w")
            self.v = tf.Variable(rng.normal(0, 0.4, (LOOP_WIDTH, 3)).astype("float32"), name="v")

        @tf.function(input_signature=[tf.TensorSpec([1, LOOP_WIDTH], tf.float32, name="x")])
        def __call__(self, x):
            _, h = tf.while_loop(lambda i, h: i < LOOP_STEPS,
                                 lambda i, h: (i + 1, tf.tanh(tf.matmul(h, self.w))), (0, x))
            y = tf.cond(tf.reduce_sum(h) > 0, lambda: tf.matmul(h, self.v),
                        lambda: 2.0 * tf.matmul(h, self.v))
            return {"y": y}

    module = Loop()
    path = os.path.join(_workdir(), "loop")
    tf.saved_model.save(module, path, signatures=module.__call__)
    x = _rng(8).random((1, LOOP_WIDTH), dtype=np.float32)
    expected = [np.asarray(module(x)["y"])]
    # the loop's MatMul runs LOOP_STEPS times; exactly one cond branch's MatMul runs
    flops = 2 * (LOOP_STEPS * LOOP_WIDTH * LOOP_WIDTH + LOOP_WIDTH * 3)
    return ZooModel("loop", load(path), x, expected, _module_params(module), flops, source=path,
                    source_trainable=_trainable(module.trainable_variables))


def checkpoint() -> ZooModel:
    """A TF1 *training* checkpoint (Adam slots, global_step) of seed 001's small convnet."""
    import tensorflow as tf

    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    v1 = tf.compat.v1
    graph = zoo.small_convnet_graph(fused_batch_norm=True)
    with graph.as_default():
        logits = graph.get_tensor_by_name("logits_layer/BiasAdd:0")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        v1.train.AdamOptimizer(1e-3).minimize(loss, global_step=v1.train.get_or_create_global_step())
    prefix = zoo.save_checkpoint(graph, os.path.join(_workdir(), "ckpt"))
    x = _image()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        v1.train.Saver().restore(sess, prefix)
        expected = [sess.run(logits, {"input_node:0": x})]
    # conv 3x3x3->8 + bn(8: gamma, beta, mean, var), conv 3x3x8->16 + bn(16), dense 8*8*16 -> 10
    params = (27 * 8 + 8) + 4 * 8 + (72 * 16 + 16) + 4 * 16 + (8 * 8 * 16 * 10 + 10)
    flops = 2 * (IMAGE * IMAGE * 8 * 27 + 16 * 16 * 16 * 72 + 8 * 8 * 16 * 10)
    return ZooModel("checkpoint", load(prefix, outputs=["logits_layer/BiasAdd"]), x, expected,
                    params, flops, source=prefix, source_trainable=params - 2 * (8 + 16))


@functools.lru_cache(maxsize=1)
def _workdir() -> str:
    return tempfile.mkdtemp(prefix="tfperf_zoo_")


BUILDERS: dict[str, Callable[[], ZooModel]] = {
    "mobilenet_v2": lambda: _application("mobilenet_v2", "MobileNetV2", alpha=0.35),
    "resnet50": lambda: _application("resnet50", "ResNet50"),
    "efficientnet_b0": lambda: _application("efficientnet_b0", "EfficientNetB0"),
    "mobilenet_v3_small": lambda: _application("mobilenet_v3_small", "MobileNetV3Small", alpha=0.75),
    "convnext": convnext,
    "transformer": transformer,
    "string_lookup": string_lookup,
    "string_export": string_export,
    "text_vectorization": text_vectorization,
    "two_inputs": two_inputs,
    "dynamic": dynamic,
    "dynamic_pinned": dynamic_pinned,
    "saved_module": saved_module,
    "saved_module_score": lambda: saved_module("score"),
    "keras_export": keras_export,
    "loop": loop_module,
    "checkpoint": checkpoint,
}
KEYS = tuple(BUILDERS)


@functools.lru_cache(maxsize=None)
def get(key: str) -> ZooModel:
    """The zoo entry `key`, built once per process."""
    return BUILDERS[key]()
