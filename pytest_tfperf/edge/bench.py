"""`tfperf bench model.tflite`: what LiteRT's benchmark tool prints that Python can measure.

Timings apart as `benchmark_model` keeps them: init (a new interpreter: flatbuffer parsed,
XNNPACK delegate applied, tensors allocated), the first invoke, warm-up, and the steady-state
statistics (`timing.measure` on the model's runner); then the op histogram, the tensors and the
constant parameters from the flatbuffer.

Per-op timings are not available: LiteRT's Python API (ai_edge_litert 2.x and `tf.lite`)
installs no profiler and exposes no profiling events (`experimental_force_delegate_node_
profiling` only changes what a C++ profiler would see), and the wheel's `litert-benchmark`
(the CompiledModel benchmark) reports whole-model timings only. The C++ `benchmark_model
--enable_op_profiling=true` binary, built from the LiteRT sources, gives them.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

PER_OP_NOTE = ("per-op timings: not available from Python (LiteRT's Python interpreter exposes "
               "no op profiler); build LiteRT's C++ benchmark_model and run it with "
               "--enable_op_profiling=true for them")

__all__ = ["PER_OP_NOTE", "TFLiteBench", "bench_tflite"]


@dataclasses.dataclass(frozen=True)
class TFLiteBench:
    """One `tfperf bench` of a TFLite model."""

    model: str
    runtime: str
    init_ms: float          # a new interpreter: parse, delegate, allocate
    first_ms: float         # its first invoke (XNNPACK packs weights lazily here)
    stats: dict             # LatencyStats.to_dict() of the steady state (samples left out)
    summary: dict           # TFLiteSummary.to_dict(): ops, tensors, constant parameters
    per_op: None = None     # always None: see PER_OP_NOTE
    per_op_note: str = PER_OP_NOTE

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def bench_tflite(model, inputs: Any, *, min_runs: int | None = None, min_time: float | None = None,
                 max_time: float | None = None, warmup: int | None = None) -> TFLiteBench:
    """Time `model` (a `TFLiteModel`) on `inputs` and collect its static facts.

    Args:
        model: the TFLite model (its thread count and XNNPACK setting are used as they are).
        inputs: what `model.runner` takes.
        min_runs, min_time, max_time, warmup: the steady-state measurement (`timing.measure`).
    Returns:
        TFLiteBench.
    """
    from pytest_tfperf.model.tflite_summary import summarize_tflite
    from pytest_tfperf.model.runtimes import tflite_runtime_text
    from pytest_tfperf.timing.engine import measure

    t0 = time.perf_counter_ns()
    fresh = model.runner(inputs, fresh=True)   # a new interpreter, as the benchmark tool's init
    t1 = time.perf_counter_ns()
    fresh()
    t2 = time.perf_counter_ns()
    del fresh
    stats = measure(model, inputs, min_runs=min_runs, min_time=min_time, max_time=max_time,
                    warmup=warmup).to_dict()
    stats.pop("samples_ms", None)
    return TFLiteBench(model=model.name, runtime=tflite_runtime_text(model.runtime_info()),
                       init_ms=(t1 - t0) / 1e6, first_ms=(t2 - t1) / 1e6, stats=stats,
                       summary=summarize_tflite(model).to_dict())
