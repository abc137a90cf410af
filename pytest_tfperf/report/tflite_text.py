"""Text rendering of a TFLite model's summary (`TFLiteSummary.to_dict()`) and of `tfperf bench
model.tflite` (`TFLiteBench.to_dict()`). Reads the dicts only."""
from __future__ import annotations

from typing import Any, Mapping

from pytest_tfperf.report.tables import fit_table
from pytest_tfperf.wording import format_bytes, format_count, format_fps, format_ms


def _spec(s: Mapping[str, Any]) -> str:
    shape = "[" + ",".join("?" if d is None else str(d) for d in s.get("shape") or []) + "]"
    q = s.get("quantization")
    quant = f", scale={q[0]:.6g} zero_point={q[1]}" if q else ""
    return f"(name={s['name']}, type={s['dtype']}, shape={shape}{quant})"


def render_tflite_summary(summary: Mapping[str, Any], *, tensors: bool = True,
                          top: int | None = None) -> str:
    """The summary as text: I/O with quantization, op histogram, constant parameters, and
    (with `tensors`) every tensor; `top` limits the tensor list."""
    lines = [f"Model {summary['name']} (tflite, {summary.get('source') or '<memory>'}): "
             f"{summary['op_count']} ops, {summary['tensor_count']} tensors, "
             f"{format_bytes(summary['serialized_bytes'])}; runtime {summary.get('runtime')}"]
    lines.append(f"Found {len(summary['inputs'])} inputs: "
                 + ", ".join(_spec(s) for s in summary["inputs"]))
    lines.append(f"Found {len(summary['outputs'])} outputs: "
                 + ", ".join(_spec(s) for s in summary["outputs"]))
    weights = summary["weight_params"]
    dtypes = ", ".join(f"{d} {format_count(n)}" for d, n in summary.get("weight_dtypes") or [])
    lines.append(f"Found {weights} ({format_count(weights)}) weight parameters"
                 + (f" ({dtypes})" if dtypes else "")
                 + f", {summary['other_const_elements']} other const elements, "
                 f"{format_bytes(summary['constant_bytes'])} of constant buffers")
    lines.append("Op types used: " + ", ".join(f"{n} {op}" for op, n in summary["op_histogram"]))
    rows = summary.get("tensors") or []
    if tensors and rows:
        shown = rows if top is None else rows[:top]
        lines.append(f"Tensors ({len(rows)}{'' if len(shown) == len(rows) else f', first {len(shown)}'}):")
        cells = [[t["name"], t["index"], t["dtype"],
                  "[" + ",".join(str(d) for d in t.get("shape") or []) + "]",
                  "const" if t.get("constant") else "",
                  "" if not t.get("quantization") else f"{t['quantization'][0]:.4g}/{t['quantization'][1]}"]
                 for t in shown]
        # one line per tensor, names never cut (a listing to search, not to fit a terminal)
        table = fit_table(["name", "index", "dtype", "shape", "const", "quantization"], cells,
                          width=1 << 16, id_col=None)
        lines += ["  " + line for line in table]
    return "\n".join(lines)


def render_tflite_bench(bench: Mapping[str, Any], *, top: int | None = 20) -> str:
    """`tfperf bench model.tflite` as text: timings apart (init, first, warm-up, steady), the
    summary, and what per-op data there is."""
    st = bench.get("stats") or {}
    lo, hi = (st.get("median_ci_ms") or [None, None])[:2]
    lines = [f"Benchmarking {bench['model']} with {bench['runtime']}",
             f"Init (new interpreter, delegate, allocate): {format_ms(bench['init_ms'])} ms; "
             f"first invoke: {format_ms(bench['first_ms'])} ms",
             f"Warm-up: {st.get('warmup_n')} runs; steady state: count={st.get('n')} "
             f"median={format_ms(st.get('median_ms'))} ms (95% CI {format_ms(lo)}-{format_ms(hi)}) "
             f"p90={format_ms(st.get('p90_ms'))} min={format_ms(st.get('min_ms'))} "
             f"max={format_ms(st.get('max_ms'))} mean={format_ms(st.get('mean_ms'))} ms, "
             f"{format_fps(st.get('fps'))} inferences/s (stop: {st.get('stop_reason')})",
             ""]
    lines.append(render_tflite_summary(bench["summary"], top=top))
    lines += ["", bench.get("per_op_note") or ""]
    return "\n".join(lines).rstrip()


__all__ = ["render_tflite_bench", "render_tflite_summary"]
