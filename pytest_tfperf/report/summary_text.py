"""Text rendering of a `GraphSummary.to_dict()`, in the spirit of TensorFlow's `summarize_graph`.

Reads the dict only; never computes anything about the graph. Counts and sizes are worded as in
every tfperf table (`wording.format_count`: 1.5e9 -> '1.50G'; `wording.format_bytes`: 10^6
bytes a MB), not as TensorFlow's HumanReadableNum ('1.50B') and KiB.
"""
from __future__ import annotations

from pytest_tfperf.wording import format_bytes, format_count

# numpy dtype name -> summarize_graph's `DataTypeString(enum)` spelling, e.g. float32 -> float(1).
_TF_DTYPES = {
    "float32": "float(1)", "float64": "double(2)", "int32": "int32(3)", "uint8": "uint8(4)",
    "int16": "int16(5)", "int8": "int8(6)", "object": "string(7)", "complex64": "complex64(8)",
    "int64": "int64(9)", "bool": "bool(10)", "bfloat16": "bfloat16(14)", "uint16": "uint16(17)",
    "complex128": "complex128(18)", "float16": "half(19)", "uint32": "uint32(22)",
    "uint64": "uint64(23)",
}


def _display_name(tensor: str) -> str:
    """summarize_graph prints node names: 'input_node:0' -> 'input_node'; 'split:1' stays."""
    return tensor.removesuffix(":0")


def _shape(shape) -> str:
    if shape is None:
        return "unknown"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def render_summary(summary: dict) -> str:
    """Render a `GraphSummary.to_dict()` as summarize_graph-style text.

    Args:
        summary: the dict from `GraphSummary.to_dict()` (or read back from JSON).
    Returns:
        multi-line text, no trailing newline.
    """
    header = (f"Model {summary['name']} ({summary['kind']}, {summary['source'] or '<memory>'}): "
              f"{summary['node_count']} nodes, {format_bytes(summary['serialized_bytes'])} serialized")
    lines = [header]
    inputs = ", ".join(
        f"(name={_display_name(s['name'])}, type={_TF_DTYPES.get(s['dtype'], s['dtype'])}, "
        f"shape={_shape(s['shape'])})" for s in summary["inputs"])
    lines.append(f"Found {len(summary['inputs'])} possible inputs: {inputs}".rstrip(": "))
    outputs = ", ".join(f"(name={_display_name(s['name'])}, op={s['op']})" for s in summary["outputs"])
    lines.append(f"Found {len(summary['outputs'])} possible outputs: {outputs}".rstrip(": "))
    weights, other = summary["weight_params"], summary["other_const_elements"]
    lines.append(f"Found {weights} ({format_count(weights)}) weight parameters, {other} "
                 f"({format_count(other)}) other const elements, {summary['control_edges']} control_edges")
    known = [(label, summary[key]) for label, key in (("trainable", "trainable_params"),
                                                      ("non-trainable", "non_trainable_params"))
             if summary.get(key) is not None]
    if known:
        lines.append("Source reports " + ", ".join(
            f"{n} ({format_count(n)}) {label} parameters" for label, n in known))
    line = params_line(summary)
    if line:
        lines.append(line)
    lines.append("Op types used: " + ", ".join(f"{count} {op}" for op, count in summary["op_histogram"]))
    if summary["leftovers"]:
        examples = ", ".join(summary["leftover_nodes"])
        lines.append("Training leftovers: " + ", ".join(
            f"{count} {op}" for op, count in summary["leftovers"])
            + f" (e.g. {examples}): strip them for inference (tfperf optimize)")
    return "\n".join(lines)


def params_line(summary: dict) -> str | None:
    """Both parameter counts, when the source's own count and the frozen graph's differ, e.g.
    "Parameters: 5,330,571 as the source counts them (what param_budget checks); the frozen graph
    holds 5,330,570 weights; source variables inference does not read (...): normalization/count (1)"."""
    params, graph = summary.get("params"), summary.get("weight_params")
    if summary.get("params_from") != "source" or params is None or params == graph:
        return None
    text = (f"Parameters: {params:,} as the source counts them (what param_budget checks); the "
            f"frozen graph holds {graph:,} weights")
    unread = summary.get("unread_variables") or []
    if unread:
        text += ("; source variables inference does not read (values it uses are baked in as "
                 "constants): " + ", ".join(f"{name} ({n:,})" for name, n in unread))
    elif graph > params:
        text += " (constants the source does not count as parameters)"
    return text
