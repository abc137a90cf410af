"""Options of the noise work (issue 12): CPU pinning, the comparison floor, normalisation,
blocks; checked at start-up with a clear error."""
from __future__ import annotations

import os

import pytest

from pytest_tfperf.timing.affinity import pinned
from pytest_tfperf.errors import ConfigError
from pytest_tfperf.plugin.options import parse_cpus
from pytest_tfperf.timing.engine import measure
from pytest_tfperf.timing.settings import TimingSettings

needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")


@needs_affinity
def test_pinned_pins_every_thread_and_restores_the_mask():
    import threading

    before = os.sched_getaffinity(0)
    cpu = min(before)
    seen = {}
    with pinned([cpu]):
        assert os.sched_getaffinity(0) == {cpu}
        worker = threading.Thread(target=lambda: seen.update(mask=os.sched_getaffinity(0)))
        worker.start()
        worker.join()
    assert seen["mask"] == {cpu}  # a thread started inside inherits the pin
    assert os.sched_getaffinity(0) == before
    with pinned(None):
        assert os.sched_getaffinity(0) == before


@needs_affinity
def test_measure_pins_while_timing():
    cpu = min(os.sched_getaffinity(0))
    masks = []
    stats = measure(lambda: masks.append(os.sched_getaffinity(0)),
                    settings=TimingSettings(min_time=0.01, max_time=0.05, cpus=(cpu,)))
    assert stats.n > 0 and masks[-1] == {cpu}
    assert os.sched_getaffinity(0) != {cpu} or len(os.sched_getaffinity(0)) == 1


@needs_affinity
def test_parse_cpus():
    cpu = min(os.sched_getaffinity(0))
    assert parse_cpus([str(cpu)]) == (cpu,)
    assert parse_cpus([f"{cpu}-{cpu}"]) == (cpu,)
    with pytest.raises(ConfigError, match="CPU numbers or ranges.*Received: tfperf_cpus='x'"):
        parse_cpus(["x"])
    with pytest.raises(ConfigError, match="cannot use: \\[4096\\]"):
        parse_cpus(["4096"])


@pytest.mark.parametrize("args, needle", [
    (("-o", "tfperf_cpus=4096"), "tfperf_cpus names CPUs this process cannot use"),
    (("--tfperf-compare-noise", "150"), "percentage below 100"),
    (("-o", "tfperf_fresh_blocks=2"), "tfperf_fresh_blocks must be true or false"),
    (("-o", "tfperf_blocks=0"), "tfperf_blocks must be >= 1"),
])
def test_bad_noise_options_are_usage_errors(pytester, args, needle):
    pytester.makepyfile(test_x="def test_never_runs():\n    raise AssertionError('ran')\n")
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text[-1500:]
    assert needle in text and "INTERNALERROR" not in text


def test_noise_options_reach_the_settings(pytester):
    pytester.makeini("[pytest]\ntfperf_blocks = 4\n"
                     "tfperf_fresh_blocks = yes\ntfperf_compare_noise = 2.5\n")
    config = pytester.parseconfigure("--tfperf-normalize")
    from pytest_tfperf.plugin.options import settings_from_config

    s = settings_from_config(config)
    assert (s.normalize, s.blocks, s.fresh_blocks, s.compare_noise) == (True, 4, True, 2.5)
    t = s.timing_settings()
    assert (t.blocks, t.fresh_blocks, t.cpus) == (4, True, None)
    from pytest_tfperf.baseline import compare_options

    assert compare_options(s) == {"run_noise": 0.025, "normalize": True}


def test_blocks_cut_the_reported_calls_at_no_cost():
    stats = measure(lambda: None, settings=TimingSettings(min_time=0.02, max_time=0.2))
    assert len(stats.blocks) == 8 and sum(b["n"] for b in stats.blocks) == stats.n
    assert not any(b["fresh"] for b in stats.blocks)
    few = measure(lambda: None, settings=TimingSettings(min_time=0.0, min_runs=12, warmup=1,
                                                        warmup_time=0.0, precision=1.0))
    assert len(few.blocks) == min(8, max(1, few.n // 5)) < 8  # blocks of >= 5 calls


def test_fresh_blocks_time_each_block_on_a_new_session(small_frozen, image32, monkeypatch):
    made = []
    original = type(small_frozen).new_session

    def counting(self):
        made.append(1)
        return original(self)
    monkeypatch.setattr(type(small_frozen), "new_session", counting)
    feeds = {"input_node:0": image32, "training:0": False}
    stats = measure(small_frozen, feeds, settings=TimingSettings(
        min_time=0.08, max_time=2.0, blocks=4, fresh_blocks=True, precision=0.5))
    assert len(stats.blocks) >= 4 and sum(b["n"] for b in stats.blocks) == stats.n
    assert [b["fresh"] for b in stats.blocks] == [False] + [True] * (len(stats.blocks) - 1)
    assert len(made) == len(stats.blocks) - 1


def test_the_plugin_gives_every_session_its_own_thread_pool(pytester, monkeypatch):
    """TF sizes one process-wide intra-op pool from the first session; the plugin asks for
    per-session pools before anything imports TensorFlow (pytest_addoption, before conftests),
    so tfperf's one-thread sessions stay one-thread whatever session came first
    (bench/RESULTS.md, issue 12). A value the user set is kept."""
    pytester.makeconftest("""
        import os
        SEEN = os.environ.get("TF_OVERRIDE_GLOBAL_THREADPOOL")  # a conftest loads after addoption
    """)
    pytester.makepyfile(test_env="""
        import os, sys
        import conftest

        def test_env():
            assert "tensorflow" not in sys.modules
            assert conftest.SEEN == os.environ["EXPECTED"]
    """)
    monkeypatch.delenv("TF_OVERRIDE_GLOBAL_THREADPOOL", raising=False)
    monkeypatch.setenv("EXPECTED", "1")
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=1)
    monkeypatch.setenv("TF_OVERRIDE_GLOBAL_THREADPOOL", "0")
    monkeypatch.setenv("EXPECTED", "0")
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=1)
