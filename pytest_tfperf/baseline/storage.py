"""Stored runs (baselines): `.tfperf/<machine-id>/NNNN_NAME.json`, read and written.

A baseline is the result file of a run (`results.file`, raw samples included) stored like
pytest-benchmark's `.benchmarks/` (so `pytest-benchmark compare --storage file://.tfperf` reads
it too). Never pickle; never overwritten; a corrupt or foreign file is a `BaselineError` naming
it (`results.file.read_result_file`, the one reader).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from pytest_tfperf.errors import BaselineError, ConfigError
from pytest_tfperf.results.file import (
    ResultFile,
    build_document,
    measurement_index,  # noqa: F401  (public through `pytest_tfperf.baseline`)
    read_result_file,
    write_result_file,
)

DEFAULT_ROOT = ".tfperf"
_FILE_RE = re.compile(r"^(\d{4,})_(.+)\.json$")


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
                  root: str | os.PathLike = DEFAULT_ROOT) -> ResultFile:
    """Load a stored run (ours or a plain pytest-benchmark JSON file).

    Args:
        name_or_path: a path to a .json file, a stored run's name or number, or None for the
            latest stored run.
        root: the storage folder (`.tfperf` under the project root).

    Returns:
        The `ResultFile` (its records typed; `.path` is the file's path).

    Raises:
        BaselineError: missing, corrupt or foreign file (the message names it; never modified).
    """
    return read_result_file(resolve_baseline(name_or_path, root), "baseline file")


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
    slug = _slug(name)
    doc = document if document is not None else build_document(results)
    folder = Path(root) / machine_id()
    number = max([n for n, _, _ in _stored(Path(root))], default=0) + 1
    for _ in range(1000):
        path = folder / f"{number:04d}_{slug}.json"
        try:
            return write_result_file(path, doc, overwrite=False)
        except FileExistsError:
            number += 1
    raise BaselineError(f"could not find a free file name for baseline {name!r} under {folder}")
