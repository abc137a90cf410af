"""The history store: concurrent appends, corrupt / foreign / newer files left untouched,
import from a real run file, and `tfperf history --json`'s contract."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3

import pytest
from report_data import measurement

from pytest_tfperf import cli
from pytest_tfperf.errors import HistoryError
from pytest_tfperf.history import RunInfo, append_run, read_points, read_run_file
from pytest_tfperf.history.store import SCHEMA, schema_version


def _run(i: int, commit: str = "c", branch: str = "main") -> RunInfo:
    return RunInfo(time=f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00", commit=f"{commit}{i}",
                   branch=branch, machine="m")


def _writer(path: str, who: int, runs: int) -> None:
    for i in range(runs):
        records = [measurement(f"t.py::test_{who}", 1.0 + who, name=f"m{j}", seed=i * 10 + j)
                   for j in range(3)]
        append_run(path, records, _run(i, commit=f"w{who}-"))


def test_two_writer_processes_append_every_run_whole(tmp_path):
    path = str(tmp_path / "h.db")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, who, 15)) for who in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    points = read_points(path)
    assert len(points) == 2 * 15 * 3
    by_run: dict[int, set] = {}
    for p in points:
        by_run.setdefault(p.run_id, set()).add((p.test_id, p.name, p.commit))
    assert len(by_run) == 30
    # each run's three records went in together (one transaction), none mixed across writers
    assert all(len(rows) == 3 and len({(t, c) for t, _, c in rows}) == 1 for rows in by_run.values())
    assert schema_version(path) == SCHEMA


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("content, needle", [
    (b"not a database at all, just text\n" * 4, "not a SQLite database"),
    (b"SQLite format 3\x00" + b"\xff" * 200, r"is corrupt \(SQLite"),
])
def test_corrupt_store_names_the_file_and_is_left_untouched(tmp_path, content, needle):
    path = tmp_path / "h.db"
    path.write_bytes(content)
    before = _digest(path)
    with pytest.raises(HistoryError, match=needle) as exc:
        append_run(path, [measurement("t.py::test_a", 1.0)], _run(0))
    assert str(path) in str(exc.value) and "left untouched" in str(exc.value)
    with pytest.raises(HistoryError, match=needle):
        read_points(path)
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.db"]  # no journal left behind


def test_newer_schema_and_foreign_database_are_errors_and_untouched(tmp_path):
    path = tmp_path / "h.db"
    append_run(path, [measurement("t.py::test_a", 1.0)], _run(0))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA + 1),))
    conn.close()
    before = _digest(path)
    with pytest.raises(HistoryError, match=f"schema version {SCHEMA + 1}: it was written by a newer"):
        append_run(path, [measurement("t.py::test_a", 1.0)], _run(1))
    with pytest.raises(HistoryError, match="newer"):
        read_points(path)
    assert _digest(path) == before

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    conn.close()
    with pytest.raises(HistoryError, match=r"other.db is a SQLite database but not a tfperf history"):
        append_run(other, [], _run(0))
    with pytest.raises(HistoryError, match="does not exist"):
        read_points(tmp_path / "missing.db")


def test_records_keep_their_json_and_unknown_fields(tmp_path):
    path = tmp_path / "h.db"
    rec = dict(measurement("t.py::test_a", 2.0, seed=3), clocks={"cpu_ms": 1.5}, contention=0.1)
    append_run(path, [rec], _run(0))
    (point,) = read_points(path)
    assert point.record["clocks"] == {"cpu_ms": 1.5} and point.record["contention"] == 0.1
    assert point.values["median"] == pytest.approx(rec["stats"]["median_ms"])
    assert point.values["p90"] == pytest.approx(rec["stats"]["p90_ms"])
    assert (point.commit, point.branch, point.machine) == ("c0", "main", "m")
    # a measurement made twice in one test is two series, numbered as baselines number them
    twice = [measurement("t.py::test_b", 1.0, name="m", seed=i) for i in range(2)]
    append_run(path, twice, _run(1))
    assert [p.key for p in read_points(path)][1:] == ["t.py::test_b::m", "t.py::test_b::m#2"]


def test_import_a_real_run_file_and_the_json_contract(pytester, capsys):
    pytester.makepyfile(test_user="""
        import time

        def test_sleep(tfperf):
            tfperf.measure(lambda: time.sleep(0.001), name="sleep", min_runs=10, max_time=0.2)
    """)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "--tfperf-json",
                                "run.json")
    result.assert_outcomes(passed=1)
    run_file = pytester.path / "run.json"
    doc = json.loads(run_file.read_text())
    (rec,) = doc["tfperf"]["measurements"]
    store = pytester.path / "h.db"
    for _ in range(2):
        assert cli.main(["history", "import", str(store), str(run_file)]) == 0
    out = capsys.readouterr().out
    assert "1 measurements appended" in out
    records, info = read_run_file(run_file)
    assert info.commit == doc["commit_info"]["id"] and info.machine
    points = read_points(store)
    assert [p.run_id for p in points] == [1, 2]
    assert points[0].key == "test_user.py::test_sleep::sleep"
    assert points[0].values["median"] == pytest.approx(rec["stats"]["median_ms"])
    assert points[0].record["stats"]["samples_ms"] == rec["stats"]["samples_ms"]

    assert cli.main(["history", str(store), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (series,) = data["series"]
    assert series["test"] == "test_user.py::test_sleep::sleep" and series["statistic"] == "gated"
    assert [set(p) >= {"commit", "time", "value"} for p in series["points"]] == [True, True]
    assert series["points"][0]["value"] == pytest.approx(rec["stats"]["median_ms"])
    assert series["points"][0]["commit"] == doc["commit_info"]["id"]
    assert series["change_points"] == []

    bad = pytester.path / "bad.json"
    bad.write_text("{not json")
    assert cli.main(["history", "import", str(store), str(bad)]) == 2
    assert "bad.json is corrupt" in capsys.readouterr().err
    assert cli.main(["history", str(pytester.path / "none.db")]) == 2
    assert "none.db does not exist" in capsys.readouterr().err


def test_a_cpu_judged_measurement_is_kept_on_its_clock(tmp_path):
    """A measurement its budgets judged on CPU time (tfperf_clock auto/cpu) enters the history
    with its CPU statistics: the series is what was judged, not what a neighbour did to wall."""
    import numpy as np

    from pytest_tfperf.results.records import MeasurementRecord
    from pytest_tfperf.timing.stats import LatencyStats

    rng = np.random.default_rng(0)
    wall = 4.0 + rng.random(60)          # a busy machine: wall ~4.5 ms
    cpu = 1.0 + 0.01 * rng.random(60)    # the model's threads: ~1.005 ms of CPU per call
    stats = LatencyStats.from_samples(wall, cpu_samples_ms=cpu, clock="cpu")
    rec = MeasurementRecord(test_id="t.py::test_cpu", name="m", stats=stats.to_dict())
    append_run(tmp_path / "h.db", [rec], _run(0))
    (point,) = read_points(tmp_path / "h.db")
    assert point.values["median"] == pytest.approx(float(np.median(cpu)))
    assert point.record["stats"]["median_ms"] == pytest.approx(float(np.median(wall)))  # kept whole


def test_a_run_is_judged_against_past_runs_on_its_own_clock(tmp_path):
    """A CPU-judged run is never compared with wall values of older runs; a wall-judged run
    reads a CPU-judged run's wall statistics."""
    import numpy as np

    from pytest_tfperf.history.judge import compare_with_history
    from pytest_tfperf.results.records import MeasurementRecord
    from pytest_tfperf.timing.stats import LatencyStats

    rng = np.random.default_rng(0)
    path = tmp_path / "h.db"
    for i in range(4):  # older runs: wall only, ~4.5 ms
        wall = LatencyStats.from_samples(4.0 + rng.random(40))
        append_run(path, [MeasurementRecord(test_id="t.py::test_m", stats=wall.to_dict())], _run(i))
    cpu = LatencyStats.from_samples(4.0 + rng.random(40), cpu_samples_ms=1.0 + 0.01 * rng.random(40),
                                    clock="cpu")
    new = MeasurementRecord(test_id="t.py::test_m", stats=cpu.to_dict())
    (judged,) = compare_with_history(path, [new], machine="m", branch="main")
    assert judged.clock == "cpu" and judged.base_n == 0 and "not compared" in judged.note
    append_run(path, [new], _run(4))  # now a wall-judged run reads that run's wall median too
    wall_new = MeasurementRecord(test_id="t.py::test_m",
                                 stats=LatencyStats.from_samples(4.0 + rng.random(40)).to_dict())
    (judged,) = compare_with_history(path, [wall_new], machine="m", branch="main")
    assert judged.clock == "wall" and judged.base_n == 5 and judged.verdict == "ok"
