"""What a run is in the history: its records and its facts (time, commit, branch, machine).

- `run_info(environment)`: this run's facts, from git (pytest-benchmark's `commit_info`) and
  the machine (`machine_class` of pytest-benchmark's `machine_info`);
- `read_run_file(path)`: the measurement records and facts of a JSON report, a stored baseline
  or a merged shard file: the one place the history reads such files.
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from pytest_tfperf.history.store import RunInfo


def machine_class(info: dict | None) -> str | None:
    """'Linux x86_64, AMD EPYC, 2 cores': what makes timings comparable (not the host name,
    which CI runners change every run)."""
    if not isinstance(info, dict) or not info:
        return None
    cpu = info.get("cpu") if isinstance(info.get("cpu"), dict) else {}
    parts = [" ".join(str(p) for p in (info.get("system"), info.get("machine")) if p),
             cpu.get("brand_raw"), f"{cpu['count']} cores" if cpu.get("count") else None]
    return ", ".join(str(p) for p in parts if p) or None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_info(environment: dict | None = None, *, source: str = "pytest") -> RunInfo:
    """This process's run: git commit and branch of the current directory, machine class,
    time (the session's start when `environment` has it)."""
    from pytest_tfperf.results.pytest_benchmark import commit_info, machine_info

    env = dict(environment or {})
    commit = commit_info() or {}
    return RunInfo(time=str(env.get("started") or _now()), commit=commit.get("id"),
                   branch=commit.get("branch"), dirty=commit.get("dirty"),
                   machine=machine_class(machine_info()), source=source,
                   environment={k: v for k, v in env.items() if k not in ("written_files",)})


def read_run_file(path: str | os.PathLike) -> tuple[list, RunInfo]:
    """The measurement records and facts of a JSON report, baseline or merged shard file (the
    one reader: `results.file.read_result_file`).

    Raises:
        BaselineError: missing, corrupt or foreign file (names it; never modified).
    """
    from pytest_tfperf.results.file import read_result_file

    run = read_result_file(Path(path), "run file")
    doc = run.document
    commit = doc.get("commit_info") if isinstance(doc.get("commit_info"), dict) else {}
    time = run.environment.get("started") or doc.get("datetime") or commit.get("time") or _now()
    return list(run.results.measurements), RunInfo(
        time=str(time), commit=commit.get("id"), branch=commit.get("branch"),
        dirty=commit.get("dirty"), machine=machine_class(run.machine_info), source=f"file {path}",
        environment=dict(run.environment))
