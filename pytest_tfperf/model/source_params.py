"""The source framework's own parameter counts, read by the loaders (`FrozenGraph.trainable_params`...).

What "parameters" means, per source (the count `param_budget(kind="weights")` and reports use):
- Keras (`.keras`, `.h5`, in-memory `keras.Model`): `model.count_params()`, split by
  `trainable_weights` / `non_trainable_weights`. Lookup-table contents (`StringLookup` /
  `TextVectorization` vocabularies) are not variables, so not parameters: Keras does not count
  them and neither do we; the embedding tables that ids index *are* variables (and weights).
- SavedModel: every variable the saved object tracks: the `variables` /
  `trainable_variables` lists where the saver wrote them (Keras `model.export()`), else every
  `tf.Variable` reachable in its object graph (`tf.saved_model.save` of a `tf.Module`), each
  counted once, whichever signature is loaded.
- TF1 checkpoint, `tf.Graph`, `Session`: the variables the outputs read (the freeze keeps
  exactly those); a training checkpoint's optimizer slots, `global_step` and Adam's power
  accumulators are state, not model parameters. Trainability from the TRAINABLE_VARIABLES
  collection.

`unread`: variables the source counts that the inference function never reads (a Keras
`Normalization` layer's sample `count`, a second signature's variables): they are not in the
frozen graph, which is why its weight count can be lower than the source's.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SourceParams:
    """Parameter counts as the source framework knows them."""

    trainable: int
    non_trainable: int
    unread: tuple[tuple[str, int], ...] = ()   # (variable name, elements), never read at inference


def _size(var) -> int:
    return int(np.prod([int(d) for d in var.shape], dtype=np.int64))


def _name(var) -> str:
    name = getattr(var, "path", None) or getattr(var, "name", "?")
    return str(name).removesuffix(":0")


def _tf_variable(var):
    """The `tf.Variable` behind `var` (a Keras 3 variable holds one in `.value`), or None."""
    import tensorflow as tf

    if isinstance(var, tf.Variable):
        return var
    inner = getattr(var, "value", None)
    return inner if isinstance(inner, tf.Variable) else None


def _unread(variables, read) -> tuple[tuple[str, int], ...]:
    """Those of `variables` that are not among `read` (a function's captured variables)."""
    captured = {v.ref() for v in map(_tf_variable, read) if v is not None}
    return tuple((_name(v), _size(v)) for v in variables
                 if _tf_variable(v) is not None and _tf_variable(v).ref() not in captured)


def keras_params(model, concrete) -> SourceParams:
    """`count_params()` of a Keras model, split by trainability; `concrete` is the traced serving
    function (its captured variables are the ones inference reads)."""
    trainable = sum(_size(w) for w in model.trainable_weights)
    non_trainable = sum(_size(w) for w in model.non_trainable_weights)
    unread = _unread(model.weights, getattr(concrete, "variables", ()))
    return SourceParams(int(trainable), int(non_trainable), unread)


def saved_model_variables(loaded) -> list:
    """Every variable a loaded SavedModel tracks, once each (see the module docstring)."""
    import tensorflow as tf

    listed = getattr(loaded, "variables", None)  # a list the saver tracked (Keras export)
    if listed is not None and not callable(listed) and hasattr(listed, "__iter__"):
        found = list(listed)
    else:
        found = tf.train.TrackableView(loaded).descendants()
    unique: dict = {}
    for v in found:
        if isinstance(v, tf.Variable):
            unique.setdefault(v.ref(), v)
    return list(unique.values())


def saved_model_params(loaded, concrete) -> SourceParams | None:
    """Counts of a loaded SavedModel (None when it tracks no variable: nothing to say)."""
    variables = saved_model_variables(loaded)
    if not variables:
        return None
    trainable = sum(_size(v) for v in variables if v.trainable)
    total = sum(_size(v) for v in variables)
    return SourceParams(int(trainable), int(total - trainable),
                        _unread(variables, getattr(concrete, "variables", ())))


def graph_params(graph, graph_def, outputs) -> SourceParams | None:
    """Counts of a TF1 graph's variables that `outputs` read (None without variable collections)."""
    import tensorflow as tf

    from pytest_tfperf.model import graphs

    keys = tf.compat.v1.GraphKeys
    every = graph.get_collection(keys.GLOBAL_VARIABLES)
    if not every:
        return None
    needed = graphs.ancestors(graph_def, outputs)
    trainable_ops = {v.op.name for v in graph.get_collection(keys.TRAINABLE_VARIABLES)}
    trainable = non_trainable = 0
    for v in every:
        if v.op.name not in needed or not v.shape.is_fully_defined():
            continue
        if v.op.name in trainable_ops:
            trainable += _size(v)
        else:
            non_trainable += _size(v)
    return SourceParams(int(trainable), int(non_trainable))


def set_source_params(fg, counts: SourceParams | None) -> None:
    """Set a loaded FrozenGraph's source counts (and unread variables) when the source knows them."""
    if counts is not None:
        fg.trainable_params, fg.non_trainable_params = counts.trainable, counts.non_trainable
        fg.unread_variables = counts.unread
