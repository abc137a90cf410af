"""The run history: one SQLite file (standard library), every run's measurement records.

Layout (schema version `SCHEMA`, in the `meta` table):
- `runs`: one row per appended run: time (ISO, UTC), commit, branch, dirty, machine class,
  where it came from (a pytest run or an imported file) and the run's environment as JSON;
- `records`: one row per measurement record: its run, test id, name, key (`test_id[::name]`),
  the statistics comparisons and trends read (median, mean, min, p90, p95, p99, gated; ms) as
  indexed columns, and the whole record as its JSON (`MeasurementRecord.to_dict()`), so fields
  added later (two clocks, contention...) are kept without a schema change.

Appends are one `BEGIN IMMEDIATE` transaction each with a busy timeout, so several writers
(CI shards, concurrent sessions) queue instead of failing or interleaving. The plain rollback
journal is used, not WAL: the store stays one self-contained file between transactions, which
is what a CI cache or a committed branch carries. A file that is not a SQLite database, that
SQLite finds malformed, or whose schema is newer than this version is a `HistoryError` naming
it; nothing is written to it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_tfperf.errors import HistoryError

SCHEMA = 1
BUSY_TIMEOUT_MS = 60_000
STATISTICS = ("median", "mean", "min", "p90", "p95", "p99", "gated")
_HEADER = b"SQLite format 3\x00"
_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, time TEXT NOT NULL, commit_id TEXT,"
    " branch TEXT, dirty INTEGER, machine TEXT, source TEXT, environment TEXT)",
    "CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL"
    " REFERENCES runs(id), test_id TEXT NOT NULL, name TEXT, key TEXT NOT NULL, "
    + ", ".join(f"{s}_ms REAL" for s in STATISTICS) + ", record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS records_by_key ON records (key, run_id)",
    "CREATE INDEX IF NOT EXISTS runs_by_context ON runs (machine, branch, time)",
)


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """Where and when a run happened: the columns of `runs`."""

    time: str
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    machine: str | None = None
    source: str = "pytest"
    environment: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class HistoryPoint:
    """One measurement of one run, as stored: its run's facts, its key and its record dict."""

    run_id: int
    time: str
    commit: str | None
    branch: str | None
    machine: str | None
    key: str
    test_id: str
    name: str | None
    values: dict            # statistic -> ms (None when the record had none)
    record: dict            # the record's JSON as stored (fields of later versions kept)

    def measurement(self):
        """The stored record as this version's `MeasurementRecord`."""
        from pytest_tfperf.results.records import MeasurementRecord

        return MeasurementRecord.from_dict(self.record)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_file(path: Path) -> None:
    """Raise `HistoryError` when `path` exists but is not a SQLite database (read only)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_HEADER))
    except OSError as exc:
        raise HistoryError(f"history store {path} cannot be read ({exc.strerror or exc}); check "
                           f"the path given to --tfperf-history / tfperf history.") from None
    if head and head != _HEADER:
        raise HistoryError(f"history store {path} is corrupt (not a SQLite database: it starts "
                           f"with {head[:16]!r}); it was left untouched: move it away or pass "
                           f"another path.")


def _corrupt(path: Path, exc: Exception) -> HistoryError:
    return HistoryError(f"history store {path} is corrupt (SQLite: {exc}); it was left "
                        f"untouched: move it away or pass another path.")


def _check_schema(conn: sqlite3.Connection, path: Path) -> bool:
    """True when the store has its tables; raises for a newer or foreign schema."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return False
    if "meta" not in tables:
        raise HistoryError(f"history store {path} is a SQLite database but not a tfperf history "
                           f"(tables {sorted(tables)[:6]}); it was left untouched: pass another "
                           f"path.")
    row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    version = int(row[0]) if row and str(row[0]).isdigit() else None
    if version is None:
        raise HistoryError(f"history store {path} has no schema version; it was left untouched: "
                           f"pass another path.")
    if version > SCHEMA:
        raise HistoryError(f"history store {path} has schema version {version}: it was written by "
                           f"a newer pytest-tfperf (this one reads versions up to {SCHEMA}); it "
                           f"was left untouched: upgrade pytest-tfperf.")
    return True


def _connect(path: Path, *, write: bool) -> sqlite3.Connection:
    if write:
        if path.exists():
            _check_file(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"file:{path}?mode=rwc"
    else:
        if not path.is_file():
            raise HistoryError(f"history store {path} does not exist; append runs with "
                               f"--tfperf-history {path} or tfperf history import.")
        _check_file(path)
        uri = f"file:{path}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _typed(record: Any):
    """(the record typed, its JSON dict): a `MeasurementRecord` or a dict from a file (the dict
    keeps fields this version's record does not know)."""
    from pytest_tfperf.results.records import MeasurementRecord

    if isinstance(record, MeasurementRecord):
        return record, record.to_dict()
    data = record.to_dict() if hasattr(record, "to_dict") else dict(record)
    return MeasurementRecord.from_dict(data), data


def on_its_clock(record):
    """`record` with its stats on the clock that judged it (`LatencyStats.judged()`: CPU time
    of the model's threads for TF sessions and one-thread LiteRT under `tfperf_clock = auto`),
    so a run's history values are what its budgets and comparisons judged, not the wall clock
    a busy neighbour moves. Older records (no CPU samples) stay on wall."""
    st = record.stats or {}
    if st.get("clock") != "cpu" or not st.get("cpu_samples_ms") or st.get("samples_clock") == "cpu":
        return record
    from pytest_tfperf.timing.stats import LatencyStats

    return dataclasses.replace(record, stats=LatencyStats.from_dict(st).judged().to_dict())


def judged_clock(record) -> str:
    """"cpu" when `on_its_clock` puts `record` on CPU time, else "wall"."""
    st = record.stats or {}
    return "cpu" if st.get("clock") == "cpu" and st.get("cpu_samples_ms") else "wall"


def _statistics(record) -> dict:
    from pytest_tfperf.baseline.compare import statistic_value

    record = on_its_clock(record)
    out = {}
    for stat in STATISTICS:
        try:
            out[stat] = statistic_value(record, stat)
        except (ValueError, TypeError, KeyError):
            out[stat] = None
    return out


def measurement_keys(records: list) -> list[str]:
    """`test_id[::name]` per typed record; a key seen twice in one run gets `#2`, `#3`... (the
    rule of result files and comparisons, `results.file.measurement_index`)."""
    from pytest_tfperf.results.file import measurement_index

    return list(measurement_index(records))


def append_run(path: str | os.PathLike, records: Iterable[Any], run: RunInfo) -> int:
    """Append one run and its measurement records (typed records or their dicts) atomically.

    Returns:
        The run's id in the store.

    Raises:
        HistoryError: the file is corrupt, foreign or of a newer schema (left untouched).
    """
    path = Path(path)
    pairs = [_typed(r) for r in records]
    typed = [t for t, _ in pairs]
    try:
        conn = _connect(path, write=True)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not _check_schema(conn, path):
                    for ddl in _DDL:
                        conn.execute(ddl)
                    conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
                cur = conn.execute(
                    "INSERT INTO runs (time, commit_id, branch, dirty, machine, source, environment)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (run.time, run.commit, run.branch, None if run.dirty is None else int(run.dirty),
                     run.machine, run.source, json.dumps(run.environment, default=str)))
                run_id = int(cur.lastrowid)
                for (rec, data), key in zip(pairs, measurement_keys(typed)):
                    values = _statistics(rec)
                    conn.execute(
                        f"INSERT INTO records (run_id, test_id, name, key, "
                        f"{', '.join(s + '_ms' for s in STATISTICS)}, record) VALUES "
                        f"(?, ?, ?, ?, {', '.join('?' for _ in STATISTICS)}, ?)",
                        (run_id, str(rec.test_id or ""), rec.name, key,
                         *(values[s] for s in STATISTICS), json.dumps(data, default=str)))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _corrupt(path, exc) from None
    return run_id


def read_points(path: str | os.PathLike, *, key: str | None = None,
                machine: str | None = None, branch: str | None = None,
                since: str | None = None, before_run: int | None = None) -> list[HistoryPoint]:
    """The stored measurements, oldest run first (filters: exact key, machine class, branch,
    runs at or after the ISO time `since`, runs before the id `before_run`).

    Raises:
        HistoryError: missing, corrupt, foreign or newer store (left untouched).
    """
    path = Path(path)
    where, args = [], []
    for column, value in (("r.key", key), ("u.machine", machine), ("u.branch", branch)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        where.append("u.time >= ?")
        args.append(since)
    if before_run is not None:
        where.append("u.id < ?")
        args.append(before_run)
    sql = (f"SELECT u.id, u.time, u.commit_id, u.branch, u.machine, r.key, r.test_id, r.name, "
           f"{', '.join('r.' + s + '_ms' for s in STATISTICS)}, r.record FROM records r JOIN runs u "
           f"ON r.run_id = u.id {'WHERE ' + ' AND '.join(where) if where else ''} "
           f"ORDER BY u.time, u.id, r.id")
    try:
        conn = _connect(path, write=False)
        try:
            if not _check_schema(conn, path):
                return []
            rows = conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _corrupt(path, exc) from None
    out = []
    for row in rows:
        values = dict(zip(STATISTICS, row[8:8 + len(STATISTICS)]))
        try:
            record = json.loads(row[-1])
        except json.JSONDecodeError as exc:
            raise _corrupt(path, exc) from None
        out.append(HistoryPoint(run_id=row[0], time=row[1], commit=row[2], branch=row[3],
                                machine=row[4], key=row[5], test_id=row[6], name=row[7],
                                values=values, record=record))
    return out


def schema_version(path: str | os.PathLike) -> int | None:
    """The store's schema version (None for an empty file)."""
    path = Path(path)
    try:
        conn = _connect(path, write=False)
        try:
            if not _check_schema(conn, path):
                return None
            return int(conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _corrupt(path, exc) from None
