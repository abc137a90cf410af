"""tfperf's lines in pytest's header (`pytest_report_header`, via `outputs.header_lines`).

Standard library only, outside `report/` on purpose: the header is printed in every pytest run
with the plugin installed, also in suites that never use tfperf, and the renderers' package
imports NumPy (start-up budget: bench/bench_import.py, ~+30 ms).
"""
from __future__ import annotations

from typing import Any


def _seconds(value: Any) -> str:
    return f"{value:g} s" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _threads(value: Any) -> str:
    return "auto" if value is None else str(value)  # None: TensorFlow's own choice


def _inter(intra: Any, inter: Any) -> str:
    """"inline" where one intra-op thread runs every op in the calling thread
    (`model.frozen.session_threads`), else the inter-op setting."""
    return "inline" if inter is None and intra == 1 else _threads(inter)


def render_header(summary: dict, *, pytest_benchmark: bool = False) -> list[str]:
    """tfperf's lines in pytest's header, from `outputs.settings_summary`: the timing settings
    `tfperf.measure` and the budgets use, in pytest-benchmark's `key=value` style so the two
    lines can be read side by side, then threads and runtime."""
    from pytest_tfperf import __version__

    s = summary
    if s.get("disabled"):
        timing = "disabled (--tfperf-disable: one call per measurement, budgets not enforced)"
    else:
        timing = (f"warmup={s.get('warmup')} runs + {_seconds(s.get('warmup_time'))} "
                  f"min_runs={s.get('min_runs')} min_time={_seconds(s.get('min_time'))} "
                  f"max_time={_seconds(s.get('max_time'))} disable_gc={s.get('disable_gc')} "
                  f"timer={s.get('timer')}"
                  + (f" clock={s['clock']}" if s.get("clock") else ""))  # tfperf_clock (issue 19)
    runtime = s.get("runtime") or {}
    tf = runtime.get("tensorflow") or "not installed"
    scale = s.get("budget_scale")
    lines = [f"tfperf: {__version__} (timing: {timing})",
             f"tfperf: threads intra_op={_threads(s.get('intra_op_threads'))} "
             f"inter_op={_inter(s.get('intra_op_threads'), s.get('inter_op_threads'))}; "
             f"runtime tensorflow {tf}"
             + (f"; latency budgets x{scale:g}" if isinstance(scale, (int, float)) and scale != 1 else "")]
    if pytest_benchmark:
        lines.append("tfperf: (the benchmark: line is pytest-benchmark's, for its benchmark fixture only)")
    return lines
