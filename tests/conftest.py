"""Shared, session-scoped real models for the test suite (built once per process: TF is slow to start)."""
from __future__ import annotations

import faulthandler
import os
import sys

import numpy as np
import pytest

pytest_plugins = ["pytester"]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow is imported here, once per process, and never first inside a pytester inline run:
# an inline run restores sys.modules when it ends, so a TF first imported there is dropped and
# the next `import tensorflow` aborts the process ("PyExceptionRegistry::Init() already called"),
# which xdist reports as a crashed worker (e.g. test_report_html then test_report_identity).
import tensorflow  # noqa: E402,F401


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under xdist's default `-n N` (--dist load), keep the real-world zoo's tests (test_zoo*.py)
    on one worker, so each zoo model is built once, not once per worker; every other test is
    scheduled one by one as under load. (xdist's own `xdist_group` marks have no effect with
    pytest 9: its worker sets `item._nodeid`, which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ZooTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "zoo" if nodeid.split("::")[0].rsplit("/", 1)[-1].startswith("test_zoo") else nodeid

    return ZooTogether(config, log)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def small_graph():
    """TF1 raw-op convnet (32x32x3 -> 10) with FusedBatchNorm and seed 001's `training` flag."""
    from pytest_tfperf.model import zoo

    return zoo.small_convnet_graph(fused_batch_norm=True, training_flag=True)


@pytest.fixture(scope="session")
def small_frozen(small_graph):
    from pytest_tfperf import load

    return load(small_graph, outputs=["logits_layer/BiasAdd"])


@pytest.fixture(scope="session")
def small_pb(small_frozen, model_dir):
    path = model_dir / "small.pb"
    path.write_bytes(small_frozen.graph_def.SerializeToString())
    return path


@pytest.fixture(scope="session")
def keras_cnn():
    from pytest_tfperf.model import zoo

    return zoo.keras_bn_cnn(input_size=32, filters=(8, 16))


@pytest.fixture(scope="session")
def image32():
    return np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)


HANG_LIMIT_S = 150  # far above any single test here: only a real hang reaches it


@pytest.fixture
def hang_guard():
    """A test that hangs ends the process with every thread's traceback instead of blocking CI."""
    faulthandler.dump_traceback_later(HANG_LIMIT_S, exit=True, file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()
