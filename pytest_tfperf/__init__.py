"""pytest-tfperf: TensorFlow model performance as ordinary pytest tests.

Public API (TensorFlow is imported only when a function first needs it):
`load`, `FrozenGraph`, `TensorSpec`, `validate`, `summarize`, `measure`, `assert_equivalent`,
`compare_models`, `optimize`, `count_flops`, `profile`, `Model`, `as_model`, `sample_inputs`,
`assert_faster`, `sweep`, `to_tflite`, `load_tflite` (a `.tflite` with interpreter settings), and
the error hierarchy rooted at `TfperfError`.
"""
from __future__ import annotations

import importlib

from pytest_tfperf.errors import (  # noqa: F401  (re-exported)
    BaselineError,
    BudgetExceeded,
    ConfigError,
    GraphValidationError,
    HistoryError,
    ImageError,
    InputError,
    MarkerUsageError,
    ModelLoadError,
    NodeNotFoundError,
    OptimizeError,
    TfperfError,
)

__version__ = "0.1.0"

_LAZY = {
    "load": "model", "FrozenGraph": "model", "TensorSpec": "model", "Model": "model",
    "as_model": "model", "is_model": "model",
    "validate": "model.graphs",
    "summarize": "analysis.summary", "GraphSummary": "analysis.summary",
    "measure": "timing.engine", "LatencyStats": "timing.stats",
    "assert_equivalent": "equivalence", "EquivalenceReport": "equivalence",
    "compare_models": "equivalence",
    "NotEquivalentError": "errors",
    "optimize": "optimization", "optimize_with_report": "optimization",
    "count_flops": "analysis.flops.count", "profile": "analysis.profiling",
    "sample_image_for": "inputs.images", "sample_inputs": "inputs.policy",
    "to_tflite": "edge", "variants": "edge", "VariantTable": "edge",
    "load_tflite": "model.tflite", "TFLiteModel": "model.tflite",
    "assert_faster": "timing.abtest", "compare_speed": "timing.abtest",
    "SpeedComparison": "timing.abtest",
    "sweep": "timing.sweep", "SweepResult": "timing.sweep",
    "NotFasterError": "errors",
}


__all__ = sorted([
    "BaselineError", "BudgetExceeded", "ConfigError", "GraphValidationError", "ImageError",
    "InputError", "MarkerUsageError", "ModelLoadError", "NodeNotFoundError", "OptimizeError",
    "TfperfError", "__version__", *_LAZY,
    "HistoryError",
])


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_tfperf' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
