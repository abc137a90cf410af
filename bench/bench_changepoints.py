"""Change-point libraries on the issue-22 synthetic series (prints a table; not a test).

    PYTHONPATH=$PWD:<dir with the library> python bench/bench_changepoints.py LIB [SEEDS] [BURSTS]

LIB: `tfperf` (pytest_tfperf.history.changepoints: ruptures' PELT + a CI filter), `ruptures`
(PELT, the same penalty, no filter), `spa` (signal-processing-algorithms' e_divisive,
p=0.05, 100 permutations), `otava` (apache-otava's compute_change_points, p=0.001, window 50).
Series, each over SEEDS seeds: a step (60 runs at CV 5%, +15% from run 40), noise (100 runs at
CV 5%), a drift (+3% per 10 runs, 60 runs, CV 5%). Goal: the step at 40 +-1, 0 in the noise.
BURSTS (0): the share of runs slowed 1.5-8x on top, as on a busy machine.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

BURSTS = 0.0  # share of runs slowed 1.5-8x (third argument)
CRASHES: list[int] = []  # series a library raised on (counted as finding nothing)


def series(kind: str, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    x = _levels(kind, rng)
    if BURSTS:  # a busy machine: some runs several times slower
        x = x * np.where(rng.random(x.size) < BURSTS, rng.uniform(1.5, 8.0, x.size), 1.0)
    return list(x)


def _levels(kind: str, rng) -> np.ndarray:
    if kind == "step":
        level = np.where(np.arange(60) >= 40, 1.15, 1.0)
    elif kind == "noise":
        level = np.ones(100)
    else:
        level = 1.03 ** (np.arange(60) / 10.0)
    return 10.0 * level * np.exp(rng.normal(0.0, 0.05, level.size))


def detect(lib: str, x: list[float]) -> list[int]:
    if lib == "tfperf":
        from pytest_tfperf.history.changepoints import change_points

        return [cp.index for cp in change_points(x)]
    if lib == "ruptures":
        import ruptures

        from pytest_tfperf.history.changepoints import MIN_SEGMENT, PENALTY, noise_sd

        logs = np.log(np.asarray(x))
        sd = noise_sd(logs)
        ends = ruptures.Pelt(model="l1", min_size=MIN_SEGMENT, jump=1).fit(logs.reshape(-1, 1)).predict(
            pen=PENALTY * sd * math.log(len(x)))
        return ends[:-1]
    if lib == "spa":
        from signal_processing_algorithms.energy_statistics.energy_statistics import e_divisive

        return sorted(e_divisive(np.asarray(x), pvalue=0.05, permutations=100))
    if lib == "otava":
        from otava.analysis import compute_change_points

        try:
            cps, _ = compute_change_points(list(x), window_len=50, max_pvalue=0.001)
        except ValueError:  # otava 0.8.0's split step on some series (an empty segment)
            CRASHES.append(len(x))
            return []
        return sorted(cp.index for cp in cps)
    raise SystemExit(f"unknown LIB {lib!r}: tfperf, ruptures, spa or otava")


def main() -> None:
    lib = sys.argv[1] if len(sys.argv) > 1 else "tfperf"
    global BURSTS
    seeds = range(int(sys.argv[2]) if len(sys.argv) > 2 else 20)
    BURSTS = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    t0 = time.perf_counter()
    step_hits = step_extra = noise_fp = noise_runs_fp = 0
    drift: dict[int, int] = {}
    for s in seeds:
        found = detect(lib, series("step", s))
        step_hits += any(abs(i - 40) <= 1 for i in found)
        step_extra += sum(abs(i - 40) > 1 for i in found)
        fp = detect(lib, series("noise", 1000 + s))
        noise_fp += len(fp)
        noise_runs_fp += bool(fp)
        d = detect(lib, series("drift", 2000 + s))
        drift[len(d)] = drift.get(len(d), 0) + 1
    n = len(seeds)
    print(f"{lib:9s} bursts {BURSTS:.0%}: step found at 40+-1: {step_hits}/{n}, other points on the step series: "
          f"{step_extra}; noise: {noise_fp} false points in {noise_runs_fp}/{n} series; "
          f"drift: change points per series {dict(sorted(drift.items()))}; "
          f"{(time.perf_counter() - t0) / (3 * n) * 1000:.0f} ms per series"
          f"{f'; raised on {len(CRASHES)} series' if CRASHES else ''}")


if __name__ == "__main__":
    main()
