"""pytest hooks of pytest-tfperf: options, markers, fixtures, the test protocol, reports.

Hooks only: options and ini keys come from the one table in `options`, markers from `markers`,
run-wide state and the per-test lifecycle live in `session`, the fixture object in `recorder`,
the outputs in `outputs`. Importing this module must not import TensorFlow (pytest
start-up pays for every plugin import).
"""
from __future__ import annotations

import os

import pytest

from pytest_tfperf.errors import MarkerUsageError, TfperfError
from pytest_tfperf.plugin.options import add_options

_SESSION_KEY = pytest.StashKey()
_RECORDER_KEY = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    # TensorFlow's C++ start-up lines (oneDNN, CPU instructions, MLIR passes) are not test output;
    # set before anything imports TF (conftests load after this hook); the user's value wins
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # the lines TF logs while it loads ignore the level, and a conftest's pytest_configure (say,
    # one that builds models) imports TF where pytest captures nothing: filter fd 2 meanwhile
    from pytest_tfperf.quiet import quiet_first_import

    quiet_first_import()
    # TF sizes one process-wide intra-op pool from the FIRST session's config: a default-config
    # session (freezing a tf.Graph, a conftest) would give tfperf's one-thread sessions two
    # threads, hog-sensitive and 15-29% CV between processes (bench/RESULTS.md, issue 12).
    # Per-session pools make every session honour its own thread settings; read lazily by TF.
    os.environ.setdefault("TF_OVERRIDE_GLOBAL_THREADPOOL", "1")
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    from pytest_tfperf.plugin.markers import register

    register(config)
    from pytest_tfperf.plugin.options import settings_from_config
    from pytest_tfperf.plugin.session import TfperfSession

    try:
        settings = settings_from_config(config)
    except TfperfError as exc:
        raise pytest.UsageError(f"pytest-tfperf: {exc}") from None
    session = TfperfSession(settings)
    config.stash[_SESSION_KEY] = session
    from pytest_tfperf.plugin.outcomes import OutcomeTagger  # xfail / rerun / error on the records

    config.pluginmanager.register(OutcomeTagger(session), "tfperf-outcomes")
    if settings.compare or settings.compare_fail or settings.history:
        try:
            session.prepare_compare()
        except TfperfError as exc:
            raise pytest.UsageError(f"pytest-tfperf: {exc}") from None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """tfperf's timing settings, threads and runtime (pytest-benchmark's line is about its fixture)."""
    tf_session = config.stash.get(_SESSION_KEY, None)
    if tf_session is None:
        return None
    from pytest_tfperf.plugin.outputs import header_lines

    return header_lines(tf_session.settings, pytest_benchmark=config.pluginmanager.hasplugin("benchmark"))


def _session(config: pytest.Config):
    return config.stash[_SESSION_KEY]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def frozen_graph(request):
    """The `FrozenGraph` named by the nearest `tfperf_model` marker, else the `tfperf_model` ini key.

    Loaded once per session per reference; override this fixture in a conftest to build your own.
    """
    return _session(request.config).model_for_item(request.node)


@pytest.fixture
def tf_session(request, frozen_graph):
    """A `tf.compat.v1.Session` over `frozen_graph`'s graph (name prefix ""), ini thread settings,
    lookup tables filled."""
    if not hasattr(frozen_graph, "new_session"):
        raise MarkerUsageError(
            f"{request.node.nodeid} uses the tf_session fixture, but its model {frozen_graph.name!r} "
            f"is a {getattr(frozen_graph, 'kind', type(frozen_graph).__name__)} model, not a "
            "TensorFlow graph: no tf.Session can run it. Use frozen_graph itself (frozen_graph.run"
            "(inputs), tfperf.measure(frozen_graph)), or point tfperf_model at the graph it was "
            "converted from.")
    sess = frozen_graph.new_session()
    yield sess
    sess.close()


@pytest.fixture
def sample_image(request, frozen_graph):
    """A float32 `[1, H, W, C]` image fitted to `frozen_graph`'s image input (marker/ini path,
    `tfperf_preprocess`), or a deterministic synthetic image when no path is configured."""
    return _session(request.config).sample_image_for_item(request.node, frozen_graph)


@pytest.fixture
def tfperf(request):
    """The recorder: `measure`, `assert_equivalent`, `profile`, `load`, `summarize`."""
    from pytest_tfperf.plugin.recorder import TfperfRecorder

    recorder = TfperfRecorder(_session(request.config), request.node)
    request.node.stash[_RECORDER_KEY] = recorder
    return recorder


# -- test protocol ----------------------------------------------------------------------------


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items) -> None:
    """The run order is final here: plan which large cached models can go after which test."""
    tf_session = config.stash.get(_SESSION_KEY, None)
    if tf_session is not None:
        tf_session.plan_model_drops(items, enabled=getattr(config, "workerinput", None) is None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    """Around setup, call and teardown: memory housekeeping once pytest has released the
    test's fixtures (large models no later test names leave the cache; see `housekeeping`)."""
    tf_session = item.config.stash.get(_SESSION_KEY, None)
    if tf_session is not None:
        tf_session.begin_test(item.nodeid)
    try:
        return (yield)
    finally:
        if tf_session is not None:
            tf_session.end_test(item.nodeid)


def pytest_runtest_setup(item: pytest.Item) -> None:
    from pytest_tfperf.plugin.markers import check_markers, uses_markers

    if uses_markers(item):
        check_markers(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    __tracebackhide__ = True  # a budget failure shows its message, not the plugin's frames
    session = _session(item.config)
    recorder = item.stash.get(_RECORDER_KEY, None)
    stand_in = None
    if "benchmark" in getattr(item, "funcargs", {}):  # a disabled pytest-benchmark: tfperf times it
        from pytest_tfperf.plugin.benchmark_fallback import wrap

        stand_in = wrap(item, lambda: _recorder_of(item, session))
        if stand_in is not None:
            recorder = item.stash[_RECORDER_KEY]
    try:
        try:
            result = yield
        except BaseException:  # the test failed or skipped: record what it measured, check nothing
            session.finish_test(item, recorder, passed=False)
            raise
        failure = session.finish_test(item, recorder, passed=True)
        if failure:
            from pytest_tfperf.errors import BudgetExceeded

            raise BudgetExceeded(failure)
        return result
    finally:
        if stand_in is not None:  # pytest-benchmark's own hooks want their fixture back
            item.funcargs["benchmark"] = stand_in.fixture
        if recorder is not None:  # items live until the session ends; their models need not
            del item.stash[_RECORDER_KEY]


def _recorder_of(item: pytest.Item, session):
    """The test's recorder (the `tfperf` fixture's), made when the test did not ask for it."""
    if item.stash.get(_RECORDER_KEY, None) is None:
        from pytest_tfperf.plugin.recorder import TfperfRecorder

        item.stash[_RECORDER_KEY] = TfperfRecorder(session, item)
    return item.stash[_RECORDER_KEY]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """A `MarkerUsageError` from the call phase (a budget that cannot be checked, a marker used
    wrongly) reports as an *error* of the test, as one raised in setup does, never as *failed*;
    a usage error's traceback stops at the user's line (`tracebacks.hide_plugin_frames`)."""
    from pytest_tfperf.plugin.tracebacks import hide_plugin_frames

    hide_plugin_frames(item, call)
    report = yield
    if call.when == "call" and report.failed and call.excinfo is not None \
            and call.excinfo.errisinstance(MarkerUsageError):
        report.tfperf_usage_error = True  # a report attribute: it travels with xdist's reports
    return report


def pytest_report_teststatus(report, config):
    if getattr(report, "tfperf_usage_error", False):
        return "error", "E", "ERROR"
    return None


# -- session end and reports ------------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    tf_session = session.config.stash.get(_SESSION_KEY, None)
    if tf_session is None:
        return
    tf_session.finish(session.config)
    tf_session.close()
    if tf_session.results.environment.get("write_errors") and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a requested report is missing: CI must see it


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    tf_session = config.stash.get(_SESSION_KEY, None)
    if tf_session is None or getattr(config, "workerinput", None) is not None:
        return
    if tf_session.results.is_empty() and not tf_session.settings.reporting:
        return
    from pytest_tfperf.plugin.outputs import terminal_summary

    terminal_summary(terminalreporter, tf_session.settings, tf_session.results)


def pytest_unconfigure(config: pytest.Config) -> None:
    from pytest_tfperf.quiet import stop_quiet_first_import

    stop_quiet_first_import()  # the run never imported TensorFlow: leave sys.meta_path as it was


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist controller: merge a worker's results into this session's."""
    tf_session = node.config.stash.get(_SESSION_KEY, None)
    if tf_session is not None:
        from pytest_tfperf.plugin.session import merge_worker

        merge_worker(tf_session.results, node)
