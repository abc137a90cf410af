"""Build the example project's models into a cache directory (once; later runs reuse it).

What a team would have in its model repository, made from code instead of downloads:
- `alexnet.ckpt*` + `alexnet.pb`: seed 000's AlexNet (224x224x3, 1000 classes) as a TF1
  checkpoint, frozen as seed 001 does (`convert_variables_to_constants` from `logits_layer`).
- `vgg16.pb`: seed 000's VGG16 (13 conv layers) at 64x64 input with 1024-unit dense layers
  instead of 4096 (the run fits a 4 GB laptop): 3.5x fewer weights than AlexNet-224 but more
  FLOPs, so the weight count alone does not predict the latency.
- `facenet.ckpt*`, `facenet.pb`, `facenet_opt.pb`: a small TF1 conv net with FusedBatchNorm and
  seed 001's `training` flag, 128x128 input; `facenet_opt.pb` from `tfperf optimize`.
- `xception_mini.keras`, `xception_mini_savedmodel/`, `xception_mini.pb`, `xception_mini_opt.pb`:
  seed 002's kind of model (Keras 3, separable convs + BatchNorm) at 128x128.

Run by hand: `python -m models.build CACHE_DIR` from example_project/.
"""
from __future__ import annotations

import gc
import os
import sys

from filelock import FileLock

VERSION = "3"  # bump to rebuild every cache


def xception_mini(input_size: int = 128, num_classes: int = 10):
    """A small Xception-style Keras 3 model: entry conv, separable-conv + BatchNorm blocks."""
    import keras

    keras.utils.set_random_seed(2)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="entry_conv")(inputs)
    x = keras.layers.BatchNormalization(name="entry_bn")(x)
    x = keras.layers.ReLU(name="entry_relu")(x)
    for i, filters in enumerate((64, 128, 256), start=1):
        shortcut = keras.layers.Conv2D(filters, 1, strides=2, use_bias=False, name=f"block{i}_proj")(x)
        shortcut = keras.layers.BatchNormalization(name=f"block{i}_proj_bn")(shortcut)
        x = keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{i}_sep1")(x)
        x = keras.layers.BatchNormalization(name=f"block{i}_bn1")(x)
        x = keras.layers.ReLU(name=f"block{i}_relu")(x)
        x = keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{i}_sep2")(x)
        x = keras.layers.BatchNormalization(name=f"block{i}_bn2")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{i}_pool")(x)
        x = keras.layers.Add(name=f"block{i}_add")([x, shortcut])
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="xception_mini")
    _randomize_batch_norm(model)
    return model


def _randomize_batch_norm(model) -> None:
    """Give BatchNorm layers trained-looking statistics, so folding them is a real test."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                               rng.normal(0, 0.1, beta.shape).astype("float32"),
                               rng.normal(0, 0.1, mean.shape).astype("float32"),
                               rng.uniform(0.5, 1.5, var.shape).astype("float32")])


def build_all(cache: str) -> str:
    """Build every model into `cache` unless it is already there; safe under `pytest -n N`."""
    os.makedirs(cache, exist_ok=True)
    stamp = os.path.join(cache, f"built-v{VERSION}")
    with FileLock(os.path.join(cache, ".build.lock")):
        if os.path.exists(stamp):
            return cache
        _build(cache)
        with open(stamp, "w") as f:
            f.write("ok\n")
        gc.collect()  # the build's graphs and sessions are reference cycles: free them before the tests
    return cache


def _build(cache: str) -> None:
    from pytest_tfperf import load, optimize
    from pytest_tfperf.model import zoo

    def path(name):
        return os.path.join(cache, name)

    # seed 000 + 001: AlexNet as a TF1 checkpoint, frozen like seed 001
    prefix = zoo.save_checkpoint(zoo.alexnet_graph(input_size=224), cache, "alexnet.ckpt")
    load(prefix, outputs=["logits_layer/BiasAdd"]).save(path("alexnet.pb"))
    load(zoo.vgg16_graph(input_size=64, dense_units=1024),
         outputs=["logits_layer/BiasAdd"]).save(path("vgg16.pb"))

    # seed 001's rule 2: a net with FusedBatchNorm and a `training` flag, before/after optimization
    face = zoo.small_convnet_graph(input_size=128, channels=(16, 32, 64), num_classes=128,
                                   fused_batch_norm=True, training_flag=True, seed=1)
    prefix = zoo.save_checkpoint(face, cache, "facenet.ckpt")
    facenet = load(prefix, outputs=["logits_layer/BiasAdd"])
    facenet.save(path("facenet.pb"))
    optimize(facenet).save(path("facenet_opt.pb"))

    # seed 002: a Keras model with BatchNorm -> frozen graph -> optimized graph
    model = xception_mini()
    model.save(path("xception_mini.keras"))
    model.export(path("xception_mini_savedmodel"), verbose=False)
    frozen = load(path("xception_mini.keras"))
    frozen.save(path("xception_mini.pb"))
    optimize(frozen).save(path("xception_mini_opt.pb"))


if __name__ == "__main__":
    print(build_all(sys.argv[1] if len(sys.argv) > 1 else ".model_cache"))
