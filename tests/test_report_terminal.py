"""Terminal report: table content, 100-column fit, missing keys, sections, JUnit properties."""
from __future__ import annotations

from test_report_data import LONG_ID, make_results, measurement

from pytest_tfperf.options import Settings
from pytest_tfperf.outputs import junit_properties, terminal_summary
from pytest_tfperf.report import terminal
from pytest_tfperf.results import SessionResults


def _section(sections, title):
    return dict(sections)[title]


def test_measurement_rows_show_stats_budget_and_verdict():
    r = make_results()
    lines = terminal.render_measurements(r)
    assert lines[0].split() == ["test", "model", "median", "ms", "p90", "ms", "FPS", "budget",
                                "headroom", "verdict"]
    ok_row = next(line for line in lines if "alexnet.pb" in line)
    st = r.measurements[0]["stats"]
    assert f"{st['median_ms']:.2f}" in ok_row and f"{st['p90_ms']:.2f}" in ok_row
    assert f"{st['fps']:.1f}" in ok_row
    assert "p50≤100ms" in ok_row and ok_row.rstrip().endswith("ok")
    headroom = r.measurements[0]["verdicts"][0]["headroom_pct"]
    assert f"{headroom:+.1f}%" in ok_row
    vgg_row = next(line for line in lines if "vgg16.pb" in line)
    assert vgg_row.rstrip().endswith("FAIL") and "-150." in vgg_row


def test_every_line_fits_100_columns_and_long_ids_are_cut_from_the_left():
    r = make_results()
    for title, lines in terminal.sections(r, report=True):
        for line in lines:
            assert len(line) <= 100, (title, line)
    row = next(line for line in terminal.render_measurements(r) if "alexnet.pb" in line)
    assert row.startswith("…") and "[batch1-float32]" in row  # the test's own name survives
    assert LONG_ID not in row


def test_model_rows_show_weights_flops_size_nodes():
    lines = terminal.render_models(make_results())
    alex = next(line for line in lines if line.startswith("alexnet.pb"))
    assert alex.split()[1:] == ["62.38M", "1.43G", "249.60", "MB", "57", "ok"]
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
    assert row.split() == ["t.py::test_x", "-", "-", "-", "-", "-", "-", "-"]


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

    def __init__(self):
        self.lines: list[str] = []

    def write_sep(self, sep, title, **markup):
        self.lines.append(f"--- {title} ---")

    def write_line(self, line, **markup):
        self.lines.append(line)


def test_terminal_summary_prints_sections_through_the_reporter(tmp_path):
    tr = _FakeTerminal()
    options = Settings(report=True, rootdir=str(tmp_path))
    terminal_summary(tr, options, make_results())
    assert "--- tfperf latency ---" in tr.lines and "--- tfperf models ---" in tr.lines
    assert "--- tfperf budget failures ---" in tr.lines
    assert any("tensorflow 2.21.0" in line for line in tr.lines)


def test_junit_properties_per_measurement():
    r = make_results()
    props = dict(junit_properties(r.measurements[:1]))
    median = r.measurements[0]["stats"]["median_ms"]
    assert props == {"tfperf[measure[0]].median_ms": f"{median:.2f}",
                     "tfperf[measure[0]].budget": "p50≤100ms",
                     "tfperf[measure[0]].verdict": "ok"}
    assert junit_properties([measurement("t::x", 5.0)])[2] == ("tfperf[measure[0]].verdict", "-")


def test_real_tensorflow_measurement_renders(small_frozen, image32):
    """Records produced by the real timing engine and budget check, rendered end to end."""
    from pytest_tfperf.budgets import LatencyBudget, check_latency
    from pytest_tfperf.timing import measure

    stats = measure(small_frozen, image32, min_runs=10, max_time=2.0, warmup=2)
    verdict = check_latency(LatencyBudget(ms=60_000), stats, model=small_frozen.name)
    r = SessionResults()
    r.add("measurement", {"test_id": "tests/test_real.py::test_small", "name": stats.name,
                          "model": small_frozen.name, "stats": stats.to_dict(),
                          "verdicts": [verdict.to_dict()], "device": "CPU", "target_kind": "graph_def"})
    row = terminal.render_measurements(r)[2]
    assert row.startswith("tests/test_real.py::test_small")
    assert f"{stats.median_ms:.2f}" in row or f"{stats.median_ms:.3f}" in row
    assert "p50≤60000ms" in row and row.rstrip().endswith("ok")
    assert len(stats.samples_ms) >= 10
