"""Why a TFLite interpreter cannot load a flatbuffer, worded from the flatbuffer itself.

The interpreter's own message names only the first op it could not resolve ("Encountered
unresolved custom op: Zeta") and blames Flex whether or not it applies; the flatbuffer lists every
custom op. `custom_ops` reads them, `cannot_load_message` words the error: every custom op with
its node count, the Flex (SELECT_TF_OPS) remedy only for `Flex*` ops, the custom-op remedy only
for the others, and that `tfperf summarize` still shows the structure.
"""
from __future__ import annotations

from collections import Counter

__all__ = ["cannot_load_message", "custom_ops"]


def custom_ops(model_t) -> list[tuple[str, int]]:
    """(custom op name, node count) of a parsed flatbuffer, in order of first use."""
    counts: Counter = Counter()
    for sub in model_t.subgraphs or []:
        for op in sub.operators or []:
            code = model_t.operatorCodes[op.opcodeIndex]
            if code.customCode:
                name = code.customCode.decode() if isinstance(code.customCode, bytes) \
                    else str(code.customCode)
                counts[name] += 1
    return list(counts.items())


def _listed(ops: list[tuple[str, int]]) -> str:
    return ", ".join(f"{name} ({n} nodes)" if n > 1 else name for name, n in ops)


def cannot_load_message(source: str, runtime: str, exc: BaseException, model_t) -> str:
    """The `ModelLoadError` text for an interpreter that failed to load `model_t`."""
    said = " ".join(str(exc).split())[:300]
    text = f"{source!r}: the {runtime} interpreter cannot load this model ({said})."
    ops = custom_ops(model_t)
    flex = [(n, c) for n, c in ops if n.startswith("Flex")]
    custom = [(n, c) for n, c in ops if not n.startswith("Flex")]
    if custom:
        text += (f" It has {len(custom)} custom op type(s) no interpreter here implements: "
                 f"{_listed(custom)} (the converter's allow_custom_ops=True leaves TensorFlow ops "
                 "it cannot express as custom ops). Convert without allow_custom_ops, replacing "
                 "them with ops TFLite has, or run it where their kernels are registered.")
    if flex:
        text += (f" It has {len(flex)} Select TensorFlow (Flex) op type(s): {_listed(flex)}; "
                 f"the {runtime} interpreter here does not link the Flex delegate. Convert with "
                 "supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS] only, or run it with a runtime "
                 "that links Flex (the tensorflow-lite-select-tf-ops build).")
    dynamic = _dynamic_inputs(model_t)
    if dynamic:
        text += (f" Its input(s) {', '.join(dynamic)} have dims of any size (-1), which the "
                 "interpreter first allocates at size 1: pin them, e.g. load(path, "
                 "input_shapes=[[1, 224, 224, 3]]).")
    elif not ops:
        text += (" It has no custom ops: the runtime rejected a builtin op. Try "
                 "use_xnnpack=False or runtime='tf.lite', or convert it again with this TensorFlow.")
    return text + " `tfperf summarize` still shows its ops and tensors."


def _dynamic_inputs(model_t) -> list[str]:
    """'name [-1,-1,-1,3]' of each input of the first subgraph with a dim of any size."""
    if not model_t.subgraphs:
        return []
    sub = model_t.subgraphs[0]
    out = []
    for i in (sub.inputs if sub.inputs is not None else []):
        t = sub.tensors[int(i)]
        signature = t.shapeSignature
        if signature is not None and any(int(d) < 0 for d in signature):
            name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
            out.append(f"{name} [{','.join(str(int(d)) for d in signature)}]")
    return out

