"""The per-test gate: budget verdicts of one test item, and regressions that must persist.

`check_test` turns the item's budget markers and what the test did (the recorder's
`Measurement`s and models, the `frozen_graph` fixture, pytest-benchmark's `benchmark`) into
`BudgetVerdict`s tagged with the model's identity; each latency verdict is paired with the
`Measurement` it judges, against the limit that measurement's stopping rule used. Any `Model`
is accepted: latency and size come from the protocol; weights, FLOPs and memory need a graph
(`FrozenGraph`), and a budget on a fact that cannot be established for the model is a usage
error, never a pass.

`regressions` is the baseline half: a regression must persist when re-timed, as a
latency-gate failure must. Contention from other processes shifts one timing of a measurement;
a real regression shifts every timing. So an enforced regression is re-timed once
(`Measurement.retime`: fresh TF sessions per block) and compared again; the less severe of the
two comparisons (then the lower ratio) is kept, its record marked `retimed`, the other's calls
counted in `discarded_n` (when the re-timing is kept, the first timing's stats stay in
`stats["first_timing"]`). `compare_runs` runs once for the test, plus once per re-timing.
Facts of models (summary, FLOPs) are cached per model.
"""
from __future__ import annotations

import dataclasses
import os
import weakref
from typing import Any

from pytest_tfperf.errors import MarkerUsageError
from pytest_tfperf.plugin.markers import parsed_budgets
from pytest_tfperf.results.records import model_identity

__all__ = ["ItemVerdicts", "check_test", "is_graph", "model_facts", "model_flops", "model_summary",
           "models_of", "params_note", "per_image_flops", "regressions", "static_verdict",
           "unresolved_flops_note"]

_SUMMARIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> summary dict
_FLOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()      # model -> (report, why not)
_SEVERITY = {"ok": 0, "noise": 1, "improved": 0, "regressed": 2}


def is_graph(model) -> bool:
    """Whether `model` is a `FrozenGraph` (static facts: summary, FLOPs, memory)."""
    from pytest_tfperf.model import FrozenGraph

    return isinstance(model, FrozenGraph)


@dataclasses.dataclass
class ItemVerdicts:
    """The verdicts of one test: `latency` pairs each with the `Measurement` it judges (None for
    pytest-benchmark's stats); `static` are the param/flops/size/memory verdicts."""

    latency: list[tuple[Any, Any]] = dataclasses.field(default_factory=list)
    static: list = dataclasses.field(default_factory=list)

    @property
    def all(self) -> list:
        return [v for _, v in self.latency] + self.static

    def of(self, measurement) -> list:
        """The latency verdicts of `measurement` (None: pytest-benchmark's)."""
        return [v for m, v in self.latency if m is measurement]


def check_test(session, item, recorder) -> ItemVerdicts:
    """Check every budget marker of `item` against what the test did.

    Declarative mode: a latency budget on a test that measured nothing but uses `frozen_graph`
    measures `frozen_graph` on `sample_image` here. A test that used pytest-benchmark's
    `benchmark` fixture is checked on its stats. Under `--tfperf-disable` nothing is checked
    (the declarative measurement still runs its model once, as a smoke test).
    """
    from pytest_tfperf.plugin import budgets
    from pytest_tfperf.results.pytest_benchmark import benchmark_stats_of, uses_benchmark

    parsed = parsed_budgets(item)
    settings = session.settings
    out = ItemVerdicts()
    latency = parsed.get("latency_budget")
    funcargs = getattr(item, "funcargs", {})
    fixture_fg = funcargs.get("frozen_graph")
    declared = None  # the declarative measurement, when the input policy made some of its inputs
    if latency is not None:
        if recorder is not None and not recorder.measurements and fixture_fg is not None \
                and not uses_benchmark(item):
            # one input: the test's sample_image (a conftest may override it); several: the sample
            # image for the image input, the input policy's arrays for the others (said below)
            single = len(getattr(fixture_fg, "inputs", ())) == 1
            made = recorder._take(fixture_fg, funcargs.get("sample_image") if single else None)
            declared = made if "synthetic" in getattr(made.fed, "sources", {}).values() else None
        bench = benchmark_stats_of(item)
        if bench is not None:
            out.latency.append((None, _tag(budgets.check_latency(
                latency, bench, scale=settings.budget_scale,
                model=fixture_fg.name if fixture_fg else None), fixture_fg)))
        elif uses_benchmark(item) and not (recorder is not None and recorder.measurements):
            raise MarkerUsageError(  # issue 21: never an unchecked budget
                f"{item.nodeid}: @pytest.mark.latency_budget cannot be checked: pytest-benchmark's "
                "benchmark fixture recorded nothing (it is disabled under xdist and by "
                "--benchmark-disable, and tfperf times it in its place only when the test calls "
                "benchmark(...) or benchmark.pedantic(...)). Call the fixture, or time the code "
                "with tfperf.measure(...).")
        elif recorder is None or not recorder.measurements:
            raise MarkerUsageError(
                f"{item.nodeid}: @pytest.mark.latency_budget found nothing to check: the test made no "
                "tfperf.measure(...) call, does not use the frozen_graph fixture, and did not use "
                "pytest-benchmark's benchmark fixture.")
        for measured in (recorder.measurements if recorder else []):
            verdict = dataclasses.replace(budgets.latency_verdict(
                measured.budget, measured.stats, model=measured.model_name), model_id=measured.model_id)
            if measured is declared:
                verdict = dataclasses.replace(verdict, message=verdict.message + _generated_note(measured.fed))
            out.latency.append((measured, verdict))
    if settings.disabled:
        return ItemVerdicts()
    models = models_of(item, recorder)
    static = {k: v for k, v in parsed.items() if k not in ("latency_budget", "throughput_budget")}
    if "throughput_budget" in parsed:  # timed (or read from the test's sweep) per model
        from pytest_tfperf.plugin.throughput import throughput_verdicts

        out.static.extend(throughput_verdicts(session, item, recorder, parsed["throughput_budget"], models))
    if static and not models:
        raise MarkerUsageError(
            f"{item.nodeid}: @pytest.mark.{next(iter(static))} needs a model: use the frozen_graph "
            "fixture or load/measure one with the tfperf fixture.")
    for model in models:
        for name, budget in static.items():
            out.static.append(_tag(_check_static(session, item, recorder, name, budget, model), model))
    return out


def regressions(session, test_id: str, measured) -> list[str]:
    """Failure messages for the test's measurements that regressed against `session.baseline`.

    Args:
        session: the plugin's session (`baseline`, `thresholds`, `settings`, `results`).
        test_id: the test's node id.
        measured: `(Measurement or None, its MeasurementRecord in session.results)` pairs, in
            the order recorded; a pair with a `Measurement` is re-timed when it regressed.
    """
    from pytest_tfperf.baseline import compare_options, compare_runs, regression_for
    from pytest_tfperf.results.file import measurement_index  # the baseline's key rule (#2, #3...)
    from pytest_tfperf.results.session import SessionResults

    records = [r for _, r in measured]
    if session.baseline is None or not records \
            or not (session.thresholds or any(r.regression for r in records)):
        return []
    options = compare_options(getattr(session, "settings", None))

    def compare(recs) -> dict:
        run = SessionResults()
        run.extend("measurement", recs)
        return {c.key: c for c in compare_runs(session.baseline, run, session.thresholds, **options)
                if c.enforced}
    found = compare(records)
    for key, record in measurement_index(records).items():  # compare_runs' keys
        measurement = next(m for m, r in measured if r is record)
        first = found.get(key)
        if measurement is None or first is None or first.verdict != "regressed":
            continue
        again = dataclasses.replace(record, stats=measurement.retime().to_dict(), retimed=True)
        second = compare([again if r is record else r for r in records]).get(key)
        if second is not None and (_SEVERITY[second.verdict], second.ratio or 0.0) < (
                _SEVERITY[first.verdict], first.ratio or 0.0):
            keep, other, extra = again, record, {"first_timing": dict(record.stats)}
            found[key] = second
        else:  # the first timing stands, re-timed all the same (its message says so)
            keep, other, extra = dataclasses.replace(record, retimed=True), again, {}
            found[key] = dataclasses.replace(first, retimed=True)
        discarded = int(keep.stats.get("discarded_n") or 0) + int(other.stats.get("n") or 0)
        session.results.replace("measurement", record, dataclasses.replace(
            keep, stats={**keep.stats, **extra, "discarded_n": discarded}))
    return regression_for(test_id, found.values(), session.baseline.path)


def _generated_note(feed) -> str:
    """"; timed on image [1,96,96,3] float32 (sample image), scale [1] float32 (synthetic) ..."""
    from pytest_tfperf.inputs.described import describe

    return (f"; timed on {describe(feed)}: the inputs that are not the sample image were made by "
            "tfperf's input policy; to choose them, call tfperf.measure(frozen_graph, {name: array, "
            "...}) in the test")


def _tag(verdict, model):
    return dataclasses.replace(verdict, model_id=model_identity(model)) if model is not None else verdict


def models_of(item, recorder) -> list:
    """The models a test used: its `frozen_graph` first, then those it loaded/measured."""
    models = list(recorder.models) if recorder is not None else []
    fixture_fg = getattr(item, "funcargs", {}).get("frozen_graph")
    if fixture_fg is not None and all(m is not fixture_fg for m in models):
        models.insert(0, fixture_fg)
    return models


def _unavailable(where: str, marker: str, model, what: str) -> MarkerUsageError:
    return MarkerUsageError(
        f"{where}@pytest.mark.{marker}: {what} of model {model.name} "
        f"({getattr(model, 'kind', type(model).__name__)}) cannot be established: it is not a "
        "TensorFlow graph; drop the budget for this model or check a graph form of it.")


def _check_static(session, item, recorder, name, budget, model):
    inputs, guessed = None, ()
    if name == "memory_budget" and recorder is not None and is_graph(model):
        inputs = recorder.inputs_for(model)
        made = recorder._described_inputs(model, inputs, generated=id(model) not in recorder.last_inputs)
        guessed = tuple(f"{d['name']} {d['shape']}: dims {d['guessed']} chosen by tfperf"
                        for d in made if d.get("guessed"))
    return static_verdict(name, budget, model, session=session, inputs=inputs, where=item.nodeid,
                          guessed=guessed)


def static_verdict(name: str, budget, model, *, session=None, inputs=None, where: str = "",
                   guessed=()):
    """The verdict of one param/flops/size/memory budget on `model` (what the markers check).

    Args:
        name: "param_budget", "flops_budget", "size_budget" or "memory_budget".
        budget: the parsed budget (`budgets.ParamBudget`...).
        model: a `Model` (weights, FLOPs and memory need a `FrozenGraph`).
        session: the plugin's session (file names in summaries relative to its root), or None.
        inputs: feeds for the memory budget's run (default: the input policy's arrays).
        where: the test id, for error messages.
        guessed: notes on input dims tfperf chose for `inputs` (a memory budget on them is an
            error); a `SampleInputs` says its own.
    Returns:
        a `budgets.BudgetVerdict`.
    Raises:
        MarkerUsageError: the fact cannot be established for this model (never a pass).
    """
    from pytest_tfperf.plugin import budgets

    where = f"{where}: " if where else ""
    if name == "param_budget":
        if budget.kind == "trainable":
            value = getattr(model, "trainable_params", None)
            if value is None:
                raise MarkerUsageError(
                    f"{where}@pytest.mark.param_budget(kind='trainable'): model {model.name} "
                    f"({model.kind}) does not know which parameters are trainable (a frozen graph); use "
                    "kind='weights' or load the checkpoint/Keras model.")
            return budgets.check_params(budget, value, model.name)
        summary = model_summary(session, model)
        # GraphSummary.params; a summary without it (a TFLite model's) has only its weights
        value = summary.get("params", summary.get("weight_params")) if summary else _source_params(model)
        if value is None:
            raise _unavailable(where, name, model, "the parameter count")
        verdict = budgets.check_params(budget, value, model.name)
        note = params_note(summary)
        return dataclasses.replace(verdict, message=f"{verdict.message} ({note})") if note else verdict
    if name == "flops_budget":
        if not is_graph(model):
            raise _unavailable(where, name, model, "the FLOPs")
        report, error = model_flops(session, model)
        if report is None or report.get("unresolved"):
            why = error or unresolved_flops_note(report)
            fixes = []
            if error or "shapes are unknown" in why:
                fixes.append("pin input shapes: tfperf_model(ref, input_shapes=[[1, H, W, C]])")
            if "not static" in why or "traced run" in why:
                fixes.append("its loops/branches are counted by one run on synthetic inputs: "
                             "make that run succeed, make the trip counts static, or drop the budget")
            raise MarkerUsageError(
                f"{where}@pytest.mark.flops_budget: the FLOPs of model {model.name} could not be "
                f"counted ({why}); {' or '.join(fixes) or 'see the reasons above'} "
                f"(`tfperf bench {model.name}` shows what is unresolved).")
        verdict = budgets.check_flops(budget, per_image_flops(report), model.name)
        if report.get("uncounted"):
            note = ", ".join(f"{op} x{n}" for op, n in sorted(report["uncounted"].items()))
            verdict = dataclasses.replace(verdict, message=f"{verdict.message} (not counted: {note})")
        if report.get("input_notes"):  # a count at a size tfperf guessed is not the model's
            raise _guessed(where, name, model, "FLOPs", report["input_notes"])
        return verdict
    if name == "size_budget":
        size = model_size(session, model)
        if size is None:
            raise _unavailable(where, name, model, "the serialized size")
        return budgets.check_size(budget, size, model.name)
    if not is_graph(model):
        raise _unavailable(where, name, model, "the peak memory")
    from pytest_tfperf.analysis.profiling import peak_memory_bytes

    if inputs is None:  # peak_memory_bytes would run the input policy's arrays: say its guesses
        from pytest_tfperf.inputs.policy import sample_inputs

        inputs = sample_inputs(model)
    guesses = list(guessed) or list(getattr(inputs, "notes", ()))
    if guesses:
        raise _guessed(where, name, model, "peak memory", guesses)
    return budgets.check_memory(budget, peak_memory_bytes(model, inputs), model.name)


def _guessed(where: str, marker: str, model, what: str, notes) -> MarkerUsageError:
    """A budget on a number tfperf could only get by guessing input dims: an error, never a pass."""
    return MarkerUsageError(
        f"{where}@pytest.mark.{marker}: model {model.name} leaves input dims open, and tfperf had "
        f"to guess them to get its {what} ({'; '.join(notes)}); a budget on a guess could pass "
        "wrongly. Pin the size you ship: tfperf_model(ref, input_shapes=[[1, H, W, C]]), ini "
        "tfperf_input_shape = 1,H,W,C, or load(ref, input_shapes=...).")


def params_note(summary: dict | None) -> str | None:
    """Why a weights verdict's count is not the frozen graph's, when the two differ, e.g.
    "the source's own count; the frozen graph holds 5,330,570 (variables inference does not
    read: norm/count)"."""
    if not summary or summary.get("params_from") != "source" \
            or summary.get("params") == summary.get("weight_params"):
        return None
    note = f"the source's own count; the frozen graph holds {summary['weight_params']:,}"
    unread = summary.get("unread_variables") or []
    if unread:
        shown = ", ".join(name for name, _ in unread[:3]) + (", ..." if len(unread) > 3 else "")
        note += f" (variables inference does not read: {shown})"
    return note


def _source_params(model) -> int | None:
    trainable = getattr(model, "trainable_params", None)
    other = getattr(model, "non_trainable_params", None)
    return None if trainable is None or other is None else int(trainable) + int(other)


def model_size(session, model) -> int | None:
    """Bytes of the model as stored: the protocol's `size_bytes`, else its graph's serialized size."""
    size = getattr(model, "size_bytes", None)
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    summary = model_summary(session, model)
    return summary["serialized_bytes"] if summary else None


def unresolved_flops_note(report: dict) -> str:
    """'unresolved: MatMul x1, Less x1: <the distinct reasons>' for a FlopsReport dict."""
    ops = ", ".join(f"{op} x{n}" for op, n in sorted(report.get("unresolved", {}).items()))
    reasons = list(dict.fromkeys((report.get("unresolved_reasons") or {}).values()))
    more = f" (+{len(reasons) - 2} more reasons)" if len(reasons) > 2 else ""
    return f"unresolved: {ops}" + (f": {'; '.join(reasons[:2])}{more}" if reasons else "")


def per_image_flops(report: dict) -> int:
    """FLOPs of one inference at batch 1 (a model pinned to batch N is counted at N)."""
    return int(round(report["total"] / max(int(report.get("batch") or 1), 1)))


def model_summary(session, model) -> dict | None:
    """`summarize(model)` as a dict (source relative to the project root); once per model.

    A TFLite model's summary comes from its flatbuffer (weights = its constant weights, without
    the per-tensor lists). None for any other model that is not a graph: its static facts are
    unavailable.
    """
    tflite = getattr(model, "kind", None) == "tflite"
    if not is_graph(model) and not tflite:
        return None
    cached = _SUMMARIES.get(model)
    if cached is None:
        from pytest_tfperf.analysis.summary import summarize

        cached = summarize(model).to_dict(**({"details": False} if tflite else {}))
        if session is not None and cached.get("source") and os.path.isabs(cached["source"]):
            from pytest_tfperf.plugin.options import rel_path  # reports name files relative to the project root

            cached["source"] = rel_path(cached["source"], session.settings.rootdir)
        _SUMMARIES[model] = cached
    return cached


def model_flops(session, model) -> tuple[dict | None, str | None]:
    """`(count_flops(model).to_dict(), None)` or `(None, why not)`; once per model (it may run it)."""
    if not is_graph(model):
        return None, f"{getattr(model, 'kind', type(model).__name__)} is not a TensorFlow graph"
    cached = _FLOPS.get(model)
    if cached is None:
        from pytest_tfperf.analysis.flops.count import count_flops

        try:
            cached = (count_flops(model).to_dict(), None)
        except Exception as exc:  # a model whose FLOPs cannot be counted still gets a report row
            cached = (None, f"{type(exc).__name__}: {exc}")
        _FLOPS[model] = cached
    return cached


def model_facts(session, model, *, flops: bool) -> dict:
    """The fields of a `ModelRecord` for `model` (static facts None where unavailable)."""
    summary = model_summary(session, model)
    report = model_flops(session, model)[0] if flops else None
    return {"model": model.name, "model_id": model_identity(model),
            "model_kind": getattr(model, "kind", None), "runtime": getattr(model, "runtime", None),
            "size_bytes": model_size(session, model), "summary": summary,
            "flops": per_image_flops(report) if report and not report.get("unresolved") else None}
