"""`plugin/recorder.py` (the `tfperf` fixture) and the `Measurement` it keeps per measure call,
through real pytest runs on a small real graph."""
from __future__ import annotations

import pytest

TEST = '''
import numpy as np
import pytest

from pytest_tfperf import load
from pytest_tfperf.model import zoo


@pytest.fixture(scope="module")
def model():
    return load(zoo.small_convnet_graph(input_size=32, channels=(4, 8), seed=0))


@pytest.mark.latency_budget(fps=10, batch=4, percentile=90)
def test_a_measurement_is_resolved_once(tfperf, model):
    x = np.zeros((4, 32, 32, 3), np.float32)
    stats = tfperf.measure(model, x, min_time=0.02, max_time=0.2, warmup=2)
    (m,) = tfperf.measurements
    assert m.stats is stats and m.model is model and not m.generated and m.fed is x
    # the marker's batch and percentile, its limit at that batch: what sampling stopped on
    assert (m.budget.batch, m.budget.limit_ms, m.budget.percentile) == (4, 400.0, 90)
    assert (stats.batch, stats.gated_percentile) == (4, 90)
    assert (m.settings.warmup, m.settings.min_time, m.settings.max_time) == (2, 0.02, 0.2)
    assert [(d["shape"], d["source"]) for d in m.inputs] == [([4, 32, 32, 3], "given")]
    timing = m.timing
    assert timing["warmup"] == 2 and timing["intra_op_threads"] == 1  # the ini default tfperf set
    again = m.retime()  # fresh sessions, same batch, percentile and inputs
    assert (again.batch, again.gated_percentile, again.name) == (4, 90, stats.name)
    assert again.blocks[0]["fresh"] is False and all(b["fresh"] for b in again.blocks[1:])
    record = m.record("t.py::t", 0, device="CPU")
    assert record.stats == stats.to_dict() and record.inputs == m.inputs
    assert record.model_id == m.model_id and record.timing == timing and record.regression is None


def test_no_inputs_means_the_sample_image_and_no_budget(tfperf, model):
    tfperf.measure(model, min_time=0.02, max_time=0.1)
    (m,) = tfperf.measurements
    assert m.budget is None and m.generated and m.stats.gated_percentile == 50
    assert [d["source"] for d in m.inputs] == ["sample image"]
    assert tfperf.inputs_for(model) is m.fed


def test_a_callable_is_no_model(tfperf):
    stats = tfperf.measure(lambda: None, name="noop", min_time=0.01, max_time=0.05)
    (m,) = tfperf.measurements
    assert m.model is None and m.model_id is None and tfperf.models == []
    assert "intra_op_threads" not in m.timing  # tfperf set no threads on a callable
    assert m.record("t.py::t", 0).name == "noop" == stats.name
    assert m.settings == tfperf._session.timing.replace(min_time=0.01, max_time=0.05)
'''


@pytest.fixture(scope="module", autouse=True)
def _tensorflow_imported_once():
    """pytester's in-process runs drop modules first imported inside a test; TensorFlow cannot
    be imported twice in one process, so it is imported before any of them."""
    import tensorflow  # noqa: F401


def test_the_recorder_keeps_one_resolved_measurement_per_call(pytester):
    pytester.makepyfile(test_rec=TEST)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
