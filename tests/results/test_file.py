"""The result file (`results.file`): the one writer (pytest-benchmark's structure, readable by its
tools, plus tfperf's own keys) and the one reader (records typed once; a corrupt, foreign or
newer-format file is an error naming it, and the file stays untouched)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from report_data import make_results

from pytest_tfperf.atomic import dumps, write_json
from pytest_tfperf.errors import BaselineError
from pytest_tfperf.report import json_report
from pytest_tfperf.results import file as result_file
from pytest_tfperf.results.pytest_benchmark import benchmark_entry
from pytest_tfperf.results.records import MeasurementRecord

BENCH_KEYS = {"group", "name", "fullname", "params", "param", "extra_info", "options", "stats"}
STATS_KEYS = {"min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3", "iqr_outliers",
              "stddev_outliers", "outliers", "ld15iqr", "hd15iqr", "ops", "total", "data",
              "iterations"}


@pytest.fixture(scope="module")
def doc():
    return result_file.build_document(make_results())


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
        st = rec.stats
        # seconds, computed by pytest-benchmark's own Stats from our raw samples
        assert bench["stats"]["median"] == pytest.approx(st["median_ms"] / 1000)
        assert bench["stats"]["min"] == pytest.approx(st["min_ms"] / 1000)
        assert bench["stats"]["rounds"] == st["n"] == len(bench["stats"]["data"])
        assert bench["stats"]["ops"] == pytest.approx(1000 / st["mean_ms"])
        assert bench["fullname"] == f"{rec.test_id}::{rec.name}"
        tf = bench["extra_info"]["tfperf"]
        assert tf["fps"] == st["fps"] and tf["percentiles_ms"]["p90"] == st["p90_ms"]
        assert tf["budgets"] == list(rec.verdicts)
    assert doc["benchmarks"][0]["param"] == "batch1-float32"
    assert doc["benchmarks"][1]["extra_info"]["tfperf"]["passed"] is False


def test_results_round_trip_through_the_document(doc):
    back = result_file.from_document(json.loads(json.dumps(doc)))
    original = make_results()
    assert back.has_tfperf and back.results.measurements == original.measurements
    assert back.results.models == original.models and back.results.failures == original.failures
    assert back.environment["tensorflow"] == "2.21.0"
    assert not result_file.from_document({"benchmarks": []}).has_tfperf


def test_the_json_report_renders_the_document(doc):
    fixed = dict(machine=doc["machine_info"], commit=doc["commit_info"])
    import datetime as dt

    now = dt.datetime.fromisoformat(doc["datetime"])
    assert json.loads(json_report.render(make_results(), now=now, **fixed)) == json.loads(dumps(doc))


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
    rec = dataclasses.replace(rec, stats={k: v for k, v in rec.stats.items() if k != "samples_ms"})
    bench = benchmark_entry(rec)
    assert set(bench["stats"]) == STATS_KEYS
    assert bench["stats"]["median"] == pytest.approx(rec.stats["median_ms"] / 1000)
    assert bench["stats"]["data"] == [] and bench["stats"]["q1"] is None


# -- the one reader ------------------------------------------------------------------------------
def test_a_written_run_file_reads_back_as_the_same_records(tmp_path):
    results = make_results()
    path = result_file.write_result_file(tmp_path / "run.json", results)
    read = result_file.read_result_file(path)
    assert read.path == str(path) and read.has_tfperf
    assert all(isinstance(r, MeasurementRecord) for r in read.results.measurements)
    for kind in ("measurement", "model", "equivalence", "failure"):
        assert read.results.records[kind] == results.records[kind], kind
    assert read.machine_info["python_version"]
    # keyed as this run's records are: the same keys, the same records
    assert result_file.measurement_index(read) == result_file.measurement_index(results) == \
        result_file.measurement_index(results.measurements)
    assert list(result_file.measurement_index(read)) == [
        "tests/test_models_with_a_rather_long_module_name.py::test_alexnet_is_realtime_enough_for_"
        "face_recognition[batch1-float32]::measure[0]", "tests/test_vgg.py::test_vgg16::measure[0]"]


def test_a_plain_pytest_benchmark_file_reads_as_measurement_records(doc, tmp_path):
    plain = {k: v for k, v in doc.items() if k != "tfperf"}
    path = write_json(tmp_path / "plain.json", plain)
    read = result_file.read_result_file(path)
    assert not read.has_tfperf
    rec = read.results.measurements[1]
    assert rec.test_id == "tests/test_vgg.py::test_vgg16::measure[0]" and rec.model == "vgg16.pb"
    # seconds back to ms, the samples kept in order
    assert rec.stats["samples_ms"] == pytest.approx(make_results().measurements[1].stats["samples_ms"])


def _newer(doc):
    newer = json.loads(json.dumps(doc))
    newer["tfperf"]["format"] = result_file.FORMAT + 1
    return json.dumps(newer)


@pytest.mark.parametrize("content, needle", [
    ("{not json", "is corrupt (not JSON"),
    (b"\xff\xfe{}", "is corrupt (not UTF-8"),
    ('{"machine_info": {}}', "is not a tfperf or pytest-benchmark results file"),
    ('{"benchmarks": [{"name": "x"}]}', "has no 'stats' dict"),
    ('{"tfperf": {"measurements": [{"test_id": "t", "stats": {"median_ms": "12"}}]}}',
     "stats.median_ms must be a number or null, not '12'"),
    (_newer, "has tfperf.format 3: it was written by a newer pytest-tfperf"),
])
def test_a_corrupt_foreign_or_newer_file_is_an_error_naming_it_and_stays_untouched(
        doc, tmp_path, content, needle):
    path = tmp_path / "run.json"
    data = content(doc) if callable(content) else content
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    before = path.read_bytes()
    with pytest.raises(BaselineError) as info:
        result_file.read_result_file(path, "shard file")
    message = str(info.value)
    assert f"shard file {path}" in message and needle in message
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(BaselineError, match="result file .*nope.json does not exist"):
        result_file.read_result_file(tmp_path / "nope.json")
