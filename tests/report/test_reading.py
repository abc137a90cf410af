"""Issue 14 items 2-4, 6, 10 and issue 11 item 7: what a person reads after a run.

Real pytest sessions at COLUMNS=80 and 160 (tables fit, ids whole), FPS wording, the lines
naming written files, tfperf's own settings in the header and the JSON, rough percentiles
marked, and the input shape that was timed (with dims tfperf pinned) in every report and in
`tfperf bench`.
"""
from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest

from pytest_tfperf import cli, wording
from pytest_tfperf.plugin.budgets import check_latency, check_params
from pytest_tfperf.plugin.markers import LatencyBudget, ParamBudget
from pytest_tfperf.report import budget_text, headroom_cell, inputs_text, percentile_cell
from pytest_tfperf.timing.stats import LatencyStats, percentile_supported, rough_percentile_note, tail_samples
from pytest_tfperf.inputs.described import describe_inputs

FAST = ["--tfperf-min-time=0.05", "--tfperf-max-time=0.3", "--tfperf-warmup=2", "-p", "no:randomly",
        "--benchmark-max-time=0.01", "--benchmark-min-rounds=5"]
IMPOSSIBLE = "test_what_a_failure_looks_like_on_the_small_classifier"


@pytest.fixture(scope="module")
def dynamic_keras(tmp_path_factory):
    """A Keras model with dynamic H/W (`Input((None, None, 3))`): the sample image pins 224x224."""
    import keras

    inp = keras.Input((None, None, 3), name="image")
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(2)(x), name="dynamic_net")
    path = tmp_path_factory.mktemp("dynamic") / "dynamic_net.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def dynamic_fg(dynamic_keras):
    from pytest_tfperf import load

    return load(str(dynamic_keras))


# -- the rules, as pure functions -----------------------------------------------------------

def test_percentile_support_rule_counts_samples_beyond_the_percentile():
    assert tail_samples(35, 99) == pytest.approx(0.35) and tail_samples(35, 50) == pytest.approx(17.5)
    assert not percentile_supported(35, 99) and percentile_supported(35, 50)
    assert percentile_supported(1000, 99) and not percentile_supported(999, 99)
    assert percentile_supported(100, 90) and not percentile_supported(99, 90)
    assert percentile_supported(40, 75) and not percentile_supported(39, 75)
    # the median is the centre, not a tail: it needs 10 samples in all (its CI says the rest)
    assert percentile_supported(10, 50) and not percentile_supported(9, 50)
    assert rough_percentile_note(5, 50) == "p50 is rough: n=5 samples (want >= 10)"
    assert percentile_supported(None, 99)  # unknown n is not marked
    assert rough_percentile_note(35, 99) == "p99 is rough: 0.35 of n=35 samples lie beyond it (want >= 10)"
    assert rough_percentile_note(2000, 99) == ""


def test_p99_from_35_samples_is_marked_in_cells_and_messages():
    stats = LatencyStats.from_samples(np.linspace(10.0, 12.0, 35), warmup_n=1, gated_percentile=99)
    st = stats.to_dict()
    assert percentile_cell(st, 99) == f"~{wording.format_ms(stats.p99_ms)}" and percentile_cell(st, 50) == "11.0"
    message = check_latency(LatencyBudget(ms=50, percentile=99), stats).message
    assert "p99 is rough: 0.35 of n=35 samples lie beyond it (want >= 10)" in message
    assert "rough" not in check_latency(LatencyBudget(ms=50), stats).message  # the median is firm


def test_fps_budget_reads_as_fps_and_headroom_as_a_ratio():
    stats = LatencyStats.from_samples([1100.0] * 30, warmup_n=5)
    v = check_latency(LatencyBudget(fps=30), stats)  # 1100 ms against 33.3 ms: 33x over
    assert budget_text(v.to_dict()) == "≥30 FPS"
    assert headroom_cell(v.to_dict()) == "33.0x over"
    assert v.message.startswith("latency_budget: p50 1100.0 ms exceeds 33.3 ms by 1066.7 ms (33.0x "
                                "the limit; 0.9 FPS < 30 FPS); n=30 after 5 warm-up runs")
    assert budget_text(check_latency(LatencyBudget(fps=30, percentile=90), stats).to_dict()) == \
        "≥30 FPS at p90"
    ok = check_latency(LatencyBudget(fps=0.5), stats)
    assert budget_text(ok.to_dict()) == "≥0.5 FPS" and headroom_cell(ok.to_dict()) == "45.0%"
    assert ok.message.startswith("latency_budget: p50 1100.0 ms within 2000.0 ms (45.0% headroom; "
                                 "0.9 FPS >= 0.5 FPS)")


def test_excess_is_absolute_and_never_zero_percent():
    v = check_params(ParamBudget(max=5000), 5001, "net.pb")
    assert v.message == "param_budget: 5,001 weights exceed 5,000 by 1 (+0.02%); model net.pb"
    assert wording.headroom_text(False, v.headroom_pct) == "0.02% over"
    stats = LatencyStats.from_samples([100.04] * 30, warmup_n=1, discarded_n=1)
    msg = check_latency(LatencyBudget(ms=100), stats).message
    assert "p50 100.040 ms exceeds 100.000 ms by 0.040 ms (+0.04%)" in msg
    assert "after 1 warm-up run (" in msg and "1 call of noisier ones set aside" in msg  # not "1 calls"
    assert "0.0%" not in msg + v.message


def test_wording_helpers():
    assert [wording.plural(n, "call") for n in (0, 1, 2)] == ["0 calls", "1 call", "2 calls"]
    assert wording.percent_text(12.345) == "12.3%" and wording.percent_text(0.0213) == "0.021%"
    assert wording.percent_text(1e-5) == "<0.001%"
    assert wording.headroom_text(False, -3221.0) == "33.2x over"  # the "-3221.0%"
    assert wording.headroom_text(True, 99.2) == "99.2%" and wording.headroom_text(None, math.nan) == "-"
    assert wording.fps_floor_text(33.333333) == "≥33.33 FPS"
    assert wording.format_ms(0.0456) == "0.0456" and wording.format_ms(112.44) == "112.4"


@pytest.mark.parametrize("value, ms, count, size", [
    (None, "-", "-", "-"),
    (math.nan, "-", "-", "-"),
    (0, "0.0", "0", "0 B"),
    (0.0456, "0.0456", "0.05", "0 B"),
    (1.23456, "1.23", "1.23", "1 B"),
    (45.77, "45.8", "45.77", "45 B"),
    (112.44, "112.4", "112.44", "112 B"),
    (1234.5, "1234.5", "1.23k", "1.2 kB"),
    (62_378_344, "62378344.0", "62.38M", "62.4 MB"),
    (1.5e9, "1500000000.0", "1.50G", "1.5 GB"),  # one spelling of 1.5e9 in every table
])
def test_one_formatter_per_quantity(value, ms, count, size):
    assert wording.format_ms(value) == ms
    assert wording.format_count(value) == count
    assert wording.format_bytes(value) == size
    assert wording.format_fps(value) == ("-" if ms == "-" else f"{value:.1f}")
    assert not hasattr(wording, "over_text")  # headroom_text says "12.4% over"


# -- the input that was timed -----------------------------------------------------------------

def test_describe_inputs_marks_only_dims_tfperf_chose(dynamic_fg):
    from pytest_tfperf.inputs.images import sample_image_for

    assert dynamic_fg.inputs[0].shape == (None, None, None, 3)
    sample = sample_image_for(dynamic_fg)
    (generated,) = describe_inputs(dynamic_fg, sample, generated=True)
    assert generated == {"name": "image:0", "shape": [1, 224, 224, 3], "dtype": "float32", "guessed": [1, 2],
                         "source": "synthetic"}
    assert inputs_text([generated]) == "[1,224,224,3] float32 (dynamic H/W: pinned to 224)"
    assert inputs_text([generated], mark="*") == "[1,224,224,3]* float32"
    # the sample_image fixture's array (or a batch made of it) is tfperf's choice too
    batch = np.repeat(sample, 4, axis=0)
    (fixture,) = describe_inputs(dynamic_fg, batch, samples=[sample])
    assert fixture["guessed"] == [1, 2] and fixture["source"] == "sample image"
    # an array the user built is the user's choice: shape only
    own = np.zeros((1, 96, 128, 3), np.float32)
    (mine,) = describe_inputs(dynamic_fg, own, samples=[sample])
    assert mine["guessed"] == [] and mine["source"] == "given" and inputs_text([mine]) == "[1,96,128,3] float32"
    # what tfperf feeds when a test gives nothing (a SampleInputs) says its own guesses and sources
    from pytest_tfperf.inputs.images import sample_feed

    (fed,) = describe_inputs(dynamic_fg, sample_feed(dynamic_fg))
    assert fed == {**generated, "source": "sample image",  # and the value range it chose (issue 21)
                   "range": "pixels/255 [0,1]: the graph gives no input range (the input policy's "
                            "float range)"}
    assert inputs_text([fed]) == ("[1,224,224,3] float32 (dynamic H/W: pinned to 224; "
                                  "pixels/255 [0,1])")
    # targets that are not Models: arrays described as given, nothing guessed
    two = describe_inputs(None, [np.zeros((2, 3), np.int32), np.ones((2,), np.float64)])
    assert inputs_text(two) == "input [2,3] int32; input1 [2] float64"
    assert describe_inputs(None, None) == ()


def test_bench_prints_the_input_it_timed(dynamic_keras, capsys):
    assert cli.main(["bench", str(dynamic_keras), "--runs", "2", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert ("Input: [1,224,224,3] float32 (dynamic H/W: pinned to 224; pixels/255 [0,1])"
            in out.splitlines()[1])  # the value range tfperf chose is said too (issue 21)
    assert cli.main(["bench", str(dynamic_keras), "--runs", "2", "--top", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"] == [{"name": "image:0", "shape": [1, 224, 224, 3], "dtype": "float32",
                               "guessed": [1, 2], "source": "sample image",
                               "range": "pixels/255 [0,1]: the graph gives no input range (the input policy's float range)"}]


# -- a real session, at 80 and 160 columns ------------------------------------------------------

SOURCE = f"""
    import numpy as np
    import pytest

    @pytest.mark.latency_budget(fps=30)
    def test_realtime_30fps(tfperf, frozen_graph, sample_image):
        tfperf.measure(frozen_graph, sample_image)

    @pytest.mark.tfperf_model("models/dynamic_net.keras")
    @pytest.mark.latency_budget(ms=10000, percentile=99)
    def test_dynamic_net_declarative(frozen_graph, sample_image):
        '''No measure() call: the plugin times frozen_graph on the sample image (224x224).'''

    @pytest.mark.latency_budget(ms=0.0001)
    def {IMPOSSIBLE}(tfperf, frozen_graph, sample_image):
        tfperf.measure(frozen_graph, sample_image, max_time=0.1)

    @pytest.mark.latency_budget(ms=10000)
    def test_pytest_benchmark_fixture(benchmark):
        benchmark(lambda: sum(range(100)))
"""


def _session(pytester, small_pb, dynamic_keras, monkeypatch, columns: int):
    models = pytester.path / "models"
    models.mkdir(exist_ok=True)
    (models / "small.pb").write_bytes(small_pb.read_bytes())
    (models / "dynamic_net.keras").write_bytes(dynamic_keras.read_bytes())
    pytester.makeini("[pytest]\ntfperf_model = models/small.pb\n")
    (pytester.path / "tests").mkdir(exist_ok=True)
    (pytester.path / "tests" / "test_realtime_performance.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.setenv("COLUMNS", str(columns))
    # under `pytest -n`, pytest-benchmark would see the outer worker and disable its fixture
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    result = pytester.runpytest(*FAST, "--tfperf-report", "--tfperf-json=out/run.json",
                                "--tfperf-markdown=out/run.md", "--tfperf-html=out/run.html")
    result.assert_outcomes(passed=3, failed=1)
    return result.stdout.lines


def _tfperf_part(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if "tfperf latency" in line)
    end = next(i for i, line in enumerate(lines) if "short test summary" in line)
    return lines[start:end]


def test_session_at_80_columns(pytester, small_pb, dynamic_keras, monkeypatch):
    lines = _session(pytester, small_pb, dynamic_keras, monkeypatch, 80)
    part = _tfperf_part(lines)
    too_long = [line for line in part if len(line) > 80]
    assert not too_long, too_long
    assert not any("…" in line for line in part)  # nothing cut
    text = "\n".join(part)
    assert "test ids below start with tests/test_realtime_performance.py::" in text
    assert IMPOSSIBLE in text  # the test's name whole, as written
    assert "≥30 FPS" in text and "p50≤0.0001ms" in text and "x over" in text
    assert "p99≤10000ms" in text and "e+0" not in text  # limits as a person writes them
    assert "[1,224,224,3]* float32" in text and "* dynamic dims pinned to 224 by tfperf" in text
    assert "p99 ms" in text and "~ rough: fewer than 10 of the n samples" in text  # gated p99, n < 1000
    # one line per file written, with its path, after the report
    assert [line for line in lines if line.startswith("tfperf: wrote")] == [
        "tfperf: wrote JSON report out/run.json", "tfperf: wrote Markdown report out/run.md",
        "tfperf: wrote HTML report out/run.html"]
    # the header says what tfperf times with, next to pytest-benchmark's own line
    header = [line for line in lines[:12] if line.startswith("tfperf: ")]
    assert "warmup=2 runs + 0.1 s min_runs=10 min_time=0.05 s max_time=0.3 s disable_gc=True" in header[0]
    assert header[1].startswith("tfperf: threads intra_op=1 inter_op=inline; runtime tensorflow ")
    assert any("pytest-benchmark's, for its benchmark fixture only" in line for line in header)

    doc = json.loads((pytester.path / "out" / "run.json").read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}
    ours = by_name["test_realtime_30fps::small.pb"]
    assert ours["options"] == {"timer": "perf_counter_ns", "warmup": 2, "min_rounds": 10,
                               "min_time": 0.05, "max_time": 0.3, "disable_gc": True}
    tf_info = by_name["test_dynamic_net_declarative::dynamic_net.keras"]["extra_info"]["tfperf"]
    assert tf_info["inputs"][0]["guessed"] == [1, 2]
    assert tf_info["input"] == "[1,224,224,3] float32 (dynamic H/W: pinned to 224; pixels/255 [0,1])"
    assert "p99" in tf_info["rough_percentiles"] and tf_info["timing"]["intra_op_threads"] == 1
    assert ours["extra_info"]["tfperf"]["budgets"][0]["fps_limit"] == 30
    bench = by_name["test_pytest_benchmark_fixture::benchmark"]["options"]
    assert bench["disable_gc"] is False and bench["timer"] == "perf_counter"  # its own options, kept
    settings = doc["tfperf"]["settings"]
    assert settings["warmup"] == 2 and settings["disable_gc"] is True and settings["runtime"]["tensorflow"]
    md = (pytester.path / "out" / "run.md").read_text()
    assert "[1,224,224,3] float32 (dynamic H/W: pinned to 224; pixels/255 [0,1])" in md and "≥30 FPS" in md
    page = (pytester.path / "out" / "run.html").read_text()
    assert "dynamic dims pinned to 224" in page and "≥30 FPS" in page and "~ rough" in page


def test_session_at_160_columns(pytester, small_pb, dynamic_keras, monkeypatch):
    lines = _session(pytester, small_pb, dynamic_keras, monkeypatch, 160)
    part = _tfperf_part(lines)
    assert all(len(line) <= 160 for line in part)
    assert not any("…" in line for line in part)
    # each row's identity reads whole on one line: test name, model, input
    i = next(i for i, line in enumerate(part) if line.startswith(IMPOSSIBLE))
    assert part[i].split() == [IMPOSSIBLE, "small.pb", "[1,32,32,3]", "float32"] or \
        part[i].startswith(f"{IMPOSSIBLE}  small.pb  ")
    assert "FAIL" in part[i] + part[i + 1]
    assert next(line for line in part if line.startswith("test_dynamic_net_declarative")).split()[1:] == \
        ["dynamic_net.keras", "[1,224,224,3]*", "float32"]
    failures = part[part.index(next(x for x in part if "tfperf budget failures" in x)):]
    assert f"tests/test_realtime_performance.py::{IMPOSSIBLE}" in failures
