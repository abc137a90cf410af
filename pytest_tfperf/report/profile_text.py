"""Text rendering of an `OpProfile.to_dict()`, laid out like TensorFlow's `benchmark_model`.

Same columns, widths and number formats as TensorFlow's StatSummarizer ("Top by Computation
Time", "Summary by node type", the `Timings (microseconds)` and `Memory (bytes)` lines) and
benchmark_model's `FLOPs estimate: 82.15M` / `FLOPs/second: 21.89B`. Reads the dict only.
"""
from __future__ import annotations

_RULE = "=" * 30


def human_readable_num(value: float) -> str:
    """TensorFlow's `strings::HumanReadableNum`: 82150000 -> '82.15M', 999 -> '999'.

    Whole thousands are dropped before the last step (integer division, as TensorFlow does).
    """
    value = int(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 1000:
        return f"{sign}{value}"
    if value >= 10**15:
        return f"{sign}{float(value):0.3G}"
    units = "kMBT"
    unit = 0
    while value >= 1_000_000:
        value //= 1000
        unit += 1
    return f"{sign}{value / 1000.0:.2f}{units[unit]}"


def stat_line(stat: dict) -> str:
    """A `Stat<int64>` as TensorFlow prints it: `count=N first=... avg=... std=...`."""
    count = stat.get("count", 0)
    if not count:
        return "count=0"
    if stat["min"] == stat["max"]:
        return f"count={count} curr={stat['curr']}" + ("(all same)" if count > 1 else "")
    return (f"count={count} first={stat['first']} curr={stat['curr']} min={stat['min']} "
            f"max={stat['max']} avg={stat['avg']:.6g} std={stat['std']}")


def _field(value, width: int) -> str:
    return "\t" + (f"{value:.3f}" if isinstance(value, float) else str(value)).rjust(width)


def _pct(value: float, width: int) -> str:
    return "\t" + f"{value:.3f}".rjust(width) + "%"


def render_top_nodes(rows: list[dict]) -> str:
    """StatSummarizer's "Top by Computation Time" table."""
    lines = [f"{_RULE} Top by Computation Time {_RULE}",
             _field("[node type]", 40) + _field("[first]", 9) + _field("[avg ms]", 9)
             + _field("[%]", 8) + _field("[cdf%]", 8) + _field("[mem KB]", 10)
             + _field("[times called]", 9) + "\t[Name]"]
    for r in rows:
        lines.append(_field(r["node_type"], 40) + _field(float(r["first_ms"]), 9)
                     + _field(float(r["avg_ms"]), 9) + _pct(r["percent"], 7)
                     + _pct(r["cdf_percent"], 7) + _field(float(r["mem_kb"]), 10)
                     + _field(int(r["times_called"]), 9) + "\t" + r["name"])
    return "\n".join(lines)


def render_node_types(rows: list[dict], nodes_observed: int | None = None) -> str:
    """StatSummarizer's "Summary by node type" table."""
    lines = []
    if nodes_observed is not None:
        lines.append(f"Number of nodes executed: {nodes_observed}")
    lines.append(f"{_RULE} Summary by node type {_RULE}")
    lines.append(_field("[Node type]", 40) + _field("[count]", 9) + _field("[avg ms]", 10)
                 + _field("[avg %]", 11) + _field("[cdf %]", 11) + _field("[mem KB]", 10)
                 + _field("[times called]", 9))
    for r in rows:
        lines.append(_field(r["node_type"], 40) + _field(int(r["count"]), 9)
                     + _field(float(r["avg_ms"]), 10) + _pct(r["avg_percent"], 10)
                     + _pct(r["cdf_percent"], 10) + _field(float(r["mem_kb"]), 10)
                     + _field(int(r["times_called"]), 9))
    return "\n".join(lines)


def _counts(mapping: dict) -> str:
    return ", ".join(f"{op} ({n} node{'s' if n != 1 else ''})" for op, n in mapping.items())


def render_flops(profile: dict) -> list[str]:
    """The `FLOPs estimate` / `FLOPs/second` lines, plus what was not counted."""
    flops = profile.get("flops")
    if flops is None:
        return ["FLOPs estimate: not available (the model's FLOPs could not be counted)"]
    detail = profile.get("flops_report") or {}
    incomplete = " (incomplete: some ops unresolved, see below)" if detail.get("unresolved") else ""
    lines = [f"FLOPs estimate: {human_readable_num(flops)}{incomplete}"]
    per_second = profile.get("flops_per_second")
    if per_second is not None:
        lines.append(f"FLOPs/second: {human_readable_num(per_second)}")
    lines += [_control_flow_line(entry) for entry in detail.get("control_flow") or ()]
    if detail.get("uncounted"):
        lines.append(f"FLOPs not counted for op types: {_counts(detail['uncounted'])}")
    if detail.get("unresolved"):
        lines.append(f"FLOPs unresolved (left out of the estimate): {_counts(detail['unresolved'])}")
        reasons = list(dict.fromkeys((detail.get("unresolved_reasons") or {}).values()))
        lines += [f"  because {reason}" for reason in reasons[:3]]
    return lines


def _control_flow_line(entry: dict) -> str:
    """'Loop while: 5 iterations (static: static trip count 5; a traced run agrees)'."""
    how = f"({entry.get('resolved')}: {entry.get('detail')})"
    if entry.get("kind") == "while":
        iterations = entry.get("iterations")
        count = "? iterations" if iterations is None else f"{iterations} iterations"
        return f"Loop {entry.get('name')}: {count} {how}"
    return f"Cond on {entry.get('name')} {how}"


def render_profile(profile: dict) -> str:
    """Render an `OpProfile.to_dict()` as benchmark_model's report.

    Args:
        profile: the dict from `OpProfile.to_dict()` (or read back from JSON).
    Returns:
        multi-line text, no trailing newline: run summary, the input timed (when the dict has
        `inputs`, `timed_inputs.describe_inputs`), top-N slowest nodes, summary by node
        type, timings and memory lines, FLOPs and peak memory.
    """
    wall, traced, warm = profile["wall_us"], profile["traced_wall_us"], profile["warmup_us"]
    lines = [
        f"Model {profile['model']}: {profile['runs']} runs after {profile['warmup_runs']} warm-up runs",
        (f"Average inference timings in us: Warmup: {int(warm['avg'])}, "
         f"no stats: {int(wall['avg'])}, with stats: {int(traced['avg'])}"),
        "",
    ]
    if profile.get("inputs"):  # what was timed, and which dims tfperf chose (dynamic H/W -> 224)
        from pytest_tfperf.report import inputs_text

        lines.insert(1, f"Input: {inputs_text(profile['inputs'])}")
    if profile.get("top_nodes"):
        lines += [render_top_nodes(profile["top_nodes"]), ""]
    lines += [render_node_types(profile["node_types"], profile.get("nodes_observed")), ""]
    lines.append(f"Timings (microseconds): {stat_line(profile['timings_us'])}")
    lines.append(f"Memory (bytes): {stat_line(profile['memory_bytes'])}")
    lines.append(f"{profile.get('nodes_observed', 0)} nodes observed")
    lines.append("")
    lines += render_flops(profile)
    lines.append(f"Peak memory (bytes): {int(profile.get('peak_memory_bytes') or 0)}")
    return "\n".join(lines)
