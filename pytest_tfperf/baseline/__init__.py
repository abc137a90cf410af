"""Stored runs (baselines) and comparisons against them: `storage` | `compare`.

Every public name stays importable from `pytest_tfperf.baseline`.
"""
from __future__ import annotations

from pytest_tfperf.baseline.compare import (
    DEFAULT_DISPLAY_EXPR,
    VERDICTS,
    Threshold,
    baseline_warnings,
    check_regressions,
    collect_environment,
    compare_measurement,
    compare_options,
    compare_runs,
    comparison_warnings,
    gated_statistic,
    record_blocks,
    reference_of,
    finalize,
    parse_fail_expr,
    parse_thresholds,
    regression_for,
    statistic_value,
    tensorflow_version,
)
from pytest_tfperf.baseline.storage import (
    DEFAULT_ROOT,
    _slug,  # noqa: F401  (options names the storage folder with it)
    load_baseline,
    machine_id,
    measurement_index,
    resolve_baseline,
    save,
)

__all__ = [
    "DEFAULT_DISPLAY_EXPR", "DEFAULT_ROOT", "Threshold", "VERDICTS",
    "baseline_warnings", "check_regressions", "collect_environment", "compare_measurement",
    "compare_options", "compare_runs", "comparison_warnings", "finalize", "gated_statistic",
    "record_blocks", "reference_of", "load_baseline", "machine_id", "measurement_index",
    "parse_fail_expr", "parse_thresholds", "regression_for", "resolve_baseline", "save",
    "statistic_value", "tensorflow_version",
]
