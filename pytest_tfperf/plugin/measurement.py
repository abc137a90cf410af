"""One `Measurement` per `tfperf.measure` call: what was timed, under which budget and settings.

`take` resolves everything a measurement needs once: the test's parsed `latency_budget` (read
from the item's marker cache), the batch, the limit (`budgets.resolve_latency`, whose `limit_ms`
is both the timing engine's stopping rule and, in `gate`, the verdict), the timing settings
with the call's overrides. The gate, the session's record builder and the regression
confirmation read the `Measurement`; nothing re-derives it. Importing this module does not
import TensorFlow or NumPy.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from pytest_tfperf.plugin import budgets
from pytest_tfperf.plugin.markers import latency_budget_of
from pytest_tfperf.results.records import MeasurementRecord, model_identity

__all__ = ["Measurement", "take"]


@dataclasses.dataclass(frozen=True, eq=False)
class Measurement:
    """One `tfperf.measure` call, resolved once.

    Attributes:
        stats: the `LatencyStats` of the timed calls.
        model: the `Model` measured, or None (a session pair, a Keras model, a callable).
        budget: the test's `latency_budget` resolved at this measurement's batch and budget
            scale (`budgets.ResolvedLatency`), or None without a latency budget.
        settings: the `TimingSettings` it ran under (the call's overrides applied).
        timing: `settings.to_dict()` plus the thread counts tfperf set on the model: the record's.
        inputs: the fed inputs, described (`inputs.described.describe_inputs`).
        fed: the inputs as fed (re-timing, the memory budget, profiles run on them).
        generated: whether tfperf chose `fed` (the test gave no inputs).
        target: what was timed (re-timing times it again).
        model_name, model_id: the model's name (else the target's label) and identity.
        regression: the test's `latency_budget(regression=...)`, or None.
    """

    stats: Any
    model: Any
    budget: budgets.ResolvedLatency | None
    settings: Any
    timing: dict
    inputs: tuple[dict, ...]
    fed: Any = dataclasses.field(repr=False)
    generated: bool = False
    target: Any = dataclasses.field(default=None, repr=False)
    model_name: str | None = None
    model_id: str | None = None
    regression: str | None = None

    def retime(self):
        """Time the same target on the same inputs again, each block on a fresh runner (new TF
        session), with no budget stop: the confirmation of a baseline regression."""
        from pytest_tfperf.timing.engine import measure

        return measure(self.target, self.fed, batch=self.stats.batch, name=self.stats.name,
                       percentile=self.budget.percentile if self.budget else 50,
                       settings=self.settings.replace(fresh_blocks=True))

    def record(self, test_id: str, index: int, verdicts=(), device: str | None = None
               ) -> MeasurementRecord:
        """Its `MeasurementRecord` (`index`: its place among the test's measurements, the name
        of a measurement whose target has none)."""
        return MeasurementRecord(
            test_id=test_id, name=self.stats.name or f"measure[{index}]", model=self.model_name,
            model_id=self.model_id, stats=self.stats.to_dict(), verdicts=verdicts, device=device,
            target_kind=getattr(self.model, "kind", None), regression=self.regression,
            runtime=getattr(self.stats, "runtime", None) or None, inputs=self.inputs,
            timing=self.timing)


def take(session, item, target, inputs, *, model=None, generated: bool = False,
         batch: int | None = None, name: str | None = None, overrides: dict | None = None,
         describe=None) -> Measurement:
    """Measure `target` on `inputs` for the test `item` and return the resolved `Measurement`.

    Args:
        session: the plugin's `TfperfSession` (settings, timing settings, results).
        item: the test item (its `latency_budget`, parsed once per test).
        target, inputs: what to time and on what (`timing.engine.measure`).
        model: the `Model` behind `target`, or None.
        generated: whether tfperf chose `inputs`.
        batch: inputs per call; default the marker's `batch`, else the inputs' leading dim.
        name: the measurement's label (default: the target's).
        overrides: `warmup`, `min_time`, `max_time`, `min_runs` for this call (None: settings').
        describe: `(model, inputs, generated) -> described inputs` (the recorder's).
    """
    from pytest_tfperf.timing.engine import infer_batch, measure
    from pytest_tfperf.timing.reference import ensure_reference

    marker = latency_budget_of(item)
    if batch is None:
        batch = marker.batch if marker is not None and marker.batch else infer_batch(inputs)
    budget = budgets.resolve_latency(marker, batch, session.settings.budget_scale) if marker else None
    ensure_reference(session)  # once per session, when results are stored or compared
    settings = session.timing.replace(**(overrides or {}))
    stats = measure(target, inputs, batch=batch, name=name, settings=settings,
                    budget_ms=budget.limit_ms if budget else None,
                    percentile=budget.percentile if budget else 50)
    timing = settings.to_dict()
    if model is not None and hasattr(model, "set_threads"):  # threads tfperf set on the session
        timing.update(intra_op_threads=session.settings.intra_op_threads,
                      inter_op_threads=session.settings.inter_op_threads)
    described = tuple(describe(model, inputs, generated)) if describe is not None else ()
    return Measurement(stats=stats, model=model, budget=budget, settings=settings, timing=timing,
                       inputs=described, fed=inputs, generated=generated, target=target,
                       model_name=model.name if model is not None else stats.model,
                       model_id=model_identity(model), regression=budget.regression if budget else None)
