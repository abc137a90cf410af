"""JSON report: a superset of pytest-benchmark's JSON file.

Tools that read pytest-benchmark files (`pytest-benchmark compare`, github-action-benchmark's
`pytest` tool) read ours: top-level `machine_info`, `commit_info`, `benchmarks[]`, `datetime`,
`version`, each benchmark with `group, name, fullname, params, param, extra_info, options,
stats` and `stats` in SECONDS as pytest-benchmark computes them (its own `Stats` class does the
arithmetic from our raw samples). tfperf's own data sits under its own keys: a top-level
`tfperf` section (every record of the session, so the file is also a baseline) and
`extra_info.tfperf` per benchmark (budgets, verdicts, percentiles, FPS).
"""
from __future__ import annotations

import datetime as _dt
import os

from pytest_tfperf.results.pytest_benchmark import benchmark_stats
from pytest_tfperf.report import get, inputs_text, measurement_label

FORMAT = 2  # version of the `tfperf` section's layout (2: measurements have timing blocks)


def machine_info() -> dict:
    """pytest-benchmark's machine_info (see `integrations.pytest_benchmark`)."""
    from pytest_tfperf.results.pytest_benchmark import machine_info as info

    return info()


def commit_info(project_name: str | None = None) -> dict:
    """pytest-benchmark's commit_info for the current directory."""
    from pytest_tfperf.results.pytest_benchmark import commit_info as info

    return info(project_name)


def _param(test_id: str) -> str | None:
    """'test_x[alexnet-1]' -> 'alexnet-1' (pytest-benchmark's `param`)."""
    if test_id.endswith("]") and "[" in test_id:
        return test_id[test_id.index("[") + 1:-1]
    return None


def _short_name(test_id: str, name: str | None) -> str:
    base = test_id.rsplit("::", 1)[-1]
    return f"{base}::{name}" if name else base


def benchmark_entry(record: dict) -> dict:
    """One pytest-benchmark `benchmarks[]` entry for a tfperf measurement record."""
    st = record.get("stats") or {}
    test_id = str(record.get("test_id") or "")
    name = record.get("name")
    tf_info = {
        "model": record.get("model"),
        "model_id": record.get("model_id"),
        "measurement": name,
        "device": record.get("device"),
        "target_kind": record.get("target_kind"),
        "runtime": record.get("runtime") or st.get("runtime") or None,
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
        "budgets": [v for v in record.get("verdicts") or []],
        "inputs": list(record.get("inputs") or []),
        "input": inputs_text(record.get("inputs")) if record.get("inputs") else None,
        "timing": record.get("timing"),
        "rough_percentiles": rough_percentiles(st),
        "passed": None if not record.get("verdicts") else all(
            v.get("passed") is not False for v in record["verdicts"]),
    }
    extra = dict(record.get("extra_info") or {})
    extra["tfperf"] = tf_info
    return {
        "group": record.get("group", record.get("model")),
        "name": _short_name(test_id, name),
        "fullname": measurement_label(record),
        "params": record.get("params"),
        "param": _param(test_id),
        "extra_info": extra,
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


def benchmark_options(record: dict) -> dict:
    """pytest-benchmark's `options` for one measurement, saying what tfperf did: its warm-up
    count, minimum runs and time, time cap, and the collector off while timing (`timing`).
    A pytest-benchmark measurement keeps the options its own fixture ran with."""
    st = record.get("stats") or {}
    timing = record.get("timing") or {}
    if record.get("target_kind") == "pytest-benchmark":
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


def tfperf_section(results) -> dict:
    """The top-level `tfperf` key: versions, device, and every record of the session."""
    from pytest_tfperf import __version__

    env = results.environment
    return {
        "format": FORMAT,
        "version": __version__,
        "tensorflow": env.get("tensorflow"),
        "device": env.get("device"),
        "machine_id": env.get("machine_id"),
        "settings": env.get("settings"),
        "environment": dict(env),
        "measurements": results.dicts("measurement"),
        "models": results.dicts("model"),
        "equivalence": results.dicts("equivalence"),
        "profiles": results.dicts("profile"),
        "failures": results.dicts("failure"),
        "comparisons": results.dicts("comparison"),
        "variants": results.dicts("variants"),
    }


def build_document(results, *, machine: dict | None = None, commit: dict | None = None,
                   now: _dt.datetime | None = None) -> dict:
    """The whole JSON document for `results` (a `SessionResults`).

    Args:
        results: the session results.
        machine: machine_info (default: pytest-benchmark's, generated now).
        commit: commit_info (default: pytest-benchmark's, for the current directory).
        now: the timestamp to record (default: now, UTC).

    Returns:
        A JSON-able dict (write it with `atomic.write_json`).
    """
    from pytest_tfperf.results.pytest_benchmark import version

    doc = {
        "machine_info": machine if machine is not None else machine_info(),
        "commit_info": commit if commit is not None else commit_info(),
        "benchmarks": [benchmark_entry(r) for r in results.measurements],
        "datetime": (now or _dt.datetime.now(_dt.timezone.utc)).isoformat(),
        "version": version(),
        "tfperf": tfperf_section(results),
    }
    return _relative_ids(doc, results.environment.get("rootdir"))


_ID_KEYS = ("model_id", "reference_id", "candidate_id")


def _relative_ids(value, root: str | None):
    """Model identities are resolved paths in memory; files name them relative to the project
    root (a stored run must not depend on where the checkout lies)."""
    if not root:
        return value
    prefix = os.path.join(os.path.realpath(root), "")
    if isinstance(value, dict):
        return {k: (v[len(prefix):] if k in _ID_KEYS and isinstance(v, str) and v.startswith(prefix)
                    else _relative_ids(v, root)) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative_ids(v, root) for v in value]
    return value


def results_from_document(doc: dict):
    """The `SessionResults` stored in a document's `tfperf` section (None for plain files)."""
    from pytest_tfperf.results.session import SessionResults

    section = doc.get("tfperf")
    if not isinstance(section, dict) or not isinstance(section.get("measurements"), list):
        return None
    results = SessionResults()
    for kind, key in (("measurement", "measurements"), ("model", "models"),
                      ("equivalence", "equivalence"), ("profile", "profiles"),
                      ("failure", "failures"), ("comparison", "comparisons"),
                      ("variants", "variants")):
        results.extend(kind, (x for x in section.get(key) or [] if isinstance(x, dict)))
    results.environment.update(get(section, "environment", default={}) or {})
    return results
