"""Stored runs (baselines): `.tfperf/<machine-id>/NNNN_NAME.json`, read and written.

A baseline is the JSON report of a run (`report.json_report.build_document`, raw samples
included) stored like pytest-benchmark's `.benchmarks/` (so `pytest-benchmark compare
--storage file://.tfperf` reads it too). Never pickle; never overwritten; a corrupt or foreign
file is a `BaselineError` naming it.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from pytest_tfperf.errors import BaselineError, ConfigError
from pytest_tfperf.results.records import measurement_label

DEFAULT_ROOT = ".tfperf"
_FILE_RE = re.compile(r"^(\d{4,})_(.+)\.json$")


# --------------------------------------------------------------------------- baseline documents
def measurement_index(doc: dict) -> dict[str, dict]:
    """Measurement records of a baseline document keyed by `test_id[::name]`.

    Our files: the `tfperf.measurements` records. Plain pytest-benchmark files: each benchmark
    becomes a record keyed by its `fullname`, with `stats.data` (seconds) as `samples_ms`.
    A key seen twice gets `#2`, `#3`... (the same rule for this run's records).
    """
    section = doc.get("tfperf")
    records: list[dict]
    if isinstance(section, dict) and isinstance(section.get("measurements"), list):
        records = [r for r in section["measurements"] if isinstance(r, dict)
                   and r.get("outcome") != "rerun"]  # an earlier attempt is never compared
    else:
        records = [_record_from_benchmark(b) for b in doc.get("benchmarks") or []
                   if isinstance(b, dict)]
    return _keyed(records, measurement_label)


def _keyed(records: Iterable[dict], label) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for rec in records:
        key, i = label(rec), 1
        while key in out:
            i += 1
            key = f"{label(rec)}#{i}"
        out[key] = rec
    return out


def _record_from_benchmark(bench: dict) -> dict:
    """A tfperf-shaped measurement record from a pytest-benchmark `benchmarks[]` entry."""
    st = bench.get("stats") or {}
    sec = (lambda k: None if st.get(k) is None else float(st[k]) * 1000.0)
    samples = [float(v) * 1000.0 for v in st.get("data") or []]
    stats = {"n": st.get("rounds", len(samples)), "samples_ms": samples, "min_ms": sec("min"),
             "max_ms": sec("max"), "mean_ms": sec("mean"), "median_ms": sec("median"),
             "std_ms": sec("stddev"), "iqr_ms": sec("iqr")}
    if not samples:  # percentiles pytest-benchmark does not store cannot be guessed
        stats = {k: v for k, v in stats.items() if k != "samples_ms"}
    return {"test_id": bench.get("fullname") or bench.get("name"), "name": None,
            "model": bench.get("group"), "stats": stats, "verdicts": []}


def _read(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"baseline file {path} cannot be read ({exc.strerror or exc}); "
                            f"check the path given to --tfperf-compare.") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"baseline file {path} is corrupt (not UTF-8 text: {exc.reason}); "
                            f"it was left untouched: delete it or compare against another run.") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"baseline file {path} is corrupt (not JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}); it was left untouched: delete it or compare against another run.") from None
    if not isinstance(doc, dict) or not (
            isinstance(doc.get("tfperf"), dict) and isinstance(doc["tfperf"].get("measurements"), list)
            or isinstance(doc.get("benchmarks"), list)):
        found = sorted(doc)[:8] if isinstance(doc, dict) else type(doc).__name__
        raise BaselineError(
            f"baseline file {path} is not a tfperf or pytest-benchmark results file (expected a "
            f"'benchmarks' list or a 'tfperf' section with 'measurements'; found {found}); "
            f"it was left untouched: pass a file written by --tfperf-save/--tfperf-json or "
            f"--benchmark-json.")
    for bench in doc.get("benchmarks") or []:
        if not isinstance(bench, dict) or not isinstance(bench.get("stats"), dict):
            raise BaselineError(f"baseline file {path} is corrupt: a 'benchmarks' entry has no "
                                f"'stats' dict ({str(bench)[:80]}); it was left untouched.")
    from pytest_tfperf.report.json_report import FORMAT

    version = (doc.get("tfperf") or {}).get("format") if isinstance(doc.get("tfperf"), dict) else None
    if version is not None and (not _is_number(version) or version > FORMAT):
        raise BaselineError(
            f"baseline file {path} has tfperf.format {_show(version)}: it was written by a newer "
            f"pytest-tfperf (this one reads formats up to {FORMAT}); it was left untouched: "
            f"upgrade pytest-tfperf, or compare against a run saved by this version.")
    problem = _document_problem(doc)
    if problem:
        raise BaselineError(f"baseline file {path} is corrupt: {problem}; it was left untouched: "
                            f"delete it or compare against another run.")
    return doc


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numbers_problem(where: str, key: str, value, *, elements: bool) -> str | None:
    """Why `value` is not a number/None (or, with `elements`, a list of numbers/None)."""
    if not elements:
        return None if value is None or _is_number(value) else (
            f"{where} {key} must be a number or null, not {_show(value)}")
    if value is None:
        return None
    if not isinstance(value, list):
        return f"{where} {key} must be a list of numbers, not {_show(value)}"
    for j, item in enumerate(value):
        if item is not None and not _is_number(item):
            return f"{where} {key}[{j}] must be a number, not {_show(item)}"
    return None



def _list_ms(key: str) -> bool:
    """Stats keys holding lists of ms (samples, confidence intervals); other *_ms are scalars."""
    return key == "samples_ms" or key.endswith("_ci_ms")

_BENCH_NUMBERS = ("min", "max", "mean", "median", "stddev", "iqr")


def _measurement_problem(i: int, rec) -> str | None:
    """What is wrong with `tfperf.measurements[i]` (the fields comparisons read), or None."""
    where = f"record tfperf.measurements[{i}]"
    if not isinstance(rec, dict):
        return f"{where} must be an object, not {_show(rec)}"
    if not isinstance(rec.get("test_id"), str) or not rec["test_id"]:
        return f"{where} test_id must be a non-empty string, not {_show(rec.get('test_id'))}"
    if rec.get("name") is not None and not isinstance(rec["name"], str):
        return f"{where} name must be a string or null, not {_show(rec['name'])}"
    where = f"{where} ({rec['test_id']})"
    stats = rec.get("stats")
    if not isinstance(stats, dict):
        return f"{where} stats must be an object, not {_show(stats)}"
    for key, value in stats.items():
        if key.endswith("_ms"):
            problem = _numbers_problem(where, f"stats.{key}", value, elements=_list_ms(key))
            if problem:
                return problem
    return _numbers_problem(where, "stats.gated_percentile", stats.get("gated_percentile"),
                            elements=False) or _blocks_problem(where, stats.get("blocks"))


def _blocks_problem(where: str, blocks) -> str | None:
    """What is wrong with `stats.blocks` (a list of per-block statistics), or None."""
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        return f"{where} stats.blocks must be a list of objects, not {_show(blocks)}"
    for j, block in enumerate(blocks):
        if not isinstance(block, dict):
            return f"{where} stats.blocks[{j}] must be an object, not {_show(block)}"
        for key, value in block.items():
            if key.endswith("_ms") or key == "n":
                problem = _numbers_problem(where, f"stats.blocks[{j}].{key}", value, elements=False)
                if problem:
                    return problem
    return None


def _document_problem(doc: dict) -> str | None:
    """What is wrong with the parts of a baseline document that comparisons read, or None."""
    section = doc.get("tfperf")
    if isinstance(section, dict) and isinstance(section.get("measurements"), list):
        env = section.get("environment")
        if env is not None and not isinstance(env, dict):
            return f"tfperf.environment must be an object, not {_show(env)}"
        for i, rec in enumerate(section["measurements"]):
            problem = _measurement_problem(i, rec)
            if problem:
                return problem
    else:
        for i, bench in enumerate(doc.get("benchmarks") or []):
            where = f"record benchmarks[{i}]"
            for key in ("fullname", "name", "group"):
                if bench.get(key) is not None and not isinstance(bench[key], str):
                    return f"{where} {key} must be a string, not {_show(bench[key])}"
            st = bench["stats"]
            problem = _numbers_problem(where, "stats.data", st.get("data"), elements=True) or next(
                (p for k in _BENCH_NUMBERS
                 if (p := _numbers_problem(where, f"stats.{k}", st.get(k), elements=False))), None)
            if problem:
                return problem
    machine = doc.get("machine_info")
    if machine is not None and not isinstance(machine, dict):
        return f"machine_info must be an object, not {_show(machine)}"
    if isinstance(machine, dict) and machine.get("cpu") is not None \
            and not isinstance(machine["cpu"], dict):
        return f"machine_info.cpu must be an object, not {_show(machine['cpu'])}"
    return None


def machine_id() -> str:
    """pytest-benchmark's machine id ('Linux-CPython-3.11-64bit'): the storage folder name."""
    from pytest_benchmark.utils import get_machine_id

    return get_machine_id()


def _stored(root: Path) -> list[tuple[int, str, Path]]:
    """(number, name, path) of every stored run under `root`, any machine, sorted by number."""
    found = []
    if root.is_dir():
        for path in root.glob("*/*.json"):
            m = _FILE_RE.match(path.name)
            if m:
                found.append((int(m.group(1)), m.group(2), path))
    return sorted(found, key=lambda t: (t[0], str(t[2])))


def resolve_baseline(name_or_path: str | os.PathLike | None, root: str | os.PathLike = DEFAULT_ROOT
                     ) -> Path:
    """The file `--tfperf-compare [NAME|PATH]` means: a path, `NNNN`, a name, or the latest.

    Runs of this machine id are preferred; other machines' runs are used when this one has none.
    """
    root = Path(root)
    if name_or_path not in (None, "", True, "latest"):
        candidate = Path(os.fspath(name_or_path))
        if candidate.is_file() or candidate.suffix == ".json" or os.sep in str(name_or_path):
            if not candidate.is_file():
                raise BaselineError(f"baseline file {candidate} does not exist; check the path "
                                    f"(relative paths are from {os.getcwd()!r}).")
            return candidate
    stored = _stored(root)
    own = [s for s in stored if s[2].parent.name == machine_id()]
    want = None if name_or_path in (None, "", True, "latest") else str(name_or_path)
    for pool in (own, stored):
        if want is None:
            hits = pool
        elif want.isdigit():
            hits = [s for s in pool if s[0] == int(want)]
        else:
            hits = [s for s in pool if s[1] == want]
        if hits:
            return hits[-1][2]
    names = sorted({f"{n:04d}_{name}" for n, name, _ in stored})
    what = "no stored run" if want is None else f"no stored run named {want!r}"
    raise BaselineError(f"{what} under {root}/ (looked in */NNNN_NAME.json). Available: "
                        f"{', '.join(names) if names else 'none'}; save one with "
                        f"--tfperf-save NAME or pass a file path.")


def load_baseline(name_or_path: str | os.PathLike | None = None,
                  root: str | os.PathLike = DEFAULT_ROOT) -> dict:
    """Load a stored run (ours or a plain pytest-benchmark JSON file).

    Args:
        name_or_path: a path to a .json file, a stored run's name or number, or None for the
            latest stored run.
        root: the storage folder (`.tfperf` under the project root).

    Returns:
        The document (dict) with `"_tfperf_source"` set to the file's path.

    Raises:
        BaselineError: missing, corrupt or foreign file (the message names it; never modified).
    """
    path = resolve_baseline(name_or_path, root)
    doc = _read(path)
    doc["_tfperf_source"] = str(path)
    return doc


def _slug(name: str) -> str:
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", str(name)):
        raise ConfigError(f"--tfperf-save name must be letters, digits, '_', '-' or '.' (it "
                          f"becomes a file name), e.g. main or pr-123. Received: {name!r}")
    return str(name)


def save(results, name: str, root: str | os.PathLike = DEFAULT_ROOT, *,
         document: dict | None = None) -> Path:
    """Store `results` as `<root>/<machine-id>/NNNN_<name>.json` (next free number).

    Args:
        results: the `SessionResults` (raw samples included).
        name: the run's name (`--tfperf-save NAME`).
        root: the storage folder.
        document: an already built JSON document to store (default: built now).

    Returns:
        The path written. Existing files are never overwritten.
    """
    from pytest_tfperf.atomic import write_json
    from pytest_tfperf.report.json_report import build_document

    slug = _slug(name)
    doc = document if document is not None else build_document(results)
    folder = Path(root) / machine_id()
    number = max([n for n, _, _ in _stored(Path(root))], default=0) + 1
    for _ in range(1000):
        path = folder / f"{number:04d}_{slug}.json"
        try:
            return write_json(path, doc, overwrite=False)
        except FileExistsError:
            number += 1
    raise BaselineError(f"could not find a free file name for baseline {name!r} under {folder}")
