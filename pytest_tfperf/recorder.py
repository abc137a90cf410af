"""The `tfperf` fixture: measure, compare, profile, load and summarize inside a test.

The recorder remembers what the test did (measurements, models, equivalence reports, profiles)
so budget markers can be checked at the end of the test and the session report can show it.
"""
from __future__ import annotations

import functools
import os
from typing import Any

from .records import EquivalenceRecord, ProfileRecord, model_identity


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
        self.measurements: list[tuple[Any, Any]] = []   # (LatencyStats, the Model measured or None)
        self.retimers: list[Any] = []                    # per measurement: re-time it (confirm.py)
        self.models: list[Any] = []                      # Models the test touched
        self.last_inputs: dict[int, Any] = {}            # id(model) -> inputs last measured on

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
                max_time: float | None = None, min_runs: int | None = None):
        """Time `target` (any Model, `(tf_session, fetches)`, keras.Model, tf.function, callable).

        Warm-up, adaptive sampling until the statistic is precise enough or clearly on one side
        of this test's `latency_budget`; ini/option timing defaults apply unless overridden here.
        A Model measured with no `inputs` runs on its sample image.

        Returns:
            LatencyStats (median_ms, p90_ms, fps, 95% CIs, raw samples...).
        """
        from .markers import latency_budget_of
        from .timing import measure

        fg = target if _is_model(target) else None
        if fg is not None:
            settings = self._session.settings  # ini thread counts, also for models the test loaded
            if hasattr(fg, "set_threads"):
                fg.set_threads(settings.intra_op_threads, settings.inter_op_threads)
            if inputs is None:
                inputs = self.default_inputs(fg)
        from .timing import infer_batch

        budget = latency_budget_of(self._item)
        if batch is None and budget is not None and budget.batch is not None:
            batch = budget.batch
        runs_batch = batch if batch is not None else infer_batch(inputs)
        budget_ms = (budget.limit_ms_at(runs_batch) * self._session.settings.budget_scale
                     if budget else None)
        from .reference import ensure_reference

        ensure_reference(self._session)  # once per session, when results are stored or compared
        stats = measure(target, inputs, batch=batch, name=name, warmup=warmup, min_time=min_time,
                        max_time=max_time, min_runs=min_runs, budget_ms=budget_ms,
                        percentile=budget.percentile if budget else 50,
                        settings=self._session.settings.timing_settings())
        self.measurements.append((stats, fg))
        if fg is not None:
            self.last_inputs[id(fg)] = inputs
        self._note_model(fg)
        self.retimers.append(functools.partial(  # confirm.py: fresh sessions, no budget stop
            measure, target, inputs, batch=batch, name=name, warmup=warmup, min_time=min_time,
            max_time=max_time, min_runs=min_runs, percentile=budget.percentile if budget else 50,
            settings=self._session.settings.timing_settings().replace(fresh_blocks=True)))
        return stats

    def assert_equivalent(self, reference, candidate, inputs=None, **kwargs):
        """`pytest_tfperf.assert_equivalent`, recorded for the report (passing or failing).

        Models compared with no `inputs` run on the reference's sample image.
        """
        from .equivalence import NotEquivalentError, assert_equivalent

        reference = self._as_model(reference)
        candidate = self._as_model(candidate)
        if inputs is None and _is_model(reference):
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
        from .abtest import assert_faster

        settings = self._session.settings
        sides = []
        for target in (candidate, reference):
            if isinstance(target, (str, os.PathLike)) or _is_model(target):
                target = self._as_model(target)
                if hasattr(target, "set_threads"):
                    target.set_threads(settings.intra_op_threads, settings.inter_op_threads)
            sides.append(target)
        if inputs is None and _is_model(sides[1]):
            inputs = self.default_inputs(sides[1])
        kwargs.setdefault("settings", settings.timing_settings())
        return assert_faster(sides[0], sides[1], inputs, by=by, **kwargs)

    def profile(self, model, inputs=None, **kwargs):
        """Per-op profile (benchmark_model's tables) of a model; recorded for the report."""
        from .profiling import profile

        fg = self._as_model(model)
        if inputs is None:
            inputs = self.default_inputs(fg)
        result = profile(fg, inputs, **kwargs)
        data = result.to_dict()
        data.pop("raw_text", None)  # StatSummarizer's text can be hundreds of KB: not for reports
        self._session.results.add("profile", ProfileRecord(
            test_id=self.test_id, model=fg.name, model_id=model_identity(fg), profile=data))
        return result

    def summarize(self, model):
        """`pytest_tfperf.summarize` of a model (recorded as this test's model)."""
        from .summary import summarize

        fg = self._as_model(model)
        return summarize(fg)

    def default_inputs(self, fg):
        """The sample image for `fg` (marker/ini image and preprocessing; decoded once per session)."""
        return self._session.sample_image_for_item(self._item, fg)

    def inputs_for(self, fg):
        """What the test last measured `fg` on, else its sample image (profiles, memory budget)."""
        return self.last_inputs.get(id(fg)) if id(fg) in self.last_inputs else self.default_inputs(fg)

    # -- internals ----------------------------------------------------------------------------
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


def _is_model(obj) -> bool:
    """Whether `obj` is a loaded Model (protocol) rather than a reference to load."""
    from .model import is_model  # FrozenGraph and the TFLite model both satisfy the protocol

    return is_model(obj)
