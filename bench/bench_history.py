"""The history's real series (issue 22): does a real 1.25x slowdown show as one change point,
at the right commit, for the right test only?

    PYTHONPATH=$PWD python bench/bench_history.py [RUNS] [SLOW_FROM]

Makes a temporary git repository with a small project: a small Keras CNN (64x64x3 -> 10) whose
forward pass `work.py` calls ROUNDS times per timed call, measured by `tfperf.measure` in
`test_changed`, and the same model at a fixed 4 rounds in `test_unchanged`. RUNS (24) commits,
each followed by a fresh-process `pytest --tfperf-history STORE`; from run SLOW_FROM (17) on,
the commit sets ROUNDS = 5 (1.25x the CPU work per call). Then the store's series of the runs'
medians and minima and their change points (`history.series.build_series`), the load average
around each run, and whether the acceptance holds: exactly one change point, at run SLOW_FROM's
commit, for test_changed only (exit 0 when it holds on the medians).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the clock the runs judge (and the history keeps): the work is a Python callable, which
# `tfperf_clock = auto` times on wall; cpu (process CPU time) is what a shared runner needs.
# BENCH_CLOCK=wall repeats the first (wall) figures.
CLOCK = os.environ.get("BENCH_CLOCK", "cpu")

MODEL = '''
import tensorflow as tf

_MODEL = None


def model():
    global _MODEL
    if _MODEL is None:
        tf.keras.utils.set_random_seed(0)
        _MODEL = tf.keras.Sequential([
            tf.keras.Input((64, 64, 3)),
            tf.keras.layers.Conv2D(16, 3, activation="relu"),
            tf.keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dense(10)])
    return _MODEL


def forward(rounds):
    m = model()
    x = tf.random.stateless_uniform((1, 64, 64, 3), seed=(1, 2))

    @tf.function
    def f():
        y = tf.zeros((1, 10))
        for _ in range(rounds):  # unrolled: `rounds` real forward passes per call
            y += m(x)
        return y
    f()
    return f
'''

TEST = '''
import work
from model import forward


def test_changed(tfperf):
    tfperf.measure(forward(work.ROUNDS), name="cnn", min_time=1.0, max_time=2.0)


def test_unchanged(tfperf):
    tfperf.measure(forward(4), name="cnn", min_time=1.0, max_time=2.0)
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    slow_from = int(sys.argv[2]) if len(sys.argv) > 2 else 17
    tmp = Path(tempfile.mkdtemp(prefix="tfperf-history-bench-"))
    repo, store = tmp / "project", tmp / "history.db"
    repo.mkdir()
    (repo / "model.py").write_text(MODEL)
    (repo / "test_model.py").write_text(TEST)
    (repo / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.invalid")
    git(repo, "config", "user.name", "bench")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    commits, loads = [], []
    for i in range(1, runs + 1):
        rounds = 5 if i >= slow_from else 4
        (repo / "work.py").write_text(f"ROUNDS = {rounds}  # run {i}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"run {i}: {rounds} rounds")
        commits.append(git(repo, "rev-parse", "HEAD"))
        before = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist",
                               "-o", f"tfperf_clock={CLOCK}", f"--tfperf-history={store}"],
                              cwd=repo, env=env,
                              capture_output=True, text=True)
        loads.append((before, os.getloadavg()[0]))
        print(f"run {i:2d} ({rounds} rounds) {commits[-1][:8]}: pytest exit {proc.returncode} in "
              f"{time.perf_counter() - t0:.0f} s, load average {before:.2f} -> {loads[-1][1]:.2f}",
              flush=True)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            return 1
    from pytest_tfperf.history import read_points
    from pytest_tfperf.history.series import build_series

    series = build_series(read_points(store), statistics=("median", "min"))
    report = {"store": str(store), "runs": runs, "slow_from": slow_from,
              "slow_commit": commits[slow_from - 1], "load_average": loads, "series": []}
    holds = {"median": True, "min": True}
    for s in series:
        values = [p["value"] for p in s.points]
        cps = [(cp["index"] + 1, cp["commit"][:8], f"{cp['change'] * 100:+.1f}%",
                f"[{cp['ci_low'] * 100:+.1f}%, {cp['ci_high'] * 100:+.1f}%]") for cp in s.change_points]
        print(f"{s.test} {s.statistic}: {min(values):.3f}-{max(values):.3f} ms; change points "
              f"(run, commit, step, 95% CI): {cps or 'none'}")
        want = [(slow_from, commits[slow_from - 1])] if "test_changed" in s.test else []
        got = [(cp["index"] + 1, cp["commit"]) for cp in s.change_points]
        holds[s.statistic] &= got == want
        report["series"].append(s.to_dict())
    ok = holds["median"]
    mean_load = sum(a + b for a, b in loads) / (2 * len(loads))
    print(f"load average (1 min) around the runs: mean {mean_load:.2f}, min "
          f"{min(min(p) for p in loads):.2f}, max {max(max(p) for p in loads):.2f} "
          f"({os.cpu_count()} CPUs)")
    for stat, held in holds.items():
        print(f"acceptance on the runs' {stat} (one change point, at run {slow_from}'s commit, "
              f"test_changed only): {'HOLDS' if held else 'DOES NOT HOLD'}")
    (tmp / "report.json").write_text(json.dumps(report, indent=1))
    print(f"store {store}; details {tmp / 'report.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
