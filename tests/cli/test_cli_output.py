"""What a person reads from `tfperf`: no TensorFlow log noise, help texts that explain (issue 14)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from pytest_tfperf.cli import build_parser
from pytest_tfperf.cli._quiet import is_noise, quiet_tensorflow

# a TensorFlow / absl / LiteRT log line, in any of the formats TF 2.x has used
TF_LOG_LINE = re.compile(r"^[IWE]\d{4} |^\d{4}-\d\d-\d\d .*(I|W) tensorflow|oneDNN|GPU trace|Profiler session"
                         r"|absl::InitializeLog|XNNPACK delegate")

# real lines, as TF 2.21 / LiteRT print them (timestamps and thread ids as they come)
REAL_NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796229129.330659    9581 port.cc:153] oneDNN custom operations are on. You may see "
    "slightly different numerical results due to floating-point round-off errors.",
    "W0000 00:00:1796229417.332532   14883 xplane_to_step_stats.cc:84] GPU trace was not collected.",
    "I1202 16:31:54.331837   14883 profiler_session.cc:117] Profiler session initializing.",
    "2023-12-06 04:05:32.663256: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] "
    "Could not load dynamic library 'libcuda.so.1'",
    "2023-12-06 04:05:32.663256: I tensorflow/core/platform/cpu_feature_guard.cc:182] This TensorFlow "
    "binary is optimized to use available CPU instructions",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
KEPT = [
    "tfperf optimize: warning: transform 'quantize_nodes' dropped: InvalidArgumentError: ...",
    "E0000 00:00:1796229417.332532   14883 direct_session.cc:1] a real TensorFlow error",
    "Traceback (most recent call last):",
    "  File \"x.py\", line 1, in <module>",
    "INFO: a line of the user's own",
    "",
]


@pytest.mark.parametrize("line", REAL_NOISE)
def test_tensorflow_info_and_warning_lines_are_noise(line):
    assert is_noise(line) and is_noise(line.encode())


@pytest.mark.parametrize("line", KEPT)
def test_errors_tracebacks_and_our_own_lines_pass_through(line):
    assert not is_noise(line)


def test_filter_works_on_file_descriptor_2(capfd):
    # C++ code writes to fd 2 directly, not through sys.stderr: filter at the descriptor
    with quiet_tensorflow():
        for line in REAL_NOISE[:4] + KEPT[:3]:
            os.write(2, (line + "\n").encode())
        os.write(2, b"no newline at the end")
    err = capfd.readouterr().err
    assert err.splitlines() == KEPT[:3] + ["no newline at the end"]
    with quiet_tensorflow(enabled=False):  # the user set TF_CPP_MIN_LOG_LEVEL: every line shows
        os.write(2, (REAL_NOISE[1] + "\n").encode())
    assert capfd.readouterr().err == REAL_NOISE[1] + "\n"


SCRIPT = textwrap.dedent("""
    import sys
    from pytest_tfperf.cli import main
    small, keras_file, out = sys.argv[1:4]
    runs = [["summarize", small], ["bench", small, "--runs", "3", "--top", "3"],
            ["optimize", keras_file, "-o", out, "--rounds", "1"],
            ["variants", small, "--rounds", "1", "--rows", "frozen graph,tflite fp32"]]
    for argv in runs:
        print("=== tfperf", argv[0], flush=True)
        assert main(argv) == 0, argv
""")


@pytest.fixture(scope="module")
def keras_file(keras_cnn, tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / "bn_cnn.keras"
    keras_cnn.save(path)
    return path


def test_commands_print_no_tensorflow_log_lines(small_pb, keras_file, tmp_path, hang_guard):
    # issue 14 item 5: `tfperf bench` was 258 lines of TF log around a 40-line table. One child
    # process runs every model command (TF starts once), TF_CPP_MIN_LOG_LEVEL unset as a user has it
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP_")}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd()] + sys.path)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(small_pb), str(keras_file),
                           str(tmp_path / "opt.pb")], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    noise = [line for line in (proc.stdout + proc.stderr).splitlines() if TF_LOG_LINE.search(line)]
    assert not noise, noise
    assert proc.stderr == ""  # nothing else either: every run succeeded without a warning
    out = proc.stdout
    for command in ("summarize", "bench", "optimize", "variants"):
        assert f"=== tfperf {command}" in out
    assert "Summary by node type" in out and "Found 1 possible inputs" in out
    assert "speed-up of the frozen graph over keras predict" in out and "tflite fp32" in out
    # every output says the input shape it timed (issue 11 item 7)
    optimize = out.split("=== tfperf optimize")[1].split("=== tfperf variants")[0]
    assert "(timed on the synthetic image [1,32,32,3] float32 (pixels/255 [0,1]); max abs err" in optimize
    variants = " ".join(line.strip() for line in out.split("=== tfperf variants")[1].splitlines())
    assert ("variants of small.pb on synthetic sample image, [1,32,32,3] float32 (pixels/255 [0,1]) "
            "(1 interleaved round;") in variants  # the value range chosen is said (issue 21)
    bench = out.split("=== tfperf bench")[1].split("=== tfperf optimize")[0]
    assert "Input: [1,32,32,3] float32" in bench


# --- help texts -------------------------------------------------------------------------------
def _subparsers() -> dict:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {"": parser, **action.choices}


def test_help_says_what_each_command_does():
    parsers = _subparsers()
    top = parsers[""].format_help()
    assert "console script: summarize |" not in top and "what is in a model" in top
    for name in ("summarize", "bench", "optimize"):
        text = parsers[name].format_help()
        assert "printed, corrected" not in text and "what benchmark_model printed" not in text
        assert parsers[name].description and len(parsers[name].description) > 200, name
        for action in parsers[name]._actions:  # every option says what it does
            assert action.help, (name, action.option_strings)
    assert "slowest" in parsers["bench"].description and "weight parameters" in parsers["summarize"].description


def test_optimize_help_lists_every_transform_and_the_tolerances():
    from pytest_tfperf.optimization import DEFAULT_TRANSFORMS, transform_names

    text = _subparsers()["optimize"].format_help()
    flat = " ".join(text.split())
    for name in transform_names():
        assert re.search(rf"\b{name}\b", flat), name
    for name in DEFAULT_TRANSFORMS:
        assert re.search(rf"\* {name}\b", flat), name
    assert "--atol ATOL absolute tolerance" in flat and "--rtol RTOL relative tolerance" in flat
    assert "against the frozen original" in flat


# --- the optimize table, rendered from rows ---------------------------------------------------
def test_optimize_table_shows_the_speedup_against_the_frozen_original():
    from pytest_tfperf.optimization import VariantTiming
    from pytest_tfperf.report.optimize_text import render_variant_table

    rows = [VariantTiming("keras predict (batch 1)", 30.0, (30.0,), 0.1, None, 1e-7, 1.0, False, True),
            VariantTiming("frozen graph", 3.0, (3.0,), 1.0, 100, None, 10.0, True),
            VariantTiming("optimized graph", 2.0, (2.0,), 1.5, 60, 2e-6, 15.0)]
    text = render_variant_table(rows, sample="synthetic image", rounds=3)
    assert "speed-up of the optimized graph over the frozen graph: 1.50x (3.00 -> 2.00 ms)" in text
    assert "speed-up of the frozen graph over keras predict: 10.00x (freezing alone)" in text
    table = text.splitlines()
    assert table[0].split()[1:6] == ["median", "ms", "vs", "frozen", "vs"]
    assert table[4].split()[-5:] == ["2.00", "1.50x", "15.00x", "60", "2.00e-06"]  # ms: 3 digits
    assert max(len(line) for line in table[:5]) <= 80
    plain = render_variant_table(rows[1:])  # no Keras row: one speed-up column
    assert "vs keras" not in plain and "freezing alone" not in plain


# --- pytest --tfperf-compare: a tally under the table (issue 14 item 7) -----------------------
def test_compare_section_ends_with_a_tally():
    from report_data import make_results

    from pytest_tfperf.report.terminal import sections

    r = make_results()
    verdicts = [("regressed", True), ("regressed", False), ("improved", True), ("noise", True),
                ("ok", True), ("ok", True)]
    for i, (verdict, enforced) in enumerate(verdicts):
        r.add("comparison", {"key": f"t.py::test_{i}", "statistic": "median", "base_ms": 10.0,
                             "new_ms": 12.0, "change_pct": 20.0, "p_value": 0.01, "verdict": verdict,
                             "enforced": enforced, "failed": verdict == "regressed" and enforced})
    for report in (False, True):
        lines = dict(sections(r, report=report, compare=True))["tfperf comparison"]
        assert lines[-1] == "6 compared: 1 regressed, 1 slower, 1 improved, 1 noise, 2 ok"
