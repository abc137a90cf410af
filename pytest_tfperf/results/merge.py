"""Merge CI shards: JSON documents written by `--tfperf-json` (or pytest-benchmark) into one.

A suite split across a CI matrix writes one JSON file per job. `merge_documents` joins them into
one document of the same format, so everything that reads one file reads the merged one
(`pytest-benchmark compare`, `tfperf compare`, `--tfperf-compare PATH`, the HTML/Markdown
renderers through `merged_results`):

- `benchmarks[]` is every shard's list, in the order given. Each entry keeps where it ran:
  `extra_info.shard` (the shard's label), `extra_info.machine_info` and `extra_info.commit_info`
  (that shard's, since machines and commits may differ between jobs).
- the top-level `machine_info`, `commit_info` and `version` are the first shard's (tools that
  read one file expect one); `datetime` is the latest shard's.
- the `tfperf` section holds every shard's records, each with a `shard` key, and a `merge`
  entry: the shards (label, machine, commit, datetime, record counts), the duplicates and the
  warnings.
- a test id that ran in more than one shard is never dropped or silently overwritten: every
  copy is kept, renamed `<test id>@<shard label>` (in `fullname`, `name`, the records' `test_id`
  and comparison `key`), listed in `tfperf.merge.duplicates`, and named in a warning.

Pure: no files, no printing, no TensorFlow (the `tfperf merge` command reads the shards with
`results.file.read_result_file` and writes the merged file with `write_result_file`).
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import os
from collections.abc import Sequence
from typing import Any

from pytest_tfperf.errors import BaselineError, ConfigError
from pytest_tfperf.results import file as result_file

MERGE_FORMAT = 1  # layout of the `tfperf.merge` entry
RECORD_LISTS = tuple(result_file.RECORD_LISTS.values())


@dataclasses.dataclass(frozen=True)
class Duplicate:
    """A test id that ran in more than one shard (every copy kept, renamed `id@label`)."""

    test_id: str
    shards: tuple[str, ...]

    def renamed(self) -> tuple[str, ...]:
        """The ids the copies carry in the merged document."""
        return tuple(f"{self.test_id}@{label}" for label in self.shards)

    def to_dict(self) -> dict:
        return {"test_id": self.test_id, "shards": list(self.shards), "renamed": list(self.renamed())}

    @classmethod
    def from_dict(cls, data: dict) -> Duplicate:
        return cls(test_id=str(data["test_id"]), shards=tuple(str(s) for s in data["shards"]))


@dataclasses.dataclass(frozen=True)
class MergeResult:
    """The merged document and what a person should know about it."""

    document: dict
    shards: tuple[str, ...]
    benchmarks: int
    duplicates: tuple[Duplicate, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        """A summary (without the document) for `tfperf merge --json`."""
        return {"shards": list(self.shards), "benchmarks": self.benchmarks,
                "duplicates": [d.to_dict() for d in self.duplicates],
                "warnings": list(self.warnings)}


def shard_labels(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Short unique labels for shard files: the file name without `.json`, or as much of the
    path as makes it unique; a file name common to all is dropped.

    `["a.json", "b.json"]` -> `["a", "b"]`; GitHub artifacts downloaded side by side,
    `["tfperf-linux/results.json", "tfperf-mac/results.json"]` -> `["tfperf-linux", "tfperf-mac"]`.

    Raises:
        ConfigError: the same file given twice.
    """
    norm = [os.path.normpath(os.fspath(p)) for p in paths]
    seen: dict[str, str] = {}
    for original, path in zip(paths, norm):
        key = os.path.realpath(path)
        if key in seen:
            raise ConfigError(f"shard file {os.fspath(original)!r} is given twice (also as "
                              f"{seen[key]!r}): give each shard's file once")
        seen[key] = os.fspath(original)
    parts = []
    for path in norm:
        stem = path[:-5] if path.lower().endswith(".json") else path
        parts.append([p for p in stem.replace("\\", "/").split("/") if p not in ("", ".")])
    depth = max((len(p) for p in parts), default=1)
    for k in range(1, depth + 1):
        labels = ["/".join(p[-k:]) for p in parts]
        if len(set(labels)) == len(labels):
            if k > 1 and len({p[-1] for p in parts}) == 1:  # results.json in every folder
                labels = ["/".join(p[-k:-1]) for p in parts]
            return labels
    return ["/".join(p) for p in parts]  # pragma: no cover - distinct real paths differ somewhere


def merge_documents(shards: Sequence[tuple[str, dict]], *,
                    now: _dt.datetime | None = None) -> MergeResult:
    """Join shard documents into one (see the module docstring for the layout).

    Args:
        shards: `(label, document)` pairs in report order; labels as `shard_labels` makes them.
            A document may itself be a merged one (its records keep their shard labels).
        now: when the merge happened (default: now, UTC), stored in `tfperf.merge.merged_at`.

    Returns:
        `MergeResult` with the merged document, the duplicate test ids and warning lines.

    Raises:
        ConfigError: no shards, or a label given twice.
        BaselineError: a document that is not a pytest-benchmark/tfperf JSON document.
    """
    if not shards:
        raise ConfigError("tfperf merge needs at least one shard file. Received: none")
    labels = [label for label, _ in shards]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"shard labels must be unique. Received: {labels}")
    for label, doc in shards:
        _check_document(label, doc)

    warnings: list[str] = []
    shard_infos: list[dict] = []
    benchmarks: list[dict] = []
    records: dict[str, list[dict]] = {key: [] for key in RECORD_LISTS}
    tf_sections = []
    for label, doc in shards:
        section = doc.get("tfperf") if isinstance(doc.get("tfperf"), dict) else None
        inner = (section or {}).get("merge")
        if isinstance(inner, dict) and isinstance(inner.get("shards"), list):
            shard_infos.extend(copy.deepcopy(s) for s in inner["shards"] if isinstance(s, dict))
            warnings.extend(str(w) for w in inner.get("warnings") or [])
        else:
            shard_infos.append(_shard_info(label, doc, section))
        for bench in doc["benchmarks"]:
            benchmarks.append(_tag_benchmark(bench, label, doc))
        if section is None:
            if doc["benchmarks"]:
                warnings.append(f"shard {label} has no tfperf section (a plain pytest-benchmark "
                                f"file): its {len(doc['benchmarks'])} benchmarks are in the merged "
                                "JSON but not in the HTML/Markdown report")
            continue
        tf_sections.append(section)
        for key in RECORD_LISTS:
            for rec in section.get(key) or []:
                if isinstance(rec, dict):
                    rec = copy.deepcopy(rec)
                    rec.setdefault("shard", label)
                    records[key].append(rec)

    duplicates = _find_duplicates(benchmarks, records)
    if duplicates:
        _rename(benchmarks, records, {d.test_id for d in duplicates})
        for d in duplicates:
            warnings.append(f"test id {d.test_id} ran in {len(d.shards)} shards "
                            f"({', '.join(d.shards)}): kept every copy as "
                            f"{', '.join(d.renamed())}; give each test to one shard "
                            "(split by path or -k)")
    commits = {}
    for info in shard_infos:
        commit = (info.get("commit_info") or {}).get("id")
        if commit:
            commits.setdefault(commit, []).append(str(info.get("label")))
    if len(commits) > 1:
        warnings.append("shards ran on different commits: " + "; ".join(
            f"{commit[:12]} ({', '.join(names)})" for commit, names in commits.items())
            + " — their numbers do not come from the same code")

    first = shards[0][1]
    merged_at = (now or _dt.datetime.now(_dt.timezone.utc)).isoformat()
    document = {
        "machine_info": copy.deepcopy(first.get("machine_info") or {}),
        "commit_info": copy.deepcopy(first.get("commit_info") or {}),
        "benchmarks": benchmarks,
        "datetime": _latest([doc.get("datetime") for _, doc in shards]) or merged_at,
        "version": first.get("version"),
        "tfperf": _merged_section(tf_sections, records, {
            "format": MERGE_FORMAT,
            "merged_at": merged_at,
            "shards": shard_infos,
            "duplicates": [d.to_dict() for d in duplicates],
            "warnings": list(warnings),
        }),
    }
    return MergeResult(document=document, shards=tuple(labels), benchmarks=len(benchmarks),
                       duplicates=tuple(duplicates), warnings=tuple(warnings))


def merged_results(document: dict):
    """The `SessionResults` the HTML/Markdown renderers take, from a (merged) document, read
    by the one reader (`results.file.from_document`; records ignore their `shard` key, and
    duplicated test ids already carry their shard in the id). None for a document without a
    tfperf section."""
    read = result_file.from_document(document, "<merged shards>")
    return read.results if read.has_tfperf else None


# -- helpers -----------------------------------------------------------------------------------
def _check_document(label: str, doc: Any) -> None:
    if not isinstance(doc, dict):
        raise BaselineError(f"shard {label}: not a JSON object but {type(doc).__name__}; give "
                            "files written by pytest --tfperf-json (or --benchmark-json)")
    if not isinstance(doc.get("benchmarks"), list):
        raise BaselineError(f"shard {label}: not a pytest-benchmark/tfperf JSON document (no "
                            "'benchmarks' list); give files written by pytest --tfperf-json (or "
                            f"--benchmark-json). Received: keys={sorted(doc)[:10]}")
    for i, bench in enumerate(doc["benchmarks"]):
        if not isinstance(bench, dict) or not isinstance(bench.get("fullname"), str):
            raise BaselineError(f"shard {label}: benchmarks[{i}] has no 'fullname' string; the "
                                "file is damaged or not pytest-benchmark's format. Received: "
                                f"{str(bench)[:80]}")


def _shard_info(label: str, doc: dict, section: dict | None) -> dict:
    counts = {key: len((section or {}).get(key) or []) for key in RECORD_LISTS}
    counts["benchmarks"] = len(doc["benchmarks"])
    return {
        "label": label,
        "machine_info": copy.deepcopy(doc.get("machine_info") or {}),
        "commit_info": copy.deepcopy(doc.get("commit_info") or {}),
        "datetime": doc.get("datetime"),
        "tfperf_version": (section or {}).get("version"),
        "tensorflow": (section or {}).get("tensorflow"),
        "device": (section or {}).get("device"),
        "machine_id": (section or {}).get("machine_id"),
        "counts": counts,
    }


def _tag_benchmark(bench: dict, label: str, doc: dict) -> dict:
    out = copy.deepcopy(bench)
    extra = out.get("extra_info")
    extra = dict(extra) if isinstance(extra, dict) else {}
    if "shard" not in extra:  # a re-merged entry keeps its own shard, machine and commit
        extra["shard"] = label
        extra["machine_info"] = copy.deepcopy(doc.get("machine_info") or {})
        extra["commit_info"] = copy.deepcopy(doc.get("commit_info") or {})
    out["extra_info"] = extra
    return out


def _bench_test_id(bench: dict) -> str:
    """The pytest node id of a benchmark: tfperf's fullname is `test_id::measurement name`."""
    fullname = str(bench["fullname"])
    tf_info = (bench.get("extra_info") or {}).get("tfperf")
    name = tf_info.get("measurement") if isinstance(tf_info, dict) else None
    if name and fullname.endswith(f"::{name}"):
        return fullname[: -len(name) - 2]
    return fullname


def _find_duplicates(benchmarks: list[dict], records: dict[str, list[dict]]) -> list[Duplicate]:
    where: dict[str, list[str]] = {}

    def note(test_id: Any, label: Any) -> None:
        if test_id is None:
            return
        labels = where.setdefault(str(test_id), [])
        if str(label) not in labels:
            labels.append(str(label))

    for bench in benchmarks:
        note(_bench_test_id(bench), bench["extra_info"]["shard"])
    for key in RECORD_LISTS:
        for rec in records[key]:
            note(rec.get("test_id"), rec.get("shard"))
    return [Duplicate(test_id, tuple(labels)) for test_id, labels in where.items() if len(labels) > 1]


def _rename(benchmarks: list[dict], records: dict[str, list[dict]], duplicated: set[str]) -> None:
    for bench in benchmarks:
        test_id = _bench_test_id(bench)
        if test_id not in duplicated:
            continue
        label = bench["extra_info"]["shard"]
        new_id = f"{test_id}@{label}"
        bench["fullname"] = new_id + str(bench["fullname"])[len(test_id):]
        base = test_id.rsplit("::", 1)[-1]
        name = str(bench.get("name") or "")
        if name.startswith(base):
            bench["name"] = f"{base}@{label}{name[len(base):]}"
    for key in RECORD_LISTS:
        for rec in records[key]:
            test_id = rec.get("test_id")
            if test_id is None or str(test_id) not in duplicated:
                continue
            new_id = f"{test_id}@{rec.get('shard')}"
            if isinstance(rec.get("key"), str) and rec["key"].startswith(str(test_id)):
                rec["key"] = new_id + rec["key"][len(str(test_id)):]
            rec["test_id"] = new_id


def _joined(values: Sequence[Any]) -> Any:
    """One value when the shards agree, else the distinct strings joined ('cpu, gpu:0')."""
    distinct = []
    for value in values:
        if value is not None and value not in distinct:
            distinct.append(value)
    if not distinct:
        return None
    if len(distinct) == 1 or not all(isinstance(v, str) for v in distinct):
        return distinct[0]
    return ", ".join(distinct)


def _merged_section(sections: list[dict], records: dict[str, list[dict]], merge: dict) -> dict:
    environment: dict[str, Any] = {}
    keys: list[str] = []
    for section in sections:
        for key in section.get("environment") or {}:
            if key not in keys:
                keys.append(key)
    for key in keys:
        environment[key] = _joined([(s.get("environment") or {}).get(key) for s in sections])
    environment["shards"] = [s.get("label") for s in merge["shards"]]
    first = sections[0] if sections else {}
    section = {
        "format": first.get("format", 1),
        "version": first.get("version"),
        "tensorflow": _joined([s.get("tensorflow") for s in sections]),
        "device": _joined([s.get("device") for s in sections]),
        "machine_id": _joined([s.get("machine_id") for s in sections]),
        "environment": environment,
    }
    section.update(records)
    section["merge"] = merge
    return section


def _latest(stamps: Sequence[Any]) -> str | None:
    best, best_text = None, None
    for text in stamps:
        if not isinstance(text, str):
            continue
        try:
            stamp = _dt.datetime.fromisoformat(text)
        except ValueError:
            continue
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=_dt.timezone.utc)
        if best is None or stamp > best:
            best, best_text = stamp, text
    return best_text
