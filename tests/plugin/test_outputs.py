"""write_outputs (JSON/Markdown/HTML/save/step summary), the compare step, xdist merging."""
from __future__ import annotations

import json

from report_data import make_results, measurement

from pytest_tfperf.plugin import session as tfsession
from pytest_tfperf.baseline import finalize
from pytest_tfperf.plugin.options import Settings
from pytest_tfperf.plugin.outputs import terminal_summary, write_outputs
from pytest_tfperf.atomic import write_text
from pytest_tfperf.results.session import SessionResults


def test_write_outputs_writes_every_requested_file(tmp_path, monkeypatch):
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.chdir(tmp_path)
    options = Settings(report=True, json_path="out/r.json", markdown_path="r.md",
                                      html_path="r.html", save="main", rootdir=str(tmp_path))
    results = make_results()
    written = write_outputs(options, results)
    assert [p.name for p in written] == ["r.json", "r.md", "r.html"]
    doc = json.loads((tmp_path / "out/r.json").read_text())
    assert len(doc["benchmarks"]) == 2
    saved = list((tmp_path / ".tfperf").glob("*/0001_main.json"))
    assert len(saved) == 1 and results.environment["saved_baseline"] == str(saved[0])
    assert "### Latency" in (tmp_path / "r.md").read_text()
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "## tfperf report" in text  # appended
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files


def test_step_summary_not_written_without_reporting(tmp_path, monkeypatch):
    summary = tmp_path / "s.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_outputs(Settings(rootdir=str(tmp_path)), make_results())
    assert not summary.exists()


def test_compare_step_records_comparisons_and_terminal_shows_them(tmp_path):
    root = str(tmp_path)
    base = SessionResults()
    base.add("measurement", measurement("t.py::test_a", 10.0, seed=1))
    write_outputs(Settings(save="main", rootdir=root), base)
    new = SessionResults()
    new.add("measurement", measurement("t.py::test_a", 16.0, seed=2))
    options = Settings(compare="", compare_fail=("median:10%",), rootdir=root)
    finalize(options, new)
    (comp,) = new.comparisons
    assert comp.verdict == "regressed" and comp.failed and comp.base_n == 60
    assert new.environment["baseline"]["path"].endswith("0001_main.json")

    lines: list[str] = []

    class Terminal:
        def write_sep(self, sep, title, **kw):
            lines.append(title)

        def write_line(self, line, **kw):
            lines.append(line)

    terminal_summary(Terminal(), options, new)  # no --tfperf-report: comparison only
    assert lines[0] == "tfperf comparison"
    table = "\n".join(lines)  # a row may take two lines at 80 columns: the id, then its numbers
    assert "t.py::test_a::measure[0]" in table and "REGRESSED" in table


def test_bad_baseline_at_report_time_is_a_warning_not_a_crash(tmp_path):
    r = make_results()
    finalize(Settings(compare="nothing", rootdir=str(tmp_path)), r)
    assert "no stored run named 'nothing'" in r.environment["baseline"]["warnings"][0]


def test_xdist_worker_output_round_trip():
    class Config:
        pass

    class Node:
        pass

    worker = make_results()
    config = Config()
    config.workeroutput = {}
    tfsession.ship_results(config, worker)
    payload = config.workeroutput[tfsession.WORKEROUTPUT_KEY]
    assert json.loads(json.dumps(payload)) == payload  # plain data execnet can send
    controller = SessionResults()
    controller.add("measurement", measurement("t.py::test_local", 1.0))
    node = Node()
    node.workeroutput = config.workeroutput
    tfsession.merge_worker(controller, node)
    tfsession.merge_worker(controller, Node())  # a crashed worker sends nothing
    assert len(controller.measurements) == 3 and len(controller.models) == 2
    assert controller.measurements[1:] == worker.measurements
    assert controller.environment["tensorflow"] == "2.21.0"


def test_atomic_write_refuses_to_overwrite_when_asked(tmp_path):
    path = write_text(tmp_path / "a.json", "one")
    try:
        write_text(path, "two", overwrite=False)
    except FileExistsError:
        pass
    else:
        raise AssertionError("overwrote an existing file")
    assert path.read_text() == "one"
    write_text(path, "three")
    assert path.read_text() == "three" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_xdist_session_merges_workers_end_to_end(pytester):
    """Two xdist workers measure; the controller's report and JSON hold all four rows."""
    pytester.makepyfile(test_x="""
        import time
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_sleep(tfperf, i):
            tfperf.measure(lambda: time.sleep(0.001), name="sleep", min_runs=5, max_time=0.2,
                           warmup=1)
    """)
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "--tfperf-report",
                                           "--tfperf-json", "out.json")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*tfperf latency*", "*test_sleep?3?*"])
    doc = json.loads((pytester.path / "out.json").read_text())
    assert sorted(b["fullname"] for b in doc["benchmarks"]) == [
        f"test_x.py::test_sleep[{i}]::sleep" for i in range(4)]
