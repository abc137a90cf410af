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


def render_tflite_summary(summary: Mapping[str, Any], *, tensors: bool = True,
                          top: int | None = None) -> str:
    """The summary as text: I/O with quantization, op histogram, constant parameters, and
    (with `tensors`) every tensor; `top` limits the tensor list."""
    lines = [f"Model {summary['name']} (tflite, {summary.get('source') or '<memory>'}): "
             f"{summary['op_count']} ops, {summary['tensor_count']} tensors, "
             f"{human_bytes(summary['serialized_bytes'])}; runtime {summary.get('runtime')}"]
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
    rows = summary.get("tensors") or []
    if tensors and rows:
        shown = rows if top is None else rows[:top]
        lines.append(f"Tensors ({len(rows)}{'' if len(shown) == len(rows) else f', first {len(shown)}'})"
                     ":  [index] dtype shape const quantization name")
        for t in shown:
            q = t.get("quantization")
            shape = "[" + ",".join(str(d) for d in t.get("shape") or []) + "]"
            lines.append(f"  {t['index']:>5} {t['dtype']:<8} {shape:<18} "
                         f"{'const' if t.get('constant') else '     '} "
                         f"{'' if not q else f'{q[0]:.4g}/{q[1]}':<14} {t['name'][:90]}")
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
    lines.append(render_tflite_summary(bench["summary"], top=top))
    lines += ["", bench.get("per_op_note") or ""]
    return "\n".join(lines).rstrip()


__all__ = ["render_tflite_bench", "render_tflite_summary"]
