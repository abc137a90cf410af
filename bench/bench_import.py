"""Plugin start-up cost: `pytest --collect-only` on a tiny suite that does not use tfperf, with
the plugin (as installed, via its pytest11 entry point) and without it (`-p no:tfperf`), runs
interleaved. Target: <= +100 ms. Also checks that TensorFlow was never imported.

Run: .venv/bin/python bench/bench_import.py [--rounds 15]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CONFTEST = '''
import json, os, sys

def pytest_sessionfinish(session):
    with open(os.environ["TFPERF_BENCH_PROBE"], "w") as f:
        json.dump({"tensorflow": "tensorflow" in sys.modules,
                   "plugin": "pytest_tfperf.plugin" in sys.modules}, f)
'''

TEST_FILE = '''
import pytest

@pytest.mark.parametrize("x", range(5))
def test_square(x):
    assert x * x >= 0

def test_text():
    assert "tf".upper() == "TF"
'''


def make_suite(root: str, files: int = 4) -> None:
    os.makedirs(os.path.join(root, "tests"))
    with open(os.path.join(root, "pytest.ini"), "w") as f:
        f.write("[pytest]\ntestpaths = tests\n")
    with open(os.path.join(root, "tests", "conftest.py"), "w") as f:
        f.write(CONFTEST)
    for i in range(files):
        with open(os.path.join(root, "tests", f"test_mod{i}.py"), "w") as f:
            f.write(TEST_FILE)


def collect(root: str, with_plugin: bool, probe: str) -> tuple[float, dict, str]:
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    if not with_plugin:
        cmd += ["-p", "no:tfperf"]
    env = dict(os.environ, TFPERF_BENCH_PROBE=probe)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=root, env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - t0) * 1000
    if proc.returncode != 0:
        return elapsed, {}, proc.stdout[-2000:] + proc.stderr[-2000:]
    with open(probe) as f:
        return elapsed, json.load(f), ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        make_suite(root)
        probe = os.path.join(root, "probe.json")
        times = {True: [], False: []}
        probes = {}
        collect(root, True, probe)  # warm the OS file cache for both variants
        collect(root, False, probe)
        for r in range(args.rounds):
            for with_plugin in ((True, False) if r % 2 == 0 else (False, True)):
                ms, info, error = collect(root, with_plugin, probe)
                if error:
                    print(f"pytest failed ({'with' if with_plugin else 'without'} plugin):\n{error}")
                    sys.exit(1)
                times[with_plugin].append(ms)
                probes[with_plugin] = info
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"pytest --collect-only, tiny suite (20 tests), {args.rounds} interleaved rounds:")
    print(f"  with tfperf    median {on:.0f} ms (min {min(times[True]):.0f})")
    print(f"  -p no:tfperf   median {off:.0f} ms (min {min(times[False]):.0f})")
    print(f"  plugin cost    {on - off:+.0f} ms median, {min(times[True]) - min(times[False]):+.0f}"
          f" ms min-to-min (target <= +100 ms)")
    print(f"  plugin loaded: {probes[True].get('plugin')}; TensorFlow imported with plugin: "
          f"{probes[True].get('tensorflow')}")


if __name__ == "__main__":
    main()
