"""The result file: the one writer and the one reader of a run's JSON document.

Written by `--tfperf-json`, `--tfperf-save` (stored baselines) and `tfperf merge`; read by
`--tfperf-compare`, `tfperf compare` and `tfperf merge`. The document is a superset of
pytest-benchmark's JSON file: tools that read pytest-benchmark files read ours (top-level
`machine_info`, `commit_info`, `benchmarks[]` with `stats` in SECONDS, `datetime`, `version`;
`results.pytest_benchmark` builds the entries). tfperf's own data sits under a top-level
`tfperf` section: every record of the session (`to_dict()`), so the file is also a baseline.

Reading turns a file into records once (`ResultFile`): the `tfperf` section's records typed,
or, for a plain pytest-benchmark file, one `MeasurementRecord` per benchmark. A file that
cannot be read, is not JSON, has the wrong shape or a newer `tfperf.format` is a
`BaselineError` naming it; the file is never modified.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_tfperf.errors import BaselineError
from pytest_tfperf.results.file_checks import document_problem, is_number, show
from pytest_tfperf.results.records import MeasurementRecord, measurement_label
from pytest_tfperf.results.session import SessionResults

__all__ = ["FORMAT", "RECORD_LISTS", "ResultFile", "build_document", "from_document",
           "measurement_index", "read_result_file", "write_result_file"]

FORMAT = 2  # version of the `tfperf` section's layout (2: measurements have timing blocks)

# record kind -> its list in the `tfperf` section
RECORD_LISTS = {"measurement": "measurements", "model": "models", "equivalence": "equivalence",
                "profile": "profiles", "failure": "failures", "comparison": "comparisons",
                "variants": "variants", "sweep": "sweeps"}


@dataclasses.dataclass(frozen=True)
class ResultFile:
    """A result file read once.

    Attributes:
        path: where it was read from ("<memory>" for a document built in this process).
        results: its records, typed: the `tfperf` section's, or for a plain pytest-benchmark
            file one measurement per benchmark (`stats.data` in ms as `samples_ms`).
        has_tfperf: whether the file has a `tfperf` section (else: pytest-benchmark's file).
        machine_info: pytest-benchmark's machine_info of the run ({} when absent).
        document: the JSON document as read (`tfperf merge` joins documents).
    """

    path: str
    results: SessionResults
    has_tfperf: bool
    machine_info: dict
    document: dict

    @property
    def environment(self) -> dict:
        """The run-wide facts of the `tfperf` section (tensorflow, device, reference...)."""
        return self.results.environment


def measurement_index(run: ResultFile | SessionResults | Iterable[MeasurementRecord]
                      ) -> dict[str, MeasurementRecord]:
    """A run's measurement records (or just these records) keyed by `test_id[::name]`
    (`measurement_label`); a key seen twice gets `#2`, `#3`... (the same rule for a file, this
    run's records and one test's)."""
    if isinstance(run, ResultFile):
        run = run.results
    records = run.measurements if isinstance(run, SessionResults) else run
    out: dict[str, MeasurementRecord] = {}
    for rec in records:
        key, i = measurement_label(rec), 1
        while key in out:
            i += 1
            key = f"{measurement_label(rec)}#{i}"
        out[key] = rec
    return out


# --------------------------------------------------------------------------- writing
def _tfperf_section(results: SessionResults) -> dict:
    """The top-level `tfperf` key: versions, device, and every record of the session."""
    from pytest_tfperf import __version__

    env = results.environment
    section = {"format": FORMAT, "version": __version__, "tensorflow": env.get("tensorflow"),
               "device": env.get("device"), "machine_id": env.get("machine_id"),
               "settings": env.get("settings"), "environment": dict(env)}
    section.update({key: results.dicts(kind) for kind, key in RECORD_LISTS.items()})
    return section


def build_document(results: SessionResults, *, machine: dict | None = None,
                   commit: dict | None = None, now: _dt.datetime | None = None) -> dict:
    """The whole JSON document for `results`.

    Args:
        results: the session results.
        machine: machine_info (default: pytest-benchmark's, generated now).
        commit: commit_info (default: pytest-benchmark's, for the current directory).
        now: the timestamp to record (default: now, UTC).

    Returns:
        A JSON-able dict (`write_result_file` writes it).
    """
    from pytest_tfperf.results import pytest_benchmark as pb

    doc = {
        "machine_info": machine if machine is not None else pb.machine_info(),
        "commit_info": commit if commit is not None else pb.commit_info(),
        "benchmarks": [pb.benchmark_entry(r) for r in results.measurements],
        "datetime": (now or _dt.datetime.now(_dt.timezone.utc)).isoformat(),
        "version": pb.version(),
        "tfperf": _tfperf_section(results),
    }
    return _relative_ids(doc, results.environment.get("rootdir"))


_ID_KEYS = ("model_id", "reference_id", "candidate_id")


def _relative_ids(value, root: str | None):
    """Model identities are resolved paths in memory; files name them relative to the project
    root (a stored run must not depend on where the checkout lies)."""
    if not root:
        return value
    prefix = os.path.join(os.path.realpath(root), "")
    if isinstance(value, dict):
        return {k: (v[len(prefix):] if k in _ID_KEYS and isinstance(v, str) and v.startswith(prefix)
                    else _relative_ids(v, root)) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative_ids(v, root) for v in value]
    return value


def write_result_file(path: str | os.PathLike, document: dict | SessionResults, *,
                      overwrite: bool = True) -> Path:
    """Write a result file atomically (`atomic.write_json`).

    Args:
        path: the file to write.
        document: a `build_document` document, or the `SessionResults` to build one from.
        overwrite: False for stored baselines (`FileExistsError` if the name is taken).

    Returns:
        The path written.
    """
    from pytest_tfperf.atomic import write_json

    if isinstance(document, SessionResults):
        document = build_document(document)
    return write_json(path, document, overwrite=overwrite)


# --------------------------------------------------------------------------- reading
def read_result_file(path: str | os.PathLike, what: str = "result file") -> ResultFile:
    """Read a result file (ours, or a plain pytest-benchmark JSON file) into records.

    Args:
        path: the file.
        what: how errors name it ("baseline file", "candidate file", "shard file").

    Raises:
        BaselineError: a missing, unreadable, corrupt, foreign or newer-format file; the
            message names the file, which is left untouched.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"{what} {path} does not exist; check the path (relative paths are "
                            f"from {os.getcwd()!r}).") from None
    except OSError as exc:
        raise BaselineError(f"{what} {path} cannot be read ({exc.strerror or exc}); check the "
                            f"path and its permissions.") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{what} {path} is corrupt (not UTF-8 text: {exc.reason}); it was "
                            f"left untouched: delete it or give another run's file.") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{what} {path} is corrupt (not JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}); it was left untouched: delete it or give another run's file "
            f"(was the job cut off while writing it?).") from None
    return from_document(doc, str(path), what)


def from_document(doc: Any, source: str = "<memory>", what: str = "result file") -> ResultFile:
    """A parsed JSON document (from a file or built in memory) checked and typed.

    Raises:
        BaselineError: as `read_result_file`, naming `source`.
    """
    if not isinstance(doc, dict) or not (
            isinstance(doc.get("tfperf"), dict) and isinstance(doc["tfperf"].get("measurements"), list)
            or isinstance(doc.get("benchmarks"), list)):
        found = sorted(doc)[:8] if isinstance(doc, dict) else type(doc).__name__
        raise BaselineError(
            f"{what} {source} is not a tfperf or pytest-benchmark results file (expected a "
            f"'benchmarks' list or a 'tfperf' section with 'measurements'; found {found}); "
            f"it was left untouched: give a file written by --tfperf-save/--tfperf-json or "
            f"--benchmark-json.")
    for bench in doc.get("benchmarks") or []:
        if not isinstance(bench, dict) or not isinstance(bench.get("stats"), dict):
            raise BaselineError(f"{what} {source} is corrupt: a 'benchmarks' entry has no "
                                f"'stats' dict ({str(bench)[:80]}); it was left untouched.")
    section = doc.get("tfperf")
    has_tfperf = isinstance(section, dict) and isinstance(section.get("measurements"), list)
    version = section.get("format") if isinstance(section, dict) else None
    if version is not None and (not is_number(version) or version > FORMAT):
        raise BaselineError(
            f"{what} {source} has tfperf.format {show(version)}: it was written by a newer "
            f"pytest-tfperf (this one reads formats up to {FORMAT}); it was left untouched: "
            f"upgrade pytest-tfperf, or give a file saved by this version.")
    problem = document_problem(doc)
    if problem:
        raise BaselineError(f"{what} {source} is corrupt: {problem}; it was left untouched: "
                            f"delete it or give another run's file.")
    results = SessionResults()
    if has_tfperf:
        for kind, key in RECORD_LISTS.items():
            results.extend(kind, (x for x in section.get(key) or [] if isinstance(x, dict)))
        results.environment.update(section.get("environment") or {})
    else:
        from pytest_tfperf.results.pytest_benchmark import record_from_benchmark

        results.extend("measurement", (record_from_benchmark(b) for b in doc.get("benchmarks") or []))
    machine = doc.get("machine_info")
    return ResultFile(path=source, results=results, has_tfperf=has_tfperf,
                      machine_info=machine if isinstance(machine, dict) else {}, document=doc)
