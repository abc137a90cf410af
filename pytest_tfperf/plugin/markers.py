"""The plugin's markers: their table, their parsing, and the per-item cache in `item.stash`.

Markers are checked in the setup phase (`check_markers`), so a bad argument is a usage error
that *errors* the test (pytest's "E"), never a failure of its call phase. Parsed budgets are
cached on the item in `item.stash` (no attributes set on pytest's objects).
"""
from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_tfperf.errors import MarkerUsageError

__all__ = ["BUDGET_MARKERS", "MARKERS", "check_markers", "has_budget", "image_marker_path",
           "latency_budget_of", "model_marker", "parsed_budgets", "test_base"]

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
    from pytest_tfperf.plugin.budget_markers import parse_mark

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
