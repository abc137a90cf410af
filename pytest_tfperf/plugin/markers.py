"""The plugin's markers: their table, the budget markers' arguments parsed into budget
dataclasses, and the per-item cache in `item.stash` (no verdicts, no pytest hooks here).

Budget markers and the signatures their arguments are bound against (DESIGN.md):
    latency_budget(ms=None, *, fps=None, percentile=50, batch=None, regression=None)
    param_budget(max, *, kind="weights")      # kind: "weights" | "trainable"
    flops_budget(max)
    size_budget(mb)
    memory_budget(mb)
    throughput_budget(fps, *, batch=1, p99_ms=None, concurrency=1)
Counts take ints or strings ("62.4M", "1.5G", "800k", "12,000", "62_378_344"); sizes take MB
as a number or a string with a unit ("25MB", "1.5GB", "800KB", "512MiB"); 1 MB = 10**6 bytes.
Every bad argument raises `MarkerUsageError` naming the test, the marker and the argument, and
ending with `Received: name=value`. `budgets` checks values against these budgets.

Markers are checked in the setup phase (`check_markers`), so a bad argument is a usage error
that *errors* the test (pytest's "E"), never a failure of its call phase. A test's budget
markers are parsed once (`parsed_budgets`, cached in `item.stash`); every reader goes through it.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from pytest_tfperf.errors import MarkerUsageError, close_matches

__all__ = ["BUDGET_MARKERS", "MARKERS", "MB", "PARSERS", "FlopsBudget", "LatencyBudget", "MemoryBudget",
           "ParamBudget", "SizeBudget", "ThroughputBudget", "check_markers", "has_budget", "image_marker_path",
           "latency_budget_of", "model_marker", "parse_count", "parse_latency_budget", "parse_mark",
           "parse_megabytes", "parse_throughput_budget", "parsed_budgets", "test_base"]

MB = 1_000_000  # bytes per MB in size/memory budgets and messages

_COUNT_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9, "t": 10**12}
_SIZE_UNITS = {"": 1.0, "b": 1e-6, "kb": 1e-3, "mb": 1.0, "gb": 1e3, "tb": 1e6,
               "kib": 1024 / 1e6, "mib": 1024**2 / 1e6, "gib": 1024**3 / 1e6, "tib": 1024**4 / 1e6}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_REGRESSION = re.compile(r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*:\s*)?" + _NUMBER + r"\s*%\s*$")


# --- values ----------------------------------------------------------------------------------

def parse_count(value: Any, *, what: str = "count") -> int:
    """A positive count from an int or a string like "62.4M", "1.5G", "800k", "12,000".

    Args:
        value: int, integral float, or string: digits with optional `,` / `_` separators,
            optional decimal part and optional suffix k (10^3), M (10^6), G or B (10^9),
            T (10^12), any case. Fractions are rounded to the nearest integer.
        what: the argument's name, for the error message.

    Returns:
        The count.

    Raises:
        MarkerUsageError: not a count, or not positive.
    """
    hint = (f"{what} must be a positive count such as 60000000, '62.4M', '1.5G', '800k' or "
            f"'12,000'. Received: {what}={value!r}")
    if isinstance(value, bool):
        raise MarkerUsageError(hint)
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MarkerUsageError(hint)
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "").replace(" ", "")
        match = re.fullmatch(rf"({_NUMBER})([A-Za-z]?)", text)
        if not match or match.group(2).lower() not in _COUNT_SUFFIXES:
            raise MarkerUsageError(hint)
        try:
            number = Decimal(match.group(1)) * _COUNT_SUFFIXES[match.group(2).lower()]
        except InvalidOperation:
            raise MarkerUsageError(hint) from None
    else:
        raise MarkerUsageError(hint)
    count = int(number.to_integral_value())
    if count <= 0:
        raise MarkerUsageError(hint)
    return count


def parse_megabytes(value: Any, *, what: str = "mb") -> float:
    """A positive size in MB (10**6 bytes) from a number or a string like "25MB", "1.5GB".

    Args:
        value: a number of MB, or a string with unit B, KB, MB, GB, TB (decimal) or KiB, MiB,
            GiB, TiB (binary, converted); no unit means MB.
        what: the argument's name, for the error message.

    Returns:
        The size in MB.

    Raises:
        MarkerUsageError: not a size, or not positive.
    """
    hint = (f"{what} must be a positive size in MB such as 25, 1.5, '25MB', '1.5GB' or '800KB'. "
            f"Received: {what}={value!r}")
    if isinstance(value, bool):
        raise MarkerUsageError(hint)
    if isinstance(value, (int, float)):
        mb = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(rf"\s*({_NUMBER})\s*([A-Za-z]*)\s*", value.replace(",", "").replace("_", ""))
        if not match or match.group(2).lower() not in _SIZE_UNITS:
            raise MarkerUsageError(hint)
        mb = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    else:
        raise MarkerUsageError(hint)
    if not math.isfinite(mb) or mb <= 0:
        raise MarkerUsageError(hint)
    return mb


# --- budgets ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LatencyBudget:
    """`latency_budget(ms=None, *, fps=None, percentile=50, batch=None, regression=None)`.

    Exactly one of `ms` / `fps`; fps means `batch * 1000 / latency_ms >= fps`, where `batch`
    is the marker's, else the batch the measurement actually ran (its leading input dim).
    `regression` (e.g. "10%" or "median:10%") is kept for baseline comparisons.
    """

    ms: float | None = None
    fps: float | None = None
    percentile: float = 50
    batch: int | None = None
    regression: str | None = None

    @property
    def limit_ms(self) -> float:
        """The limit in ms per call at the marker's batch (1 when it names none)."""
        return self.limit_ms_at(self.batch or 1)

    def limit_ms_at(self, batch: int) -> float:
        """The limit in ms per call when each call processes `batch` inputs."""
        return self.ms if self.ms is not None else (self.batch or batch) * 1000.0 / self.fps

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "limit_ms": self.limit_ms}


@dataclasses.dataclass(frozen=True)
class ParamBudget:
    """`param_budget(max, *, kind="weights")`: at most `max` parameters of that kind."""

    max: int
    kind: str = "weights"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class FlopsBudget:
    """`flops_budget(max)`: at most `max` FLOPs for one inference at batch 1."""

    max: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SizeBudget:
    """`size_budget(mb)`: serialized frozen model at most `mb` MB."""

    mb: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class MemoryBudget:
    """`memory_budget(mb)`: peak memory of one inference at most `mb` MB."""

    mb: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Binder:
    """Binds marker args/kwargs like a Python signature, with tfperf's error messages."""

    def __init__(self, marker: str, test_id: str, positional: Sequence[str],
                 keyword_only: Sequence[str], signature: str):
        self.marker, self.test_id = marker, test_id
        self.positional, self.keyword_only = list(positional), list(keyword_only)
        self.signature = signature

    def error(self, problem: str, received: str) -> MarkerUsageError:
        return MarkerUsageError(
            f"{self.test_id}: @pytest.mark.{self.marker}: {problem} "
            f"(signature: {self.marker}{self.signature}). Received: {received}")

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        names = self.positional + self.keyword_only
        if len(args) > len(self.positional):
            allowed = ", ".join(self.positional) or "none"
            raise self.error(
                f"too many positional arguments: it takes {len(self.positional)} "
                f"({allowed}); pass the others by keyword", f"args={tuple(args)!r}")
        bound = dict(zip(self.positional, args))
        for key, value in kwargs.items():
            if key not in names:
                matches = close_matches(key, names)
                hint = f"did you mean {matches[0]!r}? " if matches else ""
                raise self.error(f"unknown argument {key!r}; {hint}valid arguments: "
                                 f"{', '.join(names)}", f"{key}={value!r}")
            if key in bound:
                raise self.error(f"argument {key!r} given both by position and by keyword",
                                 f"{key}={value!r}")
            bound[key] = value
        return bound

    def wrap(self, exc: MarkerUsageError) -> MarkerUsageError:
        """Prefix a value-parsing error (which ends with 'Received: ...') with test and marker."""
        return MarkerUsageError(f"{self.test_id}: @pytest.mark.{self.marker}: {exc}")

    def positive_number(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise self.error(f"{name!r} must be a positive number", f"{name}={value!r}")
        return float(value)

    def require(self, bound: Mapping[str, Any], name: str) -> Any:
        if bound.get(name) is None:
            raise self.error(f"missing required argument {name!r}", f"{name}=None")
        return bound[name]


def parse_latency_budget(args: Sequence[Any], kwargs: Mapping[str, Any], *,
                         test_id: str) -> LatencyBudget:
    """Bind and check `latency_budget` marker arguments.

    Args:
        args, kwargs: the marker's `args` / `kwargs`.
        test_id: the test's node id, for messages.

    Returns:
        The `LatencyBudget`.

    Raises:
        MarkerUsageError: neither or both of ms/fps, non-positive numbers, percentile outside
            (0, 100), batch not a positive int, unknown or duplicated arguments.
    """
    b = _Binder("latency_budget", test_id, ["ms"], ["fps", "percentile", "batch", "regression"],
                "(ms=None, *, fps=None, percentile=50, batch=None, regression=None)")
    bound = b.bind(args, kwargs)
    ms, fps = bound.get("ms"), bound.get("fps")
    if (ms is None) == (fps is None):
        both = "both ms and fps" if ms is not None else "neither ms nor fps"
        raise b.error(f"give exactly one of ms (per-call latency limit) or fps (throughput "
                      f"floor), got {both}", f"ms={ms!r}, fps={fps!r}")
    ms = b.positive_number("ms", ms) if ms is not None else None
    fps = b.positive_number("fps", fps) if fps is not None else None
    percentile = bound.get("percentile", 50)
    if isinstance(percentile, str) and re.fullmatch(r"[pP]?" + _NUMBER, percentile.strip()):
        percentile = float(percentile.strip().lstrip("pP"))
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) \
            or not 0 < percentile < 100:
        raise b.error("'percentile' must be a number strictly between 0 and 100 (e.g. 50, 90, "
                      "99)", f"percentile={bound.get('percentile')!r}")
    batch = bound.get("batch")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0):
        raise b.error("'batch' must be a positive int (inputs per call)", f"batch={batch!r}")
    regression = bound.get("regression")
    if regression is not None and (not isinstance(regression, str)
                                   or not _REGRESSION.match(regression)):
        raise b.error("'regression' must be a percentage string such as '10%' or "
                      "'median:10%'", f"regression={regression!r}")
    return LatencyBudget(ms=ms, fps=fps, percentile=float(percentile), batch=batch,
                         regression=regression.strip() if regression else None)


def parse_param_budget(args: Sequence[Any], kwargs: Mapping[str, Any], *,
                       test_id: str) -> ParamBudget:
    """Bind and check `param_budget(max, *, kind="weights")` arguments (see `parse_count`)."""
    b = _Binder("param_budget", test_id, ["max"], ["kind"], '(max, *, kind="weights")')
    bound = b.bind(args, kwargs)
    value = b.require(bound, "max")
    try:
        limit = parse_count(value, what="max")
    except MarkerUsageError as exc:
        raise b.wrap(exc) from None
    kind = bound.get("kind", "weights")
    if kind not in ("weights", "trainable"):
        raise b.error("'kind' must be 'weights' (every weight the frozen model holds) or "
                      "'trainable' (where the source knows trainability)", f"kind={kind!r}")
    return ParamBudget(max=limit, kind=kind)


def parse_flops_budget(args: Sequence[Any], kwargs: Mapping[str, Any], *,
                       test_id: str) -> FlopsBudget:
    """Bind and check `flops_budget(max)` arguments (see `parse_count`)."""
    b = _Binder("flops_budget", test_id, ["max"], [], "(max)")
    bound = b.bind(args, kwargs)
    value = b.require(bound, "max")
    try:
        return FlopsBudget(max=parse_count(value, what="max"))
    except MarkerUsageError as exc:
        raise b.wrap(exc) from None


def _parse_mb(marker: str, args, kwargs, test_id: str) -> float:
    b = _Binder(marker, test_id, ["mb"], [], "(mb)")
    bound = b.bind(args, kwargs)
    value = b.require(bound, "mb")
    try:
        return parse_megabytes(value, what="mb")
    except MarkerUsageError as exc:
        raise b.wrap(exc) from None


def parse_size_budget(args: Sequence[Any], kwargs: Mapping[str, Any], *,
                      test_id: str) -> SizeBudget:
    """Bind and check `size_budget(mb)` arguments (see `parse_megabytes`)."""
    return SizeBudget(mb=_parse_mb("size_budget", args, kwargs, test_id))


def parse_memory_budget(args: Sequence[Any], kwargs: Mapping[str, Any], *,
                        test_id: str) -> MemoryBudget:
    """Bind and check `memory_budget(mb)` arguments (see `parse_megabytes`)."""
    return MemoryBudget(mb=_parse_mb("memory_budget", args, kwargs, test_id))


@dataclasses.dataclass(frozen=True)
class ThroughputBudget:
    """`throughput_budget(fps, *, batch=1, p99_ms=None, concurrency=1)`: that configuration
    (requests of `batch` inputs from `concurrency` clients at once) sustains `fps` inferences/s,
    with a p99 request latency of at most `p99_ms` when given (`plugin/throughput.py`)."""

    fps: float
    batch: int = 1
    p99_ms: float | None = None
    concurrency: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_throughput_budget(args: Sequence[Any], kwargs: Mapping[str, Any], *,
                            test_id: str) -> ThroughputBudget:
    """Bind and check `throughput_budget(fps, *, batch=1, p99_ms=None, concurrency=1)`."""
    b = _Binder("throughput_budget", test_id, ["fps"], ["batch", "p99_ms", "concurrency"],
                "(fps, *, batch=1, p99_ms=None, concurrency=1)")
    bound = b.bind(args, kwargs)
    fps = b.positive_number("fps", b.require(bound, "fps"))
    p99 = bound.get("p99_ms")
    p99 = b.positive_number("p99_ms", p99) if p99 is not None else None
    ints = {}
    for name in ("batch", "concurrency"):
        value = bound.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise b.error(f"{name!r} must be a positive int ("
                          f"{'inputs per request' if name == 'batch' else 'clients sending requests at once'})",
                          f"{name}={value!r}")
        ints[name] = value
    return ThroughputBudget(fps=fps, p99_ms=p99, **ints)


PARSERS = {
    "latency_budget": parse_latency_budget,
    "param_budget": parse_param_budget,
    "flops_budget": parse_flops_budget,
    "size_budget": parse_size_budget,
    "memory_budget": parse_memory_budget,
    "throughput_budget": parse_throughput_budget,
}


def parse_mark(mark: Any, *, test_id: str):
    """Parse a pytest `Mark` of one of `PARSERS`' markers into its budget dataclass."""
    return PARSERS[mark.name](tuple(mark.args), dict(mark.kwargs), test_id=test_id)


# --- the markers of a test item ------------------------------------------------------------

BUDGET_MARKERS = ("latency_budget", "param_budget", "flops_budget", "size_budget", "memory_budget",
                  "throughput_budget")

MARKERS = {
    "latency_budget": "latency_budget(ms=None, *, fps=None, percentile=50, batch=None, regression=None): "
                      "fail if the measured latency percentile exceeds the budget (exactly one of ms/fps)",
    "param_budget": "param_budget(max, *, kind='weights'): fail if the model has more parameters "
                    "(kind='trainable' where the source knows trainability); counts like '62.4M'",
    "flops_budget": "flops_budget(max): fail if one inference at batch 1 needs more FLOPs ('1.5G')",
    "size_budget": "size_budget(mb): fail if the serialized frozen model is larger (1 MB = 10^6 bytes)",
    "memory_budget": "memory_budget(mb): fail if one inference peaks above this memory (1 MB = 10^6 bytes)",
    "throughput_budget": "throughput_budget(fps, *, batch=1, p99_ms=None, concurrency=1): fail if the "
                         "test's model cannot sustain fps inferences/s at that batch and concurrency "
                         "(nor its p99 request latency within p99_ms, when given)",
    "tfperf_model": "tfperf_model(ref, **load_kwargs): the model the frozen_graph fixture loads",
    "tfperf_sample_image": "tfperf_sample_image(path): the image the sample_image fixture loads",
}

_BUDGETS_KEY = pytest.StashKey[dict]()


def register(config) -> None:
    """Declare the markers (`pytest --markers` lists them; `--strict-markers` accepts them)."""
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", text if text.startswith(name) else f"{name}: {text}")


def test_base(item) -> str:
    """The folder of the item's test file (relative model/image paths resolve against it)."""
    return os.path.dirname(str(item.path))


def uses_markers(item) -> bool:
    """Whether the item carries any tfperf marker."""
    return any(item.get_closest_marker(name) for name in MARKERS)


def has_budget(item) -> bool:
    """Whether the item carries a budget marker."""
    return any(item.get_closest_marker(m) for m in BUDGET_MARKERS)


def parsed_budgets(item) -> dict[str, Any]:
    """{marker name: parsed budget} for the item's nearest budget markers (parsed once)."""
    cached = item.stash.get(_BUDGETS_KEY, None)
    if cached is not None:
        return cached
    parsed = {}
    for name in BUDGET_MARKERS:
        marker = item.get_closest_marker(name)
        if marker is not None:
            parsed[name] = parse_mark(marker, test_id=item.nodeid)
    item.stash[_BUDGETS_KEY] = parsed
    return parsed


def latency_budget_of(item):
    """The item's parsed `latency_budget`, or None."""
    return parsed_budgets(item).get("latency_budget")


def check_markers(item) -> None:
    """Parse budget and model markers at setup so a bad argument errors the test early."""
    parsed_budgets(item)
    marker = item.get_closest_marker("tfperf_model")
    if marker is not None and not marker.args and "ref" not in marker.kwargs:
        raise MarkerUsageError(
            f"{item.nodeid}: @pytest.mark.tfperf_model needs a model reference, e.g. "
            "@pytest.mark.tfperf_model('models/alexnet.pb'). Received: no arguments")
    if marker is not None:
        import inspect

        from pytest_tfperf.model import load  # numpy only: TensorFlow is not imported here

        accepted = [p for p in inspect.signature(load).parameters if p != "ref"]
        unknown = sorted(set(marker.kwargs) - set(accepted) - {"ref"})
        if unknown or len(marker.args) > 1:
            raise MarkerUsageError(
                f"{item.nodeid}: @pytest.mark.tfperf_model takes one model reference and the "
                f"keywords {', '.join(accepted)}; unknown: {', '.join(unknown) or 'extra positional arguments'}. "
                f"Received: args={marker.args!r}, kwargs={marker.kwargs!r}")
    marker = item.get_closest_marker("tfperf_sample_image")
    if marker is not None and (len(marker.args) != 1 or marker.kwargs):
        raise MarkerUsageError(
            f"{item.nodeid}: @pytest.mark.tfperf_sample_image takes one image path, e.g. "
            f"tfperf_sample_image('images/face.jpg'). Received: args={marker.args!r}, kwargs={marker.kwargs!r}")


def model_marker(item) -> tuple[Any, dict] | None:
    """`(ref, load_kwargs)` of the nearest `tfperf_model` marker, or None without one."""
    marker = item.get_closest_marker("tfperf_model")
    if marker is None:
        return None
    kwargs = dict(marker.kwargs)
    ref = marker.args[0] if marker.args else kwargs.pop("ref", None)
    if ref is None:
        raise MarkerUsageError(f"{item.nodeid}: @pytest.mark.tfperf_model needs a model reference. "
                               "Received: no arguments")
    return ref, kwargs


def image_marker_path(item) -> str | None:
    """The path given to the nearest `tfperf_sample_image` marker (as written), or None."""
    marker = item.get_closest_marker("tfperf_sample_image")
    return None if marker is None else str(marker.args[0])
