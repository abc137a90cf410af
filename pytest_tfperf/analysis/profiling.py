"""Per-op profile (benchmark_model's tables), FLOPs, peak memory (`tfperf bench` is `cli/bench.py`).

`profile(model)` does what TensorFlow's `benchmark_model` did, from `pip install`: warm-up runs,
untraced timed runs (for FLOPs/second), then traced runs (`RunOptions.FULL_TRACE`) whose
`RunMetadata.step_stats` are aggregated into the "Summary by node type" table, the slowest nodes,
the timings and memory lines. The aggregation is ours (structured data in `OpProfile`), written
to match TensorFlow's `StatSummarizer`; when the wheel ships that binding
(`tensorflow.python.util._pywrap_stat_summarizer`) its text is kept as `OpProfile.raw_text`.

Node types are the kernels that ran (after grappler's rewrites, e.g. `_FusedConv2D` for
Conv2D + BiasAdd + Relu), with oneDNN renames read back to the public op
(`_MklNativeConv2D` -> `Conv2D`, see `flops.canonical_op_type`). Measurements never print;
`report.profile_text.render_profile` renders an `OpProfile.to_dict()`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import time
from collections.abc import Sequence
from typing import Any


from pytest_tfperf.errors import ConfigError, ModelLoadError, TfperfError
from pytest_tfperf.analysis.flops.count import _as_frozen_graph, canonical_op_type, count_flops
from pytest_tfperf.inputs.policy import sample_inputs


@dataclasses.dataclass(frozen=True)
class RunStat:
    """TensorFlow's `Stat<int64>` over runs: count, first, curr (last), min, max, avg, std."""

    count: int
    first: int
    curr: int
    min: int
    max: int
    avg: float
    std: int

    @classmethod
    def of(cls, values: Sequence[float]) -> RunStat:
        values = [int(v) for v in values]
        if not values:
            return cls(0, 0, 0, 0, 0, 0.0, 0)
        avg = sum(values) / len(values)
        var = sum(v * v for v in values) / len(values) - avg * avg
        std = 0 if len(set(values)) == 1 else int(math.sqrt(max(var, 0.0)))
        return cls(len(values), values[0], values[-1], min(values), max(values), float(avg), std)

    @property
    def all_same(self) -> bool:
        return self.count > 0 and self.min == self.max

    def to_dict(self) -> dict:
        return {"count": self.count, "first": self.first, "curr": self.curr, "min": self.min,
                "max": self.max, "avg": self.avg, "std": self.std}


@dataclasses.dataclass(frozen=True)
class NodeTypeRow:
    """One row of "Summary by node type": nodes of one type, per-run time summed over them."""

    node_type: str
    count: int          # distinct nodes of this type that ran
    avg_ms: float       # per run, summed over the nodes
    avg_percent: float  # of the per-run total over all nodes
    cdf_percent: float
    mem_kb: float       # bytes allocated by these nodes in the last run / 1000
    times_called: int   # per run

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class NodeRow:
    """One of the slowest nodes ("Top by Computation Time")."""

    name: str
    node_type: str
    first_ms: float
    avg_ms: float
    percent: float
    cdf_percent: float
    mem_kb: float
    times_called: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class OpProfile:
    """benchmark_model's report as data.

    Attributes:
        model: display name of the model.
        runs / warmup_runs: traced (and untraced timed) runs, and warm-up runs before them.
        node_types: "Summary by node type" rows, slowest type first.
        top_nodes: the `top` slowest nodes.
        timings_us: per run, the sum of every node's time (benchmark_model's "Timings" line).
        memory_bytes: per run, bytes allocated by all nodes (benchmark_model's "Memory" line).
        wall_us: `session.run` wall time of the untraced runs (what FLOPs/second divides by).
        traced_wall_us: wall time of the traced runs (includes tracing overhead).
        warmup_us: wall time of the warm-up runs (the first includes lazy initialisation).
        nodes_observed: distinct nodes that ran.
        flops / flops_per_second: `count_flops` of the same inputs, and flops / mean wall time;
            None when the FLOPs could not be counted.
        flops_report: `FlopsReport.to_dict()` (None as above).
        peak_memory_bytes: max over the traced runs of `peak_memory_bytes`' measure.
        raw_text: TensorFlow's StatSummarizer output for the same step stats, when available.
    """

    model: str
    runs: int
    warmup_runs: int
    node_types: tuple
    top_nodes: tuple
    timings_us: RunStat
    memory_bytes: RunStat
    wall_us: RunStat
    traced_wall_us: RunStat
    warmup_us: RunStat
    nodes_observed: int
    flops: int | None
    flops_per_second: float | None
    flops_report: dict | None
    peak_memory_bytes: int
    raw_text: str | None = None

    def to_dict(self) -> dict:
        return {
            "model": self.model, "runs": self.runs, "warmup_runs": self.warmup_runs,
            "node_types": [r.to_dict() for r in self.node_types],
            "top_nodes": [r.to_dict() for r in self.top_nodes],
            "timings_us": self.timings_us.to_dict(), "memory_bytes": self.memory_bytes.to_dict(),
            "wall_us": self.wall_us.to_dict(), "traced_wall_us": self.traced_wall_us.to_dict(),
            "warmup_us": self.warmup_us.to_dict(), "nodes_observed": self.nodes_observed,
            "flops": None if self.flops is None else int(self.flops),
            "flops_per_second": None if self.flops_per_second is None else float(self.flops_per_second),
            "flops_report": self.flops_report, "peak_memory_bytes": int(self.peak_memory_bytes),
            "raw_text": self.raw_text,
        }


# ---------------------------------------------------------------------------------------------
# step_stats aggregation (StatSummarizer's rules)


def op_type_of(device: str, node_stats) -> tuple[str, str]:
    """(detail name, node type) of one NodeExecStats, as StatSummarizer names them.

    The type comes from the timeline label "name = Op(inputs)" and is made canonical; GPU tracer
    streams become "gpu:<kernel>" with " [Kernel]" / " [MemCpy]" name suffixes; "<>" if unknown.
    """
    name = node_stats.node_name
    if "/stream" in device or "/memcpy" in device:
        parts = name.split(":")
        if "/stream" in device and len(parts) == 2:
            return parts[0] + " [Kernel]", "gpu:" + parts[1]
        if "/memcpy" in device and len(parts) in (2, 3):
            return parts[0] + " [MemCpy]", "gpu:" + parts[-1]
        return name, "<>"
    label = node_stats.timeline_label
    start = label.find(" = ")
    end = label.find("(", start + 3) if start >= 0 else -1
    if start < 0 or end < 0:
        return name, "<>"
    return name, canonical_op_type(label[start + 3:end])


@dataclasses.dataclass
class _Detail:
    node_type: str
    run_order: int
    times_us: list = dataclasses.field(default_factory=list)
    mem_bytes: list = dataclasses.field(default_factory=list)
    times_called: int = 0


class StepStatsAggregator:
    """Accumulates traced runs' `StepStats` the way TensorFlow's `StatSummarizer` does."""

    def __init__(self) -> None:
        self.details: dict[str, _Detail] = {}
        self.run_totals_us: list[int] = []
        self.memory_totals: list[int] = []
        self.peaks: list[int] = []

    def add(self, step_stats) -> None:
        run_total = mem_total = node_num = 0
        for dev in step_stats.dev_stats:
            # "/stream:all" duplicates per-stream GPU kernels; "/host:CPU" duplicates runtime ops
            if "/stream:all" in dev.device or "/host:CPU" in dev.device:
                continue
            for ns in dev.node_stats:
                name, node_type = op_type_of(dev.device, ns)
                node_num += 1
                elapsed = int(ns.all_end_rel_micros)
                mem = sum(int(m.total_bytes) for m in ns.memory)
                detail = self.details.setdefault(name, _Detail(node_type, node_num))
                detail.times_us.append(elapsed)
                detail.mem_bytes.append(mem)
                detail.times_called += 1
                run_total += elapsed
                mem_total += mem
        self.run_totals_us.append(run_total)
        self.memory_totals.append(mem_total)
        self.peaks.append(peak_bytes_of(step_stats))

    def node_types(self) -> list[NodeTypeRow]:
        runs = max(len(self.run_totals_us), 1)
        count: dict[str, int] = {}
        time_us: dict[str, int] = {}
        mem: dict[str, int] = {}
        called: dict[str, int] = {}
        for d in self.details.values():
            t = d.node_type
            count[t] = count.get(t, 0) + 1
            time_us[t] = time_us.get(t, 0) + sum(d.times_us) // runs
            mem[t] = mem.get(t, 0) + d.mem_bytes[-1]
            called[t] = called.get(t, 0) + d.times_called // runs
        total = sum(time_us.values())
        rows, cdf = [], 0.0
        for t in sorted(time_us, key=lambda k: (time_us[k], k, mem[k]), reverse=True):
            pct = time_us[t] * 100.0 / total if total else 0.0
            cdf += pct
            rows.append(NodeTypeRow(t, count[t], time_us[t] / 1000.0, pct, cdf, mem[t] / 1000.0,
                                    called[t]))
        return rows

    def top_nodes(self, top: int) -> list[NodeRow]:
        runs = max(len(self.run_totals_us), 1)
        total = sum(self.run_totals_us)
        ranked = sorted(self.details.items(),
                        key=lambda kv: (-sum(kv[1].times_us) / len(kv[1].times_us), kv[1].run_order))
        rows, cumulative = [], 0
        for name, d in ranked[:max(top, 0)]:
            cumulative += sum(d.times_us)
            rows.append(NodeRow(
                name=name, node_type=d.node_type, first_ms=d.times_us[0] / 1000.0,
                avg_ms=sum(d.times_us) / len(d.times_us) / 1000.0,
                percent=sum(d.times_us) * 100.0 / total if total else 0.0,
                cdf_percent=cumulative * 100.0 / total if total else 0.0,
                mem_kb=d.mem_bytes[-1] / 1000.0, times_called=d.times_called // runs))
        return rows


def peak_bytes_of(step_stats) -> int:
    """Peak bytes live at once among the tensors allocated during one traced run.

    Replays every node's allocation records (allocations and frees, all allocators) in time
    order; at equal timestamps allocations count before frees. Without allocation records it
    falls back to the largest `allocator_bytes_in_use` reported, then to the sum of every node's
    `total_bytes` (an upper bound).
    """
    events, in_use, total = [], 0, 0
    for dev in step_stats.dev_stats:
        for ns in dev.node_stats:
            for mem in ns.memory:
                total += int(mem.total_bytes)
                in_use = max(in_use, int(mem.allocator_bytes_in_use))
                events.extend((int(r.alloc_micros), int(r.alloc_bytes))
                              for r in mem.allocation_records)
    if events:
        events.sort(key=lambda e: (e[0], e[1] < 0))
        live = peak = 0
        for _, delta in events:
            live += delta
            peak = max(peak, live)
        return peak
    return in_use or total


def _stat_summarizer(graph_def):
    """TensorFlow's StatSummarizer binding, or None where this wheel lacks it."""
    try:
        from tensorflow.python.util import _pywrap_stat_summarizer
    except ImportError:  # pragma: no cover - depends on the TensorFlow build
        return None
    try:
        return _pywrap_stat_summarizer.StatSummarizer(graph_def.SerializeToString())
    except Exception:  # noqa: BLE001 - optional text only
        return None


# ---------------------------------------------------------------------------------------------
# running


def _run_options():
    import tensorflow as tf

    return tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)


def _feeds(fg, inputs):
    return fg.feed_dict(inputs if inputs is not None else sample_inputs(fg))


def _traced_run(fg, feeds: dict, fetches: list, session=None):
    import tensorflow as tf

    metadata = tf.compat.v1.RunMetadata()
    (session or fg.session).run(fetches, feed_dict=feeds, options=_run_options(), run_metadata=metadata)
    return metadata


def _guard(fg, what: str, fn):
    try:
        return fn()
    except Exception as exc:
        if isinstance(exc, TfperfError):
            raise
        raise ModelLoadError(f"model {fg.name} failed while {what}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc


def peak_memory_bytes(frozen_graph, inputs: Any = None) -> int:
    """Peak memory of one inference, in bytes (what the `memory_budget` marker checks).

    Measures the tensors TensorFlow allocates while running the model once (activations,
    temporaries, the outputs): after one untraced warm-up run, one run is traced and the
    allocation records of every node are replayed in time order; the result is the most bytes
    live at the same time (`peak_bytes_of`). Weights are not included (a frozen graph's
    constants are allocated once per session, not per inference), nor are the fed input arrays.
    The traced run executes one op at a time in a private session, so the figure is the same on
    every run (a budget at the exact value passes, one byte less fails).

    Args:
        frozen_graph: a `FrozenGraph` or anything `pytest_tfperf.load` accepts.
        inputs: feeds (array, list or dict); default the input policy's (`inputs.sample_inputs`).
    Returns:
        bytes, an int.
    """
    fg = _as_frozen_graph(frozen_graph)
    feeds = _feeds(fg, inputs)
    fetches = [s.name for s in fg.outputs]
    session = _sequential_session(fg)
    try:
        _guard(fg, "warming up", lambda: session.run(fetches, feed_dict=feeds))
        metadata = _guard(fg, "running traced", lambda: _traced_run(fg, feeds, fetches, session))
    finally:
        session.close()
    return int(peak_bytes_of(metadata.step_stats))


def _sequential_session(fg):
    """A private session that runs every op in the caller's thread, one at a time, so the order
    of execution - and with it the peak - is the same on every run. A parallel executor orders
    independent branches differently from run to run: a small Transformer's peak moved between
    22,016, 24,064 and 25,472 bytes, ResNet50's between 159,792 and 188,512, under load."""
    import tensorflow as tf

    config = fg.session_config()
    config.inter_op_parallelism_threads = -1  # negative: every op in the caller's thread
    config.intra_op_parallelism_threads = 1
    session = tf.compat.v1.Session(graph=fg.graph, config=config)
    from pytest_tfperf.model import initialize_tables

    initialize_tables(session)  # lookup tables are filled per session (model/tables.py)
    return session


@contextlib.contextmanager
def _gc_off():
    """Garbage collection off inside the block (restored after, even on an error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def profile(frozen_graph, inputs: Any = None, *, runs: int = 50, top: int = 10,
            warmup_runs: int = 2, flops: bool = True) -> OpProfile:
    """benchmark_model's per-op profile of a model, as data.

    Args:
        frozen_graph: a `FrozenGraph` or anything `pytest_tfperf.load` accepts.
        inputs: feeds (array, list or dict); default the input policy's (`inputs.sample_inputs`).
        runs: untraced timed runs, then as many traced runs (benchmark_model's --num_runs).
        top: how many of the slowest nodes to list.
        warmup_runs: untimed runs first (the first run initialises lazily).
        flops: count FLOPs for the "FLOPs estimate" and "FLOPs/second" lines.
    Returns:
        `OpProfile` (render it with `report.profile_text.render_profile(p.to_dict())`).
    Raises:
        ConfigError: runs < 1 or top < 0; InputError: bad inputs; ModelLoadError: a run failed.

    Example:
        >>> p = profile(load("alexnet.pb"), image, runs=20)
        >>> p.node_types[0].node_type, p.flops_per_second
    """
    if runs < 1 or top < 0 or warmup_runs < 0:
        raise ConfigError(f"profile needs runs >= 1, top >= 0 and warmup_runs >= 0. Received: "
                          f"runs={runs!r}, top={top!r}, warmup_runs={warmup_runs!r}")
    fg = _as_frozen_graph(frozen_graph)
    feeds = _feeds(fg, inputs)
    fetches = [s.name for s in fg.outputs]
    sess = fg.session

    def timed(n: int, fn) -> list[int]:
        out = []
        with _gc_off():  # as `timing.measure`: a collection pause is not the model's time
            for _ in range(n):
                start = time.perf_counter()
                fn()
                out.append(round((time.perf_counter() - start) * 1e6))
        return out

    warm = _guard(fg, "warming up", lambda: timed(warmup_runs, lambda: sess.run(fetches, feeds)))
    runner = fg.make_callable(feeds, fetches)
    wall = _guard(fg, "running", lambda: timed(runs, runner))

    aggregator = StepStatsAggregator()
    summarizer = _stat_summarizer(fg.graph_def)
    traced_wall = []
    for _ in range(runs):
        with _gc_off():
            start = time.perf_counter()
            metadata = _guard(fg, "running traced", lambda: _traced_run(fg, feeds, fetches))
            traced_wall.append(round((time.perf_counter() - start) * 1e6))
        aggregator.add(metadata.step_stats)
        if summarizer is not None:
            summarizer.ProcessStepStatsStr(metadata.step_stats.SerializeToString())
    raw_text = summarizer.GetOutputString() if summarizer is not None else None

    flops_report = None
    if flops:
        try:
            flops_report = count_flops(fg, feeds)
        except (TfperfError, ValueError):  # the profile stands without its FLOPs line
            flops_report = None
    wall_stat = RunStat.of(wall)
    total_flops = flops_report.total if flops_report is not None else None
    per_second = (total_flops / (wall_stat.avg / 1e6)
                  if total_flops is not None and wall_stat.avg > 0 else None)
    return OpProfile(
        model=fg.name, runs=runs, warmup_runs=warmup_runs,
        node_types=tuple(aggregator.node_types()), top_nodes=tuple(aggregator.top_nodes(top)),
        timings_us=RunStat.of(aggregator.run_totals_us),
        memory_bytes=RunStat.of(aggregator.memory_totals), wall_us=wall_stat,
        traced_wall_us=RunStat.of(traced_wall), warmup_us=RunStat.of(warm),
        nodes_observed=len(aggregator.details), flops=total_flops, flops_per_second=per_second,
        flops_report=flops_report.to_dict() if flops_report is not None else None,
        peak_memory_bytes=max(aggregator.peaks, default=0), raw_text=raw_text)


# ---------------------------------------------------------------------------------------------
# tfperf bench


def bench_inputs(fg, image_path: str | None = None) -> dict:
    """Feeds for `tfperf bench`: the sample image for the image input, the input policy's arrays
    elsewhere (`images.sample_feed`)."""
    from pytest_tfperf.inputs.images import sample_feed

    return sample_feed(fg, path=image_path)
