"""Baselines: thresholds, save/load, corrupt and foreign files, significance-gated comparisons."""
from __future__ import annotations

import json
import numpy as np
from types import SimpleNamespace

import pytest
from report_data import make_results, measurement


from pytest_tfperf import baseline, cli
from pytest_tfperf.plugin.options import Settings
from pytest_tfperf.plugin.gate import regressions
from pytest_tfperf.plugin.markers import LatencyBudget, latency_budget_of
from pytest_tfperf.errors import BaselineError, ConfigError
from pytest_tfperf.results.file import ResultFile, build_document, from_document
from pytest_tfperf.results.records import MeasurementRecord
from pytest_tfperf.results.session import SessionResults
from pytest_tfperf.timing.stats import LatencyStats

MACHINE = {"node": "vm", "machine": "x86_64", "cpu": {"brand_raw": "cpu"}}
COMMIT = {"id": "abc", "dirty": False}


def _doc(results: SessionResults) -> dict:
    return build_document(results, machine=MACHINE, commit=COMMIT)


def _base(results: SessionResults, source: str) -> ResultFile:
    """`results` as a baseline file read back from `source` (checked and typed by the one reader)."""
    return from_document(json.loads(json.dumps(_doc(results))), source)


def _rec(*args, **kwargs) -> MeasurementRecord:
    return MeasurementRecord.from_dict(measurement(*args, **kwargs))


def _run(*records: dict) -> SessionResults:
    r = SessionResults()
    r.environment.update(tensorflow="2.21.0", device="CPU")
    for rec in records:
        r.add("measurement", rec)
    return r


@pytest.mark.parametrize("expr, expected", [
    ("median:10%", ("median", "percent", 10.0)),
    ("p90:5ms", ("p90", "ms", 5.0)),
    ("P50:2.5%", ("median", "percent", 2.5)),
    ("mean: 0.5 ms", ("mean", "ms", 0.5)),
    ("7%", ("gated", "percent", 7.0)),  # each measurement's gated statistic
    ("gated:5%", ("gated", "percent", 5.0)),
])
def test_parse_fail_expr(expr, expected):
    th = baseline.parse_fail_expr(expr)
    assert (th.statistic, th.kind, th.value) == expected


@pytest.mark.parametrize("expr", ["median", "median:10", "median:-5%", "fast:10%", "p100:1ms", ""])
def test_parse_fail_expr_rejects_bad_input(expr):
    with pytest.raises(ConfigError, match="Received"):
        baseline.parse_fail_expr(expr)


def test_threshold_exceeded_and_improved():
    pct, ms = baseline.parse_fail_expr("median:10%"), baseline.parse_fail_expr("median:5ms")
    assert pct.exceeded(10.0, 11.5) and not pct.exceeded(10.0, 10.9)
    assert pct.improved(10.0, 8.5) and not pct.improved(10.0, 9.5)
    assert ms.exceeded(10.0, 15.5) and not ms.exceeded(10.0, 14.0)


def test_save_numbers_runs_and_load_finds_them(tmp_path):
    root = tmp_path / ".tfperf"
    first = baseline.save(make_results(), "main", root)
    second = baseline.save(make_results(), "pr-7", root)
    third = baseline.save(make_results(), "main", root)
    assert first.parent.name == baseline.machine_id() and first.parent.parent == root
    assert [p.name for p in (first, second, third)] == ["0001_main.json", "0002_pr-7.json",
                                                        "0003_main.json"]
    assert baseline.load_baseline("main", root).path == str(third)
    assert baseline.load_baseline(None, root).path == str(third)
    assert baseline.load_baseline("0001", root).path == str(first)
    assert baseline.load_baseline(str(second), root).path == str(second)
    doc = baseline.load_baseline("pr-7", root)
    # raw samples are stored: a baseline can be tested for significance later
    samples = doc.results.measurements[0].stats["samples_ms"]
    assert samples == make_results().measurements[0].stats["samples_ms"]
    with pytest.raises(BaselineError, match="0001_main, 0002_pr-7, 0003_main"):
        baseline.load_baseline("nope", root)
    with pytest.raises(ConfigError, match="Received: 'a/b'"):
        baseline.save(make_results(), "a/b", root)


def test_missing_storage_is_a_clear_error(tmp_path):
    with pytest.raises(BaselineError, match="no stored run .*--tfperf-save"):
        baseline.load_baseline(None, tmp_path / ".tfperf")
    with pytest.raises(BaselineError, match="missing.json does not exist"):
        baseline.load_baseline(str(tmp_path / "missing.json"), tmp_path)


@pytest.mark.parametrize("content, match", [
    (b'{"benchmarks": [', "is corrupt \\(not JSON"),
    (b"\xff\xfe\x00garbage", "is corrupt"),
    (b'{"hello": "world"}', "is not a tfperf or pytest-benchmark results file"),
    (b"[1, 2, 3]", "is not a tfperf or pytest-benchmark results file"),
    (b'{"benchmarks": [{"name": "x"}]}', "is corrupt: a 'benchmarks' entry has no 'stats'"),
])
def test_corrupt_or_foreign_baseline_names_the_file_and_is_left_untouched(tmp_path, content, match):
    root = tmp_path / ".tfperf"
    bad = root / baseline.machine_id() / "0001_main.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(content)
    with pytest.raises(BaselineError, match=match) as info:
        baseline.load_baseline("main", root)
    assert str(bad) in str(info.value)
    saved = baseline.save(make_results(), "main", root)  # saving again writes a new file
    assert saved.name == "0002_main.json"
    assert bad.read_bytes() == content


def _pair(base_median, new_median, *, n=60, spread=0.05, seeds=(1, 2)):
    return (_rec("t.py::test_x", base_median, n=n, spread=spread, seed=seeds[0]),
            _rec("t.py::test_x", new_median, n=n, spread=spread, seed=seeds[1]))


def test_injected_slowdown_is_regressed_and_unchanged_rerun_is_ok():
    base, slow = _pair(10.0, 15.0)
    c = baseline.compare_measurement(base, slow, ["median:10%"])
    assert c.verdict == "regressed" and c.failed
    assert c.ratio == pytest.approx(slow.stats["median_ms"] / base.stats["median_ms"])
    assert c.p_value < 1e-6 and (c.base_n, c.new_n) == (60, 60)
    assert c.to_dict()["change_pct"] == pytest.approx((c.ratio - 1) * 100)
    base, same = _pair(10.0, 10.0)
    c = baseline.compare_measurement(base, same, ["median:10%"])
    assert c.verdict == "ok" and abs(c.change_pct) < 10 and not c.failed


def test_change_past_threshold_without_significance_is_noise():
    # 4 samples per side cannot reach p < 0.01 with a rank test, whatever the shift
    base, slow = _pair(10.0, 13.0, n=4, spread=0.2)
    c = baseline.compare_measurement(base, slow, ["median:10%"])
    assert c.change_pct > 10 and c.p_value >= 0.01  # no conventional test calls it a difference
    assert c.verdict == "noise" and not c.failed


@pytest.mark.parametrize("ratio, low, high, verdict", [
    (1.15, 1.06, 1.25, "regressed"),  # past 10% by the estimate, past 5% by the whole CI
    (1.15, 1.04, 1.27, "noise"),      # real, but the CI reaches under half the threshold
    (1.15, 0.98, 1.35, "noise"),      # the CI still holds "no change"
    (1.08, 1.06, 1.11, "ok"),         # real, but within the threshold
    (0.85, 0.80, 0.94, "improved"),
    (0.85, 0.78, 0.96, "noise"),
    (1.095, 1.09, 1.10, "ok"),        # just within the threshold, however certain
])
def test_verdict_rule_estimate_past_threshold_and_ci_past_half_of_it(ratio, low, high, verdict):
    from pytest_tfperf.baseline.compare import verdict_of
    from pytest_tfperf.baseline.thresholds import parse_thresholds
    from pytest_tfperf.timing.blocks import ChangeEstimate

    change = ChangeEstimate(ratio, low, high, 0.03, 30.0, 8, 8, 0.02, 0.01)
    th, = parse_thresholds(["median:10%"])
    assert verdict_of(th, 10.0, change) == verdict
    ms, = parse_thresholds(["median:1ms"])  # the same rule for a threshold in milliseconds
    assert verdict_of(ms, 10.0, change) == verdict


def test_significant_speedup_is_improved_and_ms_thresholds():
    base, fast = _pair(10.0, 6.0)
    assert baseline.compare_measurement(base, fast, ["median:10%"]).verdict == "improved"
    base, slow = _pair(10.0, 14.0)
    assert baseline.compare_measurement(base, slow, ["median:5ms"]).verdict == "ok"
    c = baseline.compare_measurement(base, slow, ["median:5ms", "p90:1ms"])
    assert (c.verdict, c.statistic, c.threshold) == ("regressed", "p90", "p90:1ms")
    # no thresholds given: classified with the display threshold, never enforced
    c = baseline.compare_measurement(base, slow)
    assert c.verdict == "regressed" and not c.enforced and not c.failed


def test_real_sleep_slowdown_is_flagged_from_raw_samples():
    def rec(samples):
        st = LatencyStats.from_samples(samples, name="sleep")
        return MeasurementRecord(test_id="t.py::test_sleep", name="sleep", stats=st.to_dict())

    # a sleep's wake-up latency follows the machine's load: the stream is drawn, seeded, from
    # the shape sleeps have here (a floor plus a right tail), so the verdict cannot flake
    rng = np.random.default_rng(7)

    def sleeps(ms):
        return list(ms + 0.08 + rng.gamma(2.0, 0.05, 25))
    base, slow = rec(sleeps(2.0)), rec(sleeps(3.0))
    c = baseline.compare_measurement(base, slow, ["median:10%"])
    assert c.verdict == "regressed", c.message()


def test_compare_runs_and_per_test_gate():
    base_run = _run(measurement("t.py::test_a", 10.0, seed=1), measurement("t.py::test_b", 10.0, seed=2),
                    measurement("t.py::test_gone", 10.0, seed=3))
    doc = _base(base_run, ".tfperf/x/0001_main.json")
    new_a = _rec("t.py::test_a", 15.0, seed=4)
    new_b = _rec("t.py::test_b", 10.0, seed=5)
    new_c = _rec("t.py::test_new", 10.0, seed=6)
    comps = baseline.compare_runs(doc, _run(new_a, new_b, new_c), ["median:10%"])
    assert {c.key: c.verdict for c in comps} == {"t.py::test_a::measure[0]": "regressed",
                                                 "t.py::test_b::measure[0]": "ok"}
    msgs = baseline.regression_for("t.py::test_a", comps, doc.path)
    assert len(msgs) == 1 and "t.py::test_a::measure[0]" in msgs[0] and "0001_main.json" in msgs[0]
    assert baseline.regression_for("t.py::test_b", comps) == []
    # the gate the plugin runs at the end of each test
    assert baseline.check_regressions(doc, "t.py::test_a", [new_a], ["median:10%"])
    assert baseline.check_regressions(doc, "t.py::test_b", [new_b], ["median:10%"]) == []
    assert baseline.check_regressions(doc, "t.py::test_a", [new_a], []) == []  # nothing asked
    # latency_budget(..., regression="10%") gates this test without --tfperf-compare-fail
    assert baseline.check_regressions(doc, "t.py::test_a", [new_a], [], regression="10%")
    assert baseline.check_regressions(doc, "t.py::test_a", [new_a], ["median:10%"],
                                      regression="80%") == []
    assert baseline.check_regressions(None, "t.py::test_a", [new_a], ["median:10%"]) == []


def test_baseline_warnings_for_other_machine_and_tensorflow():
    doc = _base(_run(measurement("t.py::test_a", 10.0)), "0001_main.json")
    assert baseline.baseline_warnings(doc, {"tensorflow": "2.21.0", "device": "CPU"}, MACHINE) == []
    warnings = baseline.baseline_warnings(doc, {"tensorflow": "2.22.0", "device": "GPU:0"},
                                          dict(MACHINE, node="other"))
    assert len(warnings) == 3
    assert "TensorFlow 2.21.0, this run uses 2.22.0" in warnings[0]
    assert "device CPU" in warnings[1] and "another machine" in warnings[2]


def test_compare_command_exit_codes_and_plain_pytest_benchmark_files(tmp_path, capsys):
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text(json.dumps(_doc(_run(measurement("t.py::test_a", 10.0, seed=1)))))
    b.write_text(json.dumps(_doc(_run(measurement("t.py::test_a", 15.0, seed=2)))))
    plain = _doc(_run(measurement("t.py::test_a", 10.0, seed=3)))
    del plain["tfperf"]  # what pytest-benchmark itself writes: stats.data in seconds
    c.write_text(json.dumps(plain))
    assert cli.main(["compare", str(a), str(b), "--fail", "median:10%"]) == 1
    out = capsys.readouterr().out
    assert "t.py::test_a::measure[0]" in out and "REGRESSED" in out
    assert cli.main(["compare", str(a), str(b), "--fail", "median:60%"]) == 0
    capsys.readouterr()
    assert cli.main(["compare", str(c), str(b), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["comparisons"][0]["verdict"] == "regressed"
    assert data["comparisons"][0]["base_ms"] == pytest.approx(
        json.loads(c.read_text())["benchmarks"][0]["stats"]["median"] * 1000)
    assert cli.main(["compare", str(c), str(a)]) == 0
    capsys.readouterr()
    (tmp_path / "bad.json").write_text("{")
    assert cli.main(["compare", str(tmp_path / "bad.json"), str(a)]) == 2
    assert "bad.json is corrupt" in capsys.readouterr().err


# --------------------------------------------------------------------------- malformed records
def _with_record(**changes) -> dict:
    """A valid baseline document whose only measurement record is changed by `changes`
    (`stats__KEY=value` changes a key of its stats)."""
    doc = json.loads(json.dumps(_doc(_run(measurement("t.py::test_ok", 10.0),
                                          measurement("t.py::test_a", 10.0)))))
    rec = doc["tfperf"]["measurements"][1]
    for key, value in changes.items():
        if key.startswith("stats__"):
            rec["stats"][key[len("stats__"):]] = value
        else:
            rec[key] = value
    return doc


@pytest.mark.parametrize("changes, needle", [
    ({"stats__samples_ms": ["x"]}, "stats.samples_ms[0] must be a number, not 'x'"),
    ({"stats__samples_ms": "1,2,3"}, "stats.samples_ms must be a list of numbers"),
    ({"stats": [1.0, 2.0]}, "stats must be an object, not [1.0, 2.0]"),
    ({"stats__median_ms": "fast"}, "stats.median_ms must be a number or null, not 'fast'"),
    ({"stats__p90_ms": True}, "stats.p90_ms must be a number or null, not True"),
    ({"stats__median_ci_ms": [1.0, "b"]}, "stats.median_ci_ms[1] must be a number"),
    ({"stats__gated_percentile": "p90"}, "stats.gated_percentile must be a number or null"),
    ({"test_id": 42}, "test_id must be a non-empty string, not 42"),
    ({"name": ["measure"]}, "name must be a string or null, not ['measure']"),
], ids=["sample_not_number", "samples_not_list", "stats_list", "median_text", "p90_bool",
        "ci_text", "gated_percentile_text", "test_id_int", "name_list"])
def test_malformed_measurement_record_names_file_and_record(tmp_path, changes, needle):
    bad = tmp_path / "base.json"
    content = json.dumps(_with_record(**changes)).encode()
    bad.write_bytes(content)
    with pytest.raises(BaselineError) as info:
        baseline.load_baseline(str(bad), tmp_path)
    text = str(info.value)
    assert str(bad) in text and "is corrupt" in text and "left untouched" in text
    assert "record tfperf.measurements[1]" in text  # the second record; the first is fine
    assert needle in text, text
    assert bad.read_bytes() == content


@pytest.mark.parametrize("doc, needle", [
    ({"tfperf": {"measurements": ["x"]}}, "tfperf.measurements[0] must be an object, not 'x'"),
    ({"tfperf": {"measurements": [], "environment": "CPU"}}, "tfperf.environment must be an object"),
    ({"benchmarks": [{"stats": {"data": [0.1, "slow"]}}]}, "benchmarks[0] stats.data[1] must be"),
    ({"benchmarks": [{"stats": {"median": "0.1"}}]}, "benchmarks[0] stats.median must be"),
    ({"benchmarks": [], "machine_info": {"cpu": "x86"}}, "machine_info.cpu must be an object"),
], ids=["record_not_object", "environment_text", "bench_data_text", "bench_median_text",
        "cpu_text"])
def test_malformed_document_parts_are_named(tmp_path, doc, needle):
    bad = tmp_path / "base.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match="base.json is corrupt") as info:
        baseline.load_baseline(str(bad), tmp_path)
    assert needle in str(info.value)


def test_valid_documents_still_load(tmp_path):
    """What tfperf and pytest-benchmark write passes the record checks (nulls included)."""
    doc = _with_record(stats__init_ms=None, stats__samples_ms=[1.0, None, 2.0], name=None)
    plain = _doc(_run(measurement("t.py::test_a", 10.0)))
    del plain["tfperf"]
    for i, content in enumerate((doc, plain, _doc(make_results()))):
        path = tmp_path / f"ok{i}.json"
        path.write_text(json.dumps(content))
        assert baseline.measurement_index(baseline.load_baseline(str(path), tmp_path))


def test_finalize_turns_a_compare_crash_into_a_warning(tmp_path):
    """Safety net: a malformed baseline that bypassed the reader (built in memory) costs the
    comparisons, not the session summary."""
    r = _run(measurement("t.py::test_a", 10.0))
    bad = _run(dict(measurement("t.py::test_a", 10.0), stats={"median_ms": "fast"}))
    doc = ResultFile(path="mem.json", results=bad, has_tfperf=True, machine_info={}, document={})
    baseline.finalize(Settings(compare="mem.json", rootdir=str(tmp_path)), r, doc)
    warning = r.environment["baseline"]["warnings"][-1]
    assert "mem.json could not be compared (ValueError" in warning and "'fast'" in warning
    assert r.comparisons == []


def test_malformed_baseline_is_a_usage_error_at_start_up(pytester):
    pytester.makepyfile(test_user="def test_never_runs():\n    raise AssertionError('ran')\n")
    (pytester.path / "base.json").write_text(json.dumps(_with_record(stats__samples_ms=["x"])))
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider",
                                "--tfperf-compare", "base.json")
    text = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text[-2000:]
    assert "INTERNALERROR" not in text and "Traceback (most recent call last)" not in text
    assert "base.json is corrupt" in text and "tfperf.measurements[1]" in text
    assert "samples_ms[0] must be a number, not 'x'" in text
    assert "ran')" not in text and " passed" not in text


# --------------------------------------------------------------------------- marker regression
def test_marker_regression_reaches_the_gate_and_the_session_report(pytester, tmp_path):
    """`latency_budget(..., regression=" 10% ")` is read parsed (stripped, validated) by the
    per-test gate, and a record carrying it is enforced in the session report's comparisons."""
    items = pytester.getitems("""
        import pytest

        @pytest.mark.latency_budget(1000, percentile=90, regression=" 10% ")
        def test_gated(): pass

        @pytest.mark.latency_budget(ms=1000)
        def test_plain(): pass
    """)
    gated, plain = items
    doc = _base(_run(measurement(gated.nodeid, 10.0, seed=1), measurement(plain.nodeid, 10.0, seed=2)),
                "base.json")
    regression = latency_budget_of(gated).regression  # what the record builder writes
    assert regression == "10%" and latency_budget_of(plain).regression is None
    slow_gated = dict(measurement(gated.nodeid, 15.0, seed=3,
                                  budget=LatencyBudget(ms=1000, percentile=90)),  # stats gate on p90
                      regression=regression)
    slow_plain = measurement(plain.nodeid, 15.0, seed=4)
    session = SimpleNamespace(results=_run(slow_gated, slow_plain), baseline=doc, thresholds=[])
    gated_rec, plain_rec = session.results.measurements
    (msg,) = regressions(session, gated.nodeid, [(None, gated_rec)])
    assert "tfperf regression" in msg and "threshold p90:10%" in msg and "base.json" in msg
    assert regressions(session, plain.nodeid, [(None, plain_rec)]) == []  # no threshold asked for

    # the session report: the record carrying the budget's regression is enforced there too
    baseline.finalize(Settings(compare="base.json", rootdir=str(tmp_path)),
                       session.results, doc)
    verdicts = {c.test_id: (c.verdict, c.enforced, c.failed)
                for c in session.results.comparisons}
    assert verdicts == {gated.nodeid: ("regressed", True, True),
                        plain.nodeid: ("regressed", False, False)}
