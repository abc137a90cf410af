"""Run-wide state of the plugin and the per-test lifecycle.

One `TfperfSession` per pytest process (each xdist worker has its own; the controller merges
results): the settings, the model cache, the results, the baseline. `finish_test` ends a test's
call phase (budget checks, records); `finish` ends the session (a worker ships its results, the
controller compares and writes the reports). Nothing here imports TensorFlow at import time.
"""
from __future__ import annotations

import datetime as _dt
import functools
import os
import weakref
from typing import Any

from pytest_tfperf.results.session import SessionResults

WORKEROUTPUT_KEY = "tfperf_results"  # what an xdist worker ships in `workeroutput`

class TfperfSession:
    """Settings, the per-session model cache, and the results of one pytest process."""

    def __init__(self, settings):
        self.settings = settings  # `options.Settings`
        self.timing = settings.timing_settings()  # the run's TimingSettings, built once
        self.results = SessionResults()
        self.baseline = None  # the `results.file.ResultFile` compared against
        self.thresholds: list = []
        self._models: dict[Any, Any] = {}
        self._summarized = weakref.WeakSet()  # models whose row is recorded
        self._profiled = weakref.WeakSet()    # models profiled under --tfperf-profile
        # model -> {(image path, preprocess): fitted sample image}; a dropped model frees its images
        self.images: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.started = _dt.datetime.now(_dt.timezone.utc)  # the reports' run time stamp

    def resolve_path(self, ref: str, base: str | os.PathLike | None = None) -> str:
        """A relative model/image path, tried against `base` (the test's folder), then rootdir/inidir."""
        if os.path.isabs(ref):
            return ref
        for folder in (base, self.settings.inidir, self.settings.rootdir):
            if folder is None:
                continue
            candidate = os.path.join(os.fspath(folder), ref)
            if os.path.exists(candidate) or os.path.exists(candidate + ".meta"):
                return candidate
        return os.path.join(os.fspath(base or self.settings.rootdir), ref)

    def load_model(self, ref, base: str | os.PathLike | None = None, **load_kwargs):
        """`load()` cached per session by reference and load arguments (a model loads once)."""
        from pytest_tfperf.model import load

        given = ref
        key, ref = self._cache_key(ref, base, load_kwargs)
        if key not in self._models:
            if key[0] == "path" and not os.path.isabs(os.fspath(given)) and not any(
                    os.path.exists(ref + suffix) for suffix in ("", ".meta", ".index")):
                from pytest_tfperf.errors import ModelLoadError

                raise ModelLoadError(_missing_model_message(
                    os.fspath(given), [base, self.settings.inidir, self.settings.rootdir]))
            # keep `ref` alive in the value so id() keys stay unique for the session
            model = load(ref() if key[0] == "builder" else ref, **load_kwargs)
            self._models[key] = (ref, self._configure(model))
        return self._models[key][1]

    def _cache_key(self, ref, base, load_kwargs: dict) -> tuple[tuple, Any]:
        """(the model cache's key, `ref` with a relative path resolved) for a load request."""
        if callable(ref) and not _is_model_object(ref):
            return ("builder", id(ref), _freeze(load_kwargs)), ref
        if isinstance(ref, (str, os.PathLike)):
            ref = self.resolve_path(os.fspath(ref), base)
            return ("path", ref, _freeze(load_kwargs)), ref
        return ("object", id(ref), _freeze(load_kwargs)), ref

    def _configure(self, model):
        if hasattr(model, "set_threads"):
            model.set_threads(self.settings.intra_op_threads, self.settings.inter_op_threads)
        if getattr(model, "kind", None) == "tflite":  # ini tfperf_tflite_threads / _xnnpack
            model.configure(num_threads=self.settings.tflite_threads,
                            use_xnnpack=self.settings.tflite_xnnpack)
        return model

    def first_time_summarized(self, fg) -> bool:
        """True once per model object: model rows are recorded once per session."""
        if fg in self._summarized:
            return False
        self._summarized.add(fg)
        return True

    def close(self) -> None:
        for _, model in self._models.values():
            if hasattr(model, "close"):
                model.close()
        self._models.clear()
        self.images.clear()

    # -- model and image of a test item ------------------------------------------------------
    def model_for_item(self, item):
        """The model named by the nearest tfperf_model marker, else the tfperf_model ini key."""
        ref, base, kwargs = self._model_request(item)
        return self.load_model(ref, base=base, **kwargs)

    def _model_request(self, item) -> tuple[Any, Any, dict]:
        """(ref, base folder, load kwargs) of the model `frozen_graph` loads for `item`."""
        from pytest_tfperf.errors import MarkerUsageError
        from pytest_tfperf.plugin.markers import model_marker, test_base

        marked = model_marker(item)
        if marked is not None:
            ref, kwargs = marked
            return ref, test_base(item), kwargs
        s = self.settings
        if not s.model:
            raise MarkerUsageError(
                f"{item.nodeid} uses the frozen_graph fixture but no model is configured: add "
                "@pytest.mark.tfperf_model('path/to/model.pb') to the test, or the ini key "
                "'tfperf_model = path/to/model.pb', or override the frozen_graph fixture in a conftest.")
        kwargs = {"inputs": list(s.inputs) if s.inputs else None,
                  "outputs": list(s.outputs) if s.outputs else None,
                  "input_shapes": s.input_shape}
        return s.model, s.inidir, {k: v for k, v in kwargs.items() if v}

    # -- memory: large models leave the cache after the last test that names them -----------
    def plan_model_drops(self, items, *, enabled: bool = True) -> None:
        """Remember, for each collected test in run order, which cached models later tests name.

        A model is named by a test that uses `frozen_graph` (its tfperf_model marker or the
        ini key). Under xdist (`enabled=False`) a worker does not know its next tests: nothing
        is dropped there.
        """
        from pytest_tfperf.plugin.housekeeping import DropPlan

        self._drop_plan = DropPlan.for_items(items, self._item_model_key) if enabled else None

    def _item_model_key(self, item):
        """The cache key of the model `frozen_graph` would load for `item` (None: none/unknown)."""
        from pytest_tfperf.plugin.markers import uses_markers

        if "frozen_graph" not in getattr(item, "fixturenames", ()) and not uses_markers(item):
            return None
        ref, base, kwargs = self._model_request(item)
        return self._cache_key(ref, base, kwargs)[0]

    def begin_test(self, nodeid: str) -> None:
        """Start of a test's protocol: note the process's memory (see `end_test`)."""
        from pytest_tfperf.plugin.housekeeping import rss_bytes

        self._rss_at_start = rss_bytes()

    def end_test(self, nodeid: str) -> list:
        """End of a test's protocol (fixtures torn down): drop the large cached models no later
        test names, and collect garbage when models were dropped or the test grew the process by
        more than `housekeeping.GROWTH_BYTES` (a big `tf.Graph` is freed only by a collection).
        Returns the keys of the dropped models."""
        from pytest_tfperf.plugin.housekeeping import collect_if_grown

        plan = getattr(self, "_drop_plan", None)
        dropped = []
        if plan is not None:
            for key in plan.droppable(nodeid, self._models):
                _, model = self._models.pop(key)
                if hasattr(model, "close"):
                    model.close()
                dropped.append(key)
        collect_if_grown(getattr(self, "_rss_at_start", None), force=bool(dropped))
        return dropped

    def sample_image_for_item(self, item, model):
        """The sample image fitted to `model`: marker path, else ini path, else a synthetic image."""
        return self.sample_image_and_range(item, model)[0]

    def sample_image_and_range(self, item, model):
        """(`sample_image_for_item`'s image, the value range chosen for it in words)."""
        from pytest_tfperf.inputs.images import fitted_sample_image
        from pytest_tfperf.plugin.markers import image_marker_path, test_base

        marked = image_marker_path(item)
        path = None
        if marked is not None:
            path = self.resolve_path(marked, test_base(item))
        elif self.settings.sample_image:
            path = self.resolve_path(self.settings.sample_image, self.settings.inidir)
        per_model = self.images.setdefault(model, {})  # weak keys: a dropped model frees its images
        key = (path, self.settings.preprocess)
        if key not in per_model:
            per_model[key] = fitted_sample_image(model, path, self.settings.preprocess)
        image, why = per_model[key]
        return image.copy(), why  # decoded and resized once per model and image; callers get copies

    def sample_feed_for_item(self, item, model):
        """Inputs for `model` when the test gave none (`images.sample_feed`): its sample image
        (as `sample_image_for_item`) for the image input, the input policy's arrays
        (`inputs.sample_inputs`) for every other input, or for all of them without an image input."""
        from pytest_tfperf.errors import ImageError
        from pytest_tfperf.inputs.images import image_input, sample_feed

        try:
            image_input(model)
        except ImageError:
            return sample_feed(model)
        image, why = self.sample_image_and_range(item, model)
        return sample_feed(model, image=image, image_range=why)

    # -- lifecycle ----------------------------------------------------------------------------
    def prepare_compare(self) -> None:
        """Configure time: load the baseline to compare with and parse the thresholds.

        Raises:
            BaselineError: the baseline is missing, corrupt or foreign (names the file).
            ConfigError: a bad `--tfperf-compare-fail` expression, or one without `--tfperf-compare`.
        """
        from pytest_tfperf.baseline import load_baseline, parse_thresholds
        from pytest_tfperf.history import check_history_compare
        from pytest_tfperf.errors import ConfigError

        s = self.settings
        self.thresholds = list(parse_thresholds(s.compare_fail))
        history = check_history_compare(s)  # the store readable; True: compare with it
        if s.compare is None:
            if s.compare_fail:
                raise ConfigError("--tfperf-compare-fail needs --tfperf-compare [NAME|PATH] (the run "
                                  f"to compare with). Received: --tfperf-compare-fail "
                                  f"{' '.join(s.compare_fail)} without --tfperf-compare")
            return
        if not history:  # --tfperf-compare history: judged at session end (history.judge)
            self.baseline = load_baseline(s.compare or None, s.storage)

    def finish_test(self, item, recorder, passed: bool) -> str | None:
        """End of a test's call phase: check budgets (if it passed), record what it measured.

        Returns the failure message (budgets exceeded, regressions), or None. A test that failed
        or was skipped on its own keeps its failure; its measurements are still recorded.
        """
        from pytest_tfperf.history import history_regressions
        from pytest_tfperf.plugin.markers import has_budget

        budgeted = has_budget(item)
        if recorder is None and not budgeted:
            return None
        if recorder is None and "frozen_graph" in getattr(item, "funcargs", {}):
            from pytest_tfperf.plugin.recorder import TfperfRecorder

            recorder = TfperfRecorder(self, item)
        from pytest_tfperf.plugin.gate import ItemVerdicts, check_test

        verdicts = check_test(self, item, recorder) if budgeted and passed else ItemVerdicts()
        measured = self._record_test(item, recorder, verdicts)
        from pytest_tfperf.plugin.outputs import junit_properties

        item.user_properties[:] = [p for p in item.user_properties  # a rerun's earlier attempt's
                                   if not str(p[0]).startswith("tfperf")]  # properties go (issue 21)
        item.user_properties.extend((f"tfperf_{v.marker}", v.message) for v in verdicts.all)
        item.user_properties.extend(junit_properties([r for _, r in measured]))
        if not passed or self.settings.disabled:
            return None
        failed = [v.message for v in verdicts.all if not v.passed]
        if self.baseline is not None:
            from pytest_tfperf.plugin.gate import regressions

            failed += regressions(self, item.nodeid, measured)
        else:
            failed += history_regressions(self, item)  # [] unless --tfperf-compare history
        return "\n".join(failed) or None

    def _record_test(self, item, recorder, verdicts) -> list[tuple]:
        """Add the test's measurements, model rows and verdicts to the results; returns the
        `(Measurement or None for pytest-benchmark's, MeasurementRecord)` pairs added."""
        from pytest_tfperf.plugin.gate import model_facts, models_of
        from pytest_tfperf.results.pytest_benchmark import benchmark_stats_of
        from pytest_tfperf.results.records import FailureRecord, MeasurementRecord, ModelRecord, model_identity

        results = self.results
        measured = []
        for i, m in enumerate(recorder.measurements if recorder is not None else ()):
            measured.append((m, results.add("measurement", m.record(
                item.nodeid, i, verdicts=verdicts.of(m), device=_device()))))
        if recorder is not None and self.settings.profile:
            self._profile_measured_models(recorder)
        bench = benchmark_stats_of(item)
        if bench is not None:
            from pytest_tfperf.plugin.markers import latency_budget_of
            from pytest_tfperf.results.pytest_benchmark import benchmark_options_of

            budget = latency_budget_of(item)
            measured.append((None, results.add("measurement", MeasurementRecord(
                test_id=item.nodeid, name="benchmark", stats=bench.to_dict(), verdicts=verdicts.of(None),
                device=_device(), target_kind="pytest-benchmark",
                regression=budget.regression if budget is not None else None,
                timing=benchmark_options_of(item)))))
        if self.settings.reporting or verdicts.static:
            for model in models_of(item, recorder):
                key = model_identity(model)
                mine = [v for v in verdicts.static if v.model_id == key]
                if self.first_time_summarized(model) or mine:
                    facts = model_facts(self, model, flops=self.settings.reporting)
                    results.add("model", ModelRecord(test_id=item.nodeid, verdicts=mine, **facts))
        for v in verdicts.all:
            if not v.passed:
                results.add("failure", FailureRecord(test_id=item.nodeid, marker=v.marker,
                                                     message=v.message, model_id=v.model_id))
        return measured

    def _profile_measured_models(self, recorder) -> None:
        """--tfperf-profile: benchmark_model's per-op tables for every measured model, once each."""
        from pytest_tfperf.plugin.gate import is_graph

        profiled = {r.model_id or r.model for r in self.results.profiles}
        for m in recorder.measurements:
            model, key = m.model, m.model_id
            if model is None or not is_graph(model) or key in profiled or model in self._profiled:
                continue
            self._profiled.add(model)
            profiled.add(key)
            recorder.profile(model, recorder.inputs_for(model), runs=20)

    def finish(self, config) -> None:
        """Session end: a worker ships its results; the controller compares and writes reports."""
        if self.results.is_empty() and not self.settings.reporting:
            return  # a suite that does not use tfperf pays nothing at exit
        if getattr(config, "workerinput", None) is not None:
            ship_results(config, self.results)
            return
        from pytest_tfperf.baseline import finalize
        from pytest_tfperf.baseline.compare import collect_environment
        from pytest_tfperf.history import session_end
        from pytest_tfperf.plugin.outputs import write_outputs

        record_run(self.results, config, self.started)
        # judged against (--tfperf-compare history), then appended to, the history; then the
        # compare step with a baseline (a no-op once the history judged), once per session
        collect_environment(self.results, self.settings.rootdir)  # the history keeps it too
        history_errors = session_end(self.settings, self.results)
        finalize(self.settings, self.results, self.baseline)
        write_outputs(self.settings, self.results, errors=history_errors)


def record_run(results: SessionResults, config, started: _dt.datetime) -> None:
    """Put the run's start time (ISO, UTC) and pytest command line in `results.environment`,
    where the reports read them ("started", "command"); values already there are kept."""
    import shlex

    env = results.environment
    env.setdefault("started", started.isoformat(timespec="seconds"))
    args = getattr(getattr(config, "invocation_params", None), "args", None)
    if args is not None:
        env.setdefault("command", shlex.join(["pytest", *(str(a) for a in args)]))


def ship_results(config, results: SessionResults) -> None:
    """On an xdist worker: put `results` (as plain data) in `config.workeroutput`."""
    output = getattr(config, "workeroutput", None)
    if output is not None:
        from pytest_tfperf.atomic import jsonable

        output[WORKEROUTPUT_KEY] = jsonable(results.to_dict())


def merge_worker(results: SessionResults, node) -> None:
    """On the xdist controller: merge a finished worker's results (`pytest_testnodedown`).

    A worker that crashed sends nothing; its records are simply missing.
    """
    data = (getattr(node, "workeroutput", None) or {}).get(WORKEROUTPUT_KEY)
    if isinstance(data, dict):
        results.merge(data)


@functools.lru_cache(maxsize=1)
def _device() -> str:
    """'GPU' when TensorFlow sees a GPU (sessions place work there), else 'CPU'."""
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def _is_model_object(obj) -> bool:
    mod = type(obj).__module__ or ""
    return "tensorflow" in mod or "keras" in mod or hasattr(obj, "get_concrete_function")


def _freeze(kwargs: dict) -> tuple:
    def hashable(v):
        if isinstance(v, dict):
            return tuple(sorted((k, hashable(x)) for k, x in v.items()))
        if isinstance(v, (list, tuple)):
            return tuple(hashable(x) for x in v)
        return v

    return hashable(kwargs)


def _missing_model_message(ref: str, folders) -> str:
    """A relative model path found in none of the folders tried: name each (and close matches)."""
    import difflib

    tried = list(dict.fromkeys(os.fspath(f) for f in folders if f is not None))
    near = []
    for folder in tried:
        parent = os.path.join(folder, os.path.dirname(ref))
        if os.path.isdir(parent):
            near += difflib.get_close_matches(os.path.basename(ref), os.listdir(parent), n=3, cutoff=0.7)
    hint = f" Did you mean: {', '.join(dict.fromkeys(near))}?" if near else ""
    return (f"model file {ref!r} does not exist: tried {', '.join(repr(os.path.join(f, ref)) for f in tried)} "
            f"(a relative tfperf_model path is looked up from the test file's folder, then the ini "
            f"file's, then rootdir).{hint} Fix the path or make it absolute.")

