"""`plugin/options.py`: the one table of options and ini keys read into a checked `Settings`."""
from __future__ import annotations

import pytest

from pytest_tfperf.errors import ConfigError
from pytest_tfperf.plugin.options import (
    OPTIONS,
    Settings,
    check_output_path,
    parse_input_shape,
    rel_path,
    settings_from_config,
)
from pytest_tfperf.timing.settings import TimingSettings


def _settings(pytester, *args, ini: str = ""):
    if ini:
        pytester.makeini("[pytest]\n" + ini)
    return settings_from_config(pytester.parseconfig(*args))


def test_defaults_are_the_engines(pytester):
    s = _settings(pytester)
    assert s == Settings(rootdir=s.rootdir, inidir=s.inidir)
    assert s.intra_op_threads == 1 and s.budget_scale == 1.0 and not s.reporting
    assert s.timing_settings() == TimingSettings()


def test_the_option_wins_over_the_ini_key(pytester):
    s = _settings(pytester, "--tfperf-warmup", "7", "--tfperf-budget-scale", "2",
                  ini="tfperf_warmup = 3\ntfperf_min_time = 0.05\ntfperf_budget_scale = 4\n"
                      "tfperf_intra_op_threads = 0\ntfperf_input_shape = 1,8,8,3")
    assert s.warmup == 7 and s.min_time == 0.05 and s.budget_scale == 2.0
    assert s.intra_op_threads is None  # 0: TensorFlow's own choice
    assert s.input_shape == parse_input_shape("1,8,8,3")
    timing = s.timing_settings()
    assert (timing.warmup, timing.min_time, timing.max_time) == (7, 0.05, TimingSettings().max_time)


@pytest.mark.parametrize("args, ini, needle", [
    (("--tfperf-budget-scale", "0"), "", "budget"),
    ((), "tfperf_warmup = many", "tfperf_warmup"),
    (("--tfperf-min-time", "2", "--tfperf-max-time", "1"), "", "below min time"),
    (("--tfperf-compare-noise", "150"), "", "below 100"),
])
def test_bad_values_are_config_errors_naming_the_key(pytester, args, ini, needle):
    with pytest.raises(ConfigError, match=needle):
        _settings(pytester, *args, ini=ini)


def test_reporting_and_comparing(pytester):
    s = _settings(pytester, "--tfperf-json", "out/r.json", "--tfperf-compare")
    assert s.json_path == "out/r.json" and s.compare == "latest" and s.comparing and s.reporting
    assert str(s.storage).endswith(".tfperf")


def test_output_paths_that_can_never_be_written(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a directory"):
        check_output_path("--tfperf-json", str(tmp_path))
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        check_output_path("--tfperf-json", str(tmp_path / "file" / "r.json"))
    check_output_path("--tfperf-json", str(tmp_path / "new" / "r.json"))  # made when written


def test_every_option_has_a_flag_or_an_ini_key_and_a_settings_field():
    fields = set(Settings.__dataclass_fields__)
    for o in OPTIONS:
        assert o.flag or o.ini, o
        assert o.field in fields, o


def test_rel_path(tmp_path):
    assert rel_path(str(tmp_path / "m" / "a.pb"), tmp_path) == "m/a.pb"
    assert rel_path("/elsewhere/a.pb", tmp_path) == "/elsewhere/a.pb"
