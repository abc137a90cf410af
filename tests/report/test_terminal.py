"""Terminal report: tables that fit the terminal without cutting ids, marks, sections, JUnit."""
from __future__ import annotations

import dataclasses

from report_data import LONG_ID, make_results, measurement

from pytest_tfperf.plugin.options import Settings
from pytest_tfperf.plugin.outputs import junit_properties, terminal_summary
from pytest_tfperf.report import tables, terminal
from pytest_tfperf.results.records import MeasurementRecord
from pytest_tfperf.results.session import SessionResults
from pytest_tfperf.wording import format_ms

NAME = "test_alexnet_is_realtime_enough_for_face_recognition[batch1-float32]"


def _section(sections, title):
    return dict(sections)[title]


def test_measurement_rows_show_stats_budget_and_verdict():
    r = make_results()
    lines = terminal.render_measurements(r, width=200)  # wide: one line per row, ids whole
    assert lines[0].split() == ["test", "model", "input", "median", "ms", "p90", "ms", "FPS", "n",
                                "budget", "headroom", "verdict"]
    ok_row = next(line for line in lines if line.startswith(LONG_ID))
    st = r.measurements[0].stats
    assert f" {format_ms(st['median_ms'])} " in ok_row and f"~{format_ms(st['p90_ms'])}" in ok_row  # n=60: p90 rough
    assert f"{st['fps']:.1f}" in ok_row and " 60 " in ok_row
    headroom = r.measurements[0].verdicts[0]["headroom_pct"]
    assert "p50≤100ms" in ok_row and f"{headroom:.1f}%" in ok_row and ok_row.endswith("ok")
    vgg_row = next(line for line in lines if line.startswith("tests/test_vgg.py::test_vgg16"))
    # fps=10: read as FPS, and 250 ms against 100 ms is "2.5x over", not "-150.0%"
    assert "≥10 FPS" in vgg_row and "2.5x over" in vgg_row and vgg_row.endswith("FAIL")
    assert "-150" not in vgg_row and "p50≤100ms" not in vgg_row
    assert lines[-2].startswith("~ rough: fewer than 10 of the n samples")


def _ids_whole(lines, test_ids):
    """Each id is readable whole: on one line, or its shared start said once above the table."""
    text = "\n".join(lines)
    for test_id in test_ids:
        file_part, name = test_id.split("::")
        assert name in text, name
        assert file_part in text or "test ids below start with " + file_part.rsplit("/", 1)[0] in text


def test_at_80_columns_every_line_fits_and_no_id_loses_its_start():
    r = make_results()
    for title, lines in terminal.sections(r, report=True, width=80):
        for line in lines:
            assert len(line) <= 80, (title, line)
        assert not any("…" in line for line in lines), title  # nothing is cut
    lines = terminal.render_measurements(r, width=80)
    _ids_whole(lines, [LONG_ID, "tests/test_vgg.py::test_vgg16"])
    # two lines per row: what identifies it, then its numbers indented
    i = next(i for i, line in enumerate(lines) if NAME in line)
    assert lines[i + 1] == tables.INDENT + "alexnet.pb"
    assert lines[i + 2].startswith(tables.INDENT + "    ") and lines[i + 2].endswith("ok")
    failures = "\n".join(_section(terminal.sections(r, report=False, width=80), "tfperf budget failures"))
    assert "tests/test_vgg.py::test_vgg16" in failures and "exceeds 100.0 ms by" in failures


def test_at_160_columns_nothing_is_cut():
    r = make_results()
    image = {"name": "input_node:0", "shape": [1, 224, 224, 3], "dtype": "float32", "guessed": []}
    test_id = "tests/test_realtime.py::test_alexnet_is_realtime[batch1-float32]"
    r.records["measurement"][0] = dataclasses.replace(r.records["measurement"][0], test_id=test_id,
                                                      inputs=(image,))
    lines = terminal.render_measurements(r, width=160)
    assert all(len(line) <= 160 for line in lines)
    row = next(line for line in lines if line.startswith(test_id))
    # one line: id, model, input and every number whole
    assert "alexnet.pb  [1,224,224,3] float32" in row and row.endswith("ok")
    assert not any("…" in line for line in lines)


def test_common_start_of_ids_is_said_once_when_rows_do_not_fit():
    r = SessionResults()
    for name in ("test_realtime_30fps", "test_latency_at_batch_sizes_for_the_classifier[8]"):
        r.add("measurement", measurement(f"tests/perf/test_realtime_performance.py::{name}", 5.0,
                                         model="small_convnet_classifier.pb"))
    lines = terminal.render_measurements(r, width=120)
    assert lines[0] == "test ids below start with tests/perf/test_realtime_performance.py::"
    assert lines[1] == "every row: model small_convnet_classifier.pb"
    assert any(line.startswith("test_realtime_30fps ") for line in lines)
    assert tables.common_prefix(["a/b.py::x", "a/b.py::y"]) == "a/b.py::"
    assert tables.common_prefix(["a/b.py::x", "a/c.py::x"]) == "a/"
    assert tables.common_prefix(["a.py::x"]) == "" and tables.common_prefix(["x", "y"]) == ""


def test_wrap_id_breaks_at_separators_and_loses_nothing():
    text = LONG_ID + "  alexnet.pb  [1,224,224,3]* float32"
    for width in (80, 60, 30):
        lines = tables.wrap_id(text, width)
        assert all(len(line) <= width for line in lines)
        assert "".join(line.strip() for line in lines).replace(" ", "") == text.replace(" ", "")
    assert tables.wrap_id(LONG_ID, 80)[1].strip() == NAME  # split between file and test name


def test_model_rows_show_weights_flops_size_nodes():
    lines = terminal.render_models(make_results())
    alex = next(line for line in lines if line.startswith("alexnet.pb"))
    assert alex.split()[1:] == ["62.38M", "1.43G", "249.6", "MB", "57", "ok"]  # MB = 10^6 bytes
    vgg = next(line for line in lines if line.startswith("vgg16.pb"))
    # the summary lacks size and node count: rendered as "-", no crash
    assert vgg.split()[1:] == ["138.36M", "15.50G", "-", "-", "-"]


def test_missing_keys_render_as_dash():
    r = SessionResults()
    r.add("measurement", {"test_id": "t.py::test_x"})
    r.add("model", {"model": "m"})
    r.add("equivalence", {"report": {}})
    for _, lines in terminal.sections(r, report=True):
        assert lines
    row = terminal.render_measurements(r)[2]
    assert row.split() == ["t.py::test_x"] + ["-"] * 9


def test_without_report_flag_only_budget_failures_are_printed():
    r = make_results()
    secs = terminal.sections(r, report=False)
    assert [t for t, _ in secs] == ["tfperf budget failures"]
    text = "\n".join(_section(secs, "tfperf budget failures"))
    assert "tests/test_vgg.py::test_vgg16" in text and "exceeds 100.0 ms" in text
    r.records["failure"].clear()
    assert terminal.sections(r, report=False) == []


def test_profile_section_uses_profile_text_renderer():
    r = make_results()
    r.add("profile", {"test_id": "t.py::test_p", "model": "small.pb",
                      "profile": {"node_types": [], "total_ms": 1.0}})
    secs = terminal.sections(r, report=True, profile=True)
    lines = _section(secs, "tfperf profiles")
    assert lines[0] == "t.py::test_p - small.pb"
    assert "profile table unavailable" in lines[1]  # a partial dict: a note, not a crash
    assert "tfperf profiles" not in [t for t, _ in terminal.sections(r, report=True)]


class _FakeTerminal:
    """Collects what `terminal_summary` writes (pytest's TerminalReporter interface)."""

    def __init__(self, width=100):
        self.lines: list[str] = []
        self._tw = type("TW", (), {"fullwidth": width})()

    def write_sep(self, sep, title, **markup):
        self.lines.append(f"--- {title} ---")

    def write_line(self, line, **markup):
        self.lines.append(line)


def test_terminal_summary_prints_sections_at_the_terminal_width(tmp_path):
    tr = _FakeTerminal(width=80)
    options = Settings(report=True, rootdir=str(tmp_path))
    terminal_summary(tr, options, make_results())
    assert "--- tfperf latency ---" in tr.lines and "--- tfperf models ---" in tr.lines
    assert "--- tfperf budget failures ---" in tr.lines
    assert any("tensorflow 2.21.0" in line for line in tr.lines)
    assert all(len(line) <= 80 for line in tr.lines)


def test_header_reports_our_timing_settings_not_pytest_benchmarks():
    from pytest_tfperf.plugin.header import render_header

    lines = render_header({"warmup": 5, "warmup_time": 0.1, "min_runs": 10, "min_time": 0.2,
                                    "max_time": 5.0, "disable_gc": True, "timer": "perf_counter_ns",
                                    "intra_op_threads": 1, "inter_op_threads": None,
                                    "budget_scale": 1.5, "runtime": {"tensorflow": "2.21.0"}},
                                   pytest_benchmark=True)
    assert "warmup=5 runs + 0.1 s min_runs=10 min_time=0.2 s max_time=5 s disable_gc=True" in lines[0]
    assert lines[1] == ("tfperf: threads intra_op=1 inter_op=inline; runtime tensorflow 2.21.0; "
                        "latency budgets x1.5")
    assert "pytest-benchmark's, for its benchmark fixture only" in lines[2]
    disabled = render_header({"disabled": True})
    assert "disabled (--tfperf-disable" in disabled[0] and len(disabled) == 2


def test_junit_properties_per_measurement():
    r = make_results()
    props = dict(junit_properties(r.measurements[:1]))
    median = r.measurements[0].stats["median_ms"]
    assert props == {"tfperf[measure[0]].median_ms": format_ms(median),
                     "tfperf[measure[0]].budget": "p50≤100ms",
                     "tfperf[measure[0]].verdict": "ok"}
    plain = MeasurementRecord.from_dict(measurement("t::x", 5.0))  # no budget: no verdict
    assert junit_properties([plain])[2] == ("tfperf[measure[0]].verdict", "-")


def test_real_tensorflow_measurement_renders(small_frozen, image32):
    """Records produced by the real timing engine and budget check, rendered end to end."""
    from pytest_tfperf.plugin.budgets import check_latency
    from pytest_tfperf.plugin.markers import LatencyBudget
    from pytest_tfperf.inputs.described import describe_inputs
    from pytest_tfperf.timing.engine import measure

    stats = measure(small_frozen, image32, min_runs=10, max_time=2.0, warmup=2)
    verdict = check_latency(LatencyBudget(ms=60_000), stats, model=small_frozen.name)
    r = SessionResults()
    r.add("measurement", {"test_id": "tests/test_real.py::test_small", "name": stats.name,
                          "model": small_frozen.name, "stats": stats.to_dict(),
                          "verdicts": [verdict.to_dict()], "device": "CPU", "target_kind": "graph_def",
                          "inputs": describe_inputs(small_frozen, image32)})
    row = terminal.render_measurements(r, width=160)[2]
    assert row.startswith("tests/test_real.py::test_small")
    assert "[1,32,32,3] float32" in row and "*" not in row  # the user's own array: nothing guessed
    assert format_ms(stats.median_ms) in row
    assert "p50≤6e+04ms" in row or "p50≤60000ms" in row
    assert row.rstrip().endswith("ok")
    assert len(stats.samples_ms) >= 10
