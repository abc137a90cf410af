"""`results/records.py`: every record kind round-trips `to_dict()` -> JSON -> `from_dict()` on
values made by the real producers (timing engine, budgets, summary, profile, equivalence,
variants, the compare step), and `SessionResults` keeps them typed (`results/session.py`)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_tfperf.results.records import (
    RECORD_TYPES,
    ComparisonRecord,
    EquivalenceRecord,
    FailureRecord,
    MeasurementRecord,
    ModelRecord,
    ProfileRecord,
    SweepRecord,
    VariantsRecord,
    measurement_label,
    model_identity,
    record_from_dict,
)
from pytest_tfperf.results.session import KINDS, SessionResults


@pytest.fixture(scope="module")
def model():
    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    fg = load(zoo.small_convnet_graph(input_size=32, channels=(4, 8), seed=0))
    yield fg
    fg.close()


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def records(model, image) -> dict:
    """One record of every kind, made by the code that makes them in a run."""
    from pytest_tfperf import assert_equivalent, profile, summarize
    from pytest_tfperf.baseline import compare_runs
    from pytest_tfperf.edge import variants
    from pytest_tfperf.inputs.described import describe_inputs
    from pytest_tfperf.results.file import build_document, from_document
    from pytest_tfperf.plugin.budgets import check_latency
    from pytest_tfperf.plugin.markers import LatencyBudget
    from pytest_tfperf.timing.engine import measure
    from pytest_tfperf.timing.settings import TimingSettings

    settings = TimingSettings(warmup=2, min_time=0.05, max_time=0.2)
    stats = measure(model, image, settings=settings, budget_ms=1000.0)
    verdict = check_latency(LatencyBudget(ms=0.001), stats)  # fails: a failure record too
    measurement = MeasurementRecord(
        test_id="t.py::test_a", name=stats.name, model=model.name, model_id=model_identity(model),
        stats=stats.to_dict(), verdicts=[verdict.to_dict()], device="CPU", target_kind=model.kind,
        regression="10%", runtime=stats.runtime, inputs=describe_inputs(model, image),
        timing=settings.to_dict())
    base, new = SessionResults(), SessionResults()
    base.add("measurement", measurement)
    new.add("measurement", MeasurementRecord.from_dict(
        {**measurement.to_dict(), "stats": measure(model, image, settings=settings).to_dict()}))
    (comparison,) = compare_runs(from_document(build_document(base), "base.json"), new,
                                 ["median:10%"])
    report = assert_equivalent(model, model, image)
    prof = profile(model, image, runs=3, warmup_runs=1).to_dict()
    prof.pop("raw_text", None)
    table = variants(model, image, rows=["frozen graph", "optimized graph"], rounds=1,
                     min_time=0.01, max_time=0.05, warmup=1, debug_layers=0)
    from pytest_tfperf.timing.sweep import sweep

    swept = sweep(model, image, batch=[1], intra_threads=[1], concurrency=[1], warmup=1,
                  min_time=0.02, max_time=0.1)
    return {
        "measurement": measurement,
        "model": ModelRecord(test_id="t.py::test_a", model=model.name, model_id=model_identity(model),
                             model_kind=model.kind, runtime=model.runtime, size_bytes=model.size_bytes,
                             summary=summarize(model).to_dict(), flops=123, verdicts=[verdict.to_dict()]),
        "equivalence": EquivalenceRecord(test_id="t.py::test_a", reference=model.name,
                                         candidate=model.name, reference_id=model_identity(model),
                                         candidate_id=model_identity(model), report=report.to_dict()),
        "profile": ProfileRecord(test_id="t.py::test_a", model=model.name,
                                 model_id=model_identity(model), profile=prof),
        "failure": FailureRecord(test_id="t.py::test_a", marker=verdict.marker,
                                 message=verdict.message, model_id=model_identity(model)),
        "comparison": comparison,
        "variants": VariantsRecord(test_id="t.py::test_a", model=model.name,
                                   model_id=model_identity(model), table=table.to_dict()),
        "sweep": SweepRecord(test_id="t.py::test_a", model=model.name,
                             model_id=model_identity(model), table=swept.to_dict()),
    }


def test_every_kind_is_made_here(records):
    assert set(records) == set(RECORD_TYPES) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_through_json(records, kind):
    record = records[kind]
    assert type(record) is RECORD_TYPES[kind] and record.kind == kind
    data = json.loads(json.dumps(record.to_dict()))
    back = RECORD_TYPES[kind].from_dict(data)
    assert back == record
    assert back.to_dict() == record.to_dict()
    assert record_from_dict(kind, data) == record and record_from_dict(kind, record) is record


def test_the_real_values_survive(records):
    m = records["measurement"]
    assert m.verdicts[0]["passed"] is False and m.inputs[0]["shape"] == [1, 32, 32, 3]
    assert m.stats["n"] >= 1 and m.timing["timer"] == "perf_counter_ns"
    assert measurement_label(m) == f"t.py::test_a::{m.name}"
    c = records["comparison"]
    assert isinstance(c, ComparisonRecord)
    assert c.key == measurement_label(m) and c.enforced and c.verdict in ("ok", "noise", "improved",
                                                                          "regressed")
    assert records["model"].summary["node_count"] > 0
    assert records["profile"].profile["runs"] == 3
    assert records["equivalence"].report["passed"] is True


def test_session_results_keep_records_typed_and_replace_by_identity(records):
    results = SessionResults()
    for kind, record in records.items():
        assert results.add(kind, record.to_dict()) == record  # a dict goes in, a record comes out
    back = SessionResults.from_dict(json.loads(json.dumps(results.to_dict())))
    assert back.records == results.records
    old = results.measurements[0]
    new = results.replace("measurement", old, {**old.to_dict(), "retimed": True})
    assert results.measurements == [new] and new.retimed and isinstance(new, MeasurementRecord)
    with pytest.raises(ValueError, match="not in these results"):
        results.replace("measurement", old, new)  # `old` is gone: never a silent append
