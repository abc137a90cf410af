"""`tfperf merge`: CI shards' JSON files (real ones, from pytest --tfperf-json) -> one file."""
from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_tfperf.errors import BaselineError, ConfigError
from pytest_tfperf.report import html, markdown
from pytest_tfperf.results.merge import Duplicate, merge_documents, merged_results, shard_labels

ROOT = Path(__file__).resolve().parents[2]
SHARED = "test_shared.py::test_in_both"

SUITE = {
    "test_a.py": """
        import pytest

        @pytest.mark.latency_budget(ms=1000)
        def test_only_in_a(tfperf):
            tfperf.measure(lambda: sum(range(200)), name="sum")
    """,
    "test_b.py": """
        def test_only_in_b(tfperf):
            tfperf.measure(lambda: sum(range(100)), name="small")
    """,
    "test_shared.py": """
        def test_in_both(tfperf):
            tfperf.measure(lambda: sorted(range(300)), name="sort")
    """,
}


def _cli_merge():
    """`pytest_tfperf.cli.merge`, the `tfperf merge` command module."""
    return importlib.import_module("pytest_tfperf.cli.merge")


def run_merge(argv: list[str]) -> int:
    cli_merge = _cli_merge()
    parser = argparse.ArgumentParser(prog="tfperf")
    cli_merge.register(parser.add_subparsers(dest="command", required=True))
    return cli_merge.run(parser.parse_args(["merge", *argv]))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Two CI jobs' files: shard-a ran test_a + test_shared, shard-b ran test_b + test_shared."""
    project = tmp_path_factory.mktemp("suite")
    for name, source in SUITE.items():
        (project / name).write_text(textwrap.dedent(source))
    (project / "pytest.ini").write_text("[pytest]\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    paths = {}
    for label, files in (("shard-a", ["test_a.py", "test_shared.py"]),
                         ("shard-b", ["test_b.py", "test_shared.py"])):
        out = project / f"{label}.json"
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", *files, f"--tfperf-json={out}", "-q", "-p", "no:randomly",
             "-p", "no:cacheprovider", "--tfperf-min-time=0.02", "--tfperf-max-time=0.2",
             "--tfperf-warmup=1"],
            cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        paths[label] = out
    return paths


def load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture
def merged(shards):
    return merge_documents([(label, load(path)) for label, path in shards.items()])


def fullnames(doc: dict) -> list[str]:
    return [b["fullname"] for b in doc["benchmarks"]]


def test_every_benchmark_of_every_shard_is_kept(shards, merged):
    a, b = load(shards["shard-a"]), load(shards["shard-b"])
    assert len(a["benchmarks"]) == 2 and len(b["benchmarks"]) == 2
    assert merged.benchmarks == 4 and len(merged.document["benchmarks"]) == 4
    names = fullnames(merged.document)
    assert "test_a.py::test_only_in_a::sum" in names and "test_b.py::test_only_in_b::small" in names
    # the duplicate is kept twice, once per shard, never silently dropped
    assert f"{SHARED}@shard-a::sort" in names and f"{SHARED}@shard-b::sort" in names
    assert not any(n.startswith(f"{SHARED}::") for n in names)
    by_name = {b["fullname"]: b for b in merged.document["benchmarks"]}
    assert by_name[f"{SHARED}@shard-b::sort"]["name"] == "test_in_both@shard-b::sort"
    # stats are the shard's own, unchanged
    original = next(x for x in b["benchmarks"] if x["fullname"] == f"{SHARED}::sort")
    assert by_name[f"{SHARED}@shard-b::sort"]["stats"] == original["stats"]


def test_duplicates_are_listed_and_warned(merged):
    assert merged.duplicates == (Duplicate(SHARED, ("shard-a", "shard-b")),)
    listed = merged.document["tfperf"]["merge"]["duplicates"]
    assert listed == [{"test_id": SHARED, "shards": ["shard-a", "shard-b"],
                       "renamed": [f"{SHARED}@shard-a", f"{SHARED}@shard-b"]}]
    [line] = [w for w in merged.warnings if SHARED in w]
    assert "2 shards (shard-a, shard-b)" in line and f"{SHARED}@shard-a" in line


def test_machine_and_commit_are_kept_per_benchmark(shards, merged):
    docs = {label: load(path) for label, path in shards.items()}
    docs["shard-b"]["machine_info"]["node"] = "runner-b"  # as if job b ran elsewhere
    docs["shard-b"]["commit_info"]["id"] = "f" * 40
    result = merge_documents(list(docs.items()))
    for bench in result.document["benchmarks"]:
        shard = bench["extra_info"]["shard"]
        assert bench["extra_info"]["machine_info"] == docs[shard]["machine_info"]
        assert bench["extra_info"]["commit_info"] == docs[shard]["commit_info"]
    assert [s["label"] for s in result.document["tfperf"]["merge"]["shards"]] == ["shard-a", "shard-b"]
    assert result.document["tfperf"]["merge"]["shards"][1]["machine_info"]["node"] == "runner-b"
    # one file has one top-level machine: the first shard's
    assert result.document["machine_info"] == docs["shard-a"]["machine_info"]
    if docs["shard-a"]["commit_info"].get("id"):
        assert any(w.startswith("shards ran on different commits") for w in result.warnings)


def test_tfperf_records_carry_their_shard_and_renamed_ids(merged):
    section = merged.document["tfperf"]
    ids = [(m["test_id"], m["shard"]) for m in section["measurements"]]
    assert ids == [("test_a.py::test_only_in_a", "shard-a"), (f"{SHARED}@shard-a", "shard-a"),
                   ("test_b.py::test_only_in_b", "shard-b"), (f"{SHARED}@shard-b", "shard-b")]
    assert section["environment"]["shards"] == ["shard-a", "shard-b"]


def test_renderers_show_every_shard(merged):
    results = merged_results(merged.document)
    assert len(results.measurements) == 4
    assert all(not hasattr(m, "shard") for m in results.measurements)  # typed: the file's extra key is not a field
    md = markdown.render(results)
    assert f"`{SHARED}@shard-a`" in md and f"`{SHARED}@shard-b`" in md
    assert "test_a.py::test_only_in_a" in md
    assert f"{SHARED}@shard-b" in html.render(results).replace("<wbr>", "")  # ids break at :: only


def test_a_merged_file_merges_again_keeping_its_shards(shards, merged):
    again = merge_documents([("ab", merged.document), ("c", load(shards["shard-a"]))])
    labels = [s["label"] for s in again.document["tfperf"]["merge"]["shards"]]
    assert labels == ["shard-a", "shard-b", "c"]
    assert {b["extra_info"]["shard"] for b in again.document["benchmarks"]} == {"shard-a", "shard-b", "c"}
    # test_a ran in shard-a and again in c: reported, not dropped
    assert any(d.test_id == "test_a.py::test_only_in_a" and set(d.shards) == {"shard-a", "c"}
               for d in again.duplicates)
    assert len(again.document["benchmarks"]) == 6


def test_plain_pytest_benchmark_files_merge_with_a_warning(shards):
    plain = load(shards["shard-b"])
    del plain["tfperf"]
    result = merge_documents([("tfperf", load(shards["shard-a"])), ("plain", plain)])
    assert len(result.document["benchmarks"]) == 4
    assert any("shard plain has no tfperf section" in w for w in result.warnings)
    assert len(merged_results(result.document).measurements) == 2


def test_command_writes_json_html_markdown_and_names_each_file(shards, tmp_path, capsys):
    out, page, md = tmp_path / "all.json", tmp_path / "all.html", tmp_path / "all.md"
    rc = run_merge([str(shards["shard-a"]), str(shards["shard-b"]), "-o", str(out),
                    "--html", str(page), "--markdown", str(md)])
    captured = capsys.readouterr()
    assert rc == 0
    assert "2 shards (shard-a, shard-b), 4 benchmarks, 1 duplicate test ids" in captured.out
    for kind, path in (("merged JSON", out), ("HTML report", page), ("Markdown report", md)):
        [line] = [x for x in captured.out.splitlines() if x.startswith(f"tfperf merge: wrote {kind} ")]
        assert Path(line.split(f"wrote {kind} ", 1)[1]).resolve() == path.resolve()
    assert f"tfperf merge: warning: test id {SHARED} ran in 2 shards" in captured.err
    assert len(load(out)["benchmarks"]) == 4
    assert f"{SHARED}@shard-a" in md.read_text()
    assert page.read_text().lstrip().lower().startswith("<!doctype html")


def test_strict_fails_on_duplicates_and_json_summary_parses(shards, tmp_path, capsys):
    rc = run_merge([str(shards["shard-a"]), str(shards["shard-b"]), "-o", str(tmp_path / "x.json"),
                    "--strict", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert summary["shards"] == ["shard-a", "shard-b"] and summary["benchmarks"] == 4
    assert summary["duplicates"][0]["test_id"] == SHARED
    assert Path(summary["written"]["merged JSON"]).resolve() == (tmp_path / "x.json").resolve()
    # without the duplicate, --strict passes
    rc = run_merge([str(shards["shard-a"]), "-o", str(tmp_path / "y.json"), "--strict"])
    assert rc == 0


def test_pytest_benchmark_compare_reads_the_merged_file(merged, tmp_path):
    from pytest_tfperf.atomic import write_json

    path = write_json(tmp_path / "0001_merged.json", merged.document)
    exe = Path(sys.executable).with_name("pytest-benchmark")
    proc = subprocess.run([str(exe), "compare", str(path), "--columns=min,median,rounds"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "test_in_both@shard-a::sort" in proc.stdout and "test_in_both@shard-b::sort" in proc.stdout
    assert "test_only_in_a::sum" in proc.stdout


@pytest.mark.parametrize("paths, labels", [
    (["a.json", "b.json"], ["a", "b"]),
    (["ci/tfperf-linux/results.json", "ci/tfperf-mac/results.json"], ["tfperf-linux", "tfperf-mac"]),
    (["x/run.json", "y/run.json", "y/other.json"], ["x/run", "y/run", "y/other"]),
    (["only.json"], ["only"]),
])
def test_shard_labels(paths, labels):
    assert shard_labels(paths) == labels


def test_the_same_file_twice_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="given twice"):
        shard_labels([str(tmp_path / "a.json"), str(tmp_path / "." / "a.json")])


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "is corrupt \\(not JSON"),
    ('{"machine_info": {}}', "expected a 'benchmarks' list"),
    ('{"benchmarks": [{"name": "x"}]}', "a 'benchmarks' entry has no 'stats' dict"),
    ('{"benchmarks": [{"name": "x", "stats": {}}]}', "benchmarks\\[0\\] has no 'fullname'"),
])
def test_bad_shard_files_are_errors_naming_the_file(shards, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    rc = run_merge([str(shards["shard-a"]), str(bad), "-o", str(tmp_path / "out.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "tfperf merge: error:" in err and "bad" in err
    import re
    assert re.search(message, err)
    assert not (tmp_path / "out.json").exists()


def test_pure_merge_rejects_what_is_not_a_document():
    with pytest.raises(BaselineError, match="shard x: not a JSON object"):
        merge_documents([("x", ["benchmarks"])])
    with pytest.raises(ConfigError, match="at least one shard"):
        merge_documents([])
    doc = {"benchmarks": []}
    with pytest.raises(ConfigError, match="unique"):
        merge_documents([("a", doc), ("a", copy.deepcopy(doc))])


def test_merging_and_rendering_never_import_tensorflow(shards):
    """The report job of a CI matrix installs pytest-tfperf without TensorFlow."""
    code = textwrap.dedent(f"""
        import json, sys
        from pytest_tfperf.report import html, markdown
        from pytest_tfperf.results.merge import merge_documents, merged_results
        docs = [(label, json.load(open(path))) for label, path in {[(k, str(v)) for k, v in shards.items()]!r}]
        results = merged_results(merge_documents(docs).document)
        html.render(results), markdown.render(results)
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
