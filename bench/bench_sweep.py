"""Sweep figures (issue 23), each with the load average beside it (the machine is shared).

(a) Seconds per configuration, and throughput at batch 8 vs batch 1, for seed 000's AlexNet-224
    (`model.zoo.alexnet_graph`, TF1 raw ops, frozen) and MobileNetV2-224 (keras.applications,
    weights=None), 1 and 2 intra-op threads, one client (`pytest_tfperf.sweep`).
(b) Sanity: throughput with 2 threads <= 2x with 1 thread: from the sweeps in (a), and in
    interleaved rounds of the two configurations (both see the same moments of a shared
    machine's load; also per CPU-second of this process).
(c) Harness: batch-4 throughput measured by the sweep (`timing.sweep.measure_config`, one client,
    one intra-op thread) against a hand-written `Session.make_callable` loop on the *same*
    session, in interleaved rounds (order alternating; median of the per-round ratios).
    Target: within 2%. Models: MobileNetV2-224 (~tens of ms a call) and a small convnet (32 px,
    sub-millisecond calls: where a harness's own cost would show).
(d) The driver's own cost per request (an empty runner), which bounds (c) whatever the load.

Run:    PYTHONPATH=. .venv/bin/python bench/bench_sweep.py [--rounds 7] [--json OUT.json]
        [--only a,b,c,d] [--models alexnet,mobilenet]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_OVERRIDE_GLOBAL_THREADPOOL", "1")  # per-session intra-op pools
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def load_text() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def build(name: str):
    from pytest_tfperf import load

    if name == "alexnet":
        from pytest_tfperf.model import zoo

        return load(zoo.alexnet_graph(input_size=224))
    if name == "mobilenet":
        import keras

        return load(keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3)))
    if name == "small":
        from pytest_tfperf.model import zoo

        return load(zoo.small_convnet_graph(input_size=32))
    raise SystemExit(f"unknown model {name}")


def figure_a(model, name: str, out: dict) -> None:
    from pytest_tfperf.timing.sweep import sweep

    before = load_text()
    t0 = time.perf_counter()
    result = sweep(model, batch=[1, 8], intra_threads=[1, 2], concurrency=[1])
    wall = time.perf_counter() - t0
    after = load_text()
    rows = []
    for p in result.points:
        lo, hi = p.throughput_ci or (float("nan"), float("nan"))
        rows.append({"batch": p.batch, "threads": p.intra_threads, "throughput": p.throughput,
                     "ci": [lo, hi], "p99_ms": p.p99_ms, "seconds": p.seconds, "n": p.n,
                     "stop": p.stop_reason, "cpu_util": p.cpu_util})
        print(f"  {name} batch {p.batch} threads {p.intra_threads}: {p.throughput:8.1f} inf/s "
              f"[{lo:.1f}, {hi:.1f}] p99 {p.p99_ms:8.1f} ms  {p.seconds:5.2f} s/config  n={p.n} "
              f"{p.stop_reason} cpu {p.cpu_util:.0%}")
    for t in (1, 2):
        b1, b8 = result.point(1, t), result.point(8, t)
        print(f"  {name} threads {t}: batch 8 / batch 1 throughput = {b8.throughput / b1.throughput:.2f}x")
    for b in (1, 8):
        t1, t2 = result.point(b, 1), result.point(b, 2)
        ratio = t2.throughput / t1.throughput
        print(f"  {name} batch {b}: 2 threads / 1 thread = {ratio:.2f}x (sanity: <= 2: "
              f"{'ok' if ratio <= 2.0 else 'VIOLATED'})")
    secs = [p.seconds for p in result.points]
    print(f"  {name}: {len(secs)} configurations in {wall:.1f} s; seconds per configuration "
          f"median {statistics.median(secs):.2f} (min {min(secs):.2f}, max {max(secs):.2f}); "
          f"{before} -> {after}")
    out[name] = {"rows": rows, "wall_s": wall, "load_before": before, "load_after": after}


def figure_b(model, name: str, batch: int, rounds: int, out: dict) -> None:
    """2 threads vs 1 thread at `batch`, interleaved rounds on the same two sessions (so both
    see the same moments of the neighbours' load); also per CPU-second of this process."""
    from pytest_tfperf.timing.closed_loop import usable_cores
    from pytest_tfperf.timing.settings import TimingSettings
    from pytest_tfperf.timing.sweep import _Instances, base_feeds, measure_config

    feeds, _ = base_feeds(model, None)
    settings = TimingSettings(min_time=1.0, max_time=1.0, warmup=2, warmup_time=0.2, precision=0.0)
    inst = {t: _Instances(model, t) for t in (1, 2)}
    cores = usable_cores()
    before = load_text()
    ratios, per_cpu = [], []
    for r in range(rounds):
        got = {}
        for t in ((1, 2) if r % 2 == 0 else (2, 1)):
            p = measure_config(model, feeds, batch=batch, intra_threads=t, concurrency=1,
                               settings=settings, precision=0.0, instances=inst[t])
            got[t] = (p.throughput, p.throughput / max(p.cpu_util * cores, 1e-9))
        ratios.append(got[2][0] / got[1][0])
        per_cpu.append(got[2][1] / got[1][1])
    for i in inst.values():
        i.close()
    med = statistics.median(ratios)
    print(f"  {name} batch {batch}: 2 threads / 1 thread throughput, median of {rounds} interleaved "
          f"rounds = {med:.2f}x (per round {min(ratios):.2f}-{max(ratios):.2f}; sanity <= 2: "
          f"{'ok' if med <= 2.0 else 'VIOLATED'}); per CPU-second {statistics.median(per_cpu):.2f}x; "
          f"{before} -> {load_text()}")
    out[f"{name}_b{batch}"] = {"ratio": med, "ratios": ratios, "per_cpu_ratio": statistics.median(per_cpu)}


def figure_c(model, name: str, rounds: int, seconds: float, out: dict) -> None:
    """Sweep vs hand loop at batch 4, same session, interleaved."""
    from pytest_tfperf.timing.settings import TimingSettings
    from pytest_tfperf.timing.sweep import _Instances, base_feeds, batched, measure_config

    feeds, _ = base_feeds(model, None)
    data = batched(feeds, 4)
    instances = _Instances(model, 1)
    run = instances.runner(0, data)
    session = instances.sessions[0]
    for _ in range(5):
        run()
    settings = TimingSettings(min_time=seconds, max_time=seconds, warmup=3, warmup_time=0.2,
                              precision=0.0)
    names = list(data)
    fetch = [s.name for s in model.outputs]
    graph = model.graph
    hand_fn = session.make_callable([graph.get_tensor_by_name(f) for f in fetch],
                                    feed_list=[graph.get_tensor_by_name(n) for n in names])
    values = [data[n] for n in names]

    def hand() -> float:
        for _ in range(3):
            hand_fn(*values)
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            hand_fn(*values)
            calls += 1
        return 4 * calls / (time.perf_counter() - t0)

    before = load_text()
    ratios, sw, hd = [], [], []
    for r in range(rounds):
        order = ("sweep", "hand") if r % 2 == 0 else ("hand", "sweep")
        got = {}
        for side in order:
            if side == "hand":
                got[side] = hand()
            else:
                got[side] = measure_config(model, feeds, batch=4, intra_threads=1, concurrency=1,
                                           settings=settings, precision=0.0,
                                           instances=instances).throughput
        ratios.append(got["sweep"] / got["hand"])
        sw.append(got["sweep"])
        hd.append(got["hand"])
    instances.close()
    after = load_text()
    med = statistics.median(ratios)
    print(f"  {name} batch 4: sweep {statistics.median(sw):.1f} inf/s, hand make_callable loop "
          f"{statistics.median(hd):.1f} inf/s; sweep/hand median of {rounds} interleaved rounds = "
          f"{med:.3f} (per round {min(ratios):.3f}-{max(ratios):.3f}; target within 2%: "
          f"{'ok' if abs(med - 1) <= 0.02 else 'NOT MET'}); {before} -> {after}")
    out[name] = {"ratio": med, "ratios": ratios, "sweep": sw, "hand": hd, "load_before": before,
                 "load_after": after}


def figure_d(out: dict) -> None:
    """The driver's own cost per request: an empty runner under `run_closed_loop` (one client)
    against a bare loop calling it, interleaved; microseconds a request, which a model's call
    time dwarfs (the ratio in (c) is this cost over the call time, plus the machine's noise)."""
    from pytest_tfperf.timing.closed_loop import run_closed_loop
    from pytest_tfperf.timing.settings import TimingSettings

    def empty():
        return None
    settings = TimingSettings(min_time=0.3, max_time=0.3, warmup=10, warmup_time=0.0, precision=0.0)
    driver, bare = [], []
    for _ in range(9):
        run = run_closed_loop([empty], batch=1, settings=settings)
        driver.append(1e6 / run.throughput)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.3:
            empty()
            n += 1
        bare.append((time.perf_counter() - t0) * 1e6 / n)
    d, b = statistics.median(driver), statistics.median(bare)
    print(f"  driver {d:.2f} us/request vs bare loop {b:.2f} us/call: the driver's cost is "
          f"{d - b:.2f} us a request ({load_text()})")
    out["d"] = {"driver_us": d, "bare_us": b}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--seconds", type=float, default=1.0, help="seconds per side per round in (c)")
    p.add_argument("--only", default="a,b,c,d")
    p.add_argument("--models", default="alexnet,mobilenet")
    p.add_argument("--json")
    args = p.parse_args()
    only = set(args.only.split(","))
    out: dict = {"a": {}, "b": {}, "c": {}, "cores": os.cpu_count()}
    models = args.models.split(",")
    if "a" in only:
        print(f"(a)+(b) sweeps, batch [1, 8] x threads [1, 2] x 1 client ({load_text()})")
        for name in models:
            model = build(name)
            figure_a(model, name, out["a"])
            model.close()
            del model
    if "b" in only:
        print(f"(b) 2 threads vs 1 thread, interleaved ({load_text()})")
        for name in models:
            model = build(name)
            for batch in (1, 8):
                figure_b(model, name, batch, max(args.rounds // 2, 3), out["b"])
            model.close()
    if "c" in only:
        print(f"(c) batch-4 throughput: sweep vs a hand make_callable loop ({load_text()})")
        for name in [m for m in models if m != "alexnet"] + ["small"]:
            fast = name == "small"  # sub-ms calls: many short rounds average a shared machine's bursts
            figure_c(build(name), name, args.rounds * 3 if fast else args.rounds,
                     args.seconds / 4 if fast else args.seconds, out["c"])
    if "d" in only:
        print("(d) the closed-loop driver's own cost per request (empty runner)")
        figure_d(out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
