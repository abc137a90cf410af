"""pytest hooks of pytest-tfperf: options, ini keys, markers, fixtures, report hooks.

Kept thin: the work lives in `session`, `recorder`, `plugin_support` and `reporting`. Importing
this module must not import TensorFlow (pytest start-up pays for every plugin import).
"""
from __future__ import annotations

import pytest

from .errors import TfperfError
from .plugin_support import MARKERS

_SESSION_KEY = pytest.StashKey()
_RECORDER_ATTR = "_tfperf_recorder"

INI_KEYS = {
    "tfperf_model": "model reference for the frozen_graph fixture (.pb, .pbtxt, SavedModel dir, .keras, checkpoint)",
    "tfperf_inputs": "comma-separated input tensor names (default: detected placeholders)",
    "tfperf_outputs": "comma-separated output tensor names (default: detected)",
    "tfperf_input_shape": "pin unknown input dims: '1,224,224,3' (';' between inputs, optional 'name=')",
    "tfperf_sample_image": "image file for the sample_image fixture (jpeg/png/bmp/gif)",
    "tfperf_preprocess": "sample image preprocessing: none, unit, tf, caffe, torch or 'scale=S,offset=O'",
    "tfperf_intra_op_threads": "TensorFlow intra-op threads for tfperf sessions (default 1: steady under CI contention; 0: TF default, one per core)",
    "tfperf_inter_op_threads": "TensorFlow inter-op threads for tfperf sessions (0: TF default)",
    "tfperf_budget_scale": "multiply latency budgets by this factor (slower CI runners)",
    "tfperf_warmup": "warm-up runs before timing",
    "tfperf_min_time": "minimum seconds of timed runs",
    "tfperf_max_time": "maximum seconds of timed runs",
    "tfperf_min_runs": "minimum timed runs",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tfperf", "TensorFlow model performance (pytest-tfperf)")
    add = group.addoption
    add("--tfperf-report", action="store_true", default=False,
        help="print the tfperf latency/model tables after the run")
    add("--tfperf-profile", action="store_true", default=False,
        help="with --tfperf-report: include the per-node-type tables of profiled models")
    add("--tfperf-json", metavar="PATH", default=None,
        help="write results as JSON (a superset of pytest-benchmark's format)")
    add("--tfperf-markdown", metavar="PATH", default=None, help="write results as Markdown")
    add("--tfperf-html", metavar="PATH", default=None, help="write a self-contained HTML report")
    add("--tfperf-save", metavar="NAME", default=None, help="store this run under .tfperf/ as NAME")
    add("--tfperf-compare", metavar="NAME|PATH", nargs="?", const="latest", default=None,
        help="compare with a stored run (the latest when no name is given)")
    add("--tfperf-compare-fail", metavar="EXPR", action="append", default=[],
        help="fail tests that regressed, e.g. median:10%% or p90:5ms (repeatable)")
    add("--tfperf-budget-scale", metavar="X", type=float, default=None,
        help="multiply latency budgets by X (slower CI runners)")
    add("--tfperf-disable", action="store_true", default=False,
        help="run each measurement once and do not enforce budgets (fast smoke mode)")
    add("--tfperf-warmup", metavar="N", type=int, default=None, help="warm-up runs before timing")
    add("--tfperf-min-time", metavar="S", type=float, default=None, help="minimum seconds of timing")
    add("--tfperf-max-time", metavar="S", type=float, default=None, help="maximum seconds of timing")
    add("--tfperf-min-runs", metavar="N", type=int, default=None, help="minimum timed runs")
    for name, help_text in INI_KEYS.items():
        parser.addini(name, help_text, default="")


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", text if text.startswith(name) else f"{name}: {text}")
    from .session import TfperfSession, settings_from_config

    try:
        settings = settings_from_config(config)
    except TfperfError as exc:
        raise pytest.UsageError(f"pytest-tfperf: {exc}") from None
    session = TfperfSession(settings)
    config.stash[_SESSION_KEY] = session
    if settings.compare or settings.compare_fail:
        from .plugin_support import prepare_compare

        try:
            prepare_compare(session, settings)
        except TfperfError as exc:
            raise pytest.UsageError(f"pytest-tfperf: {exc}") from None


def _session(config: pytest.Config):
    return config.stash[_SESSION_KEY]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def frozen_graph(request):
    """The `FrozenGraph` named by the nearest `tfperf_model` marker, else the `tfperf_model` ini key.

    Loaded once per session per reference; override this fixture in a conftest to build your own.
    """
    from .plugin_support import model_for_item

    return model_for_item(_session(request.config), request.node)


@pytest.fixture
def tf_session(request, frozen_graph):
    """A `tf.compat.v1.Session` over `frozen_graph`'s graph (name prefix ""), ini thread settings."""
    import tensorflow as tf

    sess = tf.compat.v1.Session(graph=frozen_graph.graph, config=frozen_graph.session_config())
    yield sess
    sess.close()


@pytest.fixture
def sample_image(request, frozen_graph):
    """A float32 `[1, H, W, C]` image fitted to `frozen_graph`'s image input (marker/ini path,
    `tfperf_preprocess`), or a deterministic synthetic image when no path is configured."""
    from .plugin_support import sample_image_for_item

    return sample_image_for_item(_session(request.config), request.node, frozen_graph)


@pytest.fixture
def tfperf(request):
    """The recorder: `measure`, `assert_equivalent`, `profile`, `load`, `summarize`."""
    from .recorder import TfperfRecorder

    recorder = TfperfRecorder(_session(request.config), request.node)
    setattr(request.node, _RECORDER_ATTR, recorder)
    return recorder


# -- test protocol ----------------------------------------------------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    if any(item.get_closest_marker(name) for name in MARKERS):
        from .plugin_support import check_markers

        check_markers(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    __tracebackhide__ = True  # a budget failure shows its message, not the plugin's frames
    from .plugin_support import finish_test

    session = _session(item.config)
    recorder = getattr(item, _RECORDER_ATTR, None)
    try:
        try:
            result = yield
        except BaseException:  # the test failed or skipped: record what it measured, check nothing
            finish_test(session, item, recorder, passed=False)
            raise
        failure = finish_test(session, item, recorder, passed=True)
        if failure:
            from .errors import BudgetExceeded

            raise BudgetExceeded(failure)
        return result
    finally:
        if recorder is not None:  # items live until the session ends; their models need not
            delattr(item, _RECORDER_ATTR)


# -- session end and reports ------------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    tf_session = session.config.stash.get(_SESSION_KEY, None)
    if tf_session is None:
        return
    from .plugin_support import finish_session

    finish_session(session.config, tf_session)
    tf_session.close()
    if tf_session.results.environment.get("write_errors") and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a requested report is missing: CI must see it


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    tf_session = config.stash.get(_SESSION_KEY, None)
    if tf_session is None or getattr(config, "workerinput", None) is not None:
        return
    from .plugin_support import terminal_summary

    terminal_summary(terminalreporter, config, tf_session)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist controller: merge a worker's results into this session's."""
    tf_session = node.config.stash.get(_SESSION_KEY, None)
    if tf_session is not None:
        from .reporting import controller_merge

        controller_merge(tf_session.results, node)
