"""What the pytest hooks do, kept out of plugin.py so that file stays a thin list of hooks.

Marker reading, model/image resolution for a test item, and the end-of-test budget checks.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

from .errors import MarkerUsageError

BUDGET_MARKERS = ("latency_budget", "param_budget", "flops_budget", "size_budget", "memory_budget")

MARKERS = {
    "latency_budget": "latency_budget(ms=None, *, fps=None, percentile=50, batch=None, regression=None): "
                      "fail if the measured latency percentile exceeds the budget (exactly one of ms/fps)",
    "param_budget": "param_budget(max, *, kind='weights'): fail if the model has more parameters "
                    "(kind='trainable' where the source knows trainability); counts like '62.4M'",
    "flops_budget": "flops_budget(max): fail if one inference at batch 1 needs more FLOPs ('1.5G')",
    "size_budget": "size_budget(mb): fail if the serialized frozen model is larger (1 MB = 10^6 bytes)",
    "memory_budget": "memory_budget(mb): fail if one inference peaks above this memory (1 MB = 10^6 bytes)",
    "tfperf_model": "tfperf_model(ref, **load_kwargs): the model the frozen_graph fixture loads",
    "tfperf_sample_image": "tfperf_sample_image(path): the image the sample_image fixture loads",
}

_ITEM_KEY = "_tfperf_parsed_budgets"


def test_base(item) -> str:
    return os.path.dirname(str(item.path))


def parsed_budgets(item) -> dict[str, Any]:
    """{marker name: parsed budget} for the item's nearest budget markers (parsed once)."""
    cached = getattr(item, _ITEM_KEY, None)
    if cached is not None:
        return cached
    from .budgets import parse_mark

    parsed = {}
    for name in BUDGET_MARKERS:
        marker = item.get_closest_marker(name)
        if marker is not None:
            parsed[name] = parse_mark(marker, test_id=item.nodeid)
    setattr(item, _ITEM_KEY, parsed)
    return parsed


def latency_budget_of(item):
    return parsed_budgets(item).get("latency_budget")


def check_markers(item) -> None:
    """Parse budget and model markers at setup so a bad argument errors the test early."""
    parsed_budgets(item)
    marker = item.get_closest_marker("tfperf_model")
    if marker is not None and not marker.args and "ref" not in marker.kwargs:
        raise MarkerUsageError(
            f"{item.nodeid}: @pytest.mark.tfperf_model needs a model reference, e.g. "
            "@pytest.mark.tfperf_model('models/alexnet.pb'). Received: no arguments")
    if marker is not None:
        import inspect

        from .model import load  # numpy only: TensorFlow is not imported here

        accepted = [p for p in inspect.signature(load).parameters if p != "ref"]
        unknown = sorted(set(marker.kwargs) - set(accepted) - {"ref"})
        if unknown or len(marker.args) > 1:
            raise MarkerUsageError(
                f"{item.nodeid}: @pytest.mark.tfperf_model takes one model reference and the "
                f"keywords {', '.join(accepted)}; unknown: {', '.join(unknown) or 'extra positional arguments'}. "
                f"Received: args={marker.args!r}, kwargs={marker.kwargs!r}")
    marker = item.get_closest_marker("tfperf_sample_image")
    if marker is not None and (len(marker.args) != 1 or marker.kwargs):
        raise MarkerUsageError(
            f"{item.nodeid}: @pytest.mark.tfperf_sample_image takes one image path, e.g. "
            f"tfperf_sample_image('images/face.jpg'). Received: args={marker.args!r}, kwargs={marker.kwargs!r}")


def model_for_item(session, item):
    """The FrozenGraph named by the nearest tfperf_model marker, else the tfperf_model ini key."""
    marker = item.get_closest_marker("tfperf_model")
    if marker is not None:
        kwargs = dict(marker.kwargs)
        ref = marker.args[0] if marker.args else kwargs.pop("ref", None)
        if ref is None:
            raise MarkerUsageError(f"{item.nodeid}: @pytest.mark.tfperf_model needs a model reference. "
                                   "Received: no arguments")
        return session.load_model(ref, base=test_base(item), **kwargs)
    s = session.settings
    if not s.model:
        raise MarkerUsageError(
            f"{item.nodeid} uses the frozen_graph fixture but no model is configured: add "
            "@pytest.mark.tfperf_model('path/to/model.pb') to the test, or the ini key "
            "'tfperf_model = path/to/model.pb', or override the frozen_graph fixture in a conftest.")
    kwargs = {"inputs": list(s.inputs) if s.inputs else None,
              "outputs": list(s.outputs) if s.outputs else None,
              "input_shapes": s.input_shape}
    return session.load_model(s.model, base=s.inidir, **{k: v for k, v in kwargs.items() if v})


def sample_image_for_item(session, item, fg):
    """The sample image fitted to `fg`: marker path, else ini path, else a synthetic image."""
    from .images import sample_image_for

    marker = item.get_closest_marker("tfperf_sample_image")
    path = None
    if marker is not None:
        path = session.resolve_path(str(marker.args[0]), test_base(item))
    elif session.settings.sample_image:
        path = session.resolve_path(session.settings.sample_image, session.settings.inidir)
    per_model = session.images.setdefault(fg, {})  # weak keys: a dropped model frees its images
    key = (path, session.settings.preprocess)
    if key not in per_model:
        per_model[key] = sample_image_for(fg, path=path, preprocess=session.settings.preprocess)
    return per_model[key].copy()  # decoded and resized once per model and image; callers get copies


def finish_test(session, item, recorder, passed: bool) -> str | None:
    """End of a test's call phase: check budgets (if it passed), record what it measured.

    Returns the failure message (budgets exceeded, regressions), or None. A test that failed
    or was skipped on its own keeps its failure; its measurements are still recorded.
    """
    has_budget = any(item.get_closest_marker(m) for m in BUDGET_MARKERS)
    if recorder is None and not has_budget:
        return None
    if recorder is None and "frozen_graph" in getattr(item, "funcargs", {}):
        from .recorder import TfperfRecorder

        recorder = TfperfRecorder(session, item)
    verdicts = run_budget_checks(session, item, recorder) if has_budget and passed else []
    records = record_test(session, item, recorder, verdicts)
    from .reporting import junit_properties

    item.user_properties.extend((f"tfperf_{v.marker}", v.message) for v in verdicts)
    item.user_properties.extend(junit_properties(records))
    if not passed or session.settings.disabled:
        return None
    regressions = test_regressions(session, item) if session.baseline is not None else []
    failed = [v.message for v in verdicts if not v.passed]
    return "\n".join(failed + regressions) or None


def run_budget_checks(session, item, recorder) -> list:
    """Check every budget marker of `item` against what the test did; returns BudgetVerdicts.

    Declarative mode: a latency budget on a test that measured nothing but uses `frozen_graph`
    measures `frozen_graph` on `sample_image` here. A test that used pytest-benchmark's
    `benchmark` fixture is checked on its stats. Under `--tfperf-disable` nothing is checked
    (the declarative measurement still runs its model once, as a smoke test).
    """
    from . import budgets

    parsed = parsed_budgets(item)
    settings = session.settings
    verdicts = []
    latency = parsed.get("latency_budget")
    funcargs = getattr(item, "funcargs", {})
    fixture_fg = funcargs.get("frozen_graph")
    if latency is not None:
        if recorder is not None and not recorder.measurements and fixture_fg is not None \
                and "benchmark" not in funcargs:
            recorder.measure(fixture_fg, funcargs.get("sample_image"))
        bench = _pytest_benchmark_stats(item)
        if bench is not None:
            verdicts.append(budgets.check_latency(latency, bench, scale=settings.budget_scale,
                                                  model=fixture_fg.name if fixture_fg else None))
        elif "benchmark" in funcargs:
            pass  # pytest-benchmark recorded nothing (--benchmark-disable, or xdist): nothing to gate
        elif recorder is None or not recorder.measurements:
            raise MarkerUsageError(
                f"{item.nodeid}: @pytest.mark.latency_budget found nothing to check: the test made no "
                "tfperf.measure(...) call, does not use the frozen_graph fixture, and did not use "
                "pytest-benchmark's benchmark fixture.")
        for stats, fg in (recorder.measurements if recorder else []):
            verdicts.append(budgets.check_latency(latency, stats, scale=settings.budget_scale,
                                                  model=fg.name if fg is not None else stats.model))
    if settings.disabled:
        return []
    models = _models_of(item, recorder)
    static = {k: v for k, v in parsed.items() if k != "latency_budget"}
    if static and not models:
        raise MarkerUsageError(
            f"{item.nodeid}: @pytest.mark.{next(iter(static))} needs a model: use the frozen_graph "
            "fixture or load/measure one with the tfperf fixture.")
    for fg in models:
        for name, budget in static.items():
            verdicts.append(_check_static(session, item, recorder, name, budget, fg))
    return verdicts


def _models_of(item, recorder) -> list:
    """The FrozenGraphs a test used: its `frozen_graph` first, then those it loaded/measured."""
    models = list(recorder.models) if recorder is not None else []
    fixture_fg = getattr(item, "funcargs", {}).get("frozen_graph")
    if fixture_fg is not None and all(m is not fixture_fg for m in models):
        models.insert(0, fixture_fg)
    return models


def _check_static(session, item, recorder, name, budget, fg):
    from . import budgets

    if name == "param_budget":
        if budget.kind == "trainable":
            value = fg.trainable_params
            if value is None:
                raise MarkerUsageError(
                    f"{item.nodeid}: @pytest.mark.param_budget(kind='trainable'): model {fg.name} "
                    f"({fg.kind}) does not know which parameters are trainable (a frozen graph); use "
                    "kind='weights' or load the checkpoint/Keras model.")
        else:
            value = model_summary(session, fg)["weight_params"]
        return budgets.check_params(budget, value, fg.name)
    if name == "flops_budget":
        report, error = model_flops(session, fg)
        if report is None or report.get("unresolved"):
            why = error or f"shapes unresolved for {report['unresolved']}"
            raise MarkerUsageError(
                f"{item.nodeid}: @pytest.mark.flops_budget: the FLOPs of model {fg.name} could not be "
                f"counted ({why}); pin input shapes: tfperf_model(ref, input_shapes=[[1, H, W, C]]).")
        verdict = budgets.check_flops(budget, per_image_flops(report), fg.name)
        if report.get("uncounted"):
            note = ", ".join(f"{op} x{n}" for op, n in sorted(report["uncounted"].items()))
            verdict = dataclasses.replace(verdict, message=f"{verdict.message} (not counted: {note})")
        return verdict
    if name == "size_budget":
        return budgets.check_size(budget, model_summary(session, fg)["serialized_bytes"], fg.name)
    from .profiling import peak_memory_bytes

    inputs = recorder.inputs_for(fg) if recorder is not None else None
    return budgets.check_memory(budget, peak_memory_bytes(fg, inputs), fg.name)


def per_image_flops(report: dict) -> int:
    """FLOPs of one inference at batch 1 (a model pinned to batch N is counted at N)."""
    return int(round(report["total"] / max(int(report.get("batch") or 1), 1)))


def model_summary(session, fg) -> dict:
    """`summarize(fg)` as a dict with the source relative to the project root; once per model."""
    cached = getattr(fg, "_tfperf_summary", None)
    if cached is None:
        from .summary import summarize

        cached = summarize(fg).to_dict()
        if cached.get("source") and os.path.isabs(cached["source"]):
            from .session import rel_path  # reports name files relative to the project root

            cached["source"] = rel_path(cached["source"], session.settings.rootdir)
        fg._tfperf_summary = cached
    return cached


def model_flops(session, fg) -> tuple[dict | None, str | None]:
    """`(count_flops(fg).to_dict(), None)` or `(None, why not)`; once per model (it may run it)."""
    cached = getattr(fg, "_tfperf_flops", None)
    if cached is None:
        from .profiling import count_flops

        try:
            cached = (count_flops(fg).to_dict(), None)
        except Exception as exc:  # a model whose FLOPs cannot be counted still gets a report row
            cached = (None, f"{type(exc).__name__}: {exc}")
        fg._tfperf_flops = cached
    return cached


def record_test(session, item, recorder, verdicts) -> list[dict]:
    """Add the test's measurements, model rows and verdicts to the session results.

    Returns the measurement records added (for the JUnit properties).
    """
    results = session.results
    latency = [v for v in verdicts if v.marker == "latency_budget"]
    static = [v for v in verdicts if v.marker != "latency_budget"]
    budget = parsed_budgets(item).get("latency_budget")
    regression = budget.regression if budget is not None else None
    added = []
    if recorder is not None:
        for i, (stats, fg) in enumerate(recorder.measurements):
            mine = [v.to_dict() for v in latency if len(recorder.measurements) == 1
                    or v.model == (fg.name if fg is not None else stats.model)]
            added.append(results.add("measurement", {
                "test_id": item.nodeid, "name": stats.name or f"measure[{i}]",
                "model": fg.name if fg is not None else stats.model, "stats": stats.to_dict(),
                "verdicts": mine, "device": _device(), "target_kind": getattr(fg, "kind", None),
                "regression": regression}))
        if session.settings.profile:
            _profile_measured_models(session, recorder)
    bench = _pytest_benchmark_stats(item)
    if bench is not None:
        added.append(results.add("measurement", {
            "test_id": item.nodeid, "name": "benchmark", "model": None, "stats": bench.to_dict(),
            "verdicts": [v.to_dict() for v in latency], "device": _device(),
            "target_kind": "pytest-benchmark", "regression": regression}))
    if session.settings.reporting or static:
        for fg in _models_of(item, recorder):
            mine = [v.to_dict() for v in static if v.model == fg.name]
            if session.first_time_summarized(fg) or mine:
                summary = model_summary(session, fg)
                flops, _ = model_flops(session, fg) if session.settings.reporting else (None, None)
                results.add("model", {"test_id": item.nodeid, "model": fg.name, "summary": summary,
                                      "flops": per_image_flops(flops) if flops else None,
                                      "verdicts": mine})
    for v in verdicts:
        if not v.passed:
            results.add("failure", {"test_id": item.nodeid, "marker": v.marker, "message": v.message})
    return added


@functools.lru_cache(maxsize=1)
def _device() -> str:
    """'GPU' when TensorFlow sees a GPU (sessions place work there), else 'CPU'."""
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def _profile_measured_models(session, recorder) -> None:
    """--tfperf-profile: benchmark_model's per-op tables for every measured model, once each."""
    profiled = {r["model"] for r in session.results.profiles}
    for _stats, fg in recorder.measurements:
        if fg is None or fg.name in profiled or getattr(fg, "_tfperf_profiled", False):
            continue
        fg._tfperf_profiled = True
        profiled.add(fg.name)
        recorder.profile(fg, recorder.inputs_for(fg), runs=20)


def _pytest_benchmark_stats(item):
    bench = getattr(item, "funcargs", {}).get("benchmark")
    if bench is None or not getattr(bench, "stats", None):
        return None
    from .budgets import stats_from_pytest_benchmark

    return stats_from_pytest_benchmark(bench)


# -- reporting glue (the renderers and baseline storage live in reporting/report/baseline) ----


def prepare_compare(session, settings) -> None:
    """Load the baseline to compare with and parse the regression thresholds (configure time)."""
    from . import reporting

    reporting.prepare_compare(session, settings)


def test_regressions(session, item) -> list[str]:
    """Failure messages for this test's measurements that regressed against the baseline."""
    from . import reporting

    return reporting.check_test_regressions(session, item)


def finish_session(config, session) -> None:
    """Worker: ship results to the controller. Controller: write JSON/Markdown/HTML/baselines."""
    if session.results.is_empty() and not session.settings.reporting:
        return  # a suite that does not use tfperf pays nothing at exit
    from . import reporting

    reporting.session_finish(config, session)


def terminal_summary(terminalreporter, config, session) -> None:
    if session.results.is_empty() and not session.settings.reporting:
        return
    from . import reporting

    reporting.terminal_summary(terminalreporter, config, session)
