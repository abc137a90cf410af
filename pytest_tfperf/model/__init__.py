"""Models: the `Model` protocol, `FrozenGraph`, and `load()` for every reference kind.

Import paths outside this package use `pytest_tfperf.model` (this file), never its submodules.
"""
from __future__ import annotations

from .frozen import FrozenGraph, TensorSpec, load, save_graph_def
from .protocol import Model, is_model

__all__ = ["FrozenGraph", "Model", "TensorSpec", "is_model", "load", "save_graph_def"]
