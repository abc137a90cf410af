"""The cloud side: batch x intra-op threads x concurrency sweeps, throughput under a p99 budget.

`sweep(model)` times every configuration under closed-loop load (`closed_loop.py`: C runtime
instances, one thread each, requests back to back) and returns a `SweepResult`: per
configuration the throughput in inferences/s with its 95% CI, the latency percentiles of one
request (one call of `batch` inputs), CPU use and the seconds it took; the Pareto front of
throughput against p99 latency; the best configuration within a p99 limit.

Configurations: `batch` tiles the given inputs (batch 1 by default) along their first axis;
`intra_threads` is each TF session's `intra_op_parallelism_threads` (each LiteRT interpreter's
`num_threads`); `concurrency` is how many sessions / interpreters issue requests at once. On a
machine with K cores, configurations with concurrency x threads > K time-share the cores: their
throughput cannot beat K busy threads, and their latency grows with each extra client (on a
2-core CI runner: concurrency 2 x 2 threads is 4 threads on 2 cores). TensorFlow sizes one
process-wide intra-op pool from the first session unless `TF_OVERRIDE_GLOBAL_THREADPOOL=1`
(the plugin and `tfperf` set it before TensorFlow starts; `sweep` sets it when it can and says
so in `notes` when it comes too late for the thread axis to be trusted).
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_tfperf.errors import ConfigError, InputError, ModelLoadError
from pytest_tfperf.timing.closed_loop import LoadRun, run_closed_loop, usable_cores
from pytest_tfperf.timing.settings import TimingSettings
from pytest_tfperf.timing.stats import LatencyStats, percentile_supported

__all__ = ["DEFAULT_BATCHES", "DEFAULT_CONCURRENCY", "SWEEP_SETTINGS", "SweepPoint", "SweepResult",
           "check_batches", "measure_config", "sweep"]

DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32)
DEFAULT_CONCURRENCY = (1, 2)
# per configuration: at least 0.5 s, at most 3 s of timed requests (24 configurations of a
# small model take ~20 s); the throughput CI's half-width target is `precision` (5%)
SWEEP_SETTINGS = TimingSettings(min_time=0.5, max_time=3.0, confirm_time=0.0)
_POOL_VAR = "TF_OVERRIDE_GLOBAL_THREADPOOL"


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One configuration's figures. Latencies are per request (one call of `batch` inputs), ms.

    `throughput`: inferences/s (requests x batch); `throughput_ci`: its 95% CI from the
    per-block throughputs, None when too few requests made blocks; `cpu_util`: process CPU
    time / wall / usable cores (1.0 = every core busy); `seconds`: wall time the configuration
    took (building runtimes, warm-up, timing); `p99_rough`: too few requests for a firm p99
    (< 10 beyond it, `stats.percentile_supported`).
    """

    batch: int
    intra_threads: int
    concurrency: int
    throughput: float
    throughput_ci: tuple[float, float] | None
    n: int
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    p99_ci_ms: tuple[float, float]
    p99_rough: bool
    cpu_util: float
    seconds: float
    stop_reason: str
    block_fps: tuple[float, ...] = ()
    warmup_n: int = 0
    discarded_n: int = 0  # requests of re-timings set aside (a throughput budget's confirmation)

    @classmethod
    def from_run(cls, run: LoadRun, *, intra_threads: int, cores: int, seconds: float) -> SweepPoint:
        """The point of one closed-loop run."""
        lat = LatencyStats.from_samples(run.latencies_ms, batch=run.batch, gated_percentile=99)
        return cls(batch=run.batch, intra_threads=intra_threads, concurrency=run.concurrency,
                   throughput=run.throughput, throughput_ci=run.throughput_ci, n=lat.n,
                   p50_ms=lat.median_ms, p90_ms=lat.p90_ms, p95_ms=lat.p95_ms, p99_ms=lat.p99_ms,
                   mean_ms=lat.mean_ms, min_ms=lat.min_ms, max_ms=lat.max_ms,
                   p99_ci_ms=lat.gated_ci_ms, p99_rough=not percentile_supported(lat.n, 99),
                   cpu_util=run.cpu_s / run.window_s / max(cores, 1) if run.window_s else math.nan,
                   seconds=seconds, stop_reason=run.stop_reason, block_fps=run.block_fps,
                   warmup_n=run.warmup_n)

    def cpu_share(self, cores: int) -> float:
        """CPU the process got over what its clients could use: process CPU time / wall /
        min(concurrency, cores). Each client keeps at least one thread busy, so on a quiet
        machine this is >= ~0.9; well under 1 means the neighbours had the cores (contention)."""
        return self.cpu_util * cores / max(min(self.concurrency, cores), 1)

    @property
    def key(self) -> tuple[int, int, int]:
        """(batch, intra_threads, concurrency)."""
        return self.batch, self.intra_threads, self.concurrency

    def label(self) -> str:
        """'batch 8, 2 threads, concurrency 1'."""
        threads = f"{self.intra_threads} thread" + ("s" if self.intra_threads != 1 else "")
        return f"batch {self.batch}, {threads}, concurrency {self.concurrency}"

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("throughput_ci", "p99_ci_ms", "block_fps"):
            out[key] = list(out[key]) if out[key] is not None else None
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepPoint:
        """Inverse of `to_dict()` (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        for key in ("throughput_ci", "p99_ci_ms", "block_fps"):
            if kw.get(key) is not None:
                kw[key] = tuple(float(v) for v in kw[key])
        return cls(**kw)


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """A sweep: its configurations (`points`, sorted by batch, threads, concurrency) and facts.

    `device`: "CPU" or "GPU" (where TF sessions ran); `cores`: usable cores; `inputs`: what one
    request's first item was (`inputs.described`, batch 1); `within_p99_ms`: the p99 limit
    asked for, if any; `notes`: what the figures cannot show (e.g. thread counts that
    TensorFlow may not have honoured).
    """

    model: str
    model_id: str | None
    runtime: str
    device: str
    cores: int
    points: tuple[SweepPoint, ...]
    inputs: tuple[dict, ...] = ()
    within_p99_ms: float | None = None
    notes: tuple[str, ...] = ()
    settings: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def point(self, batch: int, intra_threads: int | None = None,
              concurrency: int = 1) -> SweepPoint | None:
        """The configuration with these values (any thread count when None), or None."""
        for p in self.points:
            if p.batch == batch and p.concurrency == concurrency and \
                    (intra_threads is None or p.intra_threads == intra_threads):
                return p
        return None

    def pareto(self) -> list[SweepPoint]:
        """Configurations no other beats on both throughput and p99 (higher throughput at no
        higher p99, or lower p99 at no lower throughput), by throughput."""
        front = [p for p in self.points if not any(
            q is not p and q.throughput >= p.throughput and q.p99_ms <= p.p99_ms
            and (q.throughput > p.throughput or q.p99_ms < p.p99_ms) for q in self.points)]
        return sorted(front, key=lambda p: p.throughput)

    def best(self, p99_ms: float | None = None) -> SweepPoint | None:
        """The highest throughput, among configurations with p99 <= `p99_ms` when given (None
        when none qualifies). Point estimates: a rough p99 is marked in reports."""
        ok = [p for p in self.points if p99_ms is None or p.p99_ms <= p99_ms]
        return max(ok, key=lambda p: p.throughput, default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: `configurations` holds one dict per configuration (batch, intra_threads,
        concurrency, throughput, throughput_ci, the latency figures, cpu_util, seconds, pareto)."""
        front = {p.key for p in self.pareto()}
        best = self.best()
        within = self.best(self.within_p99_ms) if self.within_p99_ms is not None else None
        return {
            "model": self.model, "model_id": self.model_id, "runtime": self.runtime,
            "device": self.device, "cores": self.cores, "inputs": [dict(d) for d in self.inputs],
            "configurations": [{**p.to_dict(), "pareto": p.key in front} for p in self.points],
            "best": best.to_dict() if best else None,
            "within_p99_ms": self.within_p99_ms,
            "best_within_p99": within.to_dict() if within else None,
            "notes": list(self.notes), "settings": dict(self.settings), "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepResult:
        """Inverse of `to_dict()` (derived keys such as `best` are recomputed)."""
        return cls(model=str(data.get("model") or ""), model_id=data.get("model_id"),
                   runtime=str(data.get("runtime") or ""), device=str(data.get("device") or ""),
                   cores=int(data.get("cores") or 1),
                   points=tuple(SweepPoint.from_dict(c) for c in data.get("configurations") or ()),
                   inputs=tuple(dict(d) for d in data.get("inputs") or ()),
                   within_p99_ms=data.get("within_p99_ms"),
                   notes=tuple(data.get("notes") or ()), settings=dict(data.get("settings") or {}),
                   seconds=float(data.get("seconds") or 0.0))


# -- configurations ------------------------------------------------------------------------------

def _positive_ints(name: str, values: Any) -> tuple[int, ...]:
    items = [values] if isinstance(values, int) and not isinstance(values, bool) else values
    try:
        items = list(items)
    except TypeError:
        items = [None]
    if not items or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                        for v in items):
        raise ConfigError(f"sweep({name}=...) takes positive ints, e.g. {name}=[1, 2, 4]. "
                          f"Received: {name}={values!r}")
    return tuple(sorted({int(v) for v in items}))


def fixed_batch(model: Any) -> int | None:
    """The model's fixed batch size (the first input dim, when every input has it fixed and
    equal), None when the batch is dynamic."""
    dims = {spec.shape[0] for spec in model.inputs if spec.shape}
    dims.discard(None)
    return next(iter(dims)) if dims else None


def check_batches(model: Any, batches: Sequence[int], *, what: str = "sweep(batch=...)") -> None:
    """`InputError` when `model` cannot take some of `batches` (a fixed batch dimension)."""
    fixed = fixed_batch(model)
    bad = [b for b in batches if fixed is not None and b != fixed]
    if not bad:
        return
    spec = next(s for s in model.inputs if s.shape and s.shape[0] is not None)
    raise InputError(
        f"{what}: model {model.name} has a fixed batch dimension of {fixed} (input {spec.name} "
        f"{spec.shape_text()}), so batch {', '.join(map(str, bad))} cannot be fed. Sweep "
        f"batch=[{fixed}] on this model, or export it with a dynamic batch dimension: Keras "
        "keras.Input(shape=...) without batch_size, a TF graph whose input placeholder has "
        "shape [None, ...] (do not pin the batch with input_shapes / tfperf_input_shape), or a "
        "TFLite file converted from such a model. "
        f"Received: batch={list(batches)!r}")


def batched(feeds: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """`feeds` with `batch` items each: the given items repeated along the first axis."""
    out = {}
    for name, x in feeds.items():
        x = np.asarray(x)
        if x.ndim == 0:
            raise InputError(f"sweep: input {name} is a scalar: it has no batch dimension to "
                             f"sweep; use batch=[1]. Received: shape {list(x.shape)}")
        out[name] = x if x.shape[0] == batch else np.ascontiguousarray(x[np.arange(batch) % x.shape[0]])
    return out


class _Instances:
    """Runtime instances with `threads` intra-op threads, one per concurrent client."""

    def __init__(self, model: Any, threads: int):
        self.model, self.threads = model, threads
        self.sessions: list = []

    def runner(self, slot: int, feeds: dict):
        model = self.model
        if getattr(model, "kind", None) == "tflite":  # a fresh interpreter per client and batch
            return model.runner(feeds, fresh=True, num_threads=self.threads)
        while len(self.sessions) <= slot:
            self.sessions.append(model.new_session(intra_op=self.threads))
        return model.make_callable(feeds, session=self.sessions[slot])

    def close(self) -> None:
        while self.sessions:
            self.sessions.pop().close()


def _first_calls(model: Any, runners: list, batch: int) -> None:
    """Each runner's first (untimed) call; a model that fails at this batch, or answers with
    another batch, is an error naming the model and the batch."""
    for runner in runners:
        try:
            outputs = runner()
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ModelLoadError(f"sweep: model {model.name} failed at batch {batch}: "
                                 f"{type(exc).__name__}: {str(exc).strip()[:300]}. Sweep the batch "
                                 "sizes it accepts (batch=[1]) or fix its batch dimension.") from exc
        except Exception as exc:  # TF's OpError family
            raise ModelLoadError(f"sweep: model {model.name} failed at batch {batch}: "
                                 f"{type(exc).__name__}: {str(exc).strip()[:300]}. Sweep the batch "
                                 "sizes it accepts (batch=[1]) or fix its batch dimension.") from exc
        for spec, out in zip(model.outputs, outputs or ()):
            shape = getattr(out, "shape", ())
            if len(shape) and shape[0] != batch:  # every output has one row per input item
                raise ModelLoadError(
                    f"sweep: model {model.name} answered a batch of {batch} with output "
                    f"{spec.name} of shape {list(shape)}: its graph does not keep the batch "
                    "dimension (e.g. a Reshape to a fixed size), so its throughput at this batch "
                    f"would be counted wrong. Sweep batch=[1]. Received: batch={batch}")


def measure_config(model: Any, feeds: dict, *, batch: int, intra_threads: int, concurrency: int,
                   settings: TimingSettings, precision: float = 0.05, instances=None,
                   fps_target: float | None = None, p99_ms: float | None = None) -> SweepPoint:
    """Time one configuration of `model` on `feeds` (batch 1 or any batch; tiled to `batch`).

    Args:
        instances: reuse these runtime instances (a sweep's); None: private ones, closed here.
        fps_target, p99_ms: a budget: stop sampling once its verdict is clear.
    """
    from pytest_tfperf.timing.affinity import pinned
    from pytest_tfperf.timing.engine import timing_lock

    own = instances is None
    instances = instances or _Instances(model, intra_threads)
    t0 = time.perf_counter()
    try:
        data = batched(feeds, batch)
        runners = [instances.runner(slot, data) for slot in range(concurrency)]
        _first_calls(model, runners, batch)
        with timing_lock(settings.lock_path), pinned(settings.cpus):
            run = run_closed_loop(runners, batch=batch, settings=settings, fps_target=fps_target,
                                  p99_ms=p99_ms, precision=precision)
    finally:
        if own:
            instances.close()
    return SweepPoint.from_run(run, intra_threads=intra_threads, cores=usable_cores(),
                               seconds=time.perf_counter() - t0)


def per_session_pools() -> bool:
    """Set `TF_OVERRIDE_GLOBAL_THREADPOOL=1` unless set; False when TensorFlow was imported
    before it was (its pool may then be one process-wide pool sized by the first session)."""
    if os.environ.get(_POOL_VAR):
        return os.environ[_POOL_VAR].strip().lower() in ("1", "true")
    os.environ[_POOL_VAR] = "1"
    return "tensorflow" not in sys.modules


def base_feeds(model: Any, inputs: Any) -> tuple[dict, tuple[dict, ...]]:
    """({tensor name: array} to tile, their description): the given inputs, else the input
    policy's (batch 1)."""
    from pytest_tfperf.inputs.described import describe_inputs
    from pytest_tfperf.inputs.policy import sample_inputs

    generated = inputs is None
    if generated:
        inputs = sample_inputs(model)
    feeds = model.feed_dict(inputs)
    return feeds, describe_inputs(model, inputs, generated=generated)


def sweep(model: Any, inputs: Any = None, *, batch: Sequence[int] = DEFAULT_BATCHES,
          intra_threads: Sequence[int] | None = None,
          concurrency: Sequence[int] = DEFAULT_CONCURRENCY, within_p99_ms: float | None = None,
          precision: float = 0.05, warmup: int | None = None, min_time: float | None = None,
          max_time: float | None = None, min_runs: int | None = None,
          settings: TimingSettings | None = None) -> SweepResult:
    """Throughput and latency of `model` for every batch x intra-op threads x concurrency.

    Args:
        model: a loaded TF graph model or TFLite model, or a reference `load()` takes.
        inputs: one request's inputs at batch 1 (or any batch: tiled); default: the input
            policy's arrays (`sample_inputs`).
        batch: inputs per request (a fixed batch dimension allows only its own size).
        intra_threads: TF intra-op threads per session (TFLite: interpreter threads); default
            [1, usable cores].
        concurrency: sessions / interpreters issuing requests at once, one thread each.
        within_p99_ms: also report the best configuration with p99 <= this many ms.
        precision: stop a configuration once its throughput CI is within +-this fraction.
        warmup, min_time, max_time, min_runs: override `settings` (default `SWEEP_SETTINGS`:
            0.5-3 s per configuration).

    Returns:
        `SweepResult` (`.points`, `.pareto()`, `.best(p99_ms)`, `.to_dict()`).

    Example:
        result = sweep("model.pb", batch=[1, 8], concurrency=[1])
        best = result.best(p99_ms=100)
        print(f"{best.throughput:.0f} inferences/s at p99 {best.p99_ms:.1f} ms ({best.label()})")
    """
    from pytest_tfperf.model import as_model

    pools = per_session_pools()
    model = as_model(model)
    if getattr(model, "kind", None) != "tflite" and not hasattr(model, "new_session"):
        raise ConfigError(f"sweep() needs a TensorFlow graph model or a TFLite model (it sets their "
                          f"thread counts and opens one instance per client). Received: model of "
                          f"type {type(model).__name__}")
    batches = _positive_ints("batch", batch)
    cores = usable_cores()
    threads = _positive_ints("intra_threads", intra_threads if intra_threads is not None else (1, cores))
    clients = _positive_ints("concurrency", concurrency)
    if within_p99_ms is not None and not (isinstance(within_p99_ms, (int, float))
                                          and math.isfinite(within_p99_ms) and within_p99_ms > 0):
        raise ConfigError(f"sweep(within_p99_ms=...) must be a positive number of ms. Received: "
                          f"within_p99_ms={within_p99_ms!r}")
    check_batches(model, batches)
    settings = (settings or SWEEP_SETTINGS).replace(warmup=warmup, min_time=min_time,
                                                    max_time=max_time, min_runs=min_runs)
    feeds, described = base_feeds(model, inputs)
    notes = _notes(model, pools, threads, clients, cores)
    started = time.perf_counter()
    points = []
    for t in threads:
        instances = _Instances(model, t)
        try:
            for c in clients:
                for b in batches:
                    points.append(measure_config(model, feeds, batch=b, intra_threads=t,
                                                 concurrency=c, settings=settings,
                                                 precision=precision, instances=instances))
        finally:
            instances.close()
    points.sort(key=lambda p: p.key)
    notes += busy_notes(points, cores)
    return SweepResult(
        model=model.name, model_id=getattr(model, "identity", None), runtime=_runtime(model),
        device=_device(model), cores=cores, points=tuple(points), inputs=tuple(described),
        within_p99_ms=float(within_p99_ms) if within_p99_ms is not None else None,
        notes=tuple(notes), settings={**settings.to_dict(), "precision": precision},
        seconds=time.perf_counter() - started)


def _notes(model, pools: bool, threads, clients, cores: int) -> list[str]:
    notes = []
    if getattr(model, "kind", None) != "tflite" and len(threads) > 1 and not pools:
        notes.append(f"TensorFlow was imported before {_POOL_VAR}=1 was set: its intra-op pool may "
                     "be one process-wide pool sized by the first session, so the thread counts "
                     f"may not have applied; set {_POOL_VAR}=1 before importing TensorFlow")
    most = max(threads) * max(clients)
    if most > cores:
        notes.append(f"{cores} usable cores: configurations with concurrency x threads > {cores} "
                     f"(up to {most} here) time-share them, so their latency includes waiting for a core")
    return notes


BUSY_SHARE = 0.5  # under this share of the CPU its clients could use, a configuration was starved


def busy_notes(points: Sequence[SweepPoint], cores: int) -> list[str]:
    """A note when the neighbours took the cores: throughput is wall-clock work, so a starved
    configuration's figures measure the machine's load as much as the model."""
    starved = [p for p in points if p.cpu_share(cores) < BUSY_SHARE]
    if not starved:
        return []
    worst = min(starved, key=lambda p: p.cpu_share(cores))
    return [f"machine busy: in {len(starved)} of {len(points)} configurations this process got under "
            f"{BUSY_SHARE:.0%} of the CPU its clients could use (least: {worst.label()}, "
            f"{worst.cpu_share(cores):.0%}); those figures include the neighbours' load: re-run on a "
            "quiet machine before trusting them"]


def _runtime(model) -> str:
    from pytest_tfperf.model.runtimes import describe

    if getattr(model, "kind", None) == "tflite":
        info = model.runtime_info()
        return f"{info.get('runtime')} {info.get('runtime_version')} ({info.get('delegate')})"
    return describe(model, "frozen_graph")


def _device(model) -> str:
    if getattr(model, "kind", None) == "tflite":
        return "CPU"
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
