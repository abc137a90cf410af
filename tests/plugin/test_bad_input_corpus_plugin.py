"""Bad-input corpus, part 1: bad models, inputs, images, markers, ini values, options, baselines
and report paths inside real pytest sessions (pytester).

Every case checks the same four promises: the right outcome for the bad test only (a sibling
test in the same session still passes), a message naming the problem (file, node, marker or
option, and the value), no INTERNALERROR, and bounded time (a watchdog ends a hung run with a
traceback instead of hanging CI). Single-function error cases live in test_model.py,
test_images.py, test_budgets.py...; here they go through the plugin end to end.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

# inner sessions run without their faulthandler plugin: it would cancel the hang_guard watchdog
PLAIN = ["-p", "no:randomly", "-p", "no:faulthandler", "-p", "no:cacheprovider"]
FAST = ["--tfperf-min-time=0.02", "--tfperf-max-time=0.2", "--tfperf-warmup=1", *PLAIN]
SUBPROCESS_TIMEOUT_S = 150

pytestmark = pytest.mark.usefixtures("hang_guard")  # a hang becomes a crash with tracebacks


# -- shared artifacts: a Keras file with a Lambda layer, a SavedModel with a custom signature --


@pytest.fixture(scope="module")
def lambda_keras(tmp_path_factory):
    import keras

    inp = keras.Input((4,), name="x")
    out = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    path = tmp_path_factory.mktemp("keras") / "lambda.keras"
    keras.Model(inp, out).save(path)
    return path


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    import tensorflow as tf

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve_x(self, x):
            return {"y": x * 2.0}

    module = Doubler()
    path = tmp_path_factory.mktemp("sm") / "doubler"
    tf.saved_model.save(module, str(path), signatures={"serve_x": module.serve_x})
    return path


@pytest.fixture
def project(pytester, small_pb):
    """A user project: the small model named in the ini, plus a folder of broken files."""
    models = pytester.path / "models"
    models.mkdir()
    good = small_pb.read_bytes()
    (models / "small.pb").write_bytes(good)
    (models / "truncated.pb").write_bytes(good[: len(good) // 3])
    (models / "random.pb").write_bytes(os.urandom(4096))
    (models / "empty.pb").write_bytes(b"")
    (models / "text_named.pb").write_text('node { name: "x" op: "Placeholder" }\n')
    (models / "syntax.pbtxt").write_text('node {\n  name: "x"\n  op: "Placeholder"\n  attr {\n')
    (models / "binary.pbtxt").write_bytes(good)
    (models / "garbage.keras").write_bytes(b"not a zip archive\n" * 10)
    (models / "not_a_savedmodel").mkdir()
    (models / "not_a_savedmodel" / "notes.txt").write_text("hello")
    (models / "ckpt.index").write_bytes(b"\x00" * 16)  # a checkpoint prefix without ckpt.meta
    images = pytester.path / "images"
    images.mkdir()
    (images / "zero.png").write_bytes(b"")
    (images / "text.jpg").write_text("this is not a jpeg\n")
    pytester.path.joinpath("afile").write_text("a file, not a directory\n")
    pytester.makeini("[pytest]\ntfperf_model = models/small.pb\n")
    return pytester


HEADER = """
import numpy as np
import pytest
import tensorflow as tf
from pytest_tfperf import load

@tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32, name="x")])
def checked(x):
    tf.debugging.assert_less(x, -5.0, message="input must be below -5")
    return tf.reduce_mean(x, axis=[1, 2])

@tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
def log_minus_ten(x):
    return tf.math.log(x - 10.0)   # NaN for every input below 10

@tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
def zeros_like_log(x):
    return x * 0.0
"""

SIBLING = """

def test_sibling(frozen_graph):
    assert frozen_graph.name == "small.pb"
"""


def run_session(pytester, body: str, *args, sibling: bool = True, timing=FAST):
    pytester.makepyfile(test_user=HEADER + textwrap.dedent(body) + (SIBLING if sibling else ""))
    return pytester.runpytest(*timing, *args)


def output(result) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


def assert_clean(text: str) -> None:
    """No INTERNALERROR and no raw Python crash (pytest renders test failures its own way)."""
    assert "INTERNALERROR" not in text
    assert "Traceback (most recent call last)" not in text


# -- one bad test per session; its sibling passes ---------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    source: str               # a test function called test_bad (decorators included)
    outcome: str              # "errors" (setup) or "failed" (call)
    needles: tuple[str, ...]  # the message must contain each


CASES = [
    # model files
    Case("pb_truncated", '@pytest.mark.tfperf_model("models/truncated.pb")\ndef test_bad(frozen_graph): pass',
         "errors", ("truncated.pb", "is not a binary GraphDef", "truncated or corrupt")),
    Case("pb_random_bytes", '@pytest.mark.tfperf_model("models/random.pb")\ndef test_bad(frozen_graph): pass',
         "errors", ("random.pb", "(4096 bytes)", "not a binary GraphDef")),
    Case("pb_empty", '@pytest.mark.tfperf_model("models/empty.pb")\ndef test_bad(frozen_graph): pass',
         "errors", ("empty.pb", "is empty (0 bytes)")),
    Case("pb_holding_text", '@pytest.mark.tfperf_model("models/text_named.pb")\ndef test_bad(frozen_graph): pass',
         "errors", ("text_named.pb", "a text graph should end in .pbtxt")),
    Case("pbtxt_syntax_error", '@pytest.mark.tfperf_model("models/syntax.pbtxt")\ndef test_bad(frozen_graph): pass',
         "errors", ("syntax.pbtxt", "not a valid text GraphDef", "line:column")),
    Case("pbtxt_holding_binary", '@pytest.mark.tfperf_model("models/binary.pbtxt")\ndef test_bad(frozen_graph): pass',
         "errors", ("binary.pbtxt", "binary data", "should be named .pb")),
    Case("keras_not_a_zip", '@pytest.mark.tfperf_model("models/garbage.keras")\ndef test_bad(frozen_graph): pass',
         "errors", ("garbage.keras", "is not a .keras zip archive")),
    Case("dir_not_savedmodel", '@pytest.mark.tfperf_model("models/not_a_savedmodel")\ndef test_bad(frozen_graph): pass',
         "errors", ("not_a_savedmodel", "is not a SavedModel", "notes.txt")),
    Case("checkpoint_without_meta", '@pytest.mark.tfperf_model("models/ckpt")\ndef test_bad(frozen_graph): pass',
         "errors", ("ckpt", "has no 'ckpt.meta'")),
    Case("savedmodel_unknown_signature",
         '@pytest.mark.tfperf_model("models/doubler", signature="serving")\ndef test_bad(frozen_graph): pass',
         "errors", ("signature 'serving' not found", "serve_x", "signature=")),
    # node names, shapes and dtypes
    Case("input_name_typo",
         '@pytest.mark.tfperf_model("models/small.pb", inputs=["input_nod"])\ndef test_bad(frozen_graph): pass',
         "errors", ("input 'input_nod' not found", "Did you mean: 'input_node'")),
    Case("output_index_out_of_range",
         '@pytest.mark.tfperf_model("models/small.pb", outputs=["logits_layer/BiasAdd:7"])\n'
         'def test_bad(frozen_graph): pass',
         "errors", ("'logits_layer/BiasAdd:7' does not exist", "only has 1 outputs")),
    Case("pinned_shape_does_not_fit",
         '@pytest.mark.tfperf_model("models/small.pb", input_shapes=[[1, 31, 32, 3]])\n'
         'def test_bad(frozen_graph): pass',
         "errors", ("input_shapes [1, 31, 32, 3] does not fit input input_node:0", "only unknown (?) dims")),
    Case("measure_wrong_shape",
         "def test_bad(tfperf, frozen_graph):\n    tfperf.measure(frozen_graph, np.zeros((1, 31, 32, 3), np.float32))",
         "failed", ("input input_node:0 of model small.pb wants shape [?,32,32,3]", "[1, 31, 32, 3]")),
    Case("run_wrong_dtype",
         'def test_bad(frozen_graph):\n    frozen_graph.run(np.full((1, 32, 32, 3), "a"))',
         "failed", ("input input_node:0 of model small.pb wants float32", "<U1")),
    Case("feed_unknown_input_name",
         "def test_bad(frozen_graph):\n    frozen_graph.run({'input_nod': np.zeros((1, 32, 32, 3), np.float32)})",
         "failed", ("input 'input_nod' not found in model small.pb", "Did you mean: 'input_node:0'")),
    Case("equivalent_wrong_shape",
         "def test_bad(tfperf, frozen_graph):\n"
         "    tfperf.assert_equivalent(frozen_graph, frozen_graph, np.zeros((1, 32, 32, 4), np.float32))",
         "failed", ("input_node:0", "wants shape [?,32,32,3]", "[1, 32, 32, 4]")),
    # images
    Case("image_zero_bytes", '@pytest.mark.tfperf_sample_image("images/zero.png")\ndef test_bad(sample_image): pass',
         "errors", ("zero.png", "is empty (0 bytes)")),
    Case("image_not_an_image", '@pytest.mark.tfperf_sample_image("images/text.jpg")\ndef test_bad(sample_image): pass',
         "errors", ("text.jpg", "is not a jpeg/png/bmp/gif image")),
    Case("image_is_a_directory", '@pytest.mark.tfperf_sample_image("images")\ndef test_bad(sample_image): pass',
         "errors", ("images", "is a directory")),
    # marker arguments (the ones test_plugin.py does not cover)
    Case("model_marker_unknown_keyword",
         '@pytest.mark.tfperf_model("models/small.pb", bogus=1)\ndef test_bad(frozen_graph): pass',
         "errors", ("test_user.py::test_bad", "tfperf_model", "unknown: bogus", "safe_mode")),
    Case("model_marker_two_references",
         '@pytest.mark.tfperf_model("models/small.pb", "models/other.pb")\ndef test_bad(frozen_graph): pass',
         "errors", ("tfperf_model takes one model reference", "models/other.pb")),
    Case("model_marker_not_a_reference", "@pytest.mark.tfperf_model(123)\ndef test_bad(frozen_graph): pass",
         "errors", ("cannot load a model from builtins.int", "ref=123")),
    Case("image_marker_two_paths",
         '@pytest.mark.tfperf_sample_image("a.jpg", "b.jpg")\ndef test_bad(sample_image): pass',
         "errors", ("test_user.py::test_bad", "tfperf_sample_image takes one image path", "'b.jpg'")),
    Case("latency_ms_not_a_number", '@pytest.mark.latency_budget(ms="fast")\ndef test_bad(frozen_graph): pass',
         "errors", ("latency_budget", "ms", "'fast'")),
    Case("latency_ms_nan", '@pytest.mark.latency_budget(ms=float("nan"))\ndef test_bad(frozen_graph): pass',
         "errors", ("latency_budget", "ms", "nan")),
    Case("latency_batch_zero", "@pytest.mark.latency_budget(ms=10, batch=0)\ndef test_bad(frozen_graph): pass",
         "errors", ("latency_budget", "batch", "0")),
    Case("latency_bad_regression", '@pytest.mark.latency_budget(ms=10, regression="lots")\n'
         "def test_bad(frozen_graph): pass",
         "errors", ("latency_budget", "regression", "'lots'")),
    Case("param_budget_none", "@pytest.mark.param_budget(max=None)\ndef test_bad(frozen_graph): pass",
         "errors", ("param_budget", "max", "None")),
    Case("static_budget_without_a_model", "@pytest.mark.size_budget(mb=1)\ndef test_bad(): pass",
         "errors", ("test_user.py::test_bad", "size_budget needs a model", "frozen_graph")),
    # a model that raises inside session.run, under every entry point
    Case("raises_under_measure", "@pytest.mark.tfperf_model(lambda: checked)\n"
         "def test_bad(tfperf, frozen_graph, sample_image):\n    tfperf.measure(frozen_graph, sample_image)",
         "failed", ("input must be below -5",)),
    Case("raises_under_assert_equivalent", "@pytest.mark.tfperf_model(lambda: checked)\n"
         "def test_bad(tfperf, frozen_graph, sample_image):\n"
         "    tfperf.assert_equivalent(frozen_graph, frozen_graph, sample_image)",
         "failed", ("failed while running", "input must be below -5")),
    Case("raises_under_profile", "@pytest.mark.tfperf_model(lambda: checked)\n"
         "def test_bad(tfperf, frozen_graph):\n    tfperf.profile(frozen_graph)",
         "failed", ("failed while warming up", "input must be below -5")),
    Case("raises_under_declarative_latency_budget", "@pytest.mark.tfperf_model(lambda: checked)\n"
         "@pytest.mark.latency_budget(ms=1000)\ndef test_bad(frozen_graph): pass",
         "failed", ("input must be below -5",)),
    Case("raises_under_memory_budget", "@pytest.mark.tfperf_model(lambda: checked)\n"
         "@pytest.mark.memory_budget(mb=1000)\ndef test_bad(frozen_graph): pass",
         "failed", ("failed while", "input must be below -5")),
    # NaN outputs
    Case("nan_output_not_equivalent", "def test_bad(tfperf):\n"
         "    x = np.ones((1, 4), np.float32)\n"
         "    tfperf.assert_equivalent(load(zeros_like_log), load(log_minus_ten), x)",
         "failed", ("NOT equivalent", "NaN/Inf in one output only", "0 vs nan")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_that_test_only(project, saved_model, case):
    if "doubler" in case.source:
        import shutil

        shutil.copytree(saved_model, project.path / "models" / "doubler")
    result = run_session(project, case.source)
    text = output(result)
    result.assert_outcomes(passed=1, **{case.outcome: 1})
    assert_clean(text)
    missing = [n for n in case.needles if n not in text]
    assert not missing, f"message lacks {missing}:\n{text[-3000:]}"


def test_keras_lambda_refused_by_default_and_opt_in_works(project, lambda_keras):
    (project.path / "models" / "lambda.keras").write_bytes(lambda_keras.read_bytes())
    result = run_session(project, """
        @pytest.mark.tfperf_model("models/lambda.keras")
        def test_refused(frozen_graph):
            pass

        @pytest.mark.tfperf_model("models/lambda.keras", safe_mode=False)
        def test_opted_in(frozen_graph):
            out, = frozen_graph.run(np.arange(4, dtype=np.float32)[None])
            assert out.tolist() == [[0.0, 2.0, 4.0, 6.0]]
    """)
    result.assert_outcomes(passed=2, errors=1)
    text = output(result)
    assert_clean(text)
    assert "lambda.keras" in text and "refused under safe mode" in text
    assert "@pytest.mark.tfperf_model(path, safe_mode=False)" in text


def test_nan_output_is_measured_and_reports_stay_strict_json(project):
    result = run_session(project, """
        def test_nan_model_is_timed(tfperf):
            fg = load(log_minus_ten)
            assert np.isnan(fg.run(np.ones((1, 4), np.float32))[0]).all()
            stats = tfperf.measure(fg, np.ones((1, 4), np.float32))
            assert stats.n >= 1 and np.isfinite(stats.median_ms)

        def test_nan_equivalence_is_recorded(tfperf):
            tfperf.assert_equivalent(load(zeros_like_log), load(log_minus_ten), np.ones((1, 4), np.float32))
    """, "--tfperf-json=run.json", "--tfperf-html=run.html", "--tfperf-markdown=run.md")
    result.assert_outcomes(passed=2, failed=1)
    assert_clean(output(result))
    text = (project.path / "run.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c} in run.json"))
    assert (project.path / "run.html").stat().st_size > 0 and (project.path / "run.md").stat().st_size > 0


def test_missing_ini_model_errors_only_the_tests_that_need_it(project):
    project.makeini("[pytest]\ntfperf_model = models/smal.pb\n")
    result = run_session(project, """
        def test_needs_model(frozen_graph):
            pass

        def test_pure_python():
            assert 1 + 1 == 2
    """, sibling=False)
    result.assert_outcomes(passed=1, errors=1)
    text = output(result)
    assert_clean(text)
    assert "models/smal.pb" in text and "does not exist" in text and "Did you mean: small.pb" in text


def test_bad_ini_sample_image_errors_only_the_tests_that_use_it(project):
    project.makeini("[pytest]\ntfperf_model = models/small.pb\ntfperf_sample_image = images/text.jpg\n")
    result = run_session(project, """
        def test_uses_image(sample_image):
            pass
    """)
    result.assert_outcomes(passed=1, errors=1)
    assert "text.jpg" in output(result) and "is not a jpeg/png/bmp/gif image" in output(result)


# -- usage errors: the session stops before running anything, exit code 4 ------------------------

USAGE_CASES = [
    # (id, ini lines, command-line args, needles)
    ("ini_min_runs_not_int", "tfperf_min_runs = abc", (), ("tfperf_min_runs", "'abc'")),
    ("ini_budget_scale_negative", "tfperf_budget_scale = -1", (), ("tfperf_budget_scale", "-1")),
    ("ini_input_shape_not_ints", "tfperf_input_shape = 1,a", (), ("tfperf_input_shape", "'1,a'")),
    ("ini_threads_negative", "tfperf_intra_op_threads = -2", (), ("tfperf_intra_op_threads", ">= 0", "'-2'")),
    ("ini_tflite_threads_zero", "tfperf_tflite_threads = 0", (), ("tfperf_tflite_threads", ">= 1", "'0'")),
    ("ini_tflite_xnnpack_not_bool", "tfperf_tflite_xnnpack = maybe", (),
     ("tfperf_tflite_xnnpack", "true or false", "'maybe'")),
    ("ini_max_time_below_min_time", "tfperf_min_time = 2\ntfperf_max_time = 1", (),
     ("tfperf_max_time", "below min time 2.0 s")),
    ("opt_min_runs_not_int", "", ("--tfperf-min-runs=abc",), ("--tfperf-min-runs", "'abc'")),
    ("opt_warmup_negative", "", ("--tfperf-warmup=-1",), ("--tfperf-warmup", ">= 0", "-1")),
    ("opt_budget_scale_zero", "", ("--tfperf-budget-scale=0",), ("--tfperf-budget-scale", "> 0")),
    ("opt_compare_fail_bad_expr", "", ("--tfperf-compare=x.json", "--tfperf-compare-fail=median:ten"),
     ("median:ten", "STAT:N%")),
    ("opt_compare_fail_without_compare", "", ("--tfperf-compare-fail=median:10%",),
     ("--tfperf-compare-fail needs --tfperf-compare",)),
    ("opt_save_name_with_separator", "", ("--tfperf-save=team/run",), ("--tfperf-save", "'team/run'")),
    ("opt_json_parent_is_a_file", "", ("--tfperf-json=afile/run.json",),
     ("--tfperf-json", "afile/run.json", "'afile' is a file, not a directory")),
    ("opt_html_is_a_directory", "", ("--tfperf-html=models",), ("--tfperf-html", "'models' is a directory")),
    ("opt_save_storage_is_a_file", "", ("--tfperf-save=base",), (".tfperf", "is a file, not a directory")),
]


@pytest.mark.parametrize("ini, args, needles", [c[1:] for c in USAGE_CASES], ids=[c[0] for c in USAGE_CASES])
def test_bad_ini_value_or_option_is_a_usage_error(project, ini, args, needles):
    project.makeini(f"[pytest]\ntfperf_model = models/small.pb\n{ini}\n")
    if "--tfperf-save=base" in args:
        (project.path / ".tfperf").write_text("not a folder")
    result = run_session(project, "def test_never_runs():\n    raise AssertionError('ran')\n", *args,
                         sibling=False, timing=PLAIN)
    text = output(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text[-2000:]
    assert_clean(text)
    assert "ran')" not in text and " passed" not in text
    missing = [n for n in needles if n not in text]
    assert not missing, f"message lacks {missing}:\n{text[-2000:]}"
    assert not (project.path / "run.json").exists()


# -- baselines -----------------------------------------------------------------------------------

MEASURE = """
def test_measured(tfperf, frozen_graph, sample_image):
    tfperf.measure(frozen_graph, sample_image)
"""


def stored(project) -> dict:
    """{relative path: bytes} of every file under .tfperf/."""
    root = project.path / ".tfperf"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("content, needle", [
    (b'{"tfperf": {"measurements": [', "is corrupt (not JSON"),
    (b"\xff\xfe\x00garbage", "is corrupt (not UTF-8 text"),
    (b'{"hello": "world"}', "is not a tfperf or pytest-benchmark results file"),
    (b'{"benchmarks": [42]}', "a 'benchmarks' entry has no 'stats' dict"),
], ids=["truncated_json", "binary", "foreign_json", "benchmarks_without_stats"])
def test_bad_stored_baseline_is_named_and_left_untouched(project, content, needle):
    from pytest_tfperf.baseline import machine_id

    folder = project.path / ".tfperf" / machine_id()
    folder.mkdir(parents=True)
    (folder / "0001_main.json").write_bytes(content)
    before = stored(project)
    result = run_session(project, MEASURE, "--tfperf-compare", sibling=False)
    text = output(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_clean(text)
    assert "0001_main.json" in text and needle in text and "left untouched" in text
    assert stored(project) == before


def test_unknown_baseline_name_lists_the_stored_runs(project):
    run_session(project, MEASURE, "--tfperf-save=main", sibling=False).assert_outcomes(passed=1)
    before = stored(project)
    result = run_session(project, MEASURE, "--tfperf-compare=mian", sibling=False)
    text = output(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_clean(text)
    assert "no stored run named 'mian'" in text and "Available: 0001_main" in text
    assert stored(project) == before


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_failed_save_at_session_end_keeps_earlier_baselines(project):
    """A save that fails while writing (here: the file-size limit, like a full disk) leaves the
    stored runs byte for byte, no partial file, a clear error line and a failing exit status."""
    run_session(project, MEASURE, "--tfperf-save=first", sibling=False).assert_outcomes(passed=1)
    before = stored(project)
    assert len(before) == 1
    project.makeconftest("""
        import resource
        import signal

        import pytest

        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionfinish(session):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    """)
    project.makepyfile(test_user=MEASURE)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *FAST, "--tfperf-save=second", "test_user.py"],
        cwd=project.path, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    text = proc.stdout + proc.stderr
    assert "1 passed" in text
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, text[-2000:]
    assert_clean(text)
    assert "tfperf: ERROR --tfperf-save second: not written" in text and "File too large" in text
    assert stored(project) == before  # nothing lost, nothing half-written, no temp file left


def test_save_with_a_bad_name_keeps_earlier_baselines(project):
    run_session(project, MEASURE, "--tfperf-save=first", sibling=False).assert_outcomes(passed=1)
    before = stored(project)
    result = run_session(project, MEASURE, "--tfperf-save=../escape", sibling=False)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert stored(project) == before
    assert not (project.path / "escape.json").exists()


# -- report paths ---------------------------------------------------------------------------------


def test_report_path_broken_during_the_run_costs_only_that_report(project):
    """`out/` becomes a file while the tests run: the JSON report cannot be written at the end.
    The run says so (naming the option and path), exits non-zero, and still writes the others."""
    result = run_session(project, """
        import pathlib

        def test_breaks_the_report_folder(tfperf, frozen_graph, sample_image):
            tfperf.measure(frozen_graph, sample_image)
            pathlib.Path("out").write_text("now a file")
    """, "--tfperf-json=out/run.json", "--tfperf-markdown=run.md", "--tfperf-html=run.html", sibling=False)
    result.assert_outcomes(passed=1)
    text = output(result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert_clean(text)
    assert "tfperf: ERROR --tfperf-json out/run.json: not written" in text
    assert "test_breaks_the_report_folder" in (project.path / "run.md").read_text()
    assert (project.path / "run.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert (project.path / "out").read_text() == "now a file"


# -- security: nothing pickled, paths relative to the project root --------------------------------


def test_stored_runs_are_json_and_report_paths_are_relative(project):
    result = run_session(project, """
        @pytest.mark.latency_budget(ms=10000)
        @pytest.mark.param_budget(max="1M")
        def test_everything(tfperf, frozen_graph, sample_image):
            tfperf.measure(frozen_graph, sample_image)
            tfperf.assert_equivalent(frozen_graph, frozen_graph)
            tfperf.profile(frozen_graph, runs=3)
    """, "--tfperf-save=main", "--tfperf-json=reports/run.json", "--tfperf-markdown=reports/run.md",
        "--tfperf-html=reports/run.html", "--tfperf-report", "--tfperf-profile", sibling=False)
    result.assert_outcomes(passed=1)
    files = [p for p in (project.path / ".tfperf").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].name == "0001_main.json"
    for path in files:
        data = path.read_bytes()
        assert not data.startswith(b"\x80"), f"{path} is a pickle"
        json.loads(data)  # every stored file is plain JSON
    root = str(project.path)
    for doc_path in (files[0], project.path / "reports" / "run.json"):
        doc = json.loads(doc_path.read_text())
        assert doc["tfperf"]["models"][0]["summary"]["source"] == "models/small.pb"
        doc["tfperf"]["environment"].pop("rootdir")  # the root itself: what the paths are relative to
        assert root not in json.dumps(doc), f"absolute project path in {doc_path.name}"
    for name in ("run.md", "run.html"):
        assert root not in (project.path / "reports" / name).read_text(), f"absolute path in {name}"
    listed = [line for line in result.stdout.lines if line.startswith("tfperf: wrote ")]
    assert listed == ["tfperf: wrote JSON report reports/run.json",
                      "tfperf: wrote baseline 'main' .tfperf/" + files[0].parent.name + "/0001_main.json",
                      "tfperf: wrote Markdown report reports/run.md",
                      "tfperf: wrote HTML report reports/run.html"]
