"""What a measurement was timed on: each input's name, shape and dtype, and the dims tfperf chose.

`describe_inputs(model, inputs)` gives one dict per input, `{"name", "shape", "dtype",
"guessed"}`, where `guessed` lists the dims (indices) that the model leaves unknown, besides the
batch, and whose size tfperf picked rather than the user: a model with dynamic H/W timed on the
sample image runs at 224x224, and every report says so ("dynamic dims pinned to 224").

Until the one input policy (`inputs.py`) reports which dims it guessed, the rule lives here:
inputs tfperf generated (no inputs given, or the very sample image it handed out for that
model, whatever the batch made of it) have their unknown non-batch dims guessed; arrays the
user built are the user's choice. Records keep these dicts (`MeasurementRecord.inputs`);
`report.inputs_text` words them.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["describe_inputs"]


def describe_inputs(model: Any, inputs: Any, *, generated: bool = False,
                    samples: Iterable[np.ndarray] = ()) -> tuple[dict, ...]:
    """The inputs of one timed call, described for records and reports.

    Args:
        model: the Model timed (its `inputs` specs and `feed_dict` name the arrays), or None
            for a callable / keras.Model / tf.function target.
        inputs: what was fed: an array, a list/tuple in input order, or a dict by name.
        generated: True when tfperf made `inputs` itself (the sample image, synthetic feeds).
        samples: sample images tfperf handed out for `model` (the `sample_image` fixture):
            an input whose first item equals one of them counts as generated.

    Returns:
        One dict per input: `name` (tensor name, or "input", "input1"... without a model),
        `shape` (list of ints), `dtype` (numpy name), `guessed` (dims tfperf chose).
    """
    feeds = _named_arrays(model, inputs)
    specs = {s.name: s for s in (*getattr(model, "inputs", ()), *getattr(model, "defaults", ()))}
    samples = tuple(samples)
    out = []
    for name, value in feeds.items():
        shape = _shape(value)
        spec = specs.get(name)
        declared = getattr(spec, "shape", None)
        dynamic = ([i for i, d in enumerate(declared) if d is None and i > 0]
                   if declared is not None and shape is not None and len(declared) == len(shape) else [])
        chosen = generated or (dynamic and any(_same_image(value, s) for s in samples))
        out.append({"name": name, "shape": shape, "dtype": _dtype(value),
                    "guessed": dynamic if chosen else []})
    return tuple(out)


def _named_arrays(model: Any, inputs: Any) -> dict[str, Any]:
    if inputs is None:
        return {}
    if model is not None and hasattr(model, "feed_dict"):
        try:
            return dict(model.feed_dict(inputs))
        except Exception:  # noqa: BLE001 - a description must never fail the measurement
            pass
    if isinstance(inputs, Mapping):
        return {str(getattr(k, "name", k)): v for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)) and inputs and all(hasattr(v, "shape") for v in inputs):
        return {("input" if i == 0 else f"input{i}"): v for i, v in enumerate(inputs)}
    return {"input": inputs}


def _shape(value: Any) -> list | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        try:
            shape = np.shape(value)
        except (TypeError, ValueError):
            return None
    try:
        return [None if d is None else int(d) for d in shape]
    except TypeError:  # unknown rank
        return None


def _dtype(value: Any) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(value).dtype
        except (TypeError, ValueError):
            return "unknown"
    return str(getattr(dtype, "name", dtype))


def _same_image(value: Any, sample: np.ndarray) -> bool:
    """Whether `value` is the sample image (or a batch made of it: first item equal)."""
    if not isinstance(value, np.ndarray) or not isinstance(sample, np.ndarray):
        return False
    if value.ndim != sample.ndim or value.ndim == 0 or value.shape[1:] != sample.shape[1:] \
            or not value.shape[0] or not sample.shape[0]:
        return False
    return bool(np.array_equal(value[0], sample[0]))
