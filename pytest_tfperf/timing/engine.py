"""Warm-up and adaptive measurement: a target -> raw per-call latencies -> `LatencyStats`.

What is timed is one call of a runner with its inputs bound in advance (as
`Session.make_callable` does for benchmark_model), results materialised in host memory on every
call, the garbage collector off. Per call: `time.perf_counter_ns` before and after, and the CPU
clock of the threads that run the model outside that interval (`clocks.py`: found during
warm-up; the process clock where they cannot be told apart). `settings.clock` (ini
`tfperf_clock`) says which clock the stopping rule, the confirmation, budgets and comparisons
judge; `LatencyStats.judged()` gives the statistics on it.

Sequence (defaults in `TimingSettings`):
1. init: build the runner (`init_ms`); the first call, which pays TensorFlow's lazy
   initialisation (graph optimisation, tracing, allocations), is timed alone (`first_ms`).
2. warm-up: at least `warmup` calls and at least `warmup_time` seconds (stopping early only if
   warm-up alone reaches `max_time`); not recorded.
3. sampling: runs until `min_runs` calls AND `min_time` seconds are done, then stops as soon
   as the 95% CI of the gated percentile lies entirely on one side of the budget (when one is
   given) or is within +/-`precision` of the statistic; `max_time` (and `max_runs`) cap it. The
   rule is checked every few samples (at ~5% growth of n), so checking stays cheap; a
   measurement close to its budget therefore takes more samples than one far from it.
4. confirmation (only with a budget): contention from other processes only ever makes calls
   slower, so a verdict of "over budget" must persist. When a sampling block ends over the
   budget, new blocks are timed by the same rule until `confirm_time` seconds of sampling all
   said "over", a block clears the budget, or `max_time` is spent. The quietest block (lowest
   gated percentile) is the measurement; calls of the other blocks are counted in
   `LatencyStats.discarded_n`. A real slowdown is over budget in every block and still fails;
   a neighbour's burst of CPU use no longer fails the gate on its own.
5. blocks: the reported calls are cut into up to `blocks` consecutive blocks (or, with
   `fresh_blocks`, timed as blocks on fresh runners); `LatencyStats.blocks` keeps each one's
   statistics for comparisons across runs (`blocks.py`). Cutting costs nothing at run time.
Steps 2-4 run under `timing_lock(settings.lock_path)` so xdist workers never time at once.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from pytest_tfperf.timing import clocks
from pytest_tfperf.timing.affinity import pinned
from pytest_tfperf.model.protocol import is_model
from pytest_tfperf.model.shapes import _is_session  # the one Session test (TF-free)
from pytest_tfperf.model.runtimes import describe as describe_runtime
from pytest_tfperf.timing.sampling import sample_blocks
from pytest_tfperf.timing.settings import TimingSettings
from pytest_tfperf.timing.stats import LatencyStats

_NS_PER_MS = 1_000_000.0


@contextlib.contextmanager
def timing_lock(path: str | None) -> Iterator[None]:
    """Hold an inter-process file lock at `path` (no-op for None).

    Used around warm-up + sampling so that, under `pytest -n N`, only one worker times at a
    time while model loading, equivalence checks etc. stay parallel.
    """
    if not path:
        yield
        return
    import filelock

    with filelock.FileLock(path):
        yield


# --- targets -> zero-argument runners ------------------------------------------------------

def target_kind(target: Any) -> str:
    """'frozen_graph' | 'model' (any other `Model`, e.g. TFLite) | 'session' | 'keras_model' |
    'function' | 'callable'."""
    if isinstance(target, tuple) and len(target) == 2 and _is_session(target[0]):
        return "session"
    if hasattr(target, "feed_dict") and hasattr(target, "make_callable") \
            and hasattr(target, "graph_def"):
        return "frozen_graph"
    if is_model(target):
        return "model"
    if _is_keras_model(target):
        return "keras_model"
    if _is_tf_function(target):
        return "function"
    if callable(target):
        return "callable"
    raise TypeError(
        "measure() needs a FrozenGraph, a (tf.compat.v1.Session, fetches) pair, a keras.Model, "
        f"a tf.function or a callable. Received: target={target!r}")


def target_names(target: Any, kind: str | None = None) -> tuple[str, str]:
    """`(name, model)` to label a measurement of `target` (`kind`: its `target_kind`, if known)."""
    kind = kind or target_kind(target)
    if kind in ("frozen_graph", "model"):
        name = str(getattr(target, "name", "") or "")
        return name, name
    if kind == "session":
        fetches = target[1]
        items = fetches if isinstance(fetches, (list, tuple)) else [fetches]
        return ",".join(_fetch_name(f) for f in items), ""
    if kind == "keras_model":
        return str(target.name), str(target.name)
    name = getattr(target, "__name__", None) or getattr(target, "name", None) or type(target).__name__
    return str(name), ""


def build_runner(target: Any, inputs: Any = None, kind: str | None = None) -> Callable[[], Any]:
    """A zero-argument callable that runs `target` once on pre-bound `inputs` and returns its
    outputs as host (numpy) values.

    Args:
        target: `FrozenGraph` (inputs as `FrozenGraph.feed_dict` takes them), `(session, fetches)`
            (inputs: dict of tensor or tensor name -> value, or one array when the graph has
            exactly one Placeholder), any other `Model` such as a TFLite model (its own
            `runner(inputs)`, timed as is), `keras.Model` (`model(inputs, training=False)`: an array,
            a list, or a dict by input name), tf.function
            / ConcreteFunction or any callable (inputs: None -> f(), tuple -> f(*inputs),
            dict -> f(**inputs), anything else -> f(inputs)).
        inputs: see `target`.
        kind: `target_kind(target)`, when the caller already knows it.

    Returns:
        The runner.
    """
    kind = kind or target_kind(target)
    if kind == "frozen_graph":
        if inputs is None and not target.inputs:
            inputs = {}  # a model with no required inputs (defaults only)
        return target.make_callable(inputs)
    if kind == "model":  # the Model's own runner: no wrapper around what is timed
        return target.runner(inputs)
    if kind == "session":
        return _session_runner(target[0], target[1], inputs)
    if kind == "keras_model":
        # Keras takes every input structure (array, list, dict by input name) as one argument
        x = _to_tensors(inputs)
        model = target

        def run_keras():
            return _materialize(model(x, training=False))
        return run_keras
    if kind == "function":
        args, kwargs = _call_args(_to_tensors(inputs))
    else:
        args, kwargs = _call_args(inputs)
    fn = target

    def run_callable():
        return _materialize(fn(*args, **kwargs))
    return run_callable


def _session_runner(session, fetches, inputs) -> Callable[[], Any]:
    graph = session.graph
    if inputs is None:
        feeds: dict = {}
    elif isinstance(inputs, dict):
        feeds = inputs
    else:
        placeholders = [op for op in graph.get_operations() if op.type == "Placeholder"]
        if len(placeholders) != 1:
            from pytest_tfperf.errors import InputError

            names = ", ".join(op.name for op in placeholders) or "none"
            raise InputError(
                f"measure((session, fetches), inputs): a single array can only be fed to a graph "
                f"with exactly one Placeholder (this one has: {names}); pass a dict "
                f"{{'input_name:0': array}} instead. Received: inputs of type {type(inputs).__name__}")
        feeds = {placeholders[0].outputs[0]: inputs}
    keys = [graph.as_graph_element(_tensor_ref(k)) for k in feeds]
    values = [np.asarray(v) for v in feeds.values()]
    fetch_list = [_tensor_ref(f) for f in fetches] if isinstance(fetches, (list, tuple)) \
        else _tensor_ref(fetches)
    run = session.make_callable(fetch_list, feed_list=keys)

    def run_session():
        return run(*values)
    return run_session


def _tensor_ref(ref):
    """'node' -> 'node:0' (names only; tensors and ops pass through)."""
    if isinstance(ref, str) and ":" not in ref:
        return ref + ":0"
    return ref


def _fetch_name(fetch) -> str:
    return fetch if isinstance(fetch, str) else str(getattr(fetch, "name", fetch))


def _call_args(inputs) -> tuple[tuple, dict]:
    if inputs is None:
        return (), {}
    if isinstance(inputs, tuple):
        return inputs, {}
    if isinstance(inputs, dict):
        return (), dict(inputs)
    return (inputs,), {}


def _to_tensors(inputs):
    """numpy inputs -> TF tensors once, so each timed call does not re-convert them."""
    import tensorflow as tf

    def convert(value):
        return tf.convert_to_tensor(value) if isinstance(value, np.ndarray) else value
    if isinstance(inputs, dict):
        return {k: convert(v) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(convert(v) for v in inputs)
    return convert(inputs)


def _materialize(out):
    """Copy outputs to host memory (`.numpy()`), walking lists, tuples and dicts."""
    if type(out) is np.ndarray:  # already on the host: the common case, checked first
        return out
    if isinstance(out, (list, tuple)):
        return [_materialize(o) for o in out]
    if isinstance(out, dict):
        return {k: _materialize(v) for k, v in out.items()}
    to_numpy = getattr(out, "numpy", None)
    return to_numpy() if to_numpy is not None else out


def _is_keras_model(obj) -> bool:
    return any(c.__name__ == "Model" and c.__module__.startswith(("keras", "tf_keras"))
               for c in type(obj).__mro__)


def _is_tf_function(obj) -> bool:
    return any(c.__module__.startswith("tensorflow") and c.__name__ in (
        "Function", "PolymorphicFunction", "ConcreteFunction", "AtomicFunction")
        for c in type(obj).__mro__)


# --- the measurement loop ------------------------------------------------------------------

def fresh_runners(target: Any, inputs: Any, kind: str | None = None
                  ) -> Callable[[], tuple[Callable[[], Any], Callable | None]] | None:
    """`make()` -> `(runner, close)` on a fresh runtime instance of `target` (a FrozenGraph: a
    private session, thread pools and buffers start over; any other Model: a new interpreter via
    `runner(inputs, fresh=True)`), `close` None when there is nothing to close; None for targets
    with no instance of their own (sessions, Keras models, callables); `kind`: its `target_kind`."""
    kind = kind or target_kind(target)
    if kind == "model":
        return lambda: (target.runner(inputs, fresh=True), None)
    if kind == "frozen_graph":
        def make():
            session = target.new_session()
            return target.make_callable(inputs, session=session), session.close
        return make
    return None


def infer_batch(inputs: Any) -> int:
    """Leading dimension of the first input array with rank >= 2, else 1."""
    first = inputs
    if isinstance(inputs, dict):
        first = next(iter(inputs.values()), None)
    elif isinstance(inputs, (list, tuple)):
        first = inputs[0] if inputs else None
    shape = getattr(first, "shape", None)
    if shape is not None and len(shape) >= 2 and shape[0] is not None:
        try:
            return max(int(shape[0]), 1)
        except TypeError:
            return 1
    return 1


def measure(target: Any, inputs: Any = None, *, batch: int | None = None, name: str | None = None,
            warmup: int | None = None, min_time: float | None = None,
            max_time: float | None = None, min_runs: int | None = None,
            budget_ms: float | None = None, percentile: float = 50,
            settings: TimingSettings | None = None) -> LatencyStats:
    """Time `target` on `inputs`: warm-up, then adaptive sampling; see the module docstring.

    Args:
        target: FrozenGraph, `(tf_session, fetches)`, keras.Model, tf.function or callable
            (how inputs are passed: `build_runner`).
        inputs: the inputs, bound once before timing. None for a model (`FrozenGraph`, TFLite
            model...) with inputs: the input policy's arrays (`inputs.sample_inputs`), as
            `profile` and `assert_equivalent` make them.
        batch: inputs per call, for FPS; inferred from the first input's leading dim if None.
        name: label for reports (default: derived from the target).
        warmup, min_time, max_time, min_runs: override `settings` for this call.
        budget_ms: the limit the gated percentile will be checked against, so sampling can
            stop as soon as the verdict is statistically clear (None: stop on precision).
        percentile: the gated percentile (0 < q < 100), 50 by default.
        settings: `TimingSettings` (defaults if None).

    Returns:
        `LatencyStats` of the timed calls.

    Example:
        stats = measure(frozen_graph, image, budget_ms=100)
        assert stats.gated_ms <= 100
    """
    if not 0 < percentile < 100:
        raise ValueError(f"measure(percentile=...) must be strictly between 0 and 100. "
                         f"Received: percentile={percentile!r}")
    settings = (settings or TimingSettings()).replace(
        warmup=warmup, min_time=min_time, max_time=max_time, min_runs=min_runs)
    kind = target_kind(target)  # once per measurement
    label, model = target_names(target, kind)
    if inputs is None and kind in ("frozen_graph", "model") and target.inputs:
        from pytest_tfperf.inputs.policy import sample_inputs  # the one input policy

        inputs = sample_inputs(target)
    batch = int(batch) if batch is not None else infer_batch(inputs)

    t0 = time.perf_counter_ns()
    runner = build_runner(target, inputs, kind)
    t1 = time.perf_counter_ns()
    runner()
    t2 = time.perf_counter_ns()
    init_ms, first_ms = (t1 - t0) / _NS_PER_MS, (t2 - t1) / _NS_PER_MS

    family, threads = clocks.runtime_family(kind, target)
    clock, why = clocks.judged_clock(settings.clock, family, threads, gpu=clocks.gpu_visible())
    cpu_ns: list[float] = []
    cpu_clock: dict = {}
    contention: dict = {}
    if settings.disabled:
        samples_ns, warmup_n, reason, discarded_n = [t2 - t1], 0, "disabled", 0
        sizes, fresh, clock = [1], [False], "wall"
    else:
        make, private = fresh_runners(target, inputs, kind), []

        def rebuild():  # one private fresh instance at a time
            while private:
                private.pop()()
            fresh, close = make()
            private.extend([close] if close is not None else [])
            return fresh
        try:
            with timing_lock(settings.lock_path), pinned(settings.cpus):
                probes = [_probe(settings, threads)]
                load_start = clocks.machine_load()
                sampled = sample_blocks(
                    runner, settings, budget_ms=budget_ms, percentile=percentile,
                    rebuild=rebuild if make is not None else None, cpu_family=family,
                    judge_cpu=clock == "cpu")
                load_end = clocks.machine_load()
                probes.append(_probe(settings, threads))
        finally:
            while private:  # the model's shared session is never closed under the user
                private.pop()()
        samples_ns, cpu_ns, warmup_n, reason = (sampled.wall_ns, sampled.cpu_ns,
                                                sampled.warmup_n, sampled.reason)
        discarded_n, sizes, fresh = sampled.discarded_n, sampled.sizes, sampled.fresh
        if sampled.wall_because:
            clock, why = "wall", sampled.wall_because
        if sampled.cpu_clock is not None:
            cpu_clock = {**sampled.cpu_clock.to_dict(), "judged": clock, "why": why}
            if sampled.clock_note:
                cpu_clock["note"] = sampled.clock_note
        contention = _contention(samples_ns, cpu_ns, sizes, threads, load_start, load_end,
                                 sampled.cpu_clock, sampled.tids)
        if all(probes):
            contention["reference_cpu_ms"] = [p["cpu_ms"] for p in probes]
            contention["reference_wall_ms"] = [p["wall_ms"] for p in probes]
    return LatencyStats.from_samples(
        np.asarray(samples_ns, dtype=np.float64) / _NS_PER_MS, batch=batch, warmup_n=warmup_n,
        init_ms=init_ms, first_ms=first_ms, gated_percentile=percentile, stop_reason=reason,
        name=name if name is not None else label, model=model, discarded_n=discarded_n,
        runtime=describe_runtime(target, kind),
        block_sizes=sizes, block_fresh=fresh,
        cpu_samples_ms=np.asarray(cpu_ns, dtype=np.float64) / _NS_PER_MS if cpu_ns else None,
        clock=clock if cpu_ns else "wall", cpu_clock=cpu_clock, contention=contention)


def _probe(settings: TimingSettings, threads: int | None) -> dict | None:
    """The reference workload probed now (`reference.probe`), when `settings.reference`."""
    if not settings.reference:
        return None
    from pytest_tfperf.timing.workload import probe

    return probe(intra_op=threads or 1)


def _contention(wall_ns, cpu_ns, sizes, threads, load_start, load_end, cpu_clock, tids) -> dict:
    """`clocks.contention_record` of one measurement: medians overall and per block."""
    wall = np.asarray(wall_ns, dtype=np.float64) / _NS_PER_MS
    cpu = np.asarray(cpu_ns, dtype=np.float64) / _NS_PER_MS if cpu_ns else None
    wall_ms = float(np.median(wall))
    cpu_ms = None
    ratios: list[float] = []
    source = cpu_clock.source if cpu_clock is not None else ""
    if cpu is not None and np.isfinite(cpu).any():
        cpu_ms = float(np.nanmedian(cpu))
        if source == "threads":
            start = 0
            for size in sizes:
                w, c = wall[start:start + size], cpu[start:start + size]
                start += size
                c = c[np.isfinite(c)]
                if threads and size and c.size and np.median(c) > 0:
                    ratios.append(float(np.median(w) / (np.median(c) / max(threads or 1, 1))))
    return clocks.contention_record(load_start, load_end, wall_ms, cpu_ms, threads, source,
                                    ratios, tids)
