"""`pytest_tfperf.measure(model)` with no inputs times the input policy's arrays, as `profile`
and `assert_equivalent` do (issue 20, item 5)."""
from __future__ import annotations

import numpy as np
import pytest


def test_measure_a_model_without_inputs_uses_the_input_policy(small_pb, tmp_path):
    from pytest_tfperf import load, measure, sample_inputs
    from pytest_tfperf.edge import to_tflite

    fg = load(small_pb)  # input [?, 32, 32, 3]: the policy pins batch 1
    stats = measure(fg, min_time=0.05, max_time=0.2, warmup=2)
    assert stats.n >= 10 and stats.batch == 1 and stats.model == fg.name
    # the arrays it timed are the policy's: the same seed gives the same outputs
    feed = sample_inputs(fg)
    assert list(feed) == ["input_node:0"] and feed["input_node:0"].shape == (1, 32, 32, 3)
    tfl = to_tflite(fg, tmp_path / "small.tflite")
    stats = measure(tfl, min_time=0.05, max_time=0.2, warmup=2)
    assert stats.n >= 10 and stats.runtime.startswith(("ai_edge_litert", "tf.lite"))
    np.testing.assert_allclose(tfl.run(sample_inputs(tfl))[0], fg.run(feed)[0], atol=1e-4)


def test_a_plain_callable_still_gets_no_made_up_inputs():
    from pytest_tfperf import measure

    calls = []
    stats = measure(lambda: calls.append(1), min_time=0.01, max_time=0.05, warmup=1)
    assert stats.n >= 1 and calls  # f() with no argument: nothing was invented for it
    with pytest.raises(TypeError):
        measure(lambda x: x, min_time=0.01, max_time=0.05, warmup=1)
