"""Gate reliability: the same latency gate run many times as separate pytest runs.

Model: seed 000's AlexNet as a frozen TF1 graph (`zoo.alexnet_graph`, dense width 1024) at an
input size that makes it ~5-20 ms here; the "slow" model is the same graph family at a larger
input (more conv work, ~1.5x the median; the calibrated ratio is printed).

1. Calibrate: in each of several fresh processes, interleaved long `timing.measure()` calls
   on the fast and the slow model; the true median is the median of the process medians.
2. Write a tiny pytest project (temp dir) with one test,
   `@pytest.mark.latency_budget(ms=1.25 * true_median)` + `tfperf.measure(frozen_graph,
   sample_image)`, and run it `--runs` times as separate `pytest` processes per condition,
   reading pass/fail from the exit code and the median from `--tfperf-json`.
3. Seed 000's loop on the same model, same budget, same conditions, in subprocesses too (each
   pays TensorFlow start-up like a CI job): 1 untimed `sess.run(name, feed_dict)`, 10 timed,
   pass if total/10 <= budget. Its runs are interleaved with tfperf's, so both see the same load.

Conditions: idle; hog / hog3 (1 or 3 `python -c "while True: pass"` processes, started before
and killed after the condition's runs, pinned to nothing; issue 19); each with the fast model
(count false failures, target 0/N) and the slow model under the same test name and budget
(count detections, target N/N). Medians, the calibration and the budget are on the clock the
gate judges (`tfperf_clock`, default auto: the CPU time of the threads that run these
one-intra-op-thread sessions); the wall median and the wall/CPU contention are printed beside.
Also the run-to-run CV of the judged median (target <= 2% idle). The machine is shared: the
load average is recorded at the start and end of each condition.

Run: python bench/bench_gate.py [--runs 20] [--quick] [--json PATH]
     [--conditions idle-fast,hog-fast,hog3-fast,idle-slow,hog-slow,hog3-slow]
     [--fast-size 128] [--slow-size 192]
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
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_OVERRIDE_GLOBAL_THREADPOOL", "1")  # per-session pools, as the plugin sets

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable  # the interpreter running this script (its venv), this checkout's code
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
OUTPUT = "logits_layer/BiasAdd"
BUDGET_FACTOR = 1.25
# load kind: idle (no neighbours we start), hog (1 CPU-bound neighbour), hog3 (3 of them)
NEIGHBOURS = {"idle": 0, "hog": 1, "hog3": 3}
CONDITIONS = ("idle-fast", "hog-fast", "hog3-fast", "idle-slow", "hog-slow", "hog3-slow")

TEST_FILE = '''\
import os

import pytest


@pytest.mark.latency_budget(ms=float(os.environ["GATE_BUDGET_MS"]))
def test_gate(tfperf, frozen_graph, sample_image):
    tfperf.measure(frozen_graph, sample_image)
'''


# --- models and calibration ------------------------------------------------------------------

def build_models(folder: Path, fast_size: int, slow_size: int) -> dict[str, str]:
    """Freeze the fast and slow AlexNets into `folder`; {"fast": path, "slow": path}."""
    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    paths = {}
    for kind, size in (("fast", fast_size), ("slow", slow_size)):
        graph = zoo.alexnet_graph(input_size=size, dense_units=1024)
        path = folder / f"alexnet_{size}.pb"
        load(graph, outputs=[OUTPUT]).save(path)
        paths[kind] = str(path)
    return paths


def image_for(fg):
    """The deterministic image both methods feed (the plugin's synthetic sample image)."""
    from pytest_tfperf.inputs.images import sample_image_for

    return sample_image_for(fg, path=None, preprocess="none")


def calibrate_in_process(paths: dict[str, str], seconds: float, threads: int | None) -> dict:
    """One calibration process: interleaved long measurements, {kind: median_ms}."""
    from pytest_tfperf import load
    from pytest_tfperf.timing.engine import measure
    from pytest_tfperf.timing.settings import TimingSettings

    settings = TimingSettings(min_time=seconds / 2, max_time=seconds / 2)
    models = {}
    for kind, path in paths.items():
        fg = load(path)
        fg.set_threads(threads, None)
        models[kind] = (fg, image_for(fg))
    medians: dict[str, list[float]] = {k: [] for k in models}
    for order in (list(models), list(models)[::-1]):
        for kind in order:
            fg, image = models[kind]
            medians[kind].append(measure(fg, image, settings=settings).judged().median_ms)
    return {k: statistics.median(v) for k, v in medians.items()}


def calibrate(paths: dict[str, str], rounds: int, seconds: float, threads: int | None) -> dict:
    """True medians: the median over `rounds` fresh processes of a long in-process measurement.

    Fresh processes because the level a process settles at varies from process to process
    (by ~+-10% here even with the machine otherwise idle), and every gate run is a fresh process.
    """
    load_start = os.getloadavg()[0]
    medians: dict[str, list[float]] = {"fast": [], "slow": []}
    for _ in range(rounds):
        cmd = [PYTHON, __file__, "--calibrate-run", json.dumps(paths), repr(seconds),
               str(threads if threads is not None else -1)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"calibration failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
        for kind, ms in json.loads(lines[-1]).items():
            medians[kind].append(ms)
    true = {k: statistics.median(v) for k, v in medians.items()}
    return {"true_median_ms": true, "process_medians_ms": medians,
            "ratio": true["slow"] / true["fast"],
            "load": [load_start, os.getloadavg()[0]]}


# --- one repetition of each method -----------------------------------------------------------

def write_project(folder: Path, threads: int | None) -> Path:
    project = folder / "gate_project"
    project.mkdir()
    ini = "[pytest]\n"
    if threads is not None:
        ini += f"tfperf_intra_op_threads = {threads}\n"
    (project / "pytest.ini").write_text(ini)
    (project / "test_gate.py").write_text(TEST_FILE)
    return project


def run_tfperf(project: Path, model: str, budget_ms: float, json_path: Path) -> dict:
    """One `pytest` run of the gate: passed (exit code), reported median, n, stop reason."""
    env = dict(ENV, GATE_BUDGET_MS=repr(budget_ms))
    cmd = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-o",
           f"tfperf_model={model}", f"--tfperf-json={json_path}", str(project / "test_gate.py")]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1) or not json_path.exists():
        raise RuntimeError(f"gate run failed to run (rc={proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    doc = json.loads(json_path.read_text())
    bench = doc["benchmarks"][0]
    info = bench["extra_info"]["tfperf"]
    st = doc["tfperf"]["measurements"][0]["stats"]
    json_path.unlink()
    judged = st.get("cpu_median_ms") if st.get("clock") == "cpu" else st["median_ms"]
    return {"passed": proc.returncode == 0, "median_ms": judged, "clock": st.get("clock"),
            "wall_median_ms": bench["stats"]["median"] * 1000.0,
            "contention": (st.get("contention") or {}).get("ratio"),
            "n": bench["stats"]["rounds"], "stop_reason": info.get("stop_reason"),
            "ci_ms": info.get("gated_ci_ms"), "wall_s": wall}


def run_seed000(model: str, budget_ms: float, threads: int) -> dict:
    """One seed-000 loop in a fresh process (see `seed000_main`)."""
    cmd = [PYTHON, __file__, "--seed000-run", model, repr(budget_ms), str(threads)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode not in (0, 1) or not lines:
        raise RuntimeError(f"seed000 run failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1])
    return {"passed": proc.returncode == 0, "median_ms": out["mean_ms"], "n": 10,
            "clock": "wall", "wall_median_ms": out["mean_ms"], "contention": None,
            "stop_reason": "10 runs", "ci_ms": None, "wall_s": wall}


def seed000_main(model: str, budget_ms: float, threads: int) -> int:
    """Seed 000 as written: import the graph, 1 untimed run, 10 timed runs, mean vs budget
    (its session gets the same intra-op thread count as the gate: same conditions)."""
    import tensorflow as tf

    from pytest_tfperf import load

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(Path(model).read_bytes())
    image = image_for(load(model))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads)
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        feed = {"input_node:0": image}
        sess.run(OUTPUT + ":0", feed_dict=feed)  # the slow first run, untimed
        start = time.perf_counter()
        for _ in range(10):
            sess.run(OUTPUT + ":0", feed_dict=feed)
        mean_ms = (time.perf_counter() - start) / 10 * 1000.0
    print(json.dumps({"mean_ms": mean_ms}))
    return 0 if mean_ms <= budget_ms else 1


# --- conditions ------------------------------------------------------------------------------

def run_condition(name: str, runs: int, project: Path, paths: dict, budget_ms: float,
                  tmp: Path, threads: int) -> dict:
    """`runs` interleaved repetitions of both methods under one condition."""
    load_kind, model_kind = name.split("-")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(NEIGHBOURS[load_kind])]
    if hogs:
        time.sleep(1.0)
    results: dict[str, list[dict]] = {"tfperf": [], "seed000": []}
    load_start = os.getloadavg()[0]
    try:
        for i in range(runs):
            order = ("tfperf", "seed000") if i % 2 == 0 else ("seed000", "tfperf")
            for method in order:
                if method == "tfperf":
                    r = run_tfperf(project, paths[model_kind], budget_ms, tmp / "gate.json")
                else:
                    r = run_seed000(paths[model_kind], budget_ms, threads)
                results[method].append(r)
            t, s = results["tfperf"][-1], results["seed000"][-1]
            print(f"  {name} {i + 1:2d}/{runs}: tfperf {'pass' if t['passed'] else 'FAIL'} "
                  f"{t['median_ms']:.2f} ms ({t['clock']}; wall {t['wall_median_ms']:.2f} ms, "
                  f"contention {t['contention'] or float('nan'):.1f}x) n={t['n']} "
                  f"{t['stop_reason']} | seed000 "
                  f"{'pass' if s['passed'] else 'FAIL'} {s['median_ms']:.2f} ms | "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        for hog in hogs:  # only the neighbours this function started, by their own handles
            hog.kill()
            hog.wait()
    load_end = os.getloadavg()[0]
    rows = []
    for method, rs in results.items():
        medians = [r["median_ms"] for r in rs]
        failures = sum(not r["passed"] for r in rs)
        mean = statistics.fmean(medians)
        rows.append({
            "condition": name, "method": method, "model": model_kind, "runs": len(rs),
            "failures": failures,
            "what": "detections" if model_kind == "slow" else "false failures",
            "median_of_medians_ms": statistics.median(medians),
            "cv": statistics.stdev(medians) / mean if len(medians) > 1 and mean > 0 else 0.0,
            "budget_ms": budget_ms, "load_start": load_start, "load_end": load_end,
            "mean_wall_s": statistics.fmean(r["wall_s"] for r in rs),
            "runs_detail": rs,
        })
    return {"rows": rows}


def print_table(calib: dict, budget_ms: float, rows: list[dict], threads) -> None:
    true = calib["true_median_ms"]
    print()
    print(f"true median (fresh-process calibration): fast {true['fast']:.2f} ms, slow "
          f"{true['slow']:.2f} ms (ratio {calib['ratio']:.2f}x); budget {budget_ms:.2f} ms "
          f"= {BUDGET_FACTOR}x fast; intra-op threads: {threads or 'TF default (0)'}; "
          f"{os.cpu_count()} CPUs")
    head = (f"{'condition':<10} {'method':<8} {'result':<22} {'median of medians':>18} "
            f"{'CV':>7} {'load start-end':>15} {'s/run':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        target = f"{r['failures']}/{r['runs']} {r['what']}"
        print(f"{r['condition']:<10} {r['method']:<8} {target:<22} "
              f"{r['median_of_medians_ms']:>15.2f} ms {r['cv'] * 100:>6.1f}% "
              f"{r['load_start']:>7.2f}-{r['load_end']:<7.2f} {r['mean_wall_s']:>6.1f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20, help="pytest runs per condition (20)")
    p.add_argument("--quick", action="store_true", help="5 runs, shorter calibration")
    p.add_argument("--conditions", default=",".join(CONDITIONS),
                   help=f"comma-separated subset of {','.join(CONDITIONS)}")
    p.add_argument("--fast-size", type=int, default=128, help="input size of the fast AlexNet")
    p.add_argument("--slow-size", type=int, default=192, help="input size of the slow AlexNet")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads for calibration, the gate (tfperf_intra_op_threads) and "
                        "seed 000's session alike; default 1 (the plugin's default), 0 = TF's own")
    p.add_argument("--json", metavar="PATH", help="save the figures as JSON")
    p.add_argument("--calibrate-run", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--seed000-run", nargs=3, metavar=("MODEL", "BUDGET_MS", "THREADS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.calibrate_run:
        paths, seconds, threads = args.calibrate_run
        result = calibrate_in_process(json.loads(paths), float(seconds),
                                      None if int(threads) < 0 else int(threads))
        print(json.dumps(result))
        return 0
    if args.seed000_run:
        return seed000_main(args.seed000_run[0], float(args.seed000_run[1]), int(args.seed000_run[2]))
    runs = 5 if args.quick and args.runs == 20 else args.runs
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        p.error(f"unknown condition(s) {unknown}; choose from {CONDITIONS}")

    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tfperf-gate-") as tmp_name:
        tmp = Path(tmp_name)
        paths = build_models(tmp, args.fast_size, args.slow_size)
        calib = calibrate(paths, rounds=3 if args.quick else 5,
                          seconds=1.0 if args.quick else 2.0, threads=args.threads)
        budget_ms = BUDGET_FACTOR * calib["true_median_ms"]["fast"]
        print(f"calibrated: {json.dumps({k: v for k, v in calib.items()}, default=str)}",
              flush=True)
        project = write_project(tmp, args.threads)
        rows = []
        for name in conditions:
            rows.extend(run_condition(name, runs, project, paths, budget_ms, tmp, args.threads)["rows"])
    print_table(calib, budget_ms, rows, args.threads)
    print(f"total bench time {time.perf_counter() - t_start:.0f} s")
    if args.json:
        doc = {"calibration": calib, "budget_ms": budget_ms, "runs": runs,
               "threads": args.threads, "cpus": os.cpu_count(), "rows": rows,
               "fast_size": args.fast_size, "slow_size": args.slow_size}
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
