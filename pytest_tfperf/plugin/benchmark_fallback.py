"""No unchecked budget on pytest-benchmark's `benchmark` fixture (issue 21).

Under xdist (`-n 2`, which the README recommends) or `--benchmark-disable`, pytest-benchmark
turns itself off: its fixture runs the function once and records nothing, and a
`latency_budget` on it had nothing to check. When a test has a `latency_budget` and uses a
disabled `benchmark` fixture, `wrap(item, recorder)` puts `TfperfBenchmark` in its place before
the call: it runs the function as pytest-benchmark would (returning its result) and times it with
`tfperf.measure`, so the budget is judged on tfperf's own measurement, which says why
("timed by tfperf: pytest-benchmark is disabled under xdist").
"""
from __future__ import annotations

from typing import Any

__all__ = ["TfperfBenchmark", "wrap"]


class TfperfBenchmark:
    """Stands in for a disabled `BenchmarkFixture`: `benchmark(fn, *a, **k)` and
    `benchmark.pedantic(...)` time `fn` with tfperf; other attributes are the fixture's."""

    def __init__(self, fixture: Any, recorder: Any, why: str) -> None:
        self.fixture = fixture
        self._recorder = recorder
        self.why = why
        self.used = False

    def __getattr__(self, name: str) -> Any:
        if name == "stats":
            return None  # nothing recorded by pytest-benchmark: tfperf's measurement is the row
        return getattr(self.fixture, name)

    def _time(self, function, args, kwargs) -> Any:
        result = function(*args, **kwargs)  # the test's own call, as pytest-benchmark makes it
        what = getattr(function, "__qualname__", None) or type(function).__name__
        self._recorder.measure(lambda: function(*args, **kwargs), name=f"benchmark ({self.why})",
                               model=f"callable {what}")
        self.used = True
        return result

    def __call__(self, function_to_benchmark, *args, **kwargs):
        return self._time(function_to_benchmark, args, kwargs)

    def pedantic(self, target, args=(), kwargs=None, setup=None, teardown=None, rounds=1,
                 warmup_rounds=0, iterations=1):
        if setup is not None:
            made = setup()
            if made is not None:
                args, kwargs = made
        try:
            return self._time(target, tuple(args or ()), dict(kwargs or {}))
        finally:
            if teardown is not None:
                teardown(*(args or ()), **(kwargs or {}))


def wrap(item: Any, recorder_factory) -> TfperfBenchmark | None:
    """Replace a disabled `benchmark` fixture of a latency-budgeted test by `TfperfBenchmark`
    (`recorder_factory()` gives the test's tfperf recorder); None when there is nothing to do."""
    funcargs = getattr(item, "funcargs", {})
    fixture = funcargs.get("benchmark")
    if fixture is None or not getattr(fixture, "disabled", False) \
            or item.get_closest_marker("latency_budget") is None:
        return None
    config = item.config
    xdist = getattr(config, "workerinput", None) is not None or \
        str(config.getoption("dist", "no") or "no") != "no"
    why = "timed by tfperf: pytest-benchmark is disabled under xdist" if xdist else \
        "timed by tfperf: pytest-benchmark is disabled (--benchmark-disable)"
    stand_in = TfperfBenchmark(fixture, recorder_factory(), why)
    funcargs["benchmark"] = stand_in
    return stand_in
