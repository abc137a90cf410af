"""Usage errors inside a pytest session (issue 20): the traceback of a `TfperfError` stops at the
user's line (not ~40 lines of plugin source), `tf_session` on a TFLite model says why it cannot
be, and a missing relative model path names the paths it tried (the test's folder first)."""
from __future__ import annotations

import textwrap


def _run(pytester, body: str, *args):
    pytester.makepyfile(test_user=textwrap.dedent(body))
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    return result, result.stdout.str()


def test_a_usage_error_shows_the_users_line_not_the_plugins(pytester):
    body = """
        def test_bad_setting(tfperf):
            tfperf.measure(lambda: 1, warmup="lots")
    """
    result, text = _run(pytester, body)
    result.assert_outcomes(failed=1)
    assert "timing setting warmup must be an integer >= 0. Received: warmup='lots'" in text
    assert 'tfperf.measure(lambda: 1, warmup="lots")' in text and "test_user.py:2: ConfigError" in text
    assert "pytest_tfperf/" not in text and "def check_timing_settings" not in text
    failure = text[text.index("test_bad_setting ___"):text.index("short test summary")]
    assert len(failure.splitlines()) < 12
    _, text = _run(pytester, body, "--full-trace")  # every frame on request
    assert "def check_timing_settings" in text


def test_a_bug_of_ours_keeps_every_frame(pytester):
    """Only TfperfErrors are cut: another exception raised in our code keeps its frames."""
    result, text = _run(pytester, """
        from pytest_tfperf.model.graphs import node_name

        def test_not_a_usage_error():
            node_name(None)
    """)
    result.assert_outcomes(failed=1)
    assert "pytest_tfperf/model/graphs.py" in text and "def node_name" in text


def test_tf_session_on_a_tflite_model_says_why(pytester, keras_cnn):
    import pytest_tfperf

    pytest_tfperf.to_tflite(keras_cnn, pytester.path / "cnn.tflite")
    result, text = _run(pytester, """
        import pytest

        @pytest.mark.tfperf_model("cnn.tflite")
        def test_session(tf_session):
            pass
    """)
    result.assert_outcomes(errors=1)
    assert "uses the tf_session fixture, but its model 'cnn.tflite' is a tflite model" in text
    assert "no tf.Session can run it" in text and "frozen_graph" in text
    assert "AttributeError" not in text


def test_a_missing_model_names_the_paths_it_tried(pytester):
    sub = pytester.mkdir("suite")
    (sub / "test_user.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.tfperf_model("models/net.pb")
        def test_model(frozen_graph):
            pass
    """))
    result = pytester.runpytest("-p", "no:cacheprovider", "suite")
    text = result.stdout.str()
    result.assert_outcomes(errors=1)
    tried = str(sub / "models" / "net.pb")
    assert f"model file 'models/net.pb' does not exist: tried '{tried}'" in text
    assert "test file's folder" in text and "relative paths are from" not in text
