"""Baseline comparisons against between-run noise (issue 12), in fresh pytest processes.

Every run is a separate `pytest` process (it pays TensorFlow start-up and gets its own
process-level speed, like a CI job) timing three frozen TF1 graphs with `tfperf.measure`:
tiny (a small convnet, ~0.2 ms), mid (AlexNet-family 128 px, dense 1024, ~5 ms) and big
(the same at a larger input, ~25 ms; `--sizes`).

Pairs (`--pairs N`, 20 by default). Pair i: run A (no neighbours, `--tfperf-json A.json`), then
for each neighbour count (`--neighbours 0,1,3`: CPU-bound `while True: pass` processes started
beside the B runs, issue 19) the B runs of each comparison condition, back to back, each
`--tfperf-compare A.json --tfperf-compare-fail median:10%` (the pytest gate, with its re-timing)
and `--tfperf-json`:
  null       B is the same suite unchanged: every "regressed" is a false regression (goal 0/N)
  slow1.3    B's runner burns 0.3 x the calibrated median of CPU time (its thread's own clock)
             after each call: a real 1.3x slowdown of CPU work, whatever the load
  slow1.15   the same at 1.15x
Medians are on the clock that judged (`tfperf_clock`, default auto: CPU time of the threads that
ran the model for these one-intra-op-thread TF sessions); the 1-minute load average and the
wall/CPU contention of each B run are printed with every figure.
Verdicts per model and method, on the same pairs:
  gate       the pytest run's own verdict (block-level CI + floor, regression re-timed)
  files      `tfperf compare A.json B.json` on the first timings (no re-timing possible)
  norm       the same with `--normalize` (ratios model / reference workload: with this
             script's `--normalize`, the reference probed before and after each measurement)
  mw-0.2     tfperf 0.2's rule: past the threshold and per-call Mann-Whitney p < 0.01
  pytest-benchmark   `--benchmark-compare-fail=median:10%`'s check on the same medians
CV of the reported median across fresh idle processes: the A runs (not pinned), and
  cv-pin     `--pairs` extra idle runs pinned to one CPU (`-o tfperf_cpus=1`)
  cv-fresh   `--pairs` extra idle runs with fresh-session blocks (`-o tfperf_fresh_blocks=true`)
each also normalised by the reference workload.
  ab         `--ab-runs` (10) fresh processes of `assert_faster(facenet_opt, facenet, by=10%)`
             (the example project's BN-folded pair): verdict stability.

The machine is shared: the load average is printed with every run; take figures only when it
is quiet (`uptime` 1-minute load < 1). Total time at defaults ~30-40 min on 2 idle cores.

Run: python bench/bench_compare.py [--pairs 20] [--models tiny,mid,big]
     [--conditions null,slow1.3,slow1.15,cv-pin,cv-fresh,ab] [--ini tfperf_cpus=1]
     [--json PATH] [--quick]
"""
from __future__ import annotations

import argparse
import json
import math
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
sys.path.insert(0, str(ROOT))
OUTPUT = "logits_layer/BiasAdd"
COMPARE = ("null", "slow1.3", "slow1.15")
CONDITIONS = (*COMPARE, "cv-pin", "cv-fresh", "ab")
METHODS = ("gate", "files", "norm", "mw-0.2", "pytest-benchmark")
THRESHOLD = "median:10%"

TEST_FILE = '''\
import copy
import os
import time

import pytest

MODELS = dict(item.split("=", 1) for item in os.environ["BENCH_MODELS"].split(","))
EXTRA = {k: float(v) for k, v in (item.split("=", 1) for item in
                                  os.environ.get("BENCH_EXTRA_MS", "").split(",") if item)}


def slowed(fg, extra_ms):
    """The same model; each call spins `extra_ms` more (fresh sessions included)."""
    if extra_ms <= 0:
        return fg
    extra_ns = int(extra_ms * 1e6)
    slow = copy.copy(fg)
    inner = fg.make_callable

    def make_callable(inputs, fetches=None, *, session=None):
        run = inner(inputs, fetches, session=session)

        def spin():  # real CPU work: the thread's own CPU clock, whatever the load
            out = run()
            end = time.thread_time_ns() + extra_ns
            while time.thread_time_ns() < end:
                pass
            return out
        return spin
    slow.make_callable = make_callable
    return slow


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model(tfperf, name):
    fg = tfperf.load(MODELS[name])
    tfperf.measure(slowed(fg, EXTRA.get(name, 0.0)), name=name)
'''


# --- models ----------------------------------------------------------------------------------

def build_models(folder: Path, sizes: dict[str, int], names: list[str]) -> dict[str, str]:
    from pytest_tfperf import load, optimize
    from pytest_tfperf.model import zoo

    paths = {}
    for name in names:
        path = folder / f"{name}.pb"
        if name == "tiny":
            graph = zoo.small_convnet_graph(input_size=sizes["tiny"], channels=(8, 16))
        else:
            graph = zoo.alexnet_graph(input_size=sizes[name], dense_units=1024)
        load(graph, outputs=[OUTPUT]).save(path)
        paths[name] = str(path)
    face = zoo.small_convnet_graph(input_size=128, channels=(16, 32, 64), num_classes=128,
                                   fused_batch_norm=True, training_flag=True, seed=1)
    facenet = load(face, outputs=[OUTPUT])
    facenet.save(folder / "facenet.pb")
    optimize(facenet).save(folder / "facenet_opt.pb")
    return paths


# --- one run ---------------------------------------------------------------------------------

INI: list[str] = []  # --ini items, passed to every run
FLAGS: list[str] = []  # --normalize: ["--tfperf-normalize"] for every run


def pytest_run(project: Path, models: dict[str, str], out: Path, *, extra_ms=None,
               compare: Path | None = None, ini: tuple[str, ...] = ()) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT),
               BENCH_MODELS=",".join(f"{k}={v}" for k, v in models.items()),
               BENCH_EXTRA_MS=",".join(f"{k}={v!r}" for k, v in (extra_ms or {}).items()))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           f"--tfperf-json={out}", "test_cmp.py"]
    for item in (*INI, *ini):
        cmd += ["-o", item]
    cmd += FLAGS
    if compare is not None:
        cmd += [f"--tfperf-compare={compare}", f"--tfperf-compare-fail={THRESHOLD}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not out.exists():
        raise RuntimeError(f"pytest run failed (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    doc = json.loads(out.read_text())
    doc["_wall_s"] = time.perf_counter() - t0
    doc["_load"] = os.getloadavg()[0]
    return doc


def medians(doc: dict, clock: str = "judged") -> dict[str, float]:
    """Median per model on the clock that judged it ("judged"), or "wall" / "cpu" (the first
    timing's when a regression was re-timed)."""
    out = {}
    for rec in doc["tfperf"]["measurements"]:
        st = rec["stats"].get("first_timing") or rec["stats"]
        on_cpu = clock == "cpu" or (clock == "judged" and st.get("clock") == "cpu")
        out[rec["name"]] = st.get("cpu_median_ms") if on_cpu else st["median_ms"]
    return out


def contention(doc: dict) -> float:
    """The largest wall / CPU contention ratio among the run's measurements (nan if none)."""
    ratios = [(r["stats"].get("contention") or {}).get("ratio") for r in doc["tfperf"]["measurements"]]
    ratios = [x for x in ratios if isinstance(x, (int, float))]
    return max(ratios) if ratios else math.nan


def reference_ms(doc: dict) -> float | None:
    ref = (doc["tfperf"].get("environment") or {}).get("reference") or {}
    return (ref.get("stats") or {}).get("median_ms")


def first_timing_doc(doc: dict) -> dict:
    """The document as the first timing saw it (undo a kept re-timing)."""
    out = json.loads(json.dumps(doc))
    for rec in out["tfperf"]["measurements"]:
        first = rec["stats"].pop("first_timing", None)
        if first:
            rec["stats"] = first
            rec["retimed"] = False
    return out


def verdicts(a: dict, b: dict) -> dict[str, dict[str, bool]]:
    """{method: {model: regressed?}} for one pair of documents."""
    from pytest_benchmark.utils import parse_compare_fail

    from pytest_tfperf.baseline import compare_runs
    from pytest_tfperf.results.file import from_document

    out: dict[str, dict[str, bool]] = {m: {} for m in METHODS}
    for c in b["tfperf"].get("comparisons") or []:
        out["gate"][c["name"]] = c["verdict"] == "regressed"
    first = first_timing_doc(b)
    base_file, first_file = from_document(a, "a.json"), from_document(first, "b.json")
    for c in compare_runs(base_file, first_file, [THRESHOLD]):
        out["files"][c.name] = c.verdict == "regressed"
    for c in compare_runs(base_file, first_file, [THRESHOLD], normalize=True):
        out["norm"][c.name] = c.verdict == "regressed"
    base = {r["name"]: r for r in a["tfperf"]["measurements"]}
    for rec in first["tfperf"]["measurements"]:
        old = base.get(rec["name"])
        if old is None:
            continue
        xs, ys = old["stats"]["samples_ms"], rec["stats"]["samples_ms"]
        moved = rec["stats"]["median_ms"] / old["stats"]["median_ms"] > 1.10
        out["mw-0.2"][rec["name"]] = moved and mann_whitney_u(xs, ys)[1] < 0.01
    check = parse_compare_fail("median:10%")
    bench_a = {x["extra_info"]["tfperf"]["measurement"]: x["stats"] for x in a["benchmarks"]}
    for x in first["benchmarks"]:
        name = x["extra_info"]["tfperf"]["measurement"]
        if name in bench_a:
            out["pytest-benchmark"][name] = bool(check.fails(x["stats"], bench_a[name]))
    return out


# --- conditions ------------------------------------------------------------------------------

class Hog:
    """`n` CPU-bound neighbour processes (`while True: pass`), started before and killed (by
    their own pids) after the runs they surround."""

    def __init__(self, n: int | bool):
        self.n, self.procs = int(n), []

    def __enter__(self):
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        if self.n:
            time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
            proc.wait()
        self.procs = []


NEIGHBOURS = [0, 1]  # --neighbours: CPU-bound neighbours beside the B runs, one cell each


def run_pairs(project: Path, tmp: Path, models: dict, calib: dict, pairs: int,
              conditions: list[str]) -> dict:
    """Pair i: run A with no neighbours, then for each neighbour count the B runs of each
    condition beside that many CPU-bound processes (one cell per condition and count)."""
    results: dict = {f"{c}@{k}": [] for c in conditions if c in COMPARE for k in NEIGHBOURS}
    a_docs = []
    for i in range(pairs):
        a_path = tmp / f"A{i}.json"
        a = pytest_run(project, models, a_path)
        a_docs.append(a)
        line = [f"pair {i + 1:2d}/{pairs} A load {a['_load']:.2f}"]
        for k in NEIGHBOURS:
            with Hog(k):
                for cond in (c for c in conditions if c in COMPARE):
                    factor = {"null": 1.0, "slow1.3": 1.3, "slow1.15": 1.15}[cond]
                    extra = {m: (factor - 1.0) * calib[m] for m in models} if factor > 1 else None
                    b = pytest_run(project, models, tmp / f"B{i}_{cond}_{k}.json", extra_ms=extra,
                                   compare=a_path)
                    v = verdicts(a, b)
                    results[f"{cond}@{k}"].append({
                        "hog": k, "verdicts": v, "a": medians(a), "b": medians(b),
                        "b_wall": medians(b, "wall"), "load": b["_load"],
                        "contention": contention(b),
                        "retimed": sum(bool(r.get("retimed")) for r in b["tfperf"]["measurements"])})
                    flags = " ".join(f"{m}:{''.join('R' if v[meth].get(m) else '.' for meth in METHODS)}"
                                     for m in models)
                    line.append(f"{cond}+{k} {flags} load {b['_load']:.2f} "
                                f"contention {contention(b):.1f}x")
        print(" | ".join(line), flush=True)
    return {"pairs": results, "a_docs": a_docs}


def cv_runs(project: Path, tmp: Path, models: dict, n: int, ini: tuple[str, ...], tag: str):
    docs = []
    for i in range(n):
        docs.append(pytest_run(project, models, tmp / f"{tag}{i}.json", ini=ini))
        print(f"{tag} {i + 1}/{n}: " + " ".join(f"{k} {v:.3f}" for k, v in medians(docs[-1]).items())
              + f" ref {reference_ms(docs[-1]) or float('nan'):.3f} load {docs[-1]['_load']:.2f}",
              flush=True)
    return docs


def warmup_drift(docs: list[dict], models: dict) -> dict[str, float]:
    """{model: median over runs of first block median / median of the later blocks}: > 1
    means the warm-up had not reached a steady state when timing began."""
    out = {}
    for m in models:
        ratios = []
        for d in docs:
            rec = next(r for r in d["tfperf"]["measurements"] if r["name"] == m)
            meds = [b["median_ms"] for b in (rec["stats"].get("first_timing") or rec["stats"])
                    .get("blocks") or []]
            if len(meds) > 2:
                ratios.append(meds[0] / statistics.median(meds[1:]))
        out[m] = statistics.median(ratios) if ratios else math.nan
    return out


def cv_table(docs: list[dict], models: dict) -> dict[str, tuple[float, float]]:
    """{model: (CV of medians, CV of median / reference)} across processes."""
    out = {}
    for m in models:
        raw = [medians(d)[m] for d in docs]
        refs = [reference_ms(d) for d in docs]
        norm = [x / r for x, r in zip(raw, refs) if r]
        out[m] = (_cv(raw), _cv(norm) if len(norm) == len(raw) else math.nan)
    return out


def _cv(xs):
    return statistics.stdev(xs) / statistics.fmean(xs) if len(xs) > 1 else math.nan


def ab_main(candidate: str, reference: str) -> int:
    import numpy as np

    from pytest_tfperf import compare_speed, load

    cand, ref = load(candidate), load(reference)
    for m in (cand, ref):
        m.set_threads(1, None)
    image = np.random.default_rng(0).random((1, 128, 128, 3), dtype=np.float32)
    result = compare_speed(cand, ref, {"input_node:0": image, "training:0": False}, by="10%")
    print(json.dumps(result.to_dict()))
    return 0


def ab_runs(tmp: Path, n: int) -> list[dict]:
    out = []
    for i in range(n):
        cmd = [sys.executable, __file__, "--ab-run", str(tmp / "facenet_opt.pb"),
               str(tmp / "facenet.pb")]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2"))
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"ab run failed:\n{proc.stderr[-3000:]}")
        out.append(json.loads(lines[-1]))
        r = out[-1]
        print(f"ab {i + 1}/{n}: {r['verdict']} speed-up {r['speedup']:.2f}x CI "
              f"[{r['speedup_low']:.2f}, {r['speedup_high']:.2f}] pairs {r['pairs']} "
              f"{r['seconds']:.1f} s load {os.getloadavg()[0]:.2f}", flush=True)
    return out


# --- report ----------------------------------------------------------------------------------

def print_tables(models: dict, calib: dict, pairs: dict, cvs: dict, ab: list[dict]) -> None:
    print()
    print("calibrated medians (ms): " + ", ".join(f"{m} {calib[m]:.3f}" for m in models))
    for cell, rows in pairs.items():
        cond, _, k = cell.partition("@")
        what = "false regressions" if cond == "null" else "detections"
        loads = [r["load"] for r in rows]
        cont = [r["contention"] for r in rows if not math.isnan(r["contention"])]
        print(f"\n{cond}, {k} CPU-bound neighbour(s) beside B: {what} out of {len(rows)} pairs; "
              f"threshold {THRESHOLD}; re-timed in the gate: {sum(r['retimed'] for r in rows)}; "
              f"load avg {min(loads):.1f}-{max(loads):.1f}; contention (wall/CPU) "
              + (f"{min(cont):.1f}-{max(cont):.1f}x" if cont else "-"))
        print(f"{'model':<6} " + " ".join(f"{m:>17}" for m in METHODS) + "  B/A judged, B wall/A")
        for m in models:
            cells = []
            for meth in METHODS:
                hits = sum(bool(r["verdicts"][meth].get(m)) for r in rows)
                cells.append(f"{hits:>14}/{len(rows):<2}")
            judged = statistics.median(r["b"][m] / r["a"][m] for r in rows)
            wall = statistics.median(r["b_wall"][m] / r["a"][m] for r in rows)
            print(f"{m:<6} " + " ".join(cells) + f"  {judged:.3f}, {wall:.3f}")
    if cvs:
        print("\nCV of the judged median across fresh processes (raw / normalised by the "
              "reference workload)")
        print(f"{'runs':<24} " + " ".join(f"{m:>16}" for m in models))
        for label, table in cvs.items():
            print(f"{label:<24} " + " ".join(
                f"{table[m][0] * 100:6.1f}% / {table[m][1] * 100:5.1f}%" for m in models))
    if ab:
        kinds = [r["verdict"] for r in ab]
        sp = [r["speedup"] for r in ab]
        print(f"\nassert_faster(facenet_opt, facenet, by=10%) in {len(ab)} fresh processes: "
              + ", ".join(f"{k} {kinds.count(k)}" for k in sorted(set(kinds)))
              + f"; speed-up {min(sp):.2f}-{max(sp):.2f}x (median {statistics.median(sp):.2f}x)"
              f"; {statistics.median(r['seconds'] for r in ab):.1f} s each")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="3 pairs, 3 ab runs")
    p.add_argument("--models", default="tiny,mid,big")
    p.add_argument("--sizes", default="tiny=32,mid=128,big=288",
                   help="input sizes (tiny: small convnet; mid/big: AlexNet, dense 1024)")
    p.add_argument("--conditions", default=",".join(CONDITIONS))
    p.add_argument("--normalize", action="store_true",
                   help="every run with --tfperf-normalize: the reference workload probed "
                        "before and after each measurement; the gate judges ratios to it")
    p.add_argument("--neighbours", default="0,1,3",
                   help="CPU-bound neighbour counts beside the B runs, one cell each")
    p.add_argument("--ab-runs", type=int, default=10)
    p.add_argument("--ini", action="append", default=[], metavar="KEY=VALUE",
                   help="ini override for every pytest run, e.g. tfperf_cpus=1 (repeatable)")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--ab-run", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.ab_run:
        return ab_main(*args.ab_run)
    pairs = 3 if args.quick and args.pairs == 20 else args.pairs
    ab_n = 3 if args.quick and args.ab_runs == 10 else args.ab_runs
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    sizes = {k: int(v) for k, v in (s.split("=") for s in args.sizes.split(","))}
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    bad = [c for c in conditions if c not in CONDITIONS] + [m for m in names if m not in sizes]
    if bad:
        p.error(f"unknown condition/model {bad}; conditions {CONDITIONS}, models {list(sizes)}")
    INI.extend(args.ini)
    NEIGHBOURS[:] = [int(k) for k in args.neighbours.split(",") if k.strip()]
    FLAGS[:] = ["--tfperf-normalize"] if args.normalize else []
    t_start = time.perf_counter()
    print(f"load at start {os.getloadavg()}; ini overrides {args.ini}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tfperf-compare-") as tmp_name:
        tmp = Path(tmp_name)
        models = build_models(tmp, sizes, names)
        project = tmp / "project"
        project.mkdir()
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "test_cmp.py").write_text(TEST_FILE)
        calib_docs = [pytest_run(project, models, tmp / f"calib{i}.json") for i in range(3)]
        calib = {m: statistics.median(medians(d)[m] for d in calib_docs) for m in models}
        walls = {m: statistics.median(medians(d, "wall")[m] for d in calib_docs) for m in models}
        print("calibration (judged clock): " + json.dumps(calib) + "; wall: " + json.dumps(walls)
              + f"; load {os.getloadavg()[0]:.2f}", flush=True)
        cvs, ab, pair_results = {}, [], {}
        if any(c in COMPARE for c in conditions):
            done = run_pairs(project, tmp, models, calib, pairs, conditions)
            pair_results = done["pairs"]
            cvs["A runs (idle)"] = cv_table(done["a_docs"], models)
            drift = warmup_drift(done["a_docs"], models)
            print("warm-up check, first block / later blocks (A runs): "
                  + ", ".join(f"{m} {v:.3f}" for m, v in drift.items()), flush=True)
        if "cv-pin" in conditions:
            cvs["pinned to CPU 1"] = cv_table(
                cv_runs(project, tmp, models, pairs, ("tfperf_cpus=1",), "pin"), models)
        if "cv-fresh" in conditions:
            cvs["fresh-session blocks"] = cv_table(
                cv_runs(project, tmp, models, pairs, ("tfperf_fresh_blocks=true",), "fresh"), models)
        if "ab" in conditions:
            ab = ab_runs(tmp, ab_n)
    print_tables(models, calib, pair_results, cvs, ab)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s; load at end {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "calibration": calib, "pairs": pair_results, "cv": cvs, "ab": ab,
            "sizes": sizes, "threshold": THRESHOLD}, indent=1, default=str))
    return 0


# the per-call test the block comparison replaced (only this bench still compares with it)
def mann_whitney_u(a, b) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test (normal approximation, tie and continuity corrected).

    Exact enough for n >= 8 per sample, which timing runs always have. Matches
    `scipy.stats.mannwhitneyu(a, b, method="asymptotic")`; was `timing.stats.mann_whitney_u`.

    Args:
        a, b: the two samples (e.g. latencies of a baseline and of this run).

    Returns:
        `(U, p)`: U for `a` (the number of pairs where a > b, ties counting half) and the
        two-sided p-value for "the two distributions are the same".
    """
    import numpy as np

    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        raise ValueError(f"mann_whitney_u needs two non-empty samples. Received: "
                         f"len(a)={n1}, len(b)={n2}")
    both = np.concatenate((x, y))
    ranks, tie_counts = _average_ranks(both)
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    n = n1 + n2
    mu = n1 * n2 / 2.0
    tie_term = float((tie_counts ** 3 - tie_counts).sum()) / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if var <= 0:  # every value tied: no evidence of a difference
        return u1, 1.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    p = math.erfc(max(z, 0.0) / math.sqrt(2.0))
    return u1, min(p, 1.0)


def _average_ranks(values):
    """1-based ranks with ties given their average rank, and the size of each tie group."""
    import numpy as np

    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    starts = np.concatenate(([True], sorted_vals[1:] != sorted_vals[:-1]))
    group = np.cumsum(starts) - 1
    counts = np.bincount(group).astype(np.float64)
    first_rank = np.concatenate(([0.0], np.cumsum(counts)[:-1])) + 1.0
    avg = first_rank + (counts - 1.0) / 2.0
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = avg[group]
    return ranks, counts


if __name__ == "__main__":
    sys.exit(main())

