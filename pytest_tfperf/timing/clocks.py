"""The two clocks of every timed call (wall and the model's CPU time) and the contention a run met.

Wall clock (`time.perf_counter_ns`) is what a user waits for, and it counts the neighbours: a
CPU-bound process beside a one-thread model on 2 shared cores made AlexNet-64's wall median 2.2x
slower while its CPU time moved +10-20% (issue 19). CPU time of the threads that run the model
counts only the model's own work.

Which threads run the model is found by measurement, not assumed (`discover`): every thread of
the process is read before and after the warm-up calls (Linux lets a process read any of its
threads' CPU clocks: `clock_gettime(((~tid) << 3) | 6)`, CPUCLOCK_SCHED | per-thread), and
- TensorFlow (frozen graphs, sessions): the calling thread plus the pool threads TensorFlow
  names `tf_*` (`tf_Compute`: the inter-/intra-op pools) that gained CPU during warm-up. Other
  threads of the process that burn CPU whether or not the model runs (NumPy's OpenBLAS workers
  spinning after a matmul, a user's threads: `background_threads`, seen in a short pause after
  the warm-up) are left out. Other threads that gain CPU only while the model runs are the
  model's too: TensorFlow's process-wide intra-op pool, which runs every session's kernels on
  the FIRST session's thread count unless `TF_OVERRIDE_GLOBAL_THREADPOOL=1` is set before
  TensorFlow starts (the plugin sets it; a library user may not). The clock cannot count them
  as latency, so `CpuClock.missed_share` says how much of the model's CPU they ran, and
  `sample_blocks` judges such a model on wall (AlexNet-128 at "one intra-op thread" without the
  variable: 84% of its CPU on two unnamed threads, wall 6.2 ms, caller + tf_Compute 1.6 ms).
- LiteRT interpreters with one thread: the calling thread (XNNPACK runs inline).
- anything else (LiteRT pools, whose workers carry no name of their own; Keras models,
  tf.functions and plain callables): the whole process (`CLOCK_PROCESS_CPUTIME_ID`), and the
  clock says so (`CpuClock.source == "process"`).

`judged_clock` decides which clock a budget and a comparison judge by default (`tfperf_clock =
auto`): CPU only where CPU time is a faithful latency, i.e. one thread does the work at a time
(TF sessions with one intra-op thread, LiteRT with one thread) and nothing waits off the CPU (no
GPU). Linux only; elsewhere `discover` returns the process clock and `machine_load` says nothing.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from typing import Any

CLOCKS = ("wall", "cpu", "auto")  # the values of ini tfperf_clock / --tfperf-clock
BUSY_CONTENTION = 1.5   # wall / (CPU / threads) at or above this: the machine was busy
BUSY_WAIT_PCT = 25.0    # run-queue wait of the model's threads, % of elapsed time: busy
MISSED_LIMIT = 0.2      # model CPU on threads outside the clock above this: judge on wall
PAUSE_S = 0.02          # the pause after warm-up that tells background threads apart
_TASKS = "/proc/self/task"


def thread_clock_id(tid: int) -> int:
    """The clock id of thread `tid`'s CPU clock (Linux: CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD)."""
    return ((~int(tid)) << 3) | 6


def _per_thread(filename: str) -> dict[int, str]:
    """`{tid: text}` of /proc/self/task/<tid>/`filename` for every thread of this process
    (threads that end meanwhile are skipped; empty where /proc is absent)."""
    out: dict[int, str] = {}
    try:
        tids = os.listdir(_TASKS)
    except OSError:
        return out
    for entry in tids:
        try:
            with open(f"{_TASKS}/{entry}/{filename}") as f:
                out[int(entry)] = f.read()
        except (OSError, ValueError):
            continue
    return out


def thread_times() -> dict[int, tuple[str, int]]:
    """`{tid: (name, cpu_ns)}` for every thread of this process (empty where /proc is absent)."""
    out: dict[int, tuple[str, int]] = {}
    for tid, name in _per_thread("comm").items():
        try:
            out[tid] = (name.strip(), time.clock_gettime_ns(thread_clock_id(tid)))
        except OSError:
            continue  # the thread ended meanwhile
    return out


@dataclasses.dataclass(frozen=True)
class CpuClock:
    """The CPU clock of a measurement: which clocks are summed and why.

    `source`: "threads" (the listed threads' own clocks) or "process" (every thread of the
    process); `text`: in words, for reports ("caller + 2 tf_Compute threads"); `clock_ids`:
    the `time.clock_gettime_ns` ids summed per reading; `other_share`: the fraction of the
    process's CPU during warm-up that went to threads left out (0 for "process").
    """

    source: str
    text: str
    clock_ids: tuple[int, ...]
    other_share: float = 0.0
    tids: tuple[int, ...] = ()  # the threads whose run-queue waits count (`contention_record`)
    missed_share: float = 0.0  # of the model's CPU in warm-up, the share of threads left out

    @property
    def misses_the_model(self) -> bool:
        """Whether threads outside the clock ran much of the model's work (`MISSED_LIMIT`)."""
        return self.missed_share > MISSED_LIMIT

    def reader(self) -> Callable[[], int]:
        """A zero-argument function returning the summed CPU ns (cheap: one syscall per id).
        Raises OSError when a thread has ended."""
        get = time.clock_gettime_ns
        ids = self.clock_ids
        if len(ids) == 1:
            only = ids[0]
            return lambda: get(only)
        if len(ids) == 2:
            a, b = ids
            return lambda: get(a) + get(b)
        if len(ids) == 3:
            a, b, c = ids
            return lambda: get(a) + get(b) + get(c)
        return lambda: sum(get(i) for i in ids)

    def to_dict(self) -> dict[str, Any]:
        out = {"source": self.source, "text": self.text, "threads": len(self.clock_ids)
               if self.source == "threads" else None, "other_share": round(self.other_share, 4)}
        if self.missed_share:
            out["missed_share"] = round(self.missed_share, 4)
        return out


PROCESS = CpuClock("process", "process CPU time (all threads)", (time.CLOCK_PROCESS_CPUTIME_ID,)
                   if hasattr(time, "CLOCK_PROCESS_CPUTIME_ID") else (2,))


def background_threads(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]],
                       calls_ns: int, paused: dict[int, tuple[str, int]], pause_ns: int
                       ) -> frozenset[int]:
    """Threads that burned CPU during a pause with no calls at least half as fast as during
    the calls (`before` -> `after` over `calls_ns`, then `after` -> `paused` over `pause_ns`):
    the process's background, not the model."""
    if calls_ns <= 0 or pause_ns <= 0:
        return frozenset()
    out = set()
    for tid, (_, ns) in paused.items():
        if tid not in after:
            continue
        during = (after[tid][1] - before.get(tid, ("", 0))[1]) / calls_ns
        idle = (ns - after[tid][1]) / pause_ns
        if idle > 0.05 and idle >= 0.5 * during:
            out.add(tid)
    return frozenset(out)


def discover(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]],
             runtime: str, *, caller: int | None = None,
             background: frozenset[int] = frozenset()) -> CpuClock:
    """The CPU clock of the threads that ran the model between two `thread_times()` snapshots.

    Args:
        before, after: snapshots around calls of the model (the warm-up).
        runtime: "tensorflow" (calling thread + `tf_*` threads that gained CPU), "litert-1"
            (a one-thread LiteRT interpreter: the calling thread), anything else: the process.
        caller: the calling thread's id (default: this thread).
        background: threads known to burn CPU whether or not the model runs
            (`background_threads`): neither the model's nor counted as missed.

    Returns:
        The `CpuClock`; `PROCESS` when the threads cannot be told apart. Its `other_share`:
        CPU of every thread left out; `missed_share`: of those, the ones not in `background`
        (the model's work the clock does not see), as a share of the model's CPU.
    """
    caller = threading.get_native_id() if caller is None else caller
    process = dataclasses.replace(PROCESS, tids=(caller,))
    if runtime not in ("tensorflow", "litert-1") or not after:
        return process
    gained = {tid: ns - before[tid][1] if tid in before else ns
              for tid, (_, ns) in after.items()}
    gained = {tid: ns for tid, ns in gained.items() if ns > 0}
    if caller not in after:
        return process
    mine = [caller]
    if runtime == "tensorflow":
        mine += sorted(t for t in gained if t != caller and after[t][0].startswith("tf_"))
    total = sum(gained.values())
    counted = sum(gained.get(t, 0) for t in mine)
    other = total - counted
    missed = sum(ns for t, ns in gained.items() if t not in mine and t not in background)
    names: dict[str, int] = {}
    for t in mine[1:]:
        names[after[t][0]] = names.get(after[t][0], 0) + 1
    text = "caller" + "".join(f" + {n} {name}" for name, n in sorted(names.items()))
    text += " thread" + ("s" if len(mine) > 1 else "")
    return CpuClock("threads", text, tuple(thread_clock_id(t) for t in mine),
                    other / total if total > 0 else 0.0, tuple(mine),
                    missed / (counted + missed) if counted + missed > 0 else 0.0)


def runtime_family(kind: str, target: Any) -> tuple[str, int | None]:
    """`(family, threads)`: which `discover` rule applies to a target of `timing.target_kind`
    `kind`, and the threads it computes with at once (None: unknown).

    "tensorflow" for frozen graphs and sessions (threads: the intra-op setting, None for
    TensorFlow's default of one per core), "litert-1" / "litert" for LiteRT interpreters by their
    thread count, "other" for Keras models, tf.functions and callables.
    """
    if kind == "frozen_graph" or (kind == "model" and getattr(target, "runtime", "") == "tensorflow"):
        return "tensorflow", _tf_threads(getattr(target, "_threads", None) or (None, None))
    if kind == "session":
        config = getattr(target[0], "_config", None)
        intra = getattr(config, "intra_op_parallelism_threads", 0) if config is not None else 0
        return "tensorflow", intra or None
    info = getattr(target, "runtime_info", None)
    if kind == "model" and callable(info):
        threads = info().get("num_threads")
        return ("litert-1" if threads == 1 else "litert"), threads
    return "other", None


def _tf_threads(threads: tuple) -> int | None:
    """Threads a model's session computes with at once: its intra-op count, or None (unknown:
    TensorFlow's default, or an inter-op pool of several threads that may run ops side by side)."""
    intra, inter = (tuple(threads) + (None, None))[:2]
    if inter not in (None, 0, -1, 1) and intra == 1:
        return None
    return intra or None


def gpu_visible() -> bool:
    """Whether TensorFlow (when already imported) sees a GPU: its kernels may run there."""
    import sys

    tf = sys.modules.get("tensorflow")
    if tf is None:
        return False
    try:
        return bool(tf.config.list_physical_devices("GPU"))
    except Exception:  # noqa: BLE001  (a broken TF install: no GPU claim)
        return False


def judged_clock(choice: str, family: str, threads: int | None, *, gpu: bool = False
                 ) -> tuple[str, str]:
    """`(clock, why)`: the clock that judges a measurement under `tfperf_clock = choice`.

    `auto` judges CPU time where it is a faithful latency: one thread computes at a time (a TF
    session with one intra-op thread, a one-thread LiteRT interpreter) and no GPU is visible;
    wall everywhere else: on a GPU the CPU waits for the device; a callable may sleep or wait on
    I/O; a pool of N threads sums N threads' CPU time into one call.
    """
    if choice not in CLOCKS:
        raise ValueError(f"tfperf_clock must be one of {', '.join(CLOCKS)}. Received: {choice!r}")
    if choice != "auto":
        return choice, f"tfperf_clock = {choice}"
    if gpu:
        return "wall", "a GPU is visible: the CPU waits for the device"
    if family in ("tensorflow", "litert-1", "litert") and threads == 1:
        return "cpu", "one compute thread: its CPU time is the call's latency"
    if family in ("tensorflow", "litert"):
        return "wall", (f"a pool of {threads} threads" if threads else "the runtime's default pool") \
            + ": CPU time sums the threads"
    return "wall", "a callable may wait off the CPU (I/O, sleep, a device)"


# --- the machine's load ------------------------------------------------------------------------

def run_queue_waits() -> dict[int, int]:
    """`{tid: ns}`: how long each thread of this process has been runnable but waiting for a
    CPU (the neighbours' share), from /proc/self/task/*/schedstat; empty where the kernel
    keeps no such statistics."""
    out: dict[int, int] = {}
    for tid, text in _per_thread("schedstat").items():
        try:
            out[tid] = int(text.split()[1])
        except (ValueError, IndexError):
            continue
    return out


def machine_load() -> dict[str, Any]:
    """`{"loadavg": 1-minute load average, "cpus": CPUs this process may use, "steal": steal
    ticks, "total": all ticks}` from /proc (Linux); missing keys where unreadable."""
    out: dict[str, Any] = {"t_ns": time.perf_counter_ns(), "waits": run_queue_waits()}
    try:
        out["loadavg"] = os.getloadavg()[0]
    except (OSError, AttributeError):
        pass
    try:
        out["cpus"] = len(os.sched_getaffinity(0))
    except (OSError, AttributeError):
        out["cpus"] = os.cpu_count() or 1
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        if fields and fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:]]
            out["steal"] = ticks[7] if len(ticks) > 7 else 0
            out["total"] = sum(ticks[:8])
    except (OSError, ValueError):
        pass
    return out


def contention_record(start: dict[str, Any], end: dict[str, Any], wall_ms: float,
                      cpu_ms: float | None, threads: int | None, cpu_source: str,
                      block_ratios: list[float] | None = None,
                      tids: tuple[int, ...] | list[int] = ()) -> dict[str, Any]:
    """What a measurement met, for `LatencyStats.contention` (JSON-able).

    `ratio`: wall median / (CPU median / threads in use), ~1 on a quiet machine (threads
    waking each other costs a little wall), 2.8 when the model got a third of a CPU; None
    without a CPU clock of the model's own threads or a known thread count. `blocks`: the same
    per block. `run_wait_pct`: how long the model's threads (`tids`; the calling thread for the
    process clock) waited in a run queue for a CPU, summed over them, in % of the elapsed time
    (so above 100% when several wait at once; schedstat; every
    target, sleeping callables included; ~0 on a quiet machine).
    `loadavg` at start and end (it also counts tasks asleep on I/O: recorded, never judged on),
    `steal_pct` of all CPU ticks in between.
    """
    ratio = None
    if cpu_ms and cpu_ms > 0 and cpu_source == "threads" and threads:
        ratio = wall_ms / (cpu_ms / threads)
    steal = None
    if "total" in start and "total" in end and end["total"] > start["total"]:
        steal = 100.0 * (end["steal"] - start["steal"]) / (end["total"] - start["total"])
    wait = None
    w0, w1 = start.get("waits") or {}, end.get("waits") or {}
    elapsed = end.get("t_ns", 0) - start.get("t_ns", 0)
    known = [t for t in tids if t in w1]
    if known and elapsed > 0:
        waited = sum(max(w1[t] - w0.get(t, 0), 0) for t in known)
        wait = 100.0 * waited / elapsed
    return {"wall_median_ms": wall_ms, "cpu_median_ms": cpu_ms, "threads": threads,
            "ratio": ratio, "blocks": [round(r, 4) for r in block_ratios or []],
            "run_wait_pct": wait,
            "loadavg_start": start.get("loadavg"), "loadavg_end": end.get("loadavg"),
            "cpus": end.get("cpus") or start.get("cpus"), "steal_pct": steal}


def is_busy(contention: dict[str, Any] | None) -> bool:
    """Whether a run's contention record says the machine was busy: the model's wall time was
    `BUSY_CONTENTION` x its CPU time (per thread in use), or, where that ratio is unknown
    (process clock), its threads waited in a run queue for `BUSY_WAIT_PCT`% of the elapsed
    time; or steal time was >= 10%. The load
    average is not used: it counts tasks asleep on I/O too (load 5 on 2 CPUs here while a
    busy loop waited 0.3% of its time)."""
    if not contention:
        return False
    ratio, wait, steal = (contention.get(k) for k in ("ratio", "run_wait_pct", "steal_pct"))
    if isinstance(ratio, (int, float)):  # the model's own calls say it: run-queue waits of
        wait = None                      # pool threads between calls need not slow a call
    return any(isinstance(v, (int, float)) and v >= limit for v, limit in (
        (ratio, BUSY_CONTENTION), (wait, BUSY_WAIT_PCT), (steal, 10.0)))


def contention_text(contention: dict[str, Any] | None) -> str:
    """A run's contention in a few words ("1.0x wall/CPU"), for notes that set two runs side
    by side."""
    contention = contention or {}
    ratio = contention.get("ratio")
    if isinstance(ratio, (int, float)):
        return f"{ratio:.1f}x wall/CPU"
    wait = contention.get("run_wait_pct")
    return f"run-queue waits {wait:.0f}%" if isinstance(wait, (int, float)) else "not recorded"


def busy_text(contention: dict[str, Any] | None, clock: str) -> str:
    """'' on a quiet machine, else e.g. 'machine busy: wall 163 ms, CPU 58 ms (2.8x contention);
    judged on CPU' or 'machine busy: threads waited 40% of their runnable time for a CPU;
    judged on wall clock, which counts the neighbours: ...'."""
    if not is_busy(contention):
        return ""
    from pytest_tfperf.wording import format_ms

    ratio = contention.get("ratio")
    if isinstance(ratio, (int, float)) and contention.get("cpu_median_ms"):
        what = (f"wall {format_ms(contention['wall_median_ms'])} ms, CPU "
                f"{format_ms(contention['cpu_median_ms'])} ms ({ratio:.1f}x contention)")
    else:
        wait = contention.get("run_wait_pct")
        what = f"the model's threads waited {wait:.0f}% of the time for a CPU" \
            if isinstance(wait, (int, float)) else "steal"
        if isinstance(contention.get("steal_pct"), (int, float)) and contention["steal_pct"] >= 1:
            what += f", {contention['steal_pct']:.0f}% steal"
    judged = "judged on CPU" if clock == "cpu" else \
        "judged on wall clock, which counts the neighbours: a slow verdict may be theirs"
    return f"machine busy: {what}; {judged}"
