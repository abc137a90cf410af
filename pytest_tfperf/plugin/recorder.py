"""The `tfperf` fixture: measure, compare, profile, load and summarize inside a test.

The recorder remembers what the test did (measurements, models, equivalence reports, profiles)
so budget markers can be checked at the end of the test and the session report can show it.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from pytest_tfperf.results.records import EquivalenceRecord, ProfileRecord, model_identity


class TfperfRecorder:
    """What the `tfperf` fixture gives a test.

    Example:
        @pytest.mark.latency_budget(fps=10)
        def test_realtime(tfperf, frozen_graph, sample_image):
            stats = tfperf.measure(frozen_graph, sample_image)
            assert stats.fps >= 10  # the marker checks this too, with statistics
    """

    def __init__(self, session, item):
        self._session = session
        self._item = item
        self.measurements: list[Any] = []   # one `measurement.Measurement` per measure call
        self.models: list[Any] = []         # Models the test touched
        self.last_inputs: dict[int, Any] = {}  # id(model) -> inputs last measured on

    @property
    def test_id(self) -> str:
        return self._item.nodeid

    @property
    def _base(self) -> str:
        return os.path.dirname(str(self._item.path))

    def _note_model(self, fg) -> None:
        if fg is not None and all(m is not fg for m in self.models):
            self.models.append(fg)

    # -- public API ---------------------------------------------------------------------------
    def load(self, ref, **load_kwargs):
        """`pytest_tfperf.load` with paths relative to the test file, cached for the session."""
        fg = self._session.load_model(ref, base=self._base, **load_kwargs)
        self._note_model(fg)
        return fg

    def measure(self, target, inputs=None, *, batch: int | None = None, name: str | None = None,
                warmup: int | None = None, min_time: float | None = None,
                max_time: float | None = None, min_runs: int | None = None, model=None, fed=None):
        """Time `target` (any Model, `(tf_session, fetches)`, keras.Model, tf.function, callable).

        Warm-up, adaptive sampling until the statistic is precise enough or clearly on one side
        of this test's `latency_budget`; ini/option timing defaults apply unless overridden here.
        A Model measured with no `inputs` runs on its sample image, and inputs that are not
        images on the input policy's arrays (`default_inputs`). A plain callable's row names
        `model` (a Model, or words) and `fed` (the arrays the callable feeds it) when given,
        e.g. ``measure(lambda: km.predict(x), name="keras predict", model=frozen_graph, fed=x)``;
        else the model column says "callable <name>".

        Returns:
            LatencyStats (median_ms, p90_ms, fps, 95% CIs, raw samples...).
        """
        return self._take(target, inputs, batch=batch, name=name, overrides=dict(
            warmup=warmup, min_time=min_time, max_time=max_time, min_runs=min_runs),
            model=model, fed=fed).stats

    def _take(self, target, inputs=None, *, batch: int | None = None, name: str | None = None,
             overrides: dict | None = None, model=None, fed=None):
        """`measure`, returning the whole `measurement.Measurement` (stats, resolved budget,
        settings, described inputs); the gate's declarative measurement uses it."""
        from pytest_tfperf.plugin.measurement import take

        fg = self._with_session_threads(target) if _is_model(target) else None
        generated = False
        if fg is not None and inputs is None:
            inputs, generated = self.default_inputs(fg), True
        measured = take(self._session, self._item, target, inputs, model=fg, generated=generated,
                        batch=batch, name=name, overrides=overrides, describe=self._described_inputs)
        if fg is None and (model is not None or fed is not None or not measured.model_name):
            measured = self._named(measured, target, inputs, model, fed)  # issue 21
        self.measurements.append(measured)
        if fg is not None:
            self.last_inputs[id(fg)] = inputs
        self._note_model(fg)
        return measured

    def assert_equivalent(self, reference, candidate, inputs=None, **kwargs):
        """`pytest_tfperf.assert_equivalent`, recorded for the report (passing or failing).

        Models compared with no `inputs` run on the ini `tfperf_dataset` folder when it is set
        (issue 21), else on the reference's sample image; dataset images are preprocessed as
        the sample image (`tfperf_preprocess`).
        """
        from pytest_tfperf.equivalence import NotEquivalentError, assert_equivalent

        reference = self._as_model(reference)
        candidate = self._as_model(candidate)
        self._dataset_defaults(inputs, kwargs)
        if inputs is None and kwargs.get("dataset") is None and _is_model(reference):
            inputs = self.default_inputs(reference)
        try:
            report = assert_equivalent(reference, candidate, inputs, **kwargs)
        except NotEquivalentError as exc:
            self._record_equivalence(reference, candidate, exc.report)
            raise
        self._record_equivalence(reference, candidate, report)
        return report

    def assert_faster(self, candidate, reference, inputs=None, *, by: str = "10%", **kwargs):
        """`pytest_tfperf.assert_faster`: `candidate` faster than `reference` by `by`, timed in
        interleaved block pairs (fresh sessions) in this process, with the session's thread,
        lock and CPU settings. Model references are loaded; models compared with no `inputs`
        run on the reference's sample image.

        Returns:
            The `SpeedComparison`; raises `NotFasterError` (an AssertionError) otherwise.
        """
        from pytest_tfperf.timing.abtest import assert_faster

        sides = [self._with_session_threads(self._as_model(target))
                 if isinstance(target, (str, os.PathLike)) or _is_model(target) else target
                 for target in (candidate, reference)]
        if inputs is None and _is_model(sides[1]):
            inputs = self.default_inputs(sides[1])
        kwargs.setdefault("settings", self._session.timing)
        return assert_faster(sides[0], sides[1], inputs, by=by, **kwargs)

    def _with_session_threads(self, model):
        """`model` with the ini thread counts (also for models the test loaded itself)."""
        settings = self._session.settings
        if hasattr(model, "set_threads"):
            model.set_threads(settings.intra_op_threads, settings.inter_op_threads)
        return model

    def profile(self, model, inputs=None, **kwargs):
        """Per-op profile (benchmark_model's tables) of a model; recorded for the report."""
        from pytest_tfperf.analysis.profiling import profile

        fg = self._as_model(model)
        generated = inputs is None
        if inputs is None:
            inputs = self.default_inputs(fg)
        result = profile(fg, inputs, **kwargs)
        data = result.to_dict()
        data.pop("raw_text", None)  # StatSummarizer's text can be hundreds of KB: not for reports
        data["inputs"] = list(self._described_inputs(fg, inputs, generated))
        self._session.results.add("profile", ProfileRecord(
            test_id=self.test_id, model=fg.name, model_id=model_identity(fg), profile=data))
        return result

    def summarize(self, model):
        """`pytest_tfperf.summarize` of a model (recorded as this test's model)."""
        from pytest_tfperf.analysis.summary import summarize

        fg = self._as_model(model)
        return summarize(fg)

    def to_tflite(self, model, path=None, *, quantize: str = "none", representative=None,
                  **options):
        """`pytest_tfperf.to_tflite` with the test's defaults; the TFLite model is this test's.

        Relative source paths resolve like `load`; the interpreter takes the ini keys
        `tfperf_tflite_threads` / `tfperf_tflite_xnnpack` unless `num_threads` / `use_xnnpack`
        are given. For `quantize="int8"` with no `representative`, the calibration set is
        `image_variants` of the model's sample image (marker / ini image and preprocessing).

        Returns:
            The loaded `TFLiteModel` (budgets and reports treat it like any model the test used).
        """
        from pytest_tfperf.edge import to_tflite

        fg = self._as_model(model)
        if quantize == "int8" and representative is None:
            representative = self._representative(fg)
        options.setdefault("num_threads", self._session.settings.tflite_threads)
        options.setdefault("use_xnnpack", self._session.settings.tflite_xnnpack)
        tfl = to_tflite(fg, path, quantize=quantize, representative=representative, **options)
        self._note_model(tfl)
        return tfl

    def variants(self, model, inputs=None, **kwargs):
        """`pytest_tfperf.variants` on the test's sample image; the table goes in every report.

        `inputs` default to the model's sample image; the int8 calibration set to its
        `image_variants`; TFLite threads and XNNPACK to the ini keys. Under `--tfperf-disable`
        each variant runs once (one round, no timing to speak of).

        Returns:
            VariantTable (also recorded: terminal `--tfperf-report`, JSON, Markdown, HTML).
        """
        from pytest_tfperf.edge import variants
        from pytest_tfperf.results.records import VariantsRecord

        fg = self._as_model(model)
        label = kwargs.pop("input_label", None)
        self._dataset_defaults(inputs, kwargs)
        if inputs is None:  # the SampleInputs, not default_inputs' bare array: it knows the dims it chose
            inputs = self._session.sample_feed_for_item(self._item, fg)
            label = label or self._image_label()
        settings = self._session.settings
        kwargs.setdefault("tflite_threads", settings.tflite_threads)
        kwargs.setdefault("use_xnnpack", settings.tflite_xnnpack)
        kwargs.setdefault("lock_path", settings.lock_path)
        if settings.disabled:
            kwargs.update(rounds=1, warmup=0, min_time=0.0, max_time=0.0)
        table = variants(fg, inputs, input_label=label, **kwargs)
        self._session.results.add("variants", VariantsRecord(
            test_id=self.test_id, model=fg.name, model_id=model_identity(fg),
            table=table.to_dict()))
        return table

    def sweep(self, model, inputs=None, **kwargs):
        """`pytest_tfperf.sweep` (batch x threads x concurrency) on the test's sample inputs with
        the session's timing settings (min/max time per configuration, lock, CPUs); the table goes
        in every report, and the test's `throughput_budget` reads its configuration from it.

        Returns:
            SweepResult (`.points`, `.pareto()`, `.best(p99_ms)`).
        """
        from pytest_tfperf.results.records import SweepRecord
        from pytest_tfperf.timing.sweep import sweep

        fg = self._as_model(model)
        timing = self._session.timing  # built once per session
        if timing.disabled:  # one request per configuration: a smoke test
            timing = timing.replace(warmup=0, warmup_time=0.0, min_time=0.0, max_time=1e-3, min_runs=1)
        kwargs.setdefault("settings", timing)
        result = sweep(fg, self.default_inputs(fg) if inputs is None else inputs, **kwargs)
        self._session.results.add("sweep", SweepRecord(
            test_id=self.test_id, model=fg.name, model_id=model_identity(fg), table=result.to_dict()))
        return result

    def default_inputs(self, fg):
        """What `fg` runs on when the test gave no inputs: its sample image (marker/ini image and
        preprocessing; decoded once per session) for a single-input image model, else
        `inputs.SampleInputs`: the sample image for the image input and the input policy's
        arrays for the others (`images.sample_feed`)."""
        feed = self._session.sample_feed_for_item(self._item, fg)
        if len(feed) == 1 and set(feed.sources.values()) == {"sample image"}:
            return next(iter(feed.values()))
        return feed

    def inputs_for(self, fg):
        """What the test last measured `fg` on, else its sample image (profiles, memory budget)."""
        return self.last_inputs.get(id(fg)) if id(fg) in self.last_inputs else self.default_inputs(fg)

    # -- internals ----------------------------------------------------------------------------
    def _named(self, measured, target, inputs, model, fed):
        """Issue 21: a callable's row names its model and input: the `model` it was told (a
        Model: its name and identity; words: those) else "callable <qualname>", and the
        described `fed` arrays."""
        named = self._as_model(model) if model is not None and not isinstance(model, str) else None
        if named is not None:
            label, key = named.name, model_identity(named)
        else:
            label = model if isinstance(model, str) else (
                measured.model_name or f"callable {_callable_name(target)}")
            key = None
        described = measured.inputs if fed is None else self._described_inputs(named, fed, False)
        return dataclasses.replace(measured, model=named, model_name=label, model_id=key,
                                   inputs=tuple(described))

    def _dataset_defaults(self, inputs, kwargs: dict) -> None:
        """ini `tfperf_dataset` (relative to the inifile) when the test gave neither inputs nor
        a dataset; dataset images preprocessed as the sample image."""
        settings = self._session.settings
        if inputs is None and "dataset" not in kwargs and getattr(settings, "dataset", None):
            kwargs["dataset"] = self._session.resolve_path(settings.dataset, settings.inidir)
        elif isinstance(kwargs.get("dataset"), str):  # like model paths: the test's folder first
            kwargs["dataset"] = self._session.resolve_path(kwargs["dataset"], self._base)
        if kwargs.get("dataset") is not None:
            kwargs.setdefault("preprocess", settings.preprocess)

    def _image_label(self) -> str:
        from pytest_tfperf.plugin.markers import image_marker_path

        path = image_marker_path(self._item) or self._session.settings.sample_image
        prep = self._session.settings.preprocess
        where = f"sample image {os.path.basename(path)}" if path else "synthetic sample image"
        return where + (f" ({prep} preprocess)" if prep and prep not in ("none", "auto") else "")

    def _representative(self, fg):
        """int8 calibration data: variants of the sample image, or an InputError saying why not."""
        from pytest_tfperf.edge import image_variants
        from pytest_tfperf.errors import InputError, TfperfError

        if len(getattr(fg, "inputs", ())) != 1:
            raise InputError(
                f"tfperf.to_tflite(quantize='int8'): model {fg.name} has {len(fg.inputs)} inputs; "
                "the sample image calibrates single-input image models only. Pass "
                "representative=[...] (a list or dict of arrays per sample). "
                "Received: representative=None")
        try:
            image = self._session.sample_image_for_item(self._item, fg)
        except TfperfError as exc:
            raise InputError(
                f"tfperf.to_tflite(quantize='int8'): model {fg.name} has no sample image to "
                f"calibrate on ({exc}); pass representative=[...] (input arrays). "
                "Received: representative=None") from None
        return image_variants(image)

    def _described_inputs(self, fg, inputs, generated: bool) -> tuple[dict, ...]:
        """What the call was timed on (`inputs.described.describe_inputs`); sample images handed
        out for `fg` count as tfperf's choice of its dynamic dims."""
        from pytest_tfperf.inputs.described import describe_inputs

        samples = []
        if fg is not None:
            try:
                samples = list((self._session.images.get(fg) or {}).values())  # (image, range)
            except TypeError:  # a model that cannot be weakly referenced has no cached images
                samples = []
        return describe_inputs(fg, inputs, generated=generated, samples=samples)

    def _as_model(self, model):
        if _is_model(model):
            self._note_model(model)
            return model
        return self.load(model)

    def _record_equivalence(self, reference, candidate, report) -> None:
        self._session.results.add("equivalence", EquivalenceRecord(
            test_id=self.test_id, reference=getattr(reference, "name", str(reference)),
            candidate=getattr(candidate, "name", str(candidate)),
            reference_id=model_identity(reference) if _is_model(reference) else None,
            candidate_id=model_identity(candidate) if _is_model(candidate) else None,
            report=report.to_dict()))


def _callable_name(target) -> str:
    """'test_speed.<lambda>' / 'run': what a plain callable is called."""
    return str(getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
               or type(target).__name__)


def _is_model(obj) -> bool:
    """Whether `obj` is a loaded Model (protocol) rather than a reference to load."""
    from pytest_tfperf.model import is_model  # FrozenGraph and the TFLite model both satisfy the protocol

    return is_model(obj)
