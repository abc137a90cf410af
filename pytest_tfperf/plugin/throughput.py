"""`throughput_budget(fps, *, batch=1, p99_ms=None, concurrency=1)` at the end of a test.

For each model the test used (`gate.models_of`): the configuration (requests of `batch` inputs
from `concurrency` clients at once, each a TF session with the session's intra-op threads or a
LiteRT interpreter with its threads) is taken from a `tfperf.sweep` of that model in the same
test when it has it, else timed here (`timing.sweep.measure_config`, stopping as soon as the
verdict is clear) on what the test last fed the model, else its sample inputs.

Judged as latency budgets are: the throughput fails only when its whole 95% CI (from per-block
throughputs) lies below the floor, the p99 only when its order-statistic CI lies above the limit;
a failure is re-timed on fresh sessions / interpreters for up to `confirm_time` (at least once)
and stands only if every timing failed (a neighbour's burst of CPU use does not fail the gate
on its own); `--tfperf-budget-scale X` divides the floor and multiplies the p99 limit.
"""
from __future__ import annotations

import time

from pytest_tfperf.errors import MarkerUsageError, TfperfError
from pytest_tfperf.wording import format_fps as fps_text, format_ms, limit_text, plural

__all__ = ["throughput_verdicts"]

_MAX_RETIMES = 3


def throughput_verdicts(session, item, recorder, budget, models) -> list:
    """One `BudgetVerdict` per model of the test (see the module docstring)."""
    if not models:
        raise MarkerUsageError(
            f"{item.nodeid}: @pytest.mark.throughput_budget needs a model: use the frozen_graph "
            "fixture or load/measure/sweep one with the tfperf fixture.")
    return [_verdict(session, item, recorder, budget, model) for model in models]


def _threads(session, model) -> int:
    from pytest_tfperf.timing.closed_loop import usable_cores

    if getattr(model, "kind", None) == "tflite":
        return int(model.num_threads or 1)
    return int(session.settings.intra_op_threads or usable_cores())


def _swept(session, item, model, budget, threads):
    """The configuration from a sweep of `model` in this test, or None."""
    from pytest_tfperf.results.records import model_identity
    from pytest_tfperf.timing.sweep import SweepResult

    key = model_identity(model)
    for rec in reversed(session.results.sweeps):
        if rec.test_id == item.nodeid and rec.model_id == key:
            point = SweepResult.from_dict(rec.table).point(budget.batch, threads, budget.concurrency)
            if point is not None:
                return point
    return None


def _verdict(session, item, recorder, budget, model):
    from pytest_tfperf.results.records import model_identity
    from pytest_tfperf.timing.sweep import base_feeds, check_batches, measure_config

    where = f"{item.nodeid}: @pytest.mark.throughput_budget"
    if getattr(model, "kind", None) != "tflite" and not hasattr(model, "new_session"):
        raise MarkerUsageError(
            f"{where}: the throughput of model {model.name} ({getattr(model, 'kind', type(model).__name__)}) "
            "cannot be measured: it needs a TensorFlow graph or TFLite model (one instance per client).")
    try:
        check_batches(model, [budget.batch], what=f"{where}(batch=...)")
    except TfperfError as exc:
        raise MarkerUsageError(str(exc)) from None
    scale = session.settings.budget_scale
    fps_limit = budget.fps / scale
    p99_limit = budget.p99_ms * scale if budget.p99_ms is not None else None
    threads = _threads(session, model)
    settings = session.timing  # built once per session
    point = _swept(session, item, model, budget, threads)
    source = "from this test's sweep"
    feeds = None

    def timed():
        nonlocal feeds
        if feeds is None:
            inputs = recorder.inputs_for(model) if recorder is not None else None
            feeds = base_feeds(model, inputs)[0]
        return measure_config(model, feeds, batch=budget.batch, intra_threads=threads,
                              concurrency=budget.concurrency, settings=settings,
                              fps_target=fps_limit, p99_ms=p99_limit)
    if point is None:
        point, source = timed(), "timed at the end of the test"
    tries, started, discarded = 1, time.perf_counter(), 0
    while _fails(point, fps_limit, p99_limit) and settings.confirm_time > 0 and \
            tries <= _MAX_RETIMES and (tries == 1 or time.perf_counter() - started < settings.confirm_time):
        again = timed()  # fresh sessions / interpreters each time
        tries += 1
        if _rank(again, fps_limit, p99_limit) > _rank(point, fps_limit, p99_limit):
            point, again = again, point
        discarded += again.n
    verdict = _message(budget, point, fps_limit, p99_limit, scale, model, source, tries, discarded)
    from pytest_tfperf.plugin.budgets import BudgetVerdict

    value = point.throughput
    return BudgetVerdict(
        marker="throughput_budget", statistic="FPS", value=float(value), limit=float(fps_limit),
        unit="FPS", passed=not _fails(point, fps_limit, p99_limit),
        headroom_pct=float((value - fps_limit) / fps_limit * 100.0), message=verdict,
        model=model.name, model_id=model_identity(model), fps_limit=float(fps_limit))


def _fails(point, fps_limit: float, p99_limit: float | None) -> bool:
    """Failed beyond doubt: the whole throughput CI below the floor (the point itself when
    too few requests made a CI), or the whole p99 CI above its limit."""
    ci = point.throughput_ci
    slow = (ci[1] if ci is not None else point.throughput) < fps_limit
    late = p99_limit is not None and point.p99_ci_ms[0] > p99_limit
    return slow or late


def _rank(point, fps_limit, p99_limit) -> tuple:
    return (not _fails(point, fps_limit, p99_limit), point.throughput)


def _message(budget, point, fps_limit, p99_limit, scale, model, source, tries, discarded) -> str:
    ci = point.throughput_ci
    fps = point.throughput
    ci_text = f"95% CI [{fps_text(ci[0])}, {fps_text(ci[1])}]" if ci else \
        "no CI: too few requests for blocks, raise --tfperf-max-time"
    failed_fps = (ci[1] if ci else fps) < fps_limit
    if failed_fps:
        head = (f"{fps_text(fps)} inferences/s below {limit_text(fps_limit)} ({fps / fps_limit:.3g}x "
                f"the floor; {ci_text}, entirely below)")
    elif fps < fps_limit:
        head = (f"{fps_text(fps)} inferences/s, under {limit_text(fps_limit)} but not beyond doubt "
                f"({ci_text} reaches it): not failed")
    else:
        head = f"{fps_text(fps)} inferences/s >= {limit_text(fps_limit)} ({ci_text})"
    parts = [head]
    if p99_limit is not None:
        lo, hi = point.p99_ci_ms
        rough = "; p99 is rough: fewer than 1000 requests" if point.p99_rough else ""
        if lo > p99_limit:
            parts.append(f"p99 {format_ms(point.p99_ms)} ms exceeds {format_ms(p99_limit)} ms "
                         f"(CI [{format_ms(lo)}, {format_ms(hi)}] ms, entirely above{rough})")
        else:
            parts.append(f"p99 {format_ms(point.p99_ms)} ms vs {format_ms(p99_limit)} ms "
                         f"(CI [{format_ms(lo)}, {format_ms(hi)}] ms{rough}): ok")
    parts.append(f"{point.label()}; {plural(point.n, 'request')} {source}")
    from pytest_tfperf.timing.closed_loop import usable_cores
    from pytest_tfperf.timing.sweep import busy_notes

    parts += busy_notes([point], usable_cores())
    if tries > 1:
        parts.append(f"best of {tries} timings on fresh instances ({plural(discarded, 'request')} "
                     "of the others set aside)")
    if scale != 1.0:
        parts.append(f"budget {limit_text(budget.fps)} inferences/s / {scale:g} --tfperf-budget-scale")
    parts.append(f"model {model.name}")
    return "throughput_budget: " + "; ".join(parts)

