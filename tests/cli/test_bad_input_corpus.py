"""Bad-input corpus, part 2: the `tfperf` console script on bad arguments and files, and
durability of what we store (a writer killed with SIGKILL mid-write leaves the old file intact).

Each CLI case checks: exit code 2, one `tfperf <command>: error:` line naming the problem (file,
option or node, and the value), no traceback, and not a byte changed or added in the folder.
The pytest-session half of the corpus is test_bad_input_corpus_plugin.py.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_tfperf import cli

CHILD_TIMEOUT_S = 60

pytestmark = pytest.mark.usefixtures("hang_guard")  # a hang becomes a crash with tracebacks


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, small_pb):
    """A folder of good and broken inputs; CLI cases run inside it with relative names."""
    import keras

    root = tmp_path_factory.mktemp("cli_corpus")
    good = small_pb.read_bytes()
    (root / "small.pb").write_bytes(good)
    (root / "random.pb").write_bytes(os.urandom(4096))
    (root / "empty.pb").write_bytes(b"")
    (root / "syntax.pbtxt").write_text('node {\n  name: "x"\n  op: "Placeholder"\n  attr {\n')
    (root / "garbage.keras").write_bytes(b"PK not really a zip\n" * 8)
    (root / "not_a_savedmodel").mkdir()
    (root / "not_a_savedmodel" / "notes.txt").write_text("hello")
    (root / "zero.png").write_bytes(b"")
    (root / "text.jpg").write_text("this is not a jpeg\n")
    (root / "corrupt.json").write_text('{"benchmarks": [')
    (root / "foreign.json").write_text("[1, 2, 3]\n")
    (root / "empty_run.json").write_text('{"benchmarks": []}\n')
    inp = keras.Input((4,), name="x")
    keras.Model(inp, keras.layers.Lambda(lambda t: t * 2.0)(inp)).save(root / "lambda.keras")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


CLI_CASES = [
    # (id, argv, needles) -- every case must exit 2 with "tfperf <command>: error:"
    ("summarize_close_name", ["summarize", "smal.pb"], ("'smal.pb' does not exist", "Did you mean: small.pb")),
    ("summarize_random_bytes", ["summarize", "random.pb"], ("'random.pb' (4096 bytes)", "not a binary GraphDef")),
    ("bench_empty_file", ["bench", "empty.pb"], ("'empty.pb'", "is empty (0 bytes)")),
    ("summarize_pbtxt_syntax", ["summarize", "syntax.pbtxt"], ("'syntax.pbtxt'", "not a valid text GraphDef")),
    ("summarize_dir_not_savedmodel", ["summarize", "not_a_savedmodel"],
     ("'not_a_savedmodel' is not a SavedModel", "notes.txt")),
    ("summarize_keras_lambda_refused", ["summarize", "lambda.keras"],
     ("'lambda.keras' was refused under safe mode", "safe_mode=False")),
    ("summarize_keras_not_a_zip", ["summarize", "garbage.keras"], ("'garbage.keras'", "not a .keras zip archive")),
    ("input_shape_not_ints", ["summarize", "small.pb", "--input-shape", "1,a"], ("--input-shape '1,a' is not a shape",)),
    ("input_shape_unknown_name", ["summarize", "small.pb", "--input-shape", "nosuch=1,32,32,3"],
     ("input_shapes key 'nosuch' not found", "input_node:0")),
    ("input_shape_does_not_fit", ["summarize", "small.pb", "--input-shape", "1,31,32,3"],
     ("[1, 31, 32, 3] does not fit input input_node:0",)),
    ("input_shapes_mixed", ["summarize", "small.pb", "--input-shape", "1,2", "--input-shape", "x=1"],
     ("all shapes with names or all without",)),
    ("output_name_typo", ["summarize", "small.pb", "--outputs", "logits_layer/BiasAd"],
     ("output 'logits_layer/BiasAd' not found", "Did you mean: 'logits_layer/BiasAdd'")),
    ("output_index_out_of_range", ["summarize", "small.pb", "--outputs", "logits_layer/BiasAdd:3"],
     ("'logits_layer/BiasAdd:3' does not exist", "only has 1 outputs")),
    ("bench_image_zero_bytes", ["bench", "small.pb", "--image", "zero.png", "--runs", "1"],
     ("'zero.png' is empty (0 bytes)",)),
    ("bench_image_not_an_image", ["bench", "small.pb", "--image", "text.jpg", "--runs", "1"],
     ("'text.jpg'", "is not a jpeg/png/bmp/gif image")),
    ("bench_zero_runs", ["bench", "small.pb", "--runs", "0"], ("runs >= 1", "runs=0")),
    ("optimize_output_is_a_directory", ["optimize", "small.pb", "-o", "not_a_savedmodel"],
     ("not_a_savedmodel is a directory", "give a file name")),
    ("optimize_transform_typo", ["optimize", "small.pb", "-o", "out.pb", "--transforms", "fold_batch_norm"],
     ("transform 'fold_batch_norm' not found", "Did you mean: 'fold_batch_norms'")),
    ("optimize_negative_atol", ["optimize", "small.pb", "-o", "out.pb", "--atol", "-1"],
     ("atol must be a finite number >= 0", "atol=-1.0")),
    ("compare_corrupt_file", ["compare", "corrupt.json", "empty_run.json"],
     ("corrupt.json is corrupt (not JSON", "left untouched")),
    ("compare_foreign_json", ["compare", "empty_run.json", "foreign.json"],
     ("foreign.json is not a tfperf or pytest-benchmark results file",)),
    ("compare_missing_file", ["compare", "empty_run.json", "missing.json"], ("missing.json does not exist",)),
    ("compare_bad_threshold", ["compare", "empty_run.json", "empty_run.json", "--fail", "median:ten"],
     ("'median:ten' is not STAT:N% or STAT:Nms",)),
    # argparse's own usage errors: same exit code, the option named
    ("argparse_missing_output", ["optimize", "small.pb"], ("required: -o/--output",)),
    ("argparse_runs_not_int", ["bench", "small.pb", "--runs", "abc"], ("argument --runs: invalid int value: 'abc'",)),
]


@pytest.mark.parametrize("argv, needles", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_a_clear_error_and_writes_nothing(workdir, monkeypatch, capsys, argv, needles):
    monkeypatch.chdir(workdir)
    before = snapshot(workdir)
    try:
        rc = cli.main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc == 2, err
    assert f"tfperf {argv[0]}: error:" in err
    missing = [n for n in needles if n not in err]
    assert not missing, f"stderr lacks {missing}:\n{err}"
    assert "Traceback" not in out + err and out == ""
    assert snapshot(workdir) == before  # no input changed, no partial output left


def test_cli_unsafe_keras_opts_in_to_a_trusted_lambda_file(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert cli.main(["summarize", "lambda.keras", "--unsafe-keras", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "keras"


# -- kill -9 during a write ----------------------------------------------------------------------

CHILD = textwrap.dedent(r"""
    import os
    import sys
    import time

    real_fsync = os.fsync

    def slow_fsync(fd):  # a slow disk: the kill arrives while the new data is being flushed
        time.sleep(60)
        real_fsync(fd)

    os.fsync = slow_fsync
    kind, target = sys.argv[1], sys.argv[2]
    if kind == "json":
        from pytest_tfperf.atomic import write_json

        write_json(target, {"tfperf": {"measurements": [], "environment": {}}, "pad": "x" * 64_000_000})
    else:
        from pytest_tfperf.model import save_graph_def  # what FrozenGraph.save and optimize use

        class LargeGraphDef:  # save_graph_def only serializes its argument
            def SerializeToString(self):
                return b"\x0a" * 64_000_000

        save_graph_def(LargeGraphDef(), target)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("kind, name", [("json", "0001_main.json"), ("pb", "model.pb")])
def test_sigkill_during_a_write_leaves_the_old_file_intact(tmp_path, small_pb, kind, name):
    from pytest_tfperf.baseline import load_baseline

    folder = tmp_path / ".tfperf" / "machine"
    folder.mkdir(parents=True)
    target = folder / name
    old = (json.dumps({"tfperf": {"measurements": [{"test_id": "t", "stats": {"median_ms": 1.0}}]}})
           .encode() if kind == "json" else small_pb.read_bytes())
    target.write_bytes(old)
    script = tmp_path / "writer.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), kind, str(target)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        temp = []
        while not temp and time.monotonic() < deadline and child.poll() is None:
            temp = [p for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp")]
            time.sleep(0.001)
        assert temp, f"the writer made no temp file: {child.communicate()[0][-2000:]!r}"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=CHILD_TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert target.read_bytes() == old  # the old file, byte for byte
    if kind == "json":
        doc = load_baseline(None, tmp_path / ".tfperf")  # the leftover temp file is ignored
        assert doc.results.measurements[0].stats["median_ms"] == 1.0
    else:
        from pytest_tfperf import load

        assert load(str(target)).outputs[0].name == "logits_layer/BiasAdd:0"
