"""The `Model` protocol: what every runtime (TensorFlow graph, TFLite interpreter) provides.

`measure`, `assert_equivalent`, budgets and reports accept any object that satisfies it. A new
runtime plugs in by implementing these members; nothing else in the package may assume a
`FrozenGraph`. (`FrozenGraph` has more: a GraphDef, a session, graph transforms.)
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence, runtime_checkable


@runtime_checkable
class Model(Protocol):
    """A loaded model that can be run, timed, compared and reported.

    Members:
        name: short display name (file name or model name).
        identity: stable key that tells two models apart in records and reports: the resolved
            source path (os.path.realpath), plus "#<signature>" for a SavedModel signature, plus
            "[out1,out2]" when outputs were named explicitly; "<kind name>" for in-memory objects
            (never the bare file name).
        source: where it came from (a path, or a description of an in-memory object).
        kind: the reference kind ("pb", "saved_model", "keras", "tflite", ...).
        runtime: which runtime runs it ("tensorflow", "ai_edge_litert", "tf.lite").
        inputs / outputs: `TensorSpec`s (name, dtype, shape, quantization where it exists).
        size_bytes: serialized size of the model as it is run.
        trainable_params / non_trainable_params: the source framework's own counts, or None.
    """

    name: str
    source: str
    kind: str

    @property
    def identity(self) -> str: ...

    @property
    def runtime(self) -> str: ...

    @property
    def inputs(self) -> Sequence[Any]: ...

    @property
    def outputs(self) -> Sequence[Any]: ...

    @property
    def size_bytes(self) -> int: ...

    def runner(self, inputs: Any, *, fresh: bool = False) -> Callable[[], list]:
        """A zero-argument callable that runs one inference on the bound inputs and returns
        the outputs as host (numpy) arrays, in `outputs` order. Built once; cheap to call.

        `fresh=True` builds it on an independent runtime instance (a new TF session, a new
        interpreter), so timing blocks taken with it are independent replicates."""
        ...

    def run(self, inputs: Any) -> list:
        """One inference; outputs as numpy arrays in `outputs` order."""
        ...


def is_model(obj: Any) -> bool:
    """True for any object that satisfies the `Model` protocol (FrozenGraph, TFLite model)."""
    return isinstance(obj, Model)
