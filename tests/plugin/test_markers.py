"""The markers' table, their arguments parsed into budgets, and the per-item parse cache."""
from __future__ import annotations

import json

import pytest

from pytest_tfperf.errors import MarkerUsageError
from pytest_tfperf.plugin import markers
from pytest_tfperf.plugin.markers import (
    FlopsBudget,
    LatencyBudget,
    MemoryBudget,
    ParamBudget,
    SizeBudget,
    parse_count,
    parse_flops_budget,
    parse_latency_budget,
    parse_mark,
    parse_megabytes,
    parse_memory_budget,
    parse_param_budget,
    parse_size_budget,
)

TEST_ID = "tests/test_model.py::test_speed"


# --- parse_count / parse_megabytes -----------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (62_378_344, 62_378_344),
    ("62_378_344", 62_378_344),
    ("62,378,344", 62_378_344),
    ("12,000", 12_000),
    ("62.4M", 62_400_000),
    ("62.4m", 62_400_000),
    ("1.5G", 1_500_000_000),
    ("800k", 800_000),
    ("800K", 800_000),
    (" 3 M ", 3_000_000),
    ("2T", 2_000_000_000_000),
    ("1e6", 1_000_000),
    (1.5e9, 1_500_000_000),
    ("1.2345678M", 1_234_568),
])
def test_parse_count(value, expected):
    assert parse_count(value, what="max") == expected


@pytest.mark.parametrize("value", ["abc", "62.4X", "", "1.2.3M", "M", -5, 0, "0", "-1k", True,
                                   None, [1], float("nan"), float("inf")])
def test_parse_count_rejects(value):
    with pytest.raises(MarkerUsageError) as info:
        parse_count(value, what="max")
    assert str(info.value).endswith(f"Received: max={value!r}")
    assert "62.4M" in str(info.value)  # says what would work


@pytest.mark.parametrize("value, expected", [
    (25, 25.0), (1.5, 1.5), ("25", 25.0), ("25MB", 25.0), ("25 mb", 25.0), ("1.5GB", 1500.0),
    ("800KB", 0.8), ("512MiB", 512 * 1024**2 / 1e6), ("1,500 MB", 1500.0),
])
def test_parse_megabytes(value, expected):
    assert parse_megabytes(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["25 parsecs", "MB", 0, -1, "-3MB", False, None])
def test_parse_megabytes_rejects(value):
    with pytest.raises(MarkerUsageError, match=r"Received: mb="):
        parse_megabytes(value)


# --- latency_budget --------------------------------------------------------------------------

def test_latency_budget_ms_positional_and_keyword():
    assert parse_latency_budget((100,), {}, test_id=TEST_ID) == LatencyBudget(ms=100.0)
    b = parse_latency_budget((), {"ms": 50, "percentile": 90}, test_id=TEST_ID)
    assert b.limit_ms == 50.0 and b.percentile == 90.0 and b.batch is None
    assert parse_latency_budget((), {"ms": 5, "percentile": "p99"}, test_id=TEST_ID).percentile == 99


def test_latency_budget_fps_converts_with_batch():
    b = parse_latency_budget((), {"fps": 10}, test_id=TEST_ID)
    assert b.limit_ms == pytest.approx(100.0)
    b = parse_latency_budget((), {"fps": 200, "batch": 8, "regression": "median:10%"},
                             test_id=TEST_ID)
    assert b.limit_ms == pytest.approx(40.0)
    assert b.regression == "median:10%"
    assert json.loads(json.dumps(b.to_dict()))["limit_ms"] == pytest.approx(40.0)


@pytest.mark.parametrize("args, kwargs, arg_text, problem", [
    ((), {}, "ms=None, fps=None", "exactly one of ms"),
    ((100,), {"fps": 10}, "ms=100, fps=10", "both ms and fps"),
    ((0,), {}, "ms=0", "'ms' must be a positive number"),
    ((-5,), {}, "ms=-5", "'ms' must be a positive number"),
    (("100",), {}, "ms='100'", "'ms' must be a positive number"),
    ((), {"fps": float("nan")}, "fps=nan", "'fps' must be a positive number"),
    ((True,), {}, "ms=True", "'ms' must be a positive number"),
    ((100,), {"percentile": 100}, "percentile=100", "strictly between 0 and 100"),
    ((100,), {"percentile": 0}, "percentile=0", "strictly between 0 and 100"),
    ((100,), {"percentile": "median"}, "percentile='median'", "strictly between 0 and 100"),
    ((100,), {"batch": 0}, "batch=0", "'batch' must be a positive int"),
    ((100,), {"batch": 2.5}, "batch=2.5", "'batch' must be a positive int"),
    ((100,), {"regression": "ten percent"}, "regression='ten percent'", "'10%'"),
    ((100,), {"percentil": 90}, "percentil=90", "did you mean 'percentile'"),
    ((100,), {"ms": 100}, "ms=100", "both by position and by keyword"),
    ((100, 90), {}, "args=(100, 90)", "too many positional arguments"),
])
def test_latency_budget_usage_errors(args, kwargs, arg_text, problem):
    with pytest.raises(MarkerUsageError) as info:
        parse_latency_budget(args, kwargs, test_id=TEST_ID)
    msg = str(info.value)
    assert msg.startswith(f"{TEST_ID}: @pytest.mark.latency_budget: ")
    assert problem in msg
    assert msg.endswith(f"Received: {arg_text}")


# --- count / size budgets --------------------------------------------------------------------

def test_count_and_size_budgets_parse():
    assert parse_param_budget(("62.4M",), {}, test_id=TEST_ID) == ParamBudget(62_400_000)
    assert parse_param_budget((), {"max": 10, "kind": "trainable"},
                              test_id=TEST_ID).kind == "trainable"
    assert parse_flops_budget(("1.5G",), {}, test_id=TEST_ID).max == 1_500_000_000
    assert parse_size_budget(("25MB",), {}, test_id=TEST_ID) == SizeBudget(25.0)
    assert parse_memory_budget((), {"mb": "1GB"}, test_id=TEST_ID) == MemoryBudget(1000.0)


@pytest.mark.parametrize("parser, marker, args, kwargs, problem, received", [
    (parse_param_budget, "param_budget", (), {}, "missing required argument 'max'", "max=None"),
    (parse_param_budget, "param_budget", ("lots",), {}, "max must be a positive count",
     "max='lots'"),
    (parse_param_budget, "param_budget", (10,), {"kind": "bias"}, "'kind' must be 'weights'",
     "kind='bias'"),
    (parse_param_budget, "param_budget", (10, "weights"), {}, "too many positional",
     "args=(10, 'weights')"),
    (parse_flops_budget, "flops_budget", (), {"max": "1.5X"}, "max must be a positive count",
     "max='1.5X'"),
    (parse_flops_budget, "flops_budget", (), {"maximum": 5}, "did you mean 'max'",
     "maximum=5"),
    (parse_size_budget, "size_budget", (-1,), {}, "mb must be a positive size", "mb=-1"),
    (parse_size_budget, "size_budget", (), {}, "missing required argument 'mb'", "mb=None"),
    (parse_memory_budget, "memory_budget", ("big",), {}, "mb must be a positive size",
     "mb='big'"),
    (parse_memory_budget, "memory_budget", (), {"megabytes": 5}, "unknown argument",
     "megabytes=5"),
])
def test_count_budget_usage_errors(parser, marker, args, kwargs, problem, received):
    with pytest.raises(MarkerUsageError) as info:
        parser(args, kwargs, test_id=TEST_ID)
    msg = str(info.value)
    assert msg.startswith(f"{TEST_ID}: @pytest.mark.{marker}: ")
    assert problem in msg
    assert msg.endswith(f"Received: {received}")


def test_parse_mark_dispatches_on_a_real_pytest_mark():
    mark = pytest.mark.latency_budget(fps=30, batch=2).mark
    assert parse_mark(mark, test_id=TEST_ID) == LatencyBudget(fps=30.0, batch=2)
    mark = pytest.mark.param_budget("1M", kind="trainable").mark
    assert parse_mark(mark, test_id=TEST_ID) == ParamBudget(1_000_000, "trainable")


def test_marker_parsing_does_not_import_numpy():
    # the plugin parses budget markers at collection time: keep it cheap
    import subprocess
    import sys

    code = ("import sys, pytest_tfperf.plugin.markers as b; "
            "b.parse_latency_budget((5,), {}, test_id='t'); "
            "assert 'numpy' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)

ITEMS = """
    import pytest

    @pytest.mark.latency_budget(fps=30, batch=2, regression=" 10% ")
    @pytest.mark.param_budget("1M")
    @pytest.mark.tfperf_model("models/a.pb", input_shapes=[[1, 8, 8, 3]])
    @pytest.mark.tfperf_sample_image("images/face.jpg")
    def test_marked(): pass

    def test_plain(): pass

    @pytest.mark.latency_budget(ms=-1)
    def test_bad(): pass

    @pytest.mark.tfperf_model("a.pb", unknown_kw=1)
    def test_bad_model(): pass
"""


def test_budgets_of_an_item_are_parsed_once_and_cached(pytester, monkeypatch):
    marked, plain, bad, _ = pytester.getitems(ITEMS)
    calls = []
    real = markers.parse_mark

    def counting(mark, *, test_id):
        calls.append(mark.name)
        return real(mark, test_id=test_id)
    monkeypatch.setattr(markers, "parse_mark", counting)
    first = markers.parsed_budgets(marked)
    assert first == {"latency_budget": LatencyBudget(fps=30.0, batch=2, regression="10%"),
                     "param_budget": ParamBudget(1_000_000)}
    assert markers.parsed_budgets(marked) is first and markers.latency_budget_of(marked) \
        is first["latency_budget"]
    markers.check_markers(marked)
    assert sorted(calls) == ["latency_budget", "param_budget"]  # once each, for every reader
    assert markers.parsed_budgets(plain) == {} and markers.latency_budget_of(plain) is None
    assert markers.has_budget(marked) and not markers.has_budget(plain)
    assert markers.uses_markers(marked) and not markers.uses_markers(plain)
    with pytest.raises(MarkerUsageError, match=r"test_bad: @pytest.mark.latency_budget: 'ms' must "
                                               r"be a positive number.*Received: ms=-1"):
        markers.check_markers(bad)


def test_model_and_image_markers(pytester):
    marked, plain, _, bad_model = pytester.getitems(ITEMS)
    assert markers.model_marker(marked) == ("models/a.pb", {"input_shapes": [[1, 8, 8, 3]]})
    assert markers.model_marker(plain) is None
    assert markers.image_marker_path(marked) == "images/face.jpg"
    assert markers.image_marker_path(plain) is None
    assert markers.test_base(marked) == str(pytester.path)
    with pytest.raises(MarkerUsageError, match="unknown: unknown_kw"):
        markers.check_markers(bad_model)


def test_every_marker_is_registered_for_strict_markers(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.latency_budget(ms=1000)
        @pytest.mark.flops_budget("1G")
        @pytest.mark.size_budget(10)
        @pytest.mark.memory_budget(10)
        def test_x(): pass
    """)
    result = pytester.runpytest("--strict-markers", "--collect-only", "-q")
    assert result.ret == 0 and "1 test collected" in result.stdout.str()
    lines = pytester.runpytest("--markers").stdout.str()
    for name in markers.MARKERS:
        assert f"@pytest.mark.{name}(" in lines


def test_budget_to_dict_says_its_limit():
    assert LatencyBudget(fps=10, batch=4).to_dict()["limit_ms"] == 400.0
    assert FlopsBudget(10).to_dict() == {"max": 10}
    assert SizeBudget(2.5).to_dict() == MemoryBudget(2.5).to_dict() == {"mb": 2.5}
