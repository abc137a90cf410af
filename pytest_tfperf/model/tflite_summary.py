"""`summarize` of a TFLite model: what its flatbuffer holds (ops, tensors, constant buffers).

The counterpart of `summary.GraphSummary` for `.tflite` files. `to_dict()` carries the keys the
reports read from any model summary (`weight_params`, `serialized_bytes`, `node_count` = the
operators), so a TFLite model gets a row in every report's model table, and a `param_budget`
on it is checked against the constant weights of its flatbuffer.
"""
from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["TFLiteSummary", "summarize_tflite", "summarize_unloadable"]


@dataclasses.dataclass(frozen=True)
class TFLiteSummary:
    """A TFLite model's static facts (no inference run).

    `weight_params`: elements of constant float tensors and of quantized (int8 / int32)
    weights and biases; `constant_elements` counts every constant (shapes and axes too).
    `tensors` / `ops`: every tensor and operator (`TFLiteModel.tensors()` / `ops()`).
    A flatbuffer knows no trainability: `trainable_params` is None, never zero.
    """

    name: str
    source: str
    runtime: str
    inputs: tuple[Any, ...]          # TensorSpecs, with quantization (scale, zero point)
    outputs: tuple[Any, ...]
    op_histogram: tuple[tuple[str, int], ...]
    op_count: int
    tensor_count: int
    subgraphs: int
    weight_params: int
    weight_dtypes: tuple[tuple[str, int], ...]
    constant_elements: int
    constant_bytes: int
    serialized_bytes: int
    tensors: tuple[dict, ...] = ()
    ops: tuple[dict, ...] = ()
    cannot_run: str = ""             # why no interpreter here loads it (the structure is still read)

    kind = "tflite"
    trainable_params = None
    non_trainable_params = None

    def to_dict(self, *, details: bool = True) -> dict:
        """JSON-able dict; `details=False` leaves out the per-tensor and per-op lists."""
        out = {
            "name": self.name, "source": self.source, "kind": self.kind, "runtime": self.runtime,
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
            "node_count": self.op_count, "op_count": self.op_count,
            "op_histogram": [[op, n] for op, n in self.op_histogram],
            "tensor_count": self.tensor_count, "subgraphs": self.subgraphs,
            "weight_params": self.weight_params,
            "weight_dtypes": [[d, n] for d, n in self.weight_dtypes],
            "constant_elements": self.constant_elements,
            "other_const_elements": self.constant_elements - self.weight_params,
            "constant_bytes": self.constant_bytes, "serialized_bytes": self.serialized_bytes,
            "trainable_params": None, "non_trainable_params": None, "source_params": None,
        }
        if self.cannot_run:
            out["cannot_run"] = self.cannot_run
        if details:
            out["tensors"] = [dict(t) for t in self.tensors]
            out["ops"] = [dict(o) for o in self.ops]
        return out


def summarize_tflite(model) -> TFLiteSummary:
    """The `TFLiteSummary` of a loaded `TFLiteModel` (read from its flatbuffer)."""
    from pytest_tfperf.model.runtimes import tflite_runtime_text

    facts = model.facts
    return TFLiteSummary(
        name=model.name, source=str(model.source), runtime=tflite_runtime_text(model.runtime_info()),
        inputs=tuple(model.inputs), outputs=tuple(model.outputs),
        op_histogram=tuple(facts.op_histogram), op_count=facts.n_ops,
        tensor_count=facts.n_tensors, subgraphs=facts.n_subgraphs,
        weight_params=facts.weight_params, weight_dtypes=tuple(facts.weight_dtypes),
        constant_elements=facts.constant_elements, constant_bytes=facts.constant_bytes,
        serialized_bytes=model.size_bytes, tensors=tuple(model.tensors()), ops=tuple(model.ops()))


def summarize_unloadable(path, error: BaseException) -> TFLiteSummary | None:
    """The `TFLiteSummary` of a `.tflite` file that no interpreter here can load (custom or Flex
    ops): read from the flatbuffer alone, `cannot_run` saying why. None when `path` is not a
    readable TFLite flatbuffer (then `error` is the one to raise)."""
    import os

    from pytest_tfperf.errors import ModelLoadError
    from pytest_tfperf.model.graphs import tensor_name
    from pytest_tfperf.model.tflite import _spec
    from pytest_tfperf.model.tflite_flatbuffer import flatbuffer_facts, op_table, read_flatbuffer, tensor_table

    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).lower().endswith(".tflite") \
            or not os.path.isfile(path):
        return None
    path = os.fspath(path)
    with open(path, "rb") as f:
        content = f.read()
    try:
        model_t = read_flatbuffer(content, path)
        facts = flatbuffer_facts(model_t)
    except (ModelLoadError, IndexError, TypeError, ValueError, AttributeError):
        return None
    tensors = tensor_table(model_t)
    first = model_t.subgraphs[0] if model_t.subgraphs else None
    by_index = {t["index"]: t for t in tensors if t["subgraph"] == 0}
    keys = _flatbuffer_signature_keys(model_t)  # named as a loaded model names them

    def specs(indices):
        out = []
        for i in (indices if indices is not None else []):
            t = by_index[int(i)]
            signature = first.tensors[int(i)].shapeSignature
            dims = list(signature) if signature is not None and len(signature) else t["shape"]
            out.append(_spec(tensor_name(keys.get(int(i)) or t["name"]), t["dtype"],
                             tuple(None if int(d) < 0 else int(d) for d in dims), t["quantization"]))
        return tuple(out)

    return TFLiteSummary(
        name=os.path.basename(path), source=path, runtime="none (cannot load it here)",
        inputs=specs(first.inputs if first else None), outputs=specs(first.outputs if first else None),
        op_histogram=tuple(facts.op_histogram), op_count=facts.n_ops, tensor_count=facts.n_tensors,
        subgraphs=facts.n_subgraphs, weight_params=facts.weight_params,
        weight_dtypes=tuple(facts.weight_dtypes), constant_elements=facts.constant_elements,
        constant_bytes=facts.constant_bytes, serialized_bytes=len(content), tensors=tuple(tensors),
        ops=tuple(op_table(model_t)), cannot_run=str(error))


def _flatbuffer_signature_keys(model_t) -> dict[int, str]:
    """{tensor index: signature key} read from the flatbuffer, by `tflite_signatures.signature_keys`'
    rule (the only signature, else `serving_default`; subgraph 0; unique keys), so a file that
    cannot be loaded names its inputs and outputs as a loaded one does."""
    def text(value) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    signatures = {text(d.signatureKey): d for d in (model_t.signatureDefs or [])}
    sig = signatures.get("serving_default") if len(signatures) > 1 else next(iter(signatures.values()), None)
    if sig is None or int(sig.subgraphIndex or 0) != 0:
        return {}
    keys = {int(m.tensorIndex): text(m.name) for m in list(sig.inputs or []) + list(sig.outputs or [])}
    return keys if len(set(keys.values())) == len(keys) else {}

