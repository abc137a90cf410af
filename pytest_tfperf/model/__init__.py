"""Models: the `Model` protocol, `FrozenGraph`, and `load()` for every reference kind.

Import paths outside this package use `pytest_tfperf.model` (this file), never its submodules.
"""
from __future__ import annotations

from pytest_tfperf.model.frozen import FrozenGraph, save_graph_def
from pytest_tfperf.model.loaders import as_model, load
from pytest_tfperf.model.protocol import Model, is_model
from pytest_tfperf.model.specs import TensorSpec
from pytest_tfperf.model.tables import initialize_tables

__all__ = ["FrozenGraph", "Model", "TensorSpec", "as_model", "initialize_tables", "is_model", "load",
           "save_graph_def"]
