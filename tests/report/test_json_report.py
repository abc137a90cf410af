"""JSON report: pytest-benchmark's structure (readable by its tools) plus tfperf's own keys."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from report_data import make_results

from pytest_tfperf.atomic import write_json
from pytest_tfperf.report import json_report

BENCH_KEYS = {"group", "name", "fullname", "params", "param", "extra_info", "options", "stats"}
STATS_KEYS = {"min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3", "iqr_outliers",
              "stddev_outliers", "outliers", "ld15iqr", "hd15iqr", "ops", "total", "data",
              "iterations"}


@pytest.fixture(scope="module")
def doc():
    return json_report.build_document(make_results())


def test_top_level_is_a_pytest_benchmark_superset(doc):
    from pytest_benchmark import __version__

    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version", "tfperf"} <= set(doc)
    assert doc["version"] == __version__
    assert doc["machine_info"]["python_version"] and "cpu" in doc["machine_info"]
    assert "id" in doc["commit_info"] and "dirty" in doc["commit_info"]
    tf = doc["tfperf"]
    assert tf["tensorflow"] == "2.21.0" and tf["device"] == "CPU" and tf["version"]
    assert [m["model"] for m in tf["models"]] == ["alexnet.pb", "vgg16.pb"]
    assert tf["equivalence"][0]["report"]["passed"] is True
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_benchmark_entries_have_pytest_benchmark_keys_and_seconds(doc):
    results = make_results()
    assert len(doc["benchmarks"]) == 2
    for bench, rec in zip(doc["benchmarks"], results.measurements):
        assert set(bench) == BENCH_KEYS
        assert set(bench["stats"]) == STATS_KEYS
        st = rec["stats"]
        # seconds, computed by pytest-benchmark's own Stats from our raw samples
        assert bench["stats"]["median"] == pytest.approx(st["median_ms"] / 1000)
        assert bench["stats"]["min"] == pytest.approx(st["min_ms"] / 1000)
        assert bench["stats"]["rounds"] == st["n"] == len(bench["stats"]["data"])
        assert bench["stats"]["ops"] == pytest.approx(1000 / st["mean_ms"])
        assert bench["fullname"] == f"{rec['test_id']}::{rec['name']}"
        tf = bench["extra_info"]["tfperf"]
        assert tf["fps"] == st["fps"] and tf["percentiles_ms"]["p90"] == st["p90_ms"]
        assert tf["budgets"] == rec["verdicts"]
    assert doc["benchmarks"][0]["param"] == "batch1-float32"
    assert doc["benchmarks"][1]["extra_info"]["tfperf"]["passed"] is False


def test_results_round_trip_through_the_document(doc):
    back = json_report.results_from_document(json.loads(json.dumps(doc)))
    original = make_results()
    assert back.measurements == original.measurements
    assert back.models == original.models and back.failures == original.failures
    assert back.environment["tensorflow"] == "2.21.0"
    assert json_report.results_from_document({"benchmarks": []}) is None


def test_pytest_benchmark_compare_reads_our_file(doc, tmp_path):
    path = write_json(tmp_path / "0001_run.json", doc)
    exe = Path(sys.executable).with_name("pytest-benchmark")
    proc = subprocess.run([str(exe), "compare", str(path)], check=False, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "test_vgg16::measure[0]" in proc.stdout
    assert "Median" in proc.stdout


def test_missing_samples_still_give_every_stats_key():
    results = make_results()
    rec = results.measurements[0]
    rec = dataclasses.replace(rec, stats={k: v for k, v in rec["stats"].items() if k != "samples_ms"})
    bench = json_report.benchmark_entry(rec)
    assert set(bench["stats"]) == STATS_KEYS
    assert bench["stats"]["median"] == pytest.approx(rec["stats"]["median_ms"] / 1000)
    assert bench["stats"]["data"] == [] and bench["stats"]["q1"] is None
