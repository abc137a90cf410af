"""What a model was fed: each input's name, shape, dtype and source, and the dims tfperf chose.

The one description of fed inputs, for records (`MeasurementRecord.inputs`, profiles, variant
tables) and for every text that says what was timed (reports, `tfperf bench` / `optimize` /
`variants`, budget messages). `describe_inputs(model, inputs)` gives one dict per input:

    {"name": "image:0", "shape": [1, 224, 224, 3], "dtype": "float32", "guessed": [1, 2],
     "source": "sample image"}

`guessed` lists the dims, besides the batch, whose size tfperf picked rather than the user (a
model with dynamic H/W timed on the sample image runs at 224x224, and every report says so);
`source` says where the array came from: "given" (the user's), "sample image" or "synthetic"
(the input policy's). A `SampleInputs` (`inputs.py`, what tfperf feeds when the test gave
nothing) knows both. For plain arrays the rule is: arrays tfperf handed out (`generated`, or the
very sample image it gave for that model, whatever the batch made of it) have the model's
unknown non-batch dims guessed; arrays the user built are the user's choice.

`input_text` / `inputs_text` / `describe` word the dicts: "[1,224,224,3] float32 (dynamic H/W:
pinned to 224)"; reports mark the guessed dims instead ("[1,224,224,3]* float32").
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from pytest_tfperf.model import graphs
from pytest_tfperf.inputs.policy import choose_shape, describe_guesses

__all__ = ["describe", "describe_inputs", "input_text", "inputs_text", "range_legend"]

MISSING = "-"


def describe_inputs(model: Any, inputs: Any, *, generated: bool = False,
                    samples: Iterable[np.ndarray] = ()) -> tuple[dict, ...]:
    """The inputs of one call, described for records and reports.

    Args:
        model: the Model fed (its `inputs` specs and `feed_dict` name the arrays), or None for
            a callable / keras.Model / tf.function target.
        inputs: what was fed: an array, a list/tuple in input order, or a dict by name; a
            `SampleInputs` says itself which dims were guessed and where each array came from.
        generated: True when tfperf made `inputs` itself (the sample image, synthetic feeds).
        samples: sample images tfperf handed out for `model` (the `sample_image` fixture):
            an input whose first item equals one of them counts as generated; an item may be
            `(image, range words)` (issue 21: the value range chosen for it).

    Returns:
        One dict per input: `name` (tensor name, or "input", "input1"... without a model),
        `shape` (list of ints), `dtype` (numpy name; "string" for text), `guessed` (dims tfperf
        chose), `source` ("given", "sample image" or "synthetic"), and `range` (the value
        range tfperf chose for a sample image, e.g. "pixels/255 [0,1]: the graph gives no input
        range") when it chose one.
    """
    feeds = _named_arrays(model, inputs)
    specs = {s.name: s for s in (*getattr(model, "inputs", ()), *getattr(model, "defaults", ()))}
    policy = inputs if hasattr(inputs, "sources") and hasattr(inputs, "guessed") else None
    pairs = [s if isinstance(s, tuple) else (s, None) for s in samples]
    out = []
    for name, value in feeds.items():
        shape = _shape(value)
        if policy is not None:
            key = next((k for k in policy if graphs.tensor_name(str(k)) == graphs.tensor_name(name)), name)
            source = policy.sources.get(key, "given")
            guessed = sorted(i for i, (_, why) in policy.guessed.get(key, {}).items() if why != "batch")
            chosen = getattr(policy, "ranges", {}).get(key)
        else:
            declared = getattr(specs.get(name), "shape", None)
            dynamic = ([i for i, d in enumerate(declared) if d is None and i > 0]
                       if declared is not None and shape is not None and len(declared) == len(shape) else [])
            match = next((p for p in pairs if _same_image(value, p[0])), None)
            sample = match is not None
            chosen = match[1] if match is not None else None
            source = "sample image" if sample else "synthetic" if generated else "given"
            guessed = dynamic if generated or (dynamic and sample) else []
        item = {"name": name, "shape": shape, "dtype": _dtype(value), "guessed": guessed,
                "source": source}
        if chosen:
            item["range"] = chosen
        out.append(item)
    return tuple(out)


# -- words ------------------------------------------------------------------------------------


def guess_notes(described: Mapping[str, Any]) -> list[str]:
    """["dynamic H/W: pinned to 224"] for a described input's guessed dims (one per reason, as
    `inputs.describe_guesses` words the input policy's choices)."""
    shape = described.get("shape")
    guessed = [i for i in described.get("guessed") or () if isinstance(i, int)]
    if not shape or not guessed:
        return []
    open_dims = [None if i in guessed else d for i, d in enumerate(shape)]
    _, reasons = choose_shape(open_dims)
    return describe_guesses({i: (shape[i], why) for i, (_, why) in reasons.items()
                             if i in guessed and 0 <= i < len(shape)})


def input_text(described: Mapping[str, Any], *, with_name: bool = False, mark: str | None = None,
               with_source: bool = False) -> str:
    """One described input in words: '[1,224,224,3] float32 (dynamic H/W: pinned to 224)'.

    Args:
        described: a dict of `describe_inputs`.
        with_name: start with the input's node name ('image [1,...] float32').
        mark: put this after the shape of an input with guessed dims instead of the note
            ('[1,224,224,3]* float32'; the table's legend explains the mark).
        with_source: say where a not-given array came from ('(synthetic; ...)').
    """
    shape = described.get("shape")
    shape_text = MISSING if shape is None else "[" + ",".join(
        "?" if d is None else str(d) for d in shape) + "]"
    name = described.get("name")
    head = f"{graphs.node_name(str(name))} " if with_name and name else ""
    notes = guess_notes(described)
    dtype = described.get("dtype") or MISSING
    if notes and mark:
        return f"{head}{shape_text}{mark} {dtype}"
    source = described.get("source")
    extra = ([source] if with_source and source not in (None, "given") else []) + notes
    if described.get("range"):  # issue 21: the value range tfperf chose is always said
        extra.append(str(described["range"]).split(":")[0])
    return f"{head}{shape_text} {dtype}" + (f" ({'; '.join(extra)})" if extra else "")


def inputs_text(inputs: Any, *, mark: str | None = None, with_source: bool = False,
                sep: str = "; ") -> str:
    """Every described input of a call, joined by `sep`; names only when there are several
    ('-' for none). `mark` and `with_source` as in `input_text` (sources of several only)."""
    items = [i for i in inputs or [] if isinstance(i, Mapping)]
    if not items:
        return MISSING
    several = len(items) > 1
    return sep.join(input_text(i, with_name=several, mark=mark, with_source=with_source and several)
                    for i in items)


def describe(arrays: Any, model: Any = None) -> str:
    """What was fed, in words: "[1,224,224,3] float32 (dynamic H/W: pinned to 224)" for one
    input, "image [1,96,96,3] float32 (sample image), scale [1] float32 (synthetic)" for several.

    Args:
        arrays: an array, a list/tuple in input order, or a dict name -> array; a `SampleInputs`
            knows its own guesses and sources (plain arrays are the caller's: nothing guessed).
        model: the `Model` fed (optional): names the inputs of a plain array or list.
    """
    if arrays is None:
        return "no inputs"
    return inputs_text(describe_inputs(model, arrays), with_source=True, sep=", ")


def range_legend(inputs_lists: Iterable[Any]) -> str | None:
    """'sample image values: pixels/255 [0,1] (the graph gives no input range ...)': the value
    ranges tfperf chose for the images it fed (issue 21), for the note under a table; None
    when it chose none."""
    seen = sorted({str(i["range"]) for inputs in inputs_lists for i in inputs or []
                   if isinstance(i, Mapping) and i.get("range")})
    if not seen:
        return None
    return "sample image values: " + "; ".join(
        f"{text.partition(':')[0]} ({text.partition(':')[2].strip()})" if ":" in text else text
        for text in seen)


# -- internals --------------------------------------------------------------------------------


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
    name = str(getattr(dtype, "name", dtype))
    if name == "object" or name.startswith(("str", "bytes")):  # numpy's text arrays
        return "string"
    return name


def _same_image(value: Any, sample: np.ndarray) -> bool:
    """Whether `value` is the sample image (or a batch made of it: first item equal)."""
    if not isinstance(value, np.ndarray) or not isinstance(sample, np.ndarray):
        return False
    if value.ndim != sample.ndim or value.ndim == 0 or value.shape[1:] != sample.shape[1:] \
            or not value.shape[0] or not sample.shape[0]:
        return False
    return bool(np.array_equal(value[0], sample[0]))
