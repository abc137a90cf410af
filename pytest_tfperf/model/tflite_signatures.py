"""What a TFLite interpreter says about a model's inputs and outputs beyond their tensors:
signature keys (what the SavedModel called them) and dynamic (-1) input dims."""
from __future__ import annotations


def signature_keys(interp) -> dict[int, str]:
    """{tensor index: signature key} of the model's signature (its only one, else
    `serving_default`), for the inputs and outputs of the subgraph the interpreter runs; {} when
    it has none or the keys are not unique names."""
    full = getattr(interp, "_get_full_signature_list", None)  # LiteRT and tf.lite both have it
    try:
        signatures = full() if callable(full) else {}
    except (RuntimeError, ValueError):
        return {}
    if not signatures:
        return {}
    sig = signatures.get("serving_default") if len(signatures) > 1 else next(iter(signatures.values()))
    if not sig:
        return {}
    ins, outs = dict(sig.get("inputs") or {}), dict(sig.get("outputs") or {})
    runs = {d["index"] for d in interp.get_input_details() + interp.get_output_details()}
    keys = {int(i): str(k) for k, i in list(ins.items()) + list(outs.items())}
    if not set(keys) <= runs or len(set(keys.values())) != len(keys):
        return {}  # another subgraph's signature, or one tensor under two keys
    return keys


def _dynamic(interp) -> bool:
    """True when an input has an unknown (-1) dim in its shape signature."""
    for d in interp.get_input_details():
        signature = d.get("shape_signature")
        if signature is not None and any(int(v) < 0 for v in signature):
            return True
    return False
