"""Which runtime ran a measurement: "tensorflow 2.21.0", "ai_edge_litert 2.3.0 (xnnpack, 1 thread)".

`describe(target, kind)` names the runtime of anything `timing.measure` accepts, so every
`LatencyStats` (and so every measurement record and report) says what was timed. TensorFlow and
Keras are only asked for their versions when they are already imported by the target itself.
"""
from __future__ import annotations

import sys
from typing import Any

__all__ = ["describe", "tflite_runtime_text"]


def tflite_runtime_text(info: dict) -> str:
    """`TFLiteModel.runtime_info()` -> 'ai_edge_litert 2.3.0 (xnnpack, 1 thread)'."""
    threads = info.get("num_threads")
    thread_text = "default threads" if threads is None else \
        f"{threads} thread" + ("s" if threads != 1 else "")
    return (f"{info.get('runtime')} {info.get('runtime_version')} "
            f"({info.get('delegate')}, {thread_text})")


def _version(module: str) -> str:
    mod = sys.modules.get(module)
    return str(getattr(mod, "__version__", "unknown")) if mod is not None else "unknown"


def describe(target: Any, kind: str) -> str:
    """The runtime that runs `target` (`kind` as `timing.target_kind` says), or "" when unknown
    (a plain Python callable may run anything)."""
    info = getattr(target, "runtime_info", None)
    if callable(info):
        return tflite_runtime_text(info())
    if kind in ("frozen_graph", "session", "function"):
        return f"tensorflow {_version('tensorflow')}"
    if kind == "keras_model":
        from pytest_tfperf.model.shapes import keras_module

        package = getattr(keras_module(target), "__name__", "keras")  # "tf_keras" for Keras 2
        return f"{package} {_version(package)} (tensorflow {_version('tensorflow')})"
    if kind == "model":
        return str(getattr(target, "runtime", "") or "")
    return ""
