"""`assert_faster`: interleaved block pairs on real graphs (a graph vs the same architecture with
several times the work), its messages, and the fixture form.

Ratios are large on purpose (this machine is shared: the verdict must not depend on the load).
"""
from __future__ import annotations

import numpy as np
import pytest

import pytest_tfperf
from pytest_tfperf import load
from pytest_tfperf.timing import abtest
from pytest_tfperf.model import zoo
from pytest_tfperf.errors import NotFasterError


def _graph(channels):
    fg = load(zoo.small_convnet_graph(input_size=64, channels=channels))
    fg.set_threads(1, None)
    return fg


@pytest.fixture(scope="module")
def light():
    fg = _graph((8, 16))
    fg.name = "light"
    yield fg
    fg.close()


@pytest.fixture(scope="module")
def heavy():  # 8x the channels of `light`: ~64x the multiply-adds of its second conv
    fg = _graph((64, 128))
    fg.name = "heavy"
    yield fg
    fg.close()


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).random((1, 64, 64, 3), dtype=np.float32)


def test_the_lighter_graph_is_faster(light, heavy, image):
    result = pytest_tfperf.assert_faster(light, heavy, image, by="50%")
    assert result.passed and result.verdict == "faster" and result.fresh
    assert result.speedup_low > 1.5 and result.speedup > 1.5
    assert result.candidate_fastest_ms < result.reference_fastest_ms / 1.5
    assert result.pairs >= 8 and len(result.pair_speedups) == result.pairs
    assert result.to_dict()["passed"] is True
    text = result.message()
    assert text.startswith("assert_faster: light is faster than heavy: speed-up ")
    assert "99% CI" in text and "required >= 1.50x" in text and "on fresh sessions" in text


def test_the_heavier_graph_is_not_faster(light, heavy, image):
    with pytest.raises(NotFasterError) as info:
        pytest_tfperf.assert_faster(heavy, light, image, by="10%", max_time=8)
    result = info.value.result
    assert isinstance(info.value, AssertionError)
    assert result.verdict == "not faster" and result.speedup_high < 1.10
    msg = str(info.value)
    assert "heavy is not 10% faster than light" in msg
    assert "medians " in msg and "fastest calls " in msg
    assert "speed-up 0." in msg and "CI [" in msg and "required >= 1.10x" in msg


def test_a_graph_is_not_shown_faster_than_itself(light, image):
    result = abtest.compare_speed(light, light, image, by="30%", max_time=5)
    assert not result.passed and result.verdict in ("not faster", "inconclusive")
    assert result.speedup_low < 1.30


@pytest.mark.parametrize("by", ["10", "fast", "-5%", "0.5x", 0.1])
def test_bad_by_is_a_clear_error(by, light, image):
    with pytest.raises(ValueError, match="Received: by="):
        pytest_tfperf.assert_faster(light, light, image, by=by)


def test_fixture_form_loads_models_and_uses_the_sample_image(pytester, light, heavy):
    light.save(pytester.path / "light.pb")
    heavy.save(pytester.path / "heavy.pb")
    pytester.makepyfile(test_speed="""
        def test_light_is_faster(tfperf):
            result = tfperf.assert_faster("light.pb", "heavy.pb", by="1.5x")
            assert result.candidate == "light.pb" and result.required == 1.5

        def test_heavy_is_not(tfperf):
            tfperf.assert_faster("heavy.pb", "light.pb", by="0%", max_time=5)
    """)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*NotFasterError: assert_faster: heavy.pb is not 0% faster "
                                 "than light.pb: speed-up 0.*"])
