"""Thread settings of tfperf's TF sessions (issue 19): one intra-op thread runs inline."""
from __future__ import annotations

import numpy as np

from pytest_tfperf import load
from pytest_tfperf.model import zoo
from pytest_tfperf.model.frozen import INLINE, session_threads
from pytest_tfperf.timing import clocks


def test_one_intra_op_thread_runs_inline_unless_a_pool_is_asked_for():
    assert session_threads(1, None) == (1, INLINE) == (1, -1)
    assert session_threads(1, 0) == (1, INLINE)
    assert session_threads(1, 3) == (1, 3)
    assert session_threads(2, None) == (2, 0)  # TensorFlow's default inter-op pool
    assert session_threads(None, None) == (0, 0)


def test_session_config_and_clock_family_follow_the_settings():
    fg = load(zoo.small_convnet_graph(input_size=16, channels=(4, 8)), outputs=["logits_layer/BiasAdd"])
    try:
        fg.set_threads(1, None)
        config = fg.session_config()
        assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (1, -1)
        assert clocks.runtime_family("frozen_graph", fg) == ("tensorflow", 1)
        assert fg.session_config(intra_op=4).inter_op_parallelism_threads == 0  # sweeps
        out = fg.make_callable(np.zeros((1, 16, 16, 3), np.float32))()
        assert np.asarray(out[0]).shape == (1, 10)  # inline execution runs the graph
        fg.set_threads(1, 4)  # a pool: independent ops side by side, CPU time is not latency
        assert fg.session_config().inter_op_parallelism_threads == 4
        assert clocks.runtime_family("frozen_graph", fg) == ("tensorflow", None)
        assert clocks.judged_clock("auto", *clocks.runtime_family("frozen_graph", fg))[0] == "wall"
    finally:
        fg.close()
