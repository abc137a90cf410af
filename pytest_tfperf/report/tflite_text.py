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


HEAD_TENSORS, TAIL_TENSORS = 10, 5   # tensors listed by default: the first and the last few


def render_tflite_summary(summary: Mapping[str, Any], *, tensors: bool = True,
                          top: int | None = None, all_tensors: bool = False) -> str:
    """The summary as text: I/O with quantization, op histogram, constant parameters, and
    (with `tensors`) the tensors: the first `HEAD_TENSORS` and last `TAIL_TENSORS` with the
    count of those between, every one with `all_tensors`, the first `top` when `top` is given.
    A model no interpreter here could load says why (`cannot_run`)."""
    lines = [f"Model {summary['name']} (tflite, {summary.get('source') or '<memory>'}): "
             f"{summary['op_count']} ops, {summary['tensor_count']} tensors, "
             f"{format_bytes(summary['serialized_bytes'])}; runtime {summary.get('runtime')}"]
    if summary.get("cannot_run"):
        lines.append(f"Cannot run here (structure read from the flatbuffer): {summary['cannot_run']}")
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
    rows = list(summary.get("tensors") or [])
    if tensors and rows:
        if top is not None:
            head, tail = rows[:top], []
        elif all_tensors or len(rows) <= HEAD_TENSORS + TAIL_TENSORS + 1:
            head, tail = rows, []
        else:
            head, tail = rows[:HEAD_TENSORS], rows[-TAIL_TENSORS:]
        hidden = len(rows) - len(head) - len(tail)
        shown = "" if not hidden else f", first {len(head)}" + (f" and last {len(tail)}" if tail else "")
        lines.append(f"Tensors ({len(rows)}{shown}):")
        cells = [[t["name"], t["index"], t["dtype"],
                  "[" + ",".join(str(d) for d in t.get("shape") or []) + "]",
                  "const" if t.get("constant") else "",
                  "" if not t.get("quantization") else f"{t['quantization'][0]:.4g}/{t['quantization'][1]}"]
                 for t in head + tail]
        # one line per tensor, names never cut (a listing to search, not to fit a terminal)
        table = fit_table(["name", "index", "dtype", "shape", "const", "quantization"], cells,
                          width=1 << 16, id_col=None)
        cut = len(table) - len(tail)  # header lines, then one line per tensor
        if hidden:
            table.insert(cut, f"... {hidden} more tensors (tfperf summarize --all-tensors, or "
                              "--json, lists every one)")
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
    if bench.get("inputs"):  # what was fed (name, shape, where it came from, dims tfperf chose)
        from pytest_tfperf.report import input_text

        lines.insert(1, "Input: " + "; ".join(input_text(i, with_name=True, with_source=True)
                                              for i in bench["inputs"]))
    lines.append(render_tflite_summary(bench["summary"], top=top))
    lines += ["", bench.get("per_op_note") or ""]
    return "\n".join(lines).rstrip()


__all__ = ["render_tflite_bench", "render_tflite_summary"]
