"""Helpers shared by the `tfperf` commands: model arguments, loading, shape parsing.

Importing this module sets TF_CPP_MIN_LOG_LEVEL=2 (unless already set) so that TensorFlow,
imported later by the command that runs, keeps its C++ info logs off the terminal (`_quiet`
filters the start-up lines the level misses, unless the user set the level to 0 or 1).
"""
from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def add_model_args(p: argparse.ArgumentParser, *, json_help: str = "print machine-readable JSON") -> None:
    """The model reference and loading options every model command takes (plus --json)."""
    p.add_argument("model", help="model reference: .pb, .pbtxt, SavedModel dir, .keras/.h5, .tflite, checkpoint prefix")
    p.add_argument("--inputs", help="comma-separated input names (default: detected)")
    p.add_argument("--outputs", help="comma-separated output names (default: detected)")
    p.add_argument("--input-shape", action="append", default=[], metavar="[NAME=]D,D,...",
                   help="pin an input shape, e.g. 1,224,224,3 or input_node=1,224,224,3 (repeatable)")
    p.add_argument("--signature", help="SavedModel signature (default serving_default)")
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--unsafe-keras", action="store_true",
                   help="load Keras files with safe_mode=False (runs code stored in the file, e.g. "
                        "Lambda layers): only for files you trust")


def parse_shapes(items: list[str]) -> dict | list | None:
    """['1,224,224,3'] -> [[1,224,224,3]]; ['x=1,2'] -> {'x': [1,2]}; [] -> None."""
    from pytest_tfperf.plugin.options import parse_shape_items

    return parse_shape_items(items, "--input-shape")


def load_model_from_args(args):
    """`load()` with the common model arguments of every command."""
    from pytest_tfperf.model import load

    return load(args.model, inputs=args.inputs, outputs=args.outputs,  # "a,b" strings are split
                input_shapes=parse_shapes(args.input_shape), signature=args.signature,
                safe_mode=not getattr(args, "unsafe_keras", False))


def json_default(value):
    """`json.dumps(default=...)` for numpy scalars."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def dumps_json(data) -> str:
    """Indented JSON with numpy scalars as Python numbers."""
    return json.dumps(data, indent=2, default=json_default)
