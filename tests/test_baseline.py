"""Baselines: thresholds, save/load, corrupt and foreign files, significance-gated comparisons."""
from __future__ import annotations

import json
import time

import pytest
from test_report_data import make_results, measurement

from pytest_tfperf import baseline, cli
from pytest_tfperf.errors import BaselineError, ConfigError
from pytest_tfperf.report.json_report import build_document
from pytest_tfperf.results import SessionResults
from pytest_tfperf.stats import LatencyStats

MACHINE = {"node": "vm", "machine": "x86_64", "cpu": {"brand_raw": "cpu"}}
COMMIT = {"id": "abc", "dirty": False}


def _doc(results: SessionResults) -> dict:
    return build_document(results, machine=MACHINE, commit=COMMIT)


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
    ("7%", ("median", "percent", 7.0)),
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
    assert baseline.load_baseline("main", root)["_tfperf_source"] == str(third)
    assert baseline.load_baseline(None, root)["_tfperf_source"] == str(third)
    assert baseline.load_baseline("0001", root)["_tfperf_source"] == str(first)
    assert baseline.load_baseline(str(second), root)["_tfperf_source"] == str(second)
    doc = baseline.load_baseline("pr-7", root)
    # raw samples are stored: a baseline can be tested for significance later
    samples = doc["tfperf"]["measurements"][0]["stats"]["samples_ms"]
    assert samples == make_results().measurements[0]["stats"]["samples_ms"]
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
    return (measurement("t.py::test_x", base_median, n=n, spread=spread, seed=seeds[0]),
            measurement("t.py::test_x", new_median, n=n, spread=spread, seed=seeds[1]))


def test_injected_slowdown_is_regressed_and_unchanged_rerun_is_ok():
    base, slow = _pair(10.0, 15.0)
    c = baseline.compare_measurement(base, slow, ["median:10%"])
    assert c.verdict == "regressed" and c.failed
    assert c.ratio == pytest.approx(slow["stats"]["median_ms"] / base["stats"]["median_ms"])
    assert c.p_value < 1e-6 and (c.base_n, c.new_n) == (60, 60)
    assert c.to_dict()["change_pct"] == pytest.approx((c.ratio - 1) * 100)
    base, same = _pair(10.0, 10.0)
    c = baseline.compare_measurement(base, same, ["median:10%"])
    assert c.verdict == "ok" and abs(c.change_pct) < 10 and not c.failed


def test_change_past_threshold_without_significance_is_noise():
    # 4 samples per side cannot reach p < 0.01 with a rank test, whatever the shift
    base, slow = _pair(10.0, 13.0, n=4, spread=0.2)
    c = baseline.compare_measurement(base, slow, ["median:10%"])
    assert c.change_pct > 10 and c.p_value >= baseline.ALPHA
    assert c.verdict == "noise" and not c.failed


def test_significant_speedup_is_improved_and_ms_thresholds():
    base, fast = _pair(10.0, 6.0)
    assert baseline.compare_measurement(base, fast, ["median:10%"]).verdict == "improved"
    base, slow = _pair(10.0, 12.0)
    assert baseline.compare_measurement(base, slow, ["median:5ms"]).verdict == "ok"
    c = baseline.compare_measurement(base, slow, ["median:5ms", "p90:1ms"])
    assert (c.verdict, c.statistic, c.threshold) == ("regressed", "p90", "p90:1ms")
    # no thresholds given: classified with the display threshold, never enforced
    c = baseline.compare_measurement(base, slow)
    assert c.verdict == "regressed" and not c.enforced and not c.failed


def _sleep_samples(seconds: float, n: int = 25) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        time.sleep(seconds)
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def test_real_sleep_slowdown_is_flagged_from_raw_samples():
    def rec(samples):
        st = LatencyStats.from_samples(samples, name="sleep")
        return {"test_id": "t.py::test_sleep", "name": "sleep", "stats": st.to_dict()}

    base, slow = rec(_sleep_samples(0.002)), rec(_sleep_samples(0.003))
    c = baseline.compare_measurement(base, slow, ["median:10%"])
    assert c.verdict == "regressed", c.message()


def test_compare_runs_and_per_test_gate():
    base_run = _run(measurement("t.py::test_a", 10.0, seed=1), measurement("t.py::test_b", 10.0, seed=2),
                    measurement("t.py::test_gone", 10.0, seed=3))
    doc = _doc(base_run)
    doc["_tfperf_source"] = ".tfperf/x/0001_main.json"
    new_a = measurement("t.py::test_a", 15.0, seed=4)
    new_b = measurement("t.py::test_b", 10.0, seed=5)
    new_c = measurement("t.py::test_new", 10.0, seed=6)
    comps = baseline.compare_runs(doc, _run(new_a, new_b, new_c), ["median:10%"])
    assert {c.key: c.verdict for c in comps} == {"t.py::test_a::measure[0]": "regressed",
                                                 "t.py::test_b::measure[0]": "ok"}
    msgs = baseline.regression_for("t.py::test_a", comps, doc["_tfperf_source"])
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
    doc = _doc(_run(measurement("t.py::test_a", 10.0)))
    doc["_tfperf_source"] = "0001_main.json"
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
