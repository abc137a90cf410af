"""Inputs and pairing for equivalence: input sets (made by the input policy, `inputs.py`),
which reference input / output goes with which candidate one, and per-output tolerances."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pytest_tfperf.errors import ConfigError, InputError, NodeNotFoundError, unknown_name_message
from pytest_tfperf.inputs.policy import sample_inputs, synthetic_array, value_domain

_TOLERANCE_KEYS = ("atol", "rtol", "mode", "quantile")


def _display_name(model: Any) -> str:
    return str(getattr(model, "name", None) or getattr(model, "source", None) or "model")


def _resolve(name: str, names: Sequence[str]) -> str | None:
    """'node' or 'node:0' -> the matching tensor name in `names`, else None."""
    if name in names:
        return name
    if ":" not in name and f"{name}:0" in names:
        return f"{name}:0"
    return None


def _require(name: str, names: Sequence[str], what: str, where: str) -> str:
    found = _resolve(name, names)
    if found is None:
        raise NodeNotFoundError(unknown_name_message(what, name, names, where))
    return found


def make_input_sets(model: Any, inputs: Any = None, *, n_random: int = 0, seed: int = 0,
                    inputs_label: str | None = None) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The input sets an equivalence check runs: the given (or synthetic) one, then `n_random`.

    The synthetic set is `inputs.sample_inputs(model)`. Random sets keep each input's shape and
    draw values within each given input's [min, max] range, else by the input policy (valid
    token ids, vocabulary words...); `seed` makes them reproducible. Optional feeds
    (PlaceholderWithDefault flags) given by the caller are kept as they are in every set.

    Args:
        model: the reference `FrozenGraph` (its `inputs` specs and `feed_dict`).
        inputs: None, an array, a list in input order, or a dict name -> array.
        n_random: how many random input sets to add.
        seed: seed of the random sets.
        inputs_label: what reports call the `inputs` set (default "given"; e.g. "synthetic
            image" when the caller made it up, "image photo.jpg").
    Returns:
        [(label, {tensor name: array})]; labels "given" (or `inputs_label`) / "synthetic",
        then "random[i]".
    """
    if not isinstance(n_random, int) or isinstance(n_random, bool) or n_random < 0:
        raise ConfigError(f"n_random must be an int >= 0. Received: n_random={n_random!r}")
    specs = list(model.inputs)
    if inputs is None:
        base = dict(sample_inputs(model))
        label = "synthetic"
    else:
        base = {k: np.asarray(v) for k, v in model.feed_dict(inputs).items()}
        label = "given"
    sets = [(inputs_label if inputs is not None and inputs_label else label, base)]
    required = [s.name for s in specs]
    graph_def = getattr(model, "graph_def", None)
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        feed = {}
        for key, value in base.items():
            if _resolve(key, required) is None or value.size == 0:
                feed[key] = value  # an optional flag (e.g. training=False): keep it
                continue
            low = high = None
            if label == "given" and value.dtype.kind in "biuf":
                finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
                if finite.size:
                    low, high = float(finite.min()), float(finite.max())
                    if low == high and value.dtype.kind == "f":
                        high = low + 1.0  # a constant input has no range: widen by one
            feed[key] = synthetic_array(value.shape, str(value.dtype), rng=rng, low=low, high=high,
                                        domain=value_domain(graph_def, key), name=key)
        sets.append((f"random[{i}]", feed))
    return sets


def _input_pairing(ref, cand, input_map: Mapping[str, str] | None) -> dict[str, str]:
    """reference input tensor name -> candidate input tensor name (required + optional feeds)."""
    ref_req = [s.name for s in ref.inputs]
    cand_req = [s.name for s in cand.inputs]
    ref_all = ref_req + [s.name for s in getattr(ref, "defaults", ())]
    cand_all = cand_req + [s.name for s in getattr(cand, "defaults", ())]
    pairs: dict[str, str] = {}
    for r, c in (input_map or {}).items():
        pairs[_require(r, ref_all, "input", f"reference model {_display_name(ref)!r} (input_map key)")] = \
            _require(c, cand_all, "input", f"candidate model {_display_name(cand)!r} (input_map value)")
    for r in ref_all:
        if r not in pairs and r in cand_all and r not in pairs.values():
            pairs[r] = r
    missing_ref = [r for r in ref_req if r not in pairs]
    missing_cand = [c for c in cand_req if c not in pairs.values()]
    if missing_ref or missing_cand:
        raise InputError(
            f"the models' inputs do not pair by name: reference {_display_name(ref)!r} has "
            f"{', '.join(ref_req) or 'none'}; candidate {_display_name(cand)!r} has "
            f"{', '.join(cand_req) or 'none'}. Unpaired: reference {missing_ref}, candidate "
            f"{missing_cand}. Pass input_map={{reference name: candidate name}}, e.g. "
            f"input_map={{{(missing_ref or ref_req or ['x'])[0]!r}: "
            f"{(missing_cand or cand_req or ['y'])[0]!r}}}.")
    return pairs


def _output_pairing(ref_names: list[str], cand_names: list[str],
                    output_map: Mapping[str, str] | None, where_ref: str, where_cand: str):
    """[(ref, cand)], unpaired ref, unpaired cand, pairing kind, notes."""
    pairs: list[tuple[str, str]] = []
    kinds: list[str] = []
    for r, c in (output_map or {}).items():
        pairs.append((_require(r, ref_names, "output", f"{where_ref} (output_map key)"),
                      _require(c, cand_names, "output", f"{where_cand} (output_map value)")))
    if pairs:
        kinds.append("map")
    used_r = {p[0] for p in pairs}
    used_c = {p[1] for p in pairs}
    by_name = [r for r in ref_names if r not in used_r and r in cand_names and r not in used_c]
    pairs += [(r, r) for r in by_name]
    used_r |= set(by_name)
    used_c |= set(by_name)
    if by_name:
        kinds.append("name")
    rest_r = [r for r in ref_names if r not in used_r]
    rest_c = [c for c in cand_names if c not in used_c]
    notes: list[str] = []
    if rest_r and len(rest_r) == len(rest_c):
        pairs += list(zip(rest_r, rest_c))
        kinds.append("position")
        notes.append("outputs paired by position (names differ): " + ", ".join(
            f"{r} -> {c}" for r, c in zip(rest_r, rest_c)) + "; pass output_map to pair by name")
        rest_r, rest_c = [], []
    order = {r: i for i, r in enumerate(ref_names)}
    pairs.sort(key=lambda p: order[p[0]])
    return pairs, rest_r, rest_c, "+".join(kinds) or "name", notes


def _tolerance_for(name: str, cname: str, tolerances: Mapping[str, Mapping[str, Any]],
                   defaults: dict) -> dict:
    out = dict(defaults)
    for key in (name, cname):
        if key in tolerances:
            out.update(tolerances[key])
    return out


def _resolve_tolerances(tolerances: Mapping[str, Mapping[str, Any]] | None, ref_names: list[str],
                        cand_names: list[str], where: str) -> dict[str, dict]:
    resolved: dict[str, dict] = {}
    for key, value in (tolerances or {}).items():
        found = _resolve(key, ref_names) or _resolve(key, cand_names)
        if found is None:
            raise NodeNotFoundError(unknown_name_message(
                "output", key, set(ref_names) | set(cand_names), f"{where} (tolerances key)"))
        if not isinstance(value, Mapping) or set(value) - set(_TOLERANCE_KEYS):
            raise ConfigError(f"tolerances[{key!r}] must be a dict with keys among "
                              f"{', '.join(_TOLERANCE_KEYS)}. Received: {value!r}")
        resolved[found] = dict(value)
    return resolved


# --------------------------------------------------------------------------------------------
# public entry points

