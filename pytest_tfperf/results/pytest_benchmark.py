"""Everything that touches pytest-benchmark: its `benchmark` fixture and its JSON format.

- `benchmark_stats_of(item)`: the `LatencyStats` of a test's `benchmark` fixture (None if unused
  or it recorded nothing, e.g. under `--benchmark-disable`), for `latency_budget`;
- `uses_benchmark(item)`: whether the test asked for the fixture (its stats gate the budget);
- `stats_from_pytest_benchmark(...)`: the conversion itself;
- `machine_info()`, `commit_info()`, `benchmark_stats()`, `benchmark_entry()`: the pieces of its
  JSON file format the result file reuses (`results.file`: a superset of pytest-benchmark's
  file), and `record_from_benchmark()`: a plain pytest-benchmark entry read as a record.

pytest-benchmark is imported lazily, inside these functions.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["benchmark_entry", "benchmark_options", "benchmark_options_of", "benchmark_stats",
           "benchmark_stats_of", "commit_info", "machine_info", "record_from_benchmark",
           "rough_percentiles", "stats_from_pytest_benchmark", "uses_benchmark", "version"]


def uses_benchmark(item) -> bool:
    """Whether the test item requested pytest-benchmark's `benchmark` fixture."""
    return "benchmark" in getattr(item, "funcargs", {})


def benchmark_stats_of(item):
    """`LatencyStats` of the item's `benchmark` fixture, or None when it recorded nothing."""
    bench = getattr(item, "funcargs", {}).get("benchmark")
    if bench is None or not getattr(bench, "stats", None):
        return None
    return stats_from_pytest_benchmark(bench)


def benchmark_options_of(item) -> dict | None:
    """The options the item's `benchmark` fixture ran with (JSON-able: the timer by name), as
    pytest-benchmark writes them in its file; None when it recorded nothing."""
    bench = getattr(item, "funcargs", {}).get("benchmark")
    options = getattr(getattr(bench, "stats", None), "options", None)
    if not isinstance(options, Mapping):
        return None
    from decimal import Decimal

    return {k: (getattr(v, "__name__", str(v)) if callable(v) else float(v) if isinstance(v, Decimal)
                else v) for k, v in options.items()}


def machine_info() -> dict:
    """pytest-benchmark's machine_info (node, cpu, python...), from its own hook."""
    from pytest_benchmark.plugin import pytest_benchmark_generate_machine_info

    return pytest_benchmark_generate_machine_info()


def commit_info(project_name: str | None = None) -> dict:
    """pytest-benchmark's commit_info (git id, branch, dirty) for the current directory."""
    from pytest_benchmark.utils import get_commit_info

    return get_commit_info(project_name)


def version() -> str:
    """The installed pytest-benchmark's version (the JSON file's `version`)."""
    from pytest_benchmark import __version__

    return __version__


def benchmark_stats(samples_ms: list[float] | None, tfstats: dict) -> dict:
    """pytest-benchmark's `stats` (seconds) from raw samples in ms, with `data` and `iterations`.

    Without samples, the fields tfperf knows are converted and the others are null.
    """
    from pytest_benchmark.stats import Stats

    samples = [float(v) / 1000.0 for v in samples_ms or [] if v is not None]
    if samples:
        st = Stats()
        for value in samples:
            st.update(value)
        out = st.as_dict()
        out["data"] = samples
    else:
        sec = (lambda key: None if tfstats.get(key) is None else float(tfstats[key]) / 1000.0)
        out = {field: None for field in Stats.fields}
        out.update(min=sec("min_ms"), max=sec("max_ms"), mean=sec("mean_ms"),
                   stddev=sec("std_ms"), median=sec("median_ms"), iqr=sec("iqr_ms"),
                   rounds=int(tfstats.get("n") or 0), data=[])
        out["ops"] = 1.0 / out["mean"] if out["mean"] else None
    out["iterations"] = 1  # every sample is one call (of `batch` inputs)
    return out


def stats_from_pytest_benchmark(bench_stats: Any, *, batch: int = 1, percentile: float = 50,
                                name: str | None = None):
    """`LatencyStats` from a pytest-benchmark run, for `latency_budget` on the `benchmark` fixture.

    Args:
        bench_stats: the `benchmark` fixture, its `.stats` (`Metadata`), that object's `.stats`
            (`Stats`, whose `.data` holds seconds per iteration, one per round), or the dict
            `Metadata.as_dict()` returns (`["stats"]["data"]`).
        batch: inputs per call, for FPS.
        percentile: the gated percentile.
        name: label (default: the benchmark's name).

    Returns:
        The statistics of the rounds (init/first call unknown: None).
    """
    obj, label, warmup_n = bench_stats, name, 0
    if isinstance(obj, Mapping):
        label = label or obj.get("name") or ""
        data = (obj.get("stats") or {}).get("data") if "stats" in obj else obj.get("data")
    else:
        if hasattr(obj, "stats") and not hasattr(obj, "data") and hasattr(obj.stats, "stats"):
            obj = obj.stats  # the fixture -> Metadata
        label = label or getattr(obj, "name", "") or ""
        options = getattr(obj, "options", None) or {}
        if options.get("warmup"):
            warmup_n = int(options["warmup"]) if not isinstance(options["warmup"], bool) else 0
        if hasattr(obj, "stats") and not hasattr(obj, "data"):
            obj = obj.stats  # Metadata -> Stats
        data = getattr(obj, "data", None)
    from pytest_tfperf.timing.stats import LatencyStats

    if not data:
        raise ValueError("stats_from_pytest_benchmark: no rounds recorded (was the benchmark "
                         f"fixture called, and not with --benchmark-disable?). Received: {bench_stats!r}")
    return LatencyStats.from_samples([float(s) * 1000.0 for s in data], batch=batch,
                                     warmup_n=warmup_n, gated_percentile=percentile,
                                     stop_reason="pytest-benchmark", name=str(label))


# -- the result file's `benchmarks[]` (`results.file`) ---------------------------------------
def _param(test_id: str) -> str | None:
    """'test_x[alexnet-1]' -> 'alexnet-1' (pytest-benchmark's `param`)."""
    if test_id.endswith("]") and "[" in test_id:
        return test_id[test_id.index("[") + 1:-1]
    return None


def _short_name(test_id: str, name: str | None) -> str:
    base = test_id.rsplit("::", 1)[-1]
    return f"{base}::{name}" if name else base


def benchmark_entry(record) -> dict:
    """One pytest-benchmark `benchmarks[]` entry for a tfperf `MeasurementRecord`."""
    from pytest_tfperf.inputs.described import inputs_text
    from pytest_tfperf.results.records import measurement_label

    st = record.stats or {}
    test_id = str(record.test_id or "")
    tf_info = {
        "model": record.model,
        "model_id": record.model_id,
        "measurement": record.name,
        "device": record.device,
        "target_kind": record.target_kind,
        "runtime": record.runtime or st.get("runtime") or None,
        "batch": st.get("batch"),
        "fps": st.get("fps"),
        "unit": "ms",
        "percentiles_ms": {k: st.get(f"{k}_ms") for k in ("median", "p90", "p95", "p99")},
        "median_ci_ms": st.get("median_ci_ms"),
        "gated_percentile": st.get("gated_percentile"),
        "gated_ms": st.get("gated_ms"),
        "gated_ci_ms": st.get("gated_ci_ms"),
        "init_ms": st.get("init_ms"),
        "first_ms": st.get("first_ms"),
        "warmup_n": st.get("warmup_n"),
        "cv": st.get("cv"),
        "stop_reason": st.get("stop_reason"),
        "clock": st.get("clock"),  # the clock that judged; `stats` below stay wall clock
        "cpu_median_ms": st.get("cpu_median_ms"),
        "busy": _busy_text(st),
        "budgets": list(record.verdicts),
        "inputs": list(record.inputs),
        "input": inputs_text(record.inputs) if record.inputs else None,
        "timing": record.timing,
        "rough_percentiles": rough_percentiles(st),
        "passed": None if not record.verdicts else all(
            v.get("passed") is not False for v in record.verdicts),
    }
    return {
        "group": record.model,
        "name": _short_name(test_id, record.name),
        "fullname": measurement_label(record),
        "params": None,
        "param": _param(test_id),
        "extra_info": {"tfperf": tf_info},
        "options": benchmark_options(record),
        "stats": benchmark_stats(st.get("samples_ms"), st),
    }


def _busy_text(stats: dict) -> str | None:
    """'machine busy: wall 163 ms, CPU 58 ms (2.8x contention); judged on CPU', None if quiet."""
    from pytest_tfperf.timing.clocks import busy_text

    return busy_text(stats.get("contention") or {}, stats.get("clock") or "wall") or None


def rough_percentiles(stats: dict) -> list[str]:
    """The percentiles of `percentiles_ms` (and the gated one) that `n` cannot support
    (`stats.percentile_supported`): what every renderer marks with '~'."""
    from pytest_tfperf.timing.stats import percentile_supported

    n = stats.get("n")
    if not isinstance(n, int):
        return []
    qs = [50.0, 90.0, 95.0, 99.0]
    gated = stats.get("gated_percentile")
    if isinstance(gated, (int, float)) and float(gated) not in qs:
        qs.append(float(gated))
    return [f"p{q:g}" for q in qs if not percentile_supported(n, q)]


def benchmark_options(record) -> dict:
    """pytest-benchmark's `options` for one measurement, saying what tfperf did: its warm-up
    count, minimum runs and time, time cap, and the collector off while timing (`timing`).
    A pytest-benchmark measurement keeps the options its own fixture ran with."""
    st = record.stats or {}
    timing = record.timing or {}
    if record.target_kind == "pytest-benchmark":
        keys = ("disable_gc", "timer", "min_rounds", "max_time", "min_time", "warmup")
        return {k: timing.get(k) for k in keys} if timing else {k: None for k in keys}
    warmup = timing.get("warmup", st.get("warmup_n"))
    return {
        "timer": timing.get("timer", "perf_counter_ns"),
        "warmup": warmup if warmup else False,  # pytest-benchmark: iterations, or False for none
        "min_rounds": timing.get("min_runs"),
        "min_time": timing.get("min_time"),
        "max_time": timing.get("max_time"),
        "disable_gc": True,  # tfperf's timing engine always turns the collector off
    }


def record_from_benchmark(bench: dict):
    """A `MeasurementRecord` from a plain pytest-benchmark `benchmarks[]` entry (seconds -> ms)."""
    from pytest_tfperf.results.records import MeasurementRecord

    st = bench.get("stats") or {}
    sec = (lambda k: None if st.get(k) is None else float(st[k]) * 1000.0)
    samples = [float(v) * 1000.0 for v in st.get("data") or []]
    stats = {"n": st.get("rounds", len(samples)), "samples_ms": samples, "min_ms": sec("min"),
             "max_ms": sec("max"), "mean_ms": sec("mean"), "median_ms": sec("median"),
             "std_ms": sec("stddev"), "iqr_ms": sec("iqr")}
    if not samples:  # percentiles pytest-benchmark does not store cannot be guessed
        stats = {k: v for k, v in stats.items() if k != "samples_ms"}
    return MeasurementRecord(test_id=str(bench.get("fullname") or bench.get("name") or ""),
                             model=bench.get("group"), stats=stats)
