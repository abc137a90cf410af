"""`throughput_budget(fps, *, batch=1, p99_ms=None, concurrency=1)` and `tfperf.sweep` through the
plugin: a trivially low floor passes, an impossible one fails (after re-timing on fresh
sessions), a p99 limit fails on its own, bad arguments are usage errors naming the test and the
argument, a fixed batch is refused, and the sweep's table reaches every report."""
from __future__ import annotations

import json

import pytest

PROJECT_TESTS = '''
import pytest


@pytest.mark.throughput_budget(fps=1, batch=4, concurrency=2)
def test_low_floor_passes(frozen_graph):
    pass


@pytest.mark.throughput_budget(1e9)
def test_impossible_floor_fails(frozen_graph):
    pass


@pytest.mark.throughput_budget(fps=1, p99_ms=1e-6)
def test_impossible_p99_fails(frozen_graph):
    pass


@pytest.mark.throughput_budget(fps=1, batch=2)
def test_read_from_the_sweep(tfperf):
    model = tfperf.load("small.pb")
    result = tfperf.sweep(model, batch=[1, 2], intra_threads=[1], concurrency=[1], within_p99_ms=1000)
    assert [p.key for p in result.points] == [(1, 1, 1), (2, 1, 1)]


@pytest.mark.throughput_budget(fps=-3)
def test_negative_fps_is_a_usage_error(frozen_graph):
    pass


@pytest.mark.throughput_budget(fps=10, batchsize=4)
def test_unknown_argument_is_a_usage_error(frozen_graph):
    pass


@pytest.mark.throughput_budget(fps=10, batch=4)
@pytest.mark.tfperf_model("small.pb", input_shapes=[[1, 32, 32, 3]])
def test_fixed_batch_is_a_usage_error(frozen_graph):
    pass


@pytest.mark.throughput_budget(fps=10)
def test_no_model_is_a_usage_error():
    pass
'''


@pytest.fixture
def project(pytester, small_pb):
    (pytester.path / "small.pb").write_bytes(small_pb.read_bytes())
    pytester.makeini("[pytest]\ntfperf_model = small.pb\ntfperf_min_time = 0.1\n"
                     "tfperf_max_time = 0.5\n")
    pytester.makepyfile(test_cloud=PROJECT_TESTS)
    return pytester


def test_throughput_budgets_and_sweeps_through_the_plugin(project):
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--tfperf-report", "--tfperf-json=r.json", "--tfperf-markdown=r.md",
        "--tfperf-html=r.html", "-W", "ignore::DeprecationWarning")
    text = result.stdout.str()
    result.assert_outcomes(passed=2, failed=2, errors=4)
    # failures: the messages say the figure, its CI, the configuration, the model
    assert "throughput_budget:" in text and "entirely below" in text
    assert "best of" in text and "fresh instances" in text  # re-timed before failing
    assert "p99" in text and "entirely above" in text       # the p99 limit fails on its own
    assert "batch 1, 1 thread, concurrency 1" in text and "model small.pb" in text
    # usage errors name the test, the marker and the argument
    assert "test_negative_fps_is_a_usage_error: @pytest.mark.throughput_budget: 'fps' must be a " \
           "positive number" in text
    assert "did you mean 'batch'?" in text
    assert "fixed batch dimension of 1" in text and "throughput_budget(batch=...)" in text
    assert "test_no_model_is_a_usage_error: @pytest.mark.throughput_budget needs a model" in text

    doc = json.loads((project.path / "r.json").read_text())["tfperf"]
    verdicts = {r["test_id"].split("::")[1]: v for r in doc["models"] for v in r["verdicts"]
                if v["marker"] == "throughput_budget"}
    assert verdicts["test_low_floor_passes"]["passed"] is True
    assert "batch 4, 1 thread, concurrency 2" in verdicts["test_low_floor_passes"]["message"]
    assert verdicts["test_impossible_floor_fails"]["passed"] is False
    assert verdicts["test_impossible_floor_fails"]["value"] < 1e9
    assert "from this test's sweep" in verdicts["test_read_from_the_sweep"]["message"]
    # the sweep: one object per configuration with the contract's keys
    sweep, = doc["sweeps"]
    assert sweep["test_id"].endswith("test_read_from_the_sweep") and sweep["model"] == "small.pb"
    configs = sweep["table"]["configurations"]
    assert [(c["batch"], c["intra_threads"], c["concurrency"]) for c in configs] == [(1, 1, 1), (2, 1, 1)]
    assert all(c["throughput"] > 0 and c["p99_ms"] > 0 for c in configs)
    assert "tfperf sweeps" in text and "this CPU serves" in text.split("tfperf sweeps", 1)[1]
    assert "### Sweeps" in (project.path / "r.md").read_text()
    html = (project.path / "r.html").read_text()
    section = html.split('<h2 id="sweeps">', 1)[1]
    assert '<table class="sweep">' in section and '<svg class="sweep"' in section
    assert "<script" not in html


def test_disabled_runs_each_configuration_once_and_checks_nothing(project):
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--tfperf-disable",
                                          "--tfperf-json=r.json", "-k", "sweep or impossible_floor")
    result.assert_outcomes(passed=2)  # the impossible floor is not checked under --tfperf-disable
    doc = json.loads((project.path / "r.json").read_text())["tfperf"]
    configs = doc["sweeps"][0]["table"]["configurations"]
    assert [c["batch"] for c in configs] == [1, 2] and all(c["n"] >= 1 for c in configs)


def _point(fps, ci, p99_ci=(5.0, 9.0)):
    from pytest_tfperf.timing.sweep import SweepPoint

    return SweepPoint(batch=8, intra_threads=1, concurrency=2, throughput=fps, throughput_ci=ci,
                      n=200, p50_ms=4.0, p90_ms=6.0, p95_ms=7.0, p99_ms=8.0, mean_ms=4.5,
                      min_ms=3.0, max_ms=9.5, p99_ci_ms=p99_ci, p99_rough=True, cpu_util=1.0,
                      seconds=1.0, stop_reason="max_time")


class _Model:
    name = "m.pb"


@pytest.mark.parametrize("fps, ci, failed, words", [
    (90.0, (85.0, 95.0), True, "entirely below"),            # the whole CI under the floor
    (95.0, (88.0, 102.0), False, "not beyond doubt"),        # under it, but the CI reaches it
    (120.0, (110.0, 130.0), False, ">= 100"),
    (90.0, None, True, "no CI"),                             # too few requests: the point decides
])
def test_a_floor_fails_only_beyond_its_ci(fps, ci, failed, words):
    from pytest_tfperf.plugin.markers import ThroughputBudget
    from pytest_tfperf.plugin.throughput import _fails, _message

    point = _point(fps, ci)
    assert _fails(point, 100.0, None) is failed
    text = _message(ThroughputBudget(fps=100, batch=8, concurrency=2), point, 100.0, None, 1.0,
                    _Model(), "timed at the end of the test", 1, 0)
    assert words in text and "batch 8, 1 thread, concurrency 2" in text and text.endswith("model m.pb")


def test_a_p99_limit_fails_only_when_its_whole_ci_is_above():
    from pytest_tfperf.plugin.throughput import _fails

    assert not _fails(_point(120.0, (110.0, 130.0), p99_ci=(5.0, 9.0)), 100.0, 7.0)  # CI reaches 7
    assert _fails(_point(120.0, (110.0, 130.0), p99_ci=(7.5, 9.0)), 100.0, 7.0)


def test_marker_parsing():
    from pytest_tfperf.errors import MarkerUsageError
    from pytest_tfperf.plugin.markers import ThroughputBudget, parse_throughput_budget

    assert parse_throughput_budget((200,), {"batch": 8, "p99_ms": 50}, test_id="t") == \
        ThroughputBudget(fps=200.0, batch=8, p99_ms=50.0, concurrency=1)
    for kwargs, words in (({"fps": 1, "concurrency": 0}, "'concurrency' must be a positive int"),
                          ({"fps": 1, "batch": 2.5}, "'batch' must be a positive int"),
                          ({"fps": 1, "p99_ms": -1}, "'p99_ms' must be a positive number"),
                          ({}, "missing required argument 'fps'")):
        with pytest.raises(MarkerUsageError, match=words) as info:
            parse_throughput_budget((), kwargs, test_id="tests/t.py::test_x")
        assert str(info.value).startswith("tests/t.py::test_x: @pytest.mark.throughput_budget:")
