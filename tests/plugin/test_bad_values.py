"""Issue 11 items 5 and 6: bad values are rejected and unclear errors are clear, in a real pytest
session (pytester: a usage error, or that one test fails/errors while a sibling passes; never an
INTERNALERROR) and through the API."""
from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

import pytest_tfperf
from pytest_tfperf.errors import ConfigError, InputError, ModelLoadError, NodeNotFoundError

PLAIN = ["-p", "no:randomly", "-p", "no:cacheprovider"]
FAST = ["--tfperf-min-time=0.02", "--tfperf-max-time=0.2", "--tfperf-warmup=1", *PLAIN]

pytestmark = pytest.mark.usefixtures("hang_guard")


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """A fixed 32x32 CNN whose output layer is `predictions` (and a layer `pool`), and a
    two-input model (image + scale)."""
    import keras

    keras.utils.set_random_seed(5)
    root = tmp_path_factory.mktemp("keras_bad_values")
    image = keras.Input((32, 32, 3), name="image")
    x = image
    for i in range(10):  # enough layers that a listing must be cut
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    cnn = keras.Model(image, keras.layers.Dense(3, name="predictions")(x), name="cnn")
    cnn.save(root / "cnn.keras")
    image2 = keras.Input((32, 32, 3), name="image")
    scale = keras.Input((1,), name="scale")
    pooled = keras.layers.GlobalAveragePooling2D()(image2)
    two = keras.Model([image2, scale], keras.layers.Multiply()([pooled, scale]), name="two")
    two.save(root / "two.keras")
    return {"cnn": root / "cnn.keras", "two": root / "two.keras", "cnn_model": cnn}


@pytest.fixture
def project(pytester, small_pb, keras_files):
    models = pytester.path / "models"
    models.mkdir()
    (models / "small.pb").write_bytes(small_pb.read_bytes())
    for name in ("cnn", "two"):
        (models / f"{name}.keras").write_bytes(keras_files[name].read_bytes())
    pytester.makeini("[pytest]\ntfperf_model = models/small.pb\n")
    return pytester


SIBLING = """

def test_sibling(frozen_graph):
    assert frozen_graph.name == "small.pb"
"""


def run(pytester, body: str, *args, sibling: bool = True, timing=FAST):
    pytester.makepyfile(test_user="import pytest\n" + textwrap.dedent(body) + (SIBLING if sibling else ""))
    result = pytester.runpytest(*timing, *args)
    text = result.stdout.str() + "\n" + result.stderr.str()
    assert "INTERNALERROR" not in text and "Traceback (most recent call last)" not in text
    return result, text


# -- item 5: bad values are usage errors before anything runs ---------------------------------

USAGE = [
    ("budget_scale_inf", "", ("--tfperf-budget-scale=inf",),
     ("--tfperf-budget-scale must be a finite number", "inf would pass every gate", "'inf'")),
    ("budget_scale_nan", "", ("--tfperf-budget-scale=nan",),
     ("--tfperf-budget-scale must be a finite number", "'nan'")),
    ("ini_budget_scale_inf", "tfperf_budget_scale = inf", (), ("ini tfperf_budget_scale", "finite")),
    ("ini_max_time_zero", "tfperf_max_time = 0", (),
     ("ini tfperf_max_time must be > 0", "a single sample", "'0'")),
    ("max_time_below_the_default_min_time", "", ("--tfperf-max-time=0.05",),
     ("max time 0.05 s", "below min time 0.2 s (the default)")),
    ("min_runs_zero", "", ("--tfperf-min-runs=0",), ("--tfperf-min-runs must be >= 1",)),
    ("min_time_nan", "", ("--tfperf-min-time=nan",), ("--tfperf-min-time must be a finite number",)),
    ("ini_input_shape_x_inside_commas", "tfperf_input_shape = 1,x,28,1", (),
     ("tfperf_input_shape '1,x,28,1' is not a shape", "'x' is not a dimension", "1x224x224x3")),
    ("ini_input_shape_empty_dim", "tfperf_input_shape = 1,,28,1", (), ("it has an empty dimension",)),
    ("ini_input_shape_zero_dim", "tfperf_input_shape = 0,28,28,1", (), ("'0' is not a dimension",)),
]


@pytest.mark.parametrize("ini, args, needles", [c[1:] for c in USAGE], ids=[c[0] for c in USAGE])
def test_bad_value_is_a_usage_error(project, ini, args, needles):
    project.makeini(f"[pytest]\ntfperf_model = models/small.pb\n{ini}\n")
    result, text = run(project, "def test_never_runs():\n    raise AssertionError('ran')\n", *args,
                       sibling=False, timing=PLAIN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text[-2000:]
    missing = [n for n in needles if n not in text]
    assert not missing, f"message lacks {missing}:\n{text[-2000:]}"


def test_good_shape_forms_still_parse():
    from pytest_tfperf.plugin.options import parse_input_shape

    assert parse_input_shape("1x224x224x3") == [[1, 224, 224, 3]]
    assert parse_input_shape("1,224,224,3,") == [[1, 224, 224, 3]]
    assert parse_input_shape("a=1x8; b = 1,4") == {"a": [1, 8], "b": [1, 4]}
    for bad in ("1,x,28,1", "1x28,1", "1,,2", "-1,2", "x", "name="):
        with pytest.raises(ConfigError, match="is not a shape"):
            parse_input_shape(bad)


def test_timing_values_are_checked_in_the_api_too(small_frozen, image32):
    from pytest_tfperf.timing.engine import measure
    from pytest_tfperf.timing.settings import TimingSettings

    with pytest.raises(ConfigError, match=r"max_time must be a finite number > 0.*Received: max_time=0"):
        measure(small_frozen, image32, max_time=0)
    with pytest.raises(ConfigError, match=r"max_time \(0.05 s\) is below min_time \(0.2 s\)"):
        measure(small_frozen, image32, max_time=0.05)
    with pytest.raises(ConfigError, match=r"min_time must be a finite number >= 0.*nan"):
        TimingSettings(min_time=float("nan"))
    with pytest.raises(ConfigError, match=r"min_runs must be an integer >= 1"):
        TimingSettings(min_runs=0)
    assert measure(small_frozen, image32, min_time=0.01, max_time=0.05).n >= 1  # a real window works


def test_measure_with_a_bad_max_time_fails_that_test_only(project):
    result, text = run(project, """
        def test_bad(tfperf, frozen_graph, sample_image):
            tfperf.measure(frozen_graph, sample_image, max_time=0)
    """)
    result.assert_outcomes(passed=1, failed=1)
    assert "max_time must be a finite number > 0" in text


def test_signature_on_a_graph_file_is_an_error_naming_it(project, small_pb, keras_files):
    with pytest.raises(ModelLoadError, match=r"signature='serving_default' only applies to SavedModel "
                                             r"directories, but '.*small.pb' is not a SavedModel"):
        pytest_tfperf.load(small_pb, signature="serving_default")
    with pytest.raises(ModelLoadError, match=r"a Functional is not a SavedModel"):
        pytest_tfperf.load(keras_files["cnn_model"], signature="serve")
    result, text = run(project, """
        @pytest.mark.tfperf_model("models/small.pb", signature="serving_default")
        def test_bad(frozen_graph):
            pass
    """)
    result.assert_outcomes(passed=1, errors=1)
    assert "signature='serving_default' only applies to SavedModel directories" in text


# -- item 6: clear errors -----------------------------------------------------------------------


def test_a_wrong_output_name_offers_the_real_names_first(keras_files):
    import keras
    import tensorflow as tf

    with pytest.raises(NodeNotFoundError) as info:
        pytest_tfperf.load(keras_files["cnn"], outputs=["prediction"])
    text = str(info.value)
    assert text.startswith("output 'prediction' not found in model") and "Did you mean: 'predictions'?" in text
    listed = re.search(r"Keras outputs, then layers: (.*?)(?: \(\+\d+ more\))?;", text).group(1).split(", ")
    assert listed[:2] == ["predictions", "conv0"] and len(listed) == 10  # real names, then cut
    assert "(+" in text and "other node names also works" in text and len(text) < 600
    cnn = keras_files["cnn_model"]
    x = np.random.default_rng(1).random((1, 32, 32, 3), dtype=np.float32)
    by_name = pytest_tfperf.load(keras_files["cnn"], outputs=["predictions"])
    assert [s.name for s in by_name.outputs] == ["predictions:0"]
    np.testing.assert_allclose(by_name.run(x)[0], cnn(tf.constant(x)).numpy(), rtol=1e-5, atol=1e-6)
    layer = pytest_tfperf.load(keras_files["cnn"], outputs=["pool"])  # a layer name is an output too
    assert [s.name for s in layer.outputs] == ["pool:0"] and layer.outputs[0].shape == (None, 4)
    pooled = keras.Model(cnn.inputs, cnn.get_layer("pool").output)(tf.constant(x)).numpy()
    np.testing.assert_allclose(layer.run(x)[0], pooled, rtol=1e-5, atol=1e-6)


def test_input_shapes_that_do_not_fit_a_fixed_keras_model(project, keras_files):
    with pytest.raises(InputError, match=re.escape(
            "input_shapes [1, 50, 50, 3] does not fit input 'image' of shape [?,32,32,3]; only unknown "
            "(?) dims can be pinned")):
        pytest_tfperf.load(keras_files["cnn"], input_shapes=[[1, 50, 50, 3]])
    result, text = run(project, """
        @pytest.mark.tfperf_model("models/cnn.keras", input_shapes=[[1, 50, 50, 3]])
        def test_bad(frozen_graph):
            pass
    """)
    result.assert_outcomes(passed=1, errors=1)
    assert "does not fit input 'image' of shape [?,32,32,3]" in text and "ValueError" not in text


def test_a_two_input_model_under_a_bare_latency_budget_is_timed_on_generated_inputs(project):
    result, text = run(project, """
        @pytest.mark.tfperf_model("models/two.keras")
        @pytest.mark.latency_budget(ms=10000)
        def test_roomy(frozen_graph):
            pass

        @pytest.mark.tfperf_model("models/two.keras")
        @pytest.mark.latency_budget(ms=0.000001)
        def test_tight(frozen_graph):
            pass
    """)
    result.assert_outcomes(passed=2, failed=1)
    assert "value(s) were given" not in text
    assert ("timed on image [1,32,32,3] float32 (sample image; pixels/255 [0,1]), scale [1,1] float32 (synthetic): the "
            "inputs that are not the sample image were made by tfperf's input policy") in text
    assert "tfperf.measure(frozen_graph, {name: array, ...})" in text
