"""Models with the properties users' models from the wild have (issue 20), built locally.

- `grouped_conv()`: Keras 3 `Conv2D(groups=8)`, which runs as an XLA-compiled tf.function;
- `custom_ops_tflite(path)`: a `.tflite` with 3 custom op types (4 nodes: BesselI0e twice,
  BesselI1e, Zeta), converted with `allow_custom_ops=True`: no interpreter here can run it;
- `flex_tflite(path)`: a `.tflite` with a Select TensorFlow op (FlexMatrixDeterminant), which
  needs the Flex delegate that neither LiteRT's nor tf.lite's Python interpreter here links.
The ConvNeXt-style model is in realworld.py (the zoo).
"""
from __future__ import annotations

import os

CUSTOM_OPS = ("BesselI0e", "BesselI1e", "Zeta")


def grouped_conv():
    """(keras.Model, one input batch): 32x32x8 -> Conv2D(8, 3, groups=8)."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    x = keras.Input((32, 32, 8), name="image")
    model = keras.Model(x, keras.layers.Conv2D(8, 3, groups=8, name="grouped")(x), name="grouped_conv")
    return model, np.random.default_rng(0).random((1, 32, 32, 8), dtype=np.float32)


def _convert(fn, path, *, custom: bool = False, flex: bool = False) -> str:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    if custom:
        converter.allow_custom_ops = True
    if flex:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                               tf.lite.OpsSet.SELECT_TF_OPS]
    content = converter.convert()
    with open(path, "wb") as f:
        f.write(content)
    return os.fspath(path)


def custom_ops_tflite(path) -> str:
    """Write the custom-op model to `path` (input x [1, 4] float32); returns the path."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def special(x):
        return tf.math.bessel_i1e(x) + tf.math.zeta(x + 1.0, x) + tf.math.bessel_i0e(x) \
            + tf.math.bessel_i0e(2.0 * x)

    return _convert(special, path, custom=True)


def flex_tflite(path) -> str:
    """Write the Flex-op model to `path` (input x [1, 2, 2] float32); returns the path."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 2, 2], tf.float32, name="x")])
    def determinant(x):
        return tf.linalg.det(x) + 1.0

    return _convert(determinant, path, flex=True)


def proposal_net():
    """(subclassed keras.Model, one input batch): an MTCNN P-Net-like any-size detector, built
    with `build(input_shape)` and given weights with `set_weights`, never called on data (what
    the mtcnn wheel does): no `inputs`, and PReLU alphas that reach their Mul negated."""
    import keras
    import numpy as np

    L = keras.layers

    class ProposalNet(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.conv1 = L.Conv2D(10, 3, name="conv1")
            self.prelu1 = L.PReLU(shared_axes=[1, 2], name="prelu1")
            self.pool = L.MaxPooling2D(2, padding="same", name="pool")
            self.conv2 = L.Conv2D(16, 3, name="conv2")
            self.prelu2 = L.PReLU(shared_axes=[1, 2], name="prelu2")
            self.box = L.Conv2D(4, 1, name="box")
            self.face = L.Conv2D(2, 1, activation="softmax", name="face")

        def build(self, input_shape=(None, None, None, 3)):
            shape = input_shape
            for layer in (self.conv1, self.prelu1, self.pool, self.conv2, self.prelu2):
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            self.box.build(shape)
            self.face.build(shape)
            self.built = True

        def call(self, x):
            x = self.prelu2(self.conv2(self.pool(self.prelu1(self.conv1(x)))))
            return self.box(x), self.face(x)

    keras.utils.set_random_seed(0)
    model = ProposalNet(name="proposal_net")
    model.build()
    rng = np.random.default_rng(0)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in model.get_weights()])
    return model, rng.random((1, 24, 32, 3), dtype=np.float32)
