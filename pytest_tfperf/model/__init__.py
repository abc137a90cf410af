"""Models: the `Model` protocol, `FrozenGraph`, and `load()` for every reference kind.

Import paths outside this package use `pytest_tfperf.model` (this file), never its submodules.
"""
from __future__ import annotations

from .frozen import FrozenGraph, save_graph_def
from .loaders import as_model, load
from .protocol import Model, is_model
from .specs import TensorSpec
from .tables import initialize_tables

__all__ = ["FrozenGraph", "Model", "TensorSpec", "as_model", "initialize_tables", "is_model", "load",
           "save_graph_def"]
