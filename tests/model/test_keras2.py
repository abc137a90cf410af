"""Keras 2 (`tf_keras`, what `TF_USE_LEGACY_KERAS=1` selects): in-memory models load, freeze and
time as graphs; SavedModels it wrote with optimizer state load without tf_keras (TensorFlow's v1
loader) (issue 20, items 3 and 7). The tests build with tf_keras (`./dev.sh` installs
`tf-keras` matching TensorFlow, without its dependency on the full `tensorflow` wheel)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# tf_keras 2.16's set_random_seed calls random.randint with a float
pytestmark = pytest.mark.filterwarnings("ignore:non-integer arguments to randrange:DeprecationWarning")
tf_keras = pytest.importorskip("tf_keras", reason="tf-keras is not installed (./dev.sh installs it)")


@pytest.fixture(scope="module")
def k2_model():
    tf_keras.utils.set_random_seed(0)
    x = tf_keras.Input((8, 8, 3), name="image")
    y = tf_keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    y = tf_keras.layers.BatchNormalization(name="bn")(y)
    y = tf_keras.layers.GlobalAveragePooling2D(name="gap")(y)
    return tf_keras.Model(x, tf_keras.layers.Dense(3, activation="softmax", name="probs")(y))


@pytest.fixture(scope="module")
def k2_image():
    return np.random.default_rng(1).random((1, 8, 8, 3), dtype=np.float32)


def test_keras2_model_object_loads_frozen_with_its_counts(k2_model, k2_image):
    from pytest_tfperf import load

    fg = load(k2_model)
    assert fg.kind == "keras_model"
    assert [s.name for s in fg.outputs] == ["probs:0"]
    assert fg.trainable_params + fg.non_trainable_params == k2_model.count_params()
    assert fg.non_trainable_params == 8  # BatchNormalization's moving mean and variance
    assert not any(n.op in ("VarHandleOp", "ReadVariableOp") for n in fg.graph_def.node)
    np.testing.assert_allclose(fg.run(k2_image)[0], k2_model.predict(k2_image, verbose=0), atol=1e-6)
    sub = load(k2_model, outputs=["gap"])  # a layer's name: a tf_keras sub-model
    assert [s.name for s in sub.outputs] == ["gap:0"] and sub.outputs[0].shape == (None, 4)


def test_keras2_model_compares_and_is_timed_as_a_graph(k2_model, k2_image):
    from pytest_tfperf import assert_equivalent, load, measure

    assert assert_equivalent(k2_model, load(k2_model), k2_image).passed
    graph = measure(load(k2_model), k2_image, min_time=0.05, max_time=0.2, warmup=2)
    assert graph.runtime.startswith("tensorflow ")
    eager = measure(k2_model, k2_image, min_time=0.05, max_time=0.2, warmup=2)
    assert eager.runtime == f"tf_keras {tf_keras.__version__} (tensorflow {__import__('tensorflow').__version__})"


@pytest.fixture(scope="module")
def k2_saved(tmp_path_factory, k2_image):
    """A SavedModel written by tf_keras with (legacy) Adam state: its slot variables are what
    TensorFlow 2's loader revives through `add_slot`."""
    tf_keras.utils.set_random_seed(0)
    x = tf_keras.Input((8, 8, 3), name="image")
    y = tf_keras.layers.GlobalAveragePooling2D()(tf_keras.layers.Conv2D(4, 3, name="conv")(x))
    model = tf_keras.Model(x, tf_keras.layers.Dense(3, activation="softmax", name="probs")(y))
    model.compile(optimizer=tf_keras.optimizers.legacy.Adam(), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((4, 8, 8, 3), dtype=np.float32), np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("k2saved") / "model"
    model.save(str(path), save_format="tf")
    return path, model.predict(k2_image, verbose=0)


def test_keras2_savedmodel_loads_without_tf_keras_by_the_v1_loader(k2_saved, k2_image, tmp_path):
    """In a process where tf_keras cannot be imported (as where it is not installed), TF 2's
    loader fails on the optimizer (`add_slot`); tfperf's load falls back and gives the same
    outputs, named by the signature's keys."""
    path, want = k2_saved
    np.save(tmp_path / "image.npy", k2_image)
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["tf_keras"] = None  # import tf_keras -> ImportError
        import numpy as np, tensorflow as tf
        try:
            tf.saved_model.load({str(path)!r})
            tf2 = "loaded"
        except AttributeError as exc:
            tf2 = str(exc)
        from pytest_tfperf import load
        fg = load({str(path)!r})
        out = fg.run(np.load({str(tmp_path / 'image.npy')!r}))[0]
        print(json.dumps({{"tf2": tf2, "inputs": [s.name for s in fg.inputs],
                          "outputs": [s.name for s in fg.outputs], "kind": fg.kind,
                          "identity": fg.identity, "out": out.tolist()}}))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert "add_slot" in got["tf2"]  # the failure the fallback exists for
    assert got["kind"] == "saved_model" and got["identity"].endswith("#serving_default")
    assert got["inputs"] == ["image:0"] and got["outputs"] == ["probs:0"]
    np.testing.assert_allclose(np.array(got["out"]), want, atol=1e-6)


def test_keras2_savedmodel_loads_directly_with_tf_keras_installed(k2_saved, k2_image):
    from pytest_tfperf import load

    path, want = k2_saved
    fg = load(path)
    assert [s.name for s in fg.outputs] == ["probs:0"]
    np.testing.assert_allclose(fg.run(k2_image)[0], want, atol=1e-6)


def test_v1_fallback_names_the_signatures_and_the_remedy(k2_saved, tmp_path):
    from pytest_tfperf.errors import ModelLoadError
    from pytest_tfperf.model.saved_model_v1 import load_saved_model_v1, remedy

    path, _ = k2_saved
    cause = AttributeError("'_UserObject' object has no attribute 'add_slot'")
    with pytest.raises(ModelLoadError, match=r"signature 'serve'.*serving_default"):
        load_saved_model_v1(str(path), None, None, None, "serve", cause)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes((path / "saved_model.pb").read_bytes())
    with pytest.raises(ModelLoadError, match=r"v1 loader.*tf\.keras 2, install tf_keras.*tf-keras=="):
        load_saved_model_v1(str(broken), None, None, None, None, cause)  # no variables/
    assert "--no-deps" in remedy()
