"""Text rendering of a TFLite model's summary (`TFLiteSummary.to_dict()`) and of `tfperf bench
model.tflite` (`TFLiteBench.to_dict()`). Reads the dicts only."""
from __future__ import annotations

from typing import Any, Mapping

from pytest_tfperf.report.summary_text import human_bytes, human_count


def _spec(s: Mapping[str, Any]) -> str:
    shape = "[" + ",".join("?" if d is None else str(d) for d in s.get("shape") or []) + "]"
    q = s.get("quantization")
    quant = f", scale={q[0]:.6g} zero_point={q[1]}" if q else ""
    return f"(name={s['name']}, type={s['dtype']}, shape={shape}{quant})"


HEAD_TENSORS, TAIL_TENSORS = 10, 5   # tensors listed by default: the first and the last few


def _tensor_line(t: Mapping[str, Any]) -> str:
    q = t.get("quantization")
    shape = "[" + ",".join(str(d) for d in t.get("shape") or []) + "]"
    return (f"  {t['index']:>5} {t['dtype']:<8} {shape:<18} "
            f"{'const' if t.get('constant') else '     '} "
            f"{'' if not q else f'{q[0]:.4g}/{q[1]}':<14} {t['name'][:90]}")


def render_tflite_summary(summary: Mapping[str, Any], *, tensors: bool = True,
                          top: int | None = None, all_tensors: bool = False) -> str:
    """The summary as text: I/O with quantization, op histogram, constant parameters, and
    (with `tensors`) the tensors: the first `HEAD_TENSORS` and last `TAIL_TENSORS` with the
    count of those between, every one with `all_tensors`, the first `top` when `top` is given.
    A model no interpreter here could load says why (`cannot_run`)."""
    lines = [f"Model {summary['name']} (tflite, {summary.get('source') or '<memory>'}): "
             f"{summary['op_count']} ops, {summary['tensor_count']} tensors, "
             f"{human_bytes(summary['serialized_bytes'])}; runtime {summary.get('runtime')}"]
    if summary.get("cannot_run"):
        lines.append(f"Cannot run here (structure read from the flatbuffer): {summary['cannot_run']}")
    lines.append(f"Found {len(summary['inputs'])} inputs: "
                 + ", ".join(_spec(s) for s in summary["inputs"]))
    lines.append(f"Found {len(summary['outputs'])} outputs: "
                 + ", ".join(_spec(s) for s in summary["outputs"]))
    weights = summary["weight_params"]
    dtypes = ", ".join(f"{d} {human_count(n)}" for d, n in summary.get("weight_dtypes") or [])
    lines.append(f"Found {weights} ({human_count(weights)}) weight parameters"
                 + (f" ({dtypes})" if dtypes else "")
                 + f", {summary['other_const_elements']} other const elements, "
                 f"{human_bytes(summary['constant_bytes'])} of constant buffers")
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
        lines.append(f"Tensors ({len(rows)}{shown}):  [index] dtype shape const quantization name")
        lines += [_tensor_line(t) for t in head]
        if hidden:
            lines.append(f"  ... {hidden} more tensors (tfperf summarize --all-tensors, or --json, "
                         "lists every one)")
        lines += [_tensor_line(t) for t in tail]
    return "\n".join(lines)


def render_tflite_bench(bench: Mapping[str, Any], *, top: int | None = 20) -> str:
    """`tfperf bench model.tflite` as text: timings apart (init, first, warm-up, steady), the
    summary, and what per-op data there is."""
    st = bench.get("stats") or {}
    lo, hi = (st.get("median_ci_ms") or [None, None])[:2]
    lines = [f"Benchmarking {bench['model']} with {bench['runtime']}",
             f"Init (new interpreter, delegate, allocate): {bench['init_ms']:.3f} ms; "
             f"first invoke: {bench['first_ms']:.3f} ms",
             f"Warm-up: {st.get('warmup_n')} runs; steady state: count={st.get('n')} "
             f"median={st.get('median_ms', 0):.4f} ms (95% CI {lo:.4f}-{hi:.4f}) "
             f"p90={st.get('p90_ms', 0):.4f} min={st.get('min_ms', 0):.4f} "
             f"max={st.get('max_ms', 0):.4f} mean={st.get('mean_ms', 0):.4f} ms, "
             f"{st.get('fps', 0):.1f} inferences/s (stop: {st.get('stop_reason')})",
             ""]
    if bench.get("inputs"):  # what was fed (name, shape, where it came from, dims tfperf chose)
        from pytest_tfperf.report import input_text

        lines.insert(1, "Input: " + "; ".join(input_text(i, with_name=True, with_source=True)
                                              for i in bench["inputs"]))
    lines.append(render_tflite_summary(bench["summary"], top=top))
    lines += ["", bench.get("per_op_note") or ""]
    return "\n".join(lines).rstrip()


__all__ = ["render_tflite_bench", "render_tflite_summary"]
