"""Everything that touches pytest-benchmark: its `benchmark` fixture and its JSON format.

- `benchmark_stats_of(item)`: the `LatencyStats` of a test's `benchmark` fixture (None if unused
  or it recorded nothing, e.g. under `--benchmark-disable`), for `latency_budget`;
- `uses_benchmark(item)`: whether the test asked for the fixture (its stats gate the budget);
- `stats_from_pytest_benchmark(...)`: the conversion itself;
- `machine_info()`, `commit_info()`, `benchmark_stats()`: the pieces of its JSON file format the
  JSON report reuses (it is a superset of pytest-benchmark's file).

pytest-benchmark is imported lazily, inside these functions.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["benchmark_options_of", "benchmark_stats", "benchmark_stats_of", "commit_info", "machine_info",
           "stats_from_pytest_benchmark", "uses_benchmark", "version"]


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
