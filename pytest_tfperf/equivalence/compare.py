"""Output equivalence: run two models on the same inputs and compare every output.

Seed 001's rule 2 ("for the same image, the output before and after optimization must not
differ much") as a reusable check. `compare_arrays` is pure numpy (one output);
`compare_models` runs a reference and a candidate model on one or more input sets and builds an
`EquivalenceReport`; `assert_equivalent` does the same and raises `NotEquivalentError` (an
`AssertionError`, so pytest shows it as a plain test failure) when the report fails.

Element-wise rule (`mode="elemwise"`): an element fails only when its absolute difference is
beyond *both* tolerances, i.e. ``|cand - ref| > atol and |cand - ref| > rtol * |ref|``. This is
more lenient than `numpy.allclose` (which adds the two): `atol` alone or `rtol` alone is
enough to pass an element, so "would pass with atol>=A or rtol>=R" is exactly true.
NaN in the same place in both outputs counts as equal (so do infinities of the same sign);
a NaN/Inf in one output only is always a mismatch, whatever the tolerances and mode.

TensorFlow is never imported here: models are run through `Model.run` (any runtime).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_tfperf.errors import ConfigError, NotEquivalentError
from pytest_tfperf.model import as_model
from pytest_tfperf.equivalence.dataset import dataset_feeds, dataset_label
from pytest_tfperf.equivalence.evidence import OutputEvidence, _judged, _Range
from pytest_tfperf.equivalence.messages import _count, _g, _index, _message, _percent, _shape
from pytest_tfperf.equivalence.stats import _value_stats
from pytest_tfperf.equivalence.pairing import (_display_name, _input_pairing, _output_pairing, _resolve, _resolve_tolerances,
                      _tolerance_for, make_input_sets)

MODES = ("elemwise", "max", "mean", "quantile")


# --------------------------------------------------------------------------------------------
# result model


def _jsonable(value: Any) -> Any:
    """Plain Python values for to_dict(): numpy scalars -> float/int, inf/nan -> None."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclasses.dataclass(frozen=True)
class OutputComparison:
    """How one reference output compares with its candidate output (worst input set).

    `failure` says why it failed: None (passed), "values", "nonfinite", "shape", "dtype",
    "missing" (the candidate has no output paired with this reference output) or "extra"
    (a candidate output with no reference output; `name` is then the candidate's).
    Error statistics are over the elements that are finite in both outputs; `to_dict()`
    writes infinite or undefined numbers as None.
    """

    name: str
    candidate_name: str | None
    passed: bool
    message: str
    failure: str | None = None
    shape: tuple[int, ...] | None = None
    candidate_shape: tuple[int, ...] | None = None
    dtype: str | None = None
    candidate_dtype: str | None = None
    mode: str = "elemwise"
    atol: float = 0.0
    rtol: float = 0.0
    quantile: float = 0.99
    n_elements: int = 0
    n_mismatched: int = 0
    mismatch_percent: float = 0.0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    mean_abs_error: float = 0.0
    median_abs_error: float = 0.0
    quantile_abs_error: float = 0.0
    worst_index: tuple[int, ...] | None = None
    worst_reference: float | None = None
    worst_candidate: float | None = None
    min_atol: float = 0.0          # smallest atol that passes with rtol=0 (= max abs error)
    min_rtol: float = 0.0          # smallest rtol that passes with atol=0 (= max rel error)
    cosine_similarity: float | None = None
    nonfinite_mismatches: int = 0  # NaN/Inf in one output only (or Inf of opposite sign)
    nonfinite_index: tuple[int, ...] | None = None
    nonfinite_reference: float | None = None
    nonfinite_candidate: float | None = None
    top1_agreement: float | None = None   # fraction of batch rows whose argmax agrees
    top1_disagree_rows: tuple[int, ...] = ()
    top_k: int | None = None
    topk_agreement: float | None = None   # fraction of rows with the same top-k class set
    topk_disagree_rows: tuple[int, ...] = ()
    input_set: str = ""            # label of the input set the reported numbers come from
    input_set_index: int = 0
    # over every input set (issue 21: a dataset); top1_agreement above is then over every row
    dataset_inputs: int = 0
    dataset_max_abs_error: float | None = None
    dataset_p99_abs_error: float | None = None
    dataset_mean_abs_error: float | None = None
    worst_input: str | None = None          # the input set with the largest abs error
    top1_agree_count: int | None = None
    top1_rows: int | None = None
    top1_ci: tuple[float, float] | None = None   # 95% Wilson interval of top1_agreement
    top1_disagree_inputs: tuple[str, ...] = ()
    information: str | None = None          # why the reference output proves nothing, if it does

    @property
    def is_classifier(self) -> bool:
        return self.top1_agreement is not None

    def to_dict(self) -> dict:
        data = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        # undefined-vs-infinite matters for these two: keep the information as a flag
        data["max_rel_error_infinite"] = math.isinf(self.max_rel_error)
        return data


@dataclasses.dataclass(frozen=True)
class EquivalenceReport:
    """All outputs of a reference model compared with a candidate's on `n_inputs` input sets."""

    reference: str
    candidate: str
    mode: str
    atol: float
    rtol: float
    n_inputs: int
    outputs: tuple[OutputComparison, ...]
    passed: bool
    quantile: float = 0.99
    top_k: int | None = None
    seed: int = 0
    input_sets: tuple[str, ...] = ()
    pairing: str = "name"          # "name", "map", "position" or a mix joined with "+"
    notes: tuple[str, ...] = ()
    dataset: str | None = None     # the dataset the input sets came from (issue 21)
    min_top1_agreement: float | None = None
    inputs_range: str = ""         # min and max of the values fed, e.g. "[0, 1]"

    @property
    def top1_agreement(self) -> float | None:
        """The lowest top-1 agreement of the classifier-like outputs over every input (None
        without one)."""
        rates = [o.top1_agreement for o in self.outputs if o.top1_agreement is not None]
        return min(rates) if rates else None

    @property
    def failures(self) -> tuple[OutputComparison, ...]:
        return tuple(o for o in self.outputs if not o.passed)

    def message(self) -> str:
        """One header line, the notes, then one line per failing output (all outputs if none)."""
        n_failed = len(self.failures)
        verdict = "equivalent" if self.passed else "NOT equivalent"
        tol = f"atol={_g(self.atol)} rtol={_g(self.rtol)}"
        if self.mode == "quantile":
            tol += f" quantile={_g(self.quantile)}"
        sets = _count(self.n_inputs, "input set")
        if self.dataset:
            sets += f" from dataset {self.dataset}"
        if self.inputs_range:
            sets += f", values {self.inputs_range}"
        head = (f"{self.reference} vs {self.candidate}: {verdict} (mode {self.mode}, {tol}, "
                f"{sets})")
        if not self.passed:
            head += f": {n_failed} of {len(self.outputs)} outputs failed"
        lines = [head] + [f"  note: {n}" for n in self.notes]
        shown = self.failures if not self.passed else self.outputs
        lines += ["  " + o.message for o in shown]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        data = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name != "outputs"}
        data["outputs"] = [o.to_dict() for o in self.outputs]
        data["top1_agreement"] = _jsonable(self.top1_agreement)
        return data


# --------------------------------------------------------------------------------------------
# formatting





def _check_tolerances(atol: float, rtol: float, mode: str, quantile: float, where: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"{where}: mode must be one of {', '.join(MODES)}. Received: mode={mode!r}")
    for label, value in (("atol", atol), ("rtol", rtol)):
        if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer))
                or not math.isfinite(float(value)) or value < 0):
            raise ConfigError(f"{where}: {label} must be a finite number >= 0. "
                              f"Received: {label}={value!r}")
    if not isinstance(quantile, (int, float)) or not 0 < quantile <= 1:
        raise ConfigError(f"{where}: quantile must be in (0, 1], e.g. 0.99. "
                          f"Received: quantile={quantile!r}")


def _classifier_agreement(ref: np.ndarray, cand: np.ndarray, top_k: int | None) -> dict:
    """Top-1 (and top-k) agreement per batch row for [batch, classes>=2] float outputs."""
    if ref.ndim != 2 or ref.shape[1] < 2 or ref.shape[0] == 0 or ref.dtype.kind != "f":
        return {}
    r = np.nan_to_num(ref.astype(np.float64), nan=-np.inf)
    c = np.nan_to_num(cand.astype(np.float64), nan=-np.inf)
    top1 = np.argmax(r, axis=1) != np.argmax(c, axis=1)
    out = {"top1_agreement": float(1.0 - top1.mean()),
           "top1_disagree_rows": tuple(int(i) for i in np.flatnonzero(top1))}
    if top_k:
        k = min(int(top_k), ref.shape[1])
        rk = np.sort(np.argsort(-r, axis=1, kind="stable")[:, :k], axis=1)
        ck = np.sort(np.argsort(-c, axis=1, kind="stable")[:, :k], axis=1)
        bad = np.any(rk != ck, axis=1)
        out.update(top_k=int(top_k), topk_agreement=float(1.0 - bad.mean()),
                   topk_disagree_rows=tuple(int(i) for i in np.flatnonzero(bad)))
    return out


def compare_arrays(reference: Any, candidate: Any, *, name: str = "array",
                   candidate_name: str | None = None, atol: float = 1e-5, rtol: float = 1e-4,
                   mode: str = "elemwise", quantile: float = 0.99, top_k: int | None = None,
                   input_set: str = "", input_set_index: int = 0) -> OutputComparison:
    """Compare one output array of a reference model with a candidate's.

    Args:
        reference: the reference output (array-like).
        candidate: the candidate output (array-like).
        name: the reference output's tensor name, for messages.
        candidate_name: the candidate's tensor name (defaults to `name`).
        atol, rtol: tolerances (see the module docstring for how `mode` uses them).
        mode: "elemwise", "max", "mean" or "quantile".
        quantile: q for `mode="quantile"`: the q-quantile of the absolute error must be <= atol.
        top_k: also compare top-k class sets of classifier-like ([batch, classes]) outputs.
        input_set, input_set_index: which input set produced these arrays (for the report).
    Returns:
        an `OutputComparison` (`passed`, `message` and every statistic).
    Example:
        >>> compare_arrays(np.zeros(3), np.zeros(3)).passed
        True
    """
    _check_tolerances(atol, rtol, mode, quantile, f"compare_arrays({name!r})")
    ref = np.asarray(reference)
    cand = np.asarray(candidate)
    cname = name if candidate_name is None else candidate_name
    common = {"name": name, "candidate_name": cname, "shape": tuple(int(d) for d in ref.shape),
              "candidate_shape": tuple(int(d) for d in cand.shape), "dtype": str(ref.dtype),
              "candidate_dtype": str(cand.dtype), "mode": mode, "atol": float(atol),
              "rtol": float(rtol), "quantile": float(quantile), "input_set": input_set,
              "input_set_index": input_set_index, "n_elements": int(ref.size)}
    label = f"output {name}" + (f" (candidate {cname})" if cname != name else "")
    if ref.shape != cand.shape:
        msg = f"{label}: shape {_shape(ref.shape)} vs {_shape(cand.shape)}"
        if ref.dtype != cand.dtype:
            msg += f"; dtype {ref.dtype} vs {cand.dtype}"
        return OutputComparison(passed=False, message=msg, failure="shape", **common)

    numeric = ref.dtype.kind in "biufc" and cand.dtype.kind in "biufc"
    if not numeric:  # strings / objects: exact equality only
        diff = ref != cand
        n_bad = int(np.count_nonzero(diff))
        bad_at = np.argwhere(diff)
        stats = {"n_mismatched": n_bad, "mismatch_percent": _percent(n_bad, ref.size),
                 "worst_index": tuple(int(i) for i in bad_at[0]) if n_bad else None}
        passed = n_bad == 0 and ref.dtype == cand.dtype
        failure = None if passed else ("dtype" if ref.dtype != cand.dtype else "values")
        msg = f"{label} {_shape(ref.shape)} {ref.dtype}: " + (
            "equal" if n_bad == 0 else f"{n_bad}/{ref.size} elements differ, first at "
            f"{_index(stats['worst_index'])}")
        if ref.dtype != cand.dtype:
            msg = f"{label} {_shape(ref.shape)}: dtype {ref.dtype} vs {cand.dtype}"
        return OutputComparison(passed=passed, message=msg, failure=failure, **common, **stats)

    stats = _value_stats(ref, cand, atol, rtol, quantile)
    stats.update(_classifier_agreement(ref, cand, top_k))
    n_nonfinite = stats["nonfinite_mismatches"]
    max_abs, max_rel = stats["max_abs_error"], stats["max_rel_error"]
    if mode == "elemwise":
        values_ok = stats["n_mismatched"] == n_nonfinite
    elif mode == "max":
        values_ok = max_abs <= atol or max_rel <= rtol
    elif mode == "mean":
        values_ok = stats["mean_abs_error"] <= atol
    else:
        values_ok = stats["quantile_abs_error"] <= atol
    dtype_ok = ref.dtype == cand.dtype
    passed = values_ok and n_nonfinite == 0 and dtype_ok
    failure = None
    if not dtype_ok:
        failure = "dtype"
    elif n_nonfinite:
        failure = "nonfinite"
    elif not values_ok:
        failure = "values"
    comparison = OutputComparison(passed=passed, message="", failure=failure, **common, **stats)
    return dataclasses.replace(comparison, message=_message(comparison, label, values_ok))




def compare_models(reference: Any, candidate: Any, inputs: Any = None, *, atol: float = 1e-5,
                   rtol: float = 1e-4, mode: str = "elemwise", quantile: float = 0.99,
                   tolerances: Mapping[str, Mapping[str, Any]] | None = None,
                   output_map: Mapping[str, str] | None = None,
                   input_map: Mapping[str, str] | None = None, n_random: int = 0, seed: int = 0,
                   top_k: int | None = None, inputs_label: str | None = None,
                   dataset: Any = None, min_top1_agreement: float | None = None,
                   allow_degenerate: bool = False, preprocess: Any = "auto") -> EquivalenceReport:
    """Run both models on the same input sets and compare every output; never raises on mismatch.

    Same arguments as `assert_equivalent`. Returns the `EquivalenceReport`.
    """
    _check_tolerances(atol, rtol, mode, quantile, "assert_equivalent")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"top_k must be an int >= 1 or None. Received: top_k={top_k!r}")
    if min_top1_agreement is not None and (isinstance(min_top1_agreement, bool) or not isinstance(
            min_top1_agreement, (int, float)) or not 0 <= min_top1_agreement <= 1):
        raise ConfigError("min_top1_agreement must be a fraction in [0, 1], e.g. 0.99. "
                          f"Received: min_top1_agreement={min_top1_agreement!r}")
    ref = as_model(reference)
    cand = as_model(candidate)
    ref_label, cand_label = _display_name(ref), _display_name(cand)
    if ref_label == cand_label and ref is not cand:
        cand_label = f"{cand_label} (candidate)"
    where_ref = f"reference model {ref_label!r}"
    where_cand = f"candidate model {cand_label!r}"
    ref_names = [s.name for s in ref.outputs]
    cand_names = [s.name for s in cand.outputs]
    pairs, rest_r, rest_c, pairing, notes = _output_pairing(
        ref_names, cand_names, output_map, where_ref, where_cand)
    per_output = _resolve_tolerances(tolerances, ref_names, cand_names, where_ref)
    defaults = {"atol": atol, "rtol": rtol, "mode": mode, "quantile": quantile}
    tols = {}
    for r, c in pairs:
        t = _tolerance_for(r, c, per_output, defaults)
        _check_tolerances(t["atol"], t["rtol"], t["mode"], t["quantile"], f"tolerances[{r!r}]")
        tols[r] = t

    in_pairs = _input_pairing(ref, cand, input_map)
    sets: Any = []
    if dataset is None or inputs is not None or n_random:
        sets = make_input_sets(ref, inputs, n_random=n_random, seed=seed, inputs_label=inputs_label)
    if dataset is not None:
        sets = itertools.chain(sets, dataset_feeds(ref, dataset, preprocess=preprocess))
    worst: dict[str, OutputComparison] = {}
    evidence = {r: OutputEvidence(r) for r, _ in pairs}
    labels: list[str] = []
    seen = _Range()
    for index, (label, feed) in enumerate(sets):
        labels.append(label)
        seen.add(feed)
        ref_out = dict(zip(ref_names, ref.run(feed)))
        cand_feed = {}
        for key, value in feed.items():
            target = in_pairs.get(_resolve(key, list(in_pairs)) or key)
            if target is not None:
                cand_feed[target] = value
        cand_out = dict(zip(cand_names, cand.run(cand_feed)))
        for r, c in pairs:
            t = tols[r]
            comp = compare_arrays(ref_out[r], cand_out[c], name=r, candidate_name=c,
                                  atol=t["atol"], rtol=t["rtol"], mode=t["mode"],
                                  quantile=t["quantile"], top_k=top_k, input_set=label,
                                  input_set_index=index)
            evidence[r].see_reference(ref_out[r])
            evidence[r].add(label, ref_out[r], cand_out[c])
            if r not in worst or _badness(comp) > _badness(worst[r]):
                worst[r] = comp
    if not labels:
        raise ConfigError(f"dataset {dataset_label(dataset)!r} gave no inputs: an equivalence check "
                          "over nothing proves nothing.")
    if len(labels) == 1 and not allow_degenerate:  # one input cannot show a constant output:
        # run the reference once more on a seeded random input in the same value range
        probe = make_input_sets(ref, inputs, n_random=1, seed=seed + 7919)[-1][1]
        for r, value in zip(ref_names, ref.run(probe)):
            if r in evidence:
                evidence[r].see_reference(value)
    outputs = [_judged(worst[r], evidence[r], allow_degenerate, min_top1_agreement, seen.text())
               for r, _ in pairs]
    if min_top1_agreement is not None and not any(o.top1_agreement is not None for o in outputs):
        raise ConfigError(f"min_top1_agreement={min_top1_agreement!r}: no output of {ref_label} is "
                          "classifier-like ([batch, classes] floats), so top-1 agreement cannot be "
                          "measured; drop min_top1_agreement or compare a classifier output.")
    total = (f"reference has {_count(len(ref_names), 'output')}, candidate has "
             f"{len(cand_names)}")
    outputs += [OutputComparison(name=r, candidate_name=None, passed=False, failure="missing",
                                 mode=mode, atol=atol, rtol=rtol, quantile=quantile,
                                 message=f"output {r}: missing in candidate ({total}); pass "
                                         f"output_map={{{r!r}: <candidate output>}}")
                for r in rest_r]
    outputs += [OutputComparison(name=c, candidate_name=c, passed=False, failure="extra",
                                 mode=mode, atol=atol, rtol=rtol, quantile=quantile,
                                 message=f"output {c}: only in candidate ({total})")
                for c in rest_c]
    return EquivalenceReport(
        reference=ref_label, candidate=cand_label, mode=mode, atol=float(atol), rtol=float(rtol),
        n_inputs=len(labels), outputs=tuple(outputs), passed=all(o.passed for o in outputs),
        quantile=float(quantile), top_k=top_k, seed=seed,
        input_sets=tuple(labels[:1000]), pairing=pairing, notes=tuple(notes),
        dataset=None if dataset is None else dataset_label(dataset),
        min_top1_agreement=min_top1_agreement, inputs_range=seen.text())


def _badness(o: OutputComparison) -> tuple:
    """Order for 'worst input set': failing first, then NaN/Inf, mismatches, the mode's error."""
    stat = {"mean": o.mean_abs_error, "quantile": o.quantile_abs_error}.get(o.mode, o.max_abs_error)
    return (not o.passed, o.nonfinite_mismatches, o.n_mismatched, stat, o.max_abs_error)


def assert_equivalent(reference: Any, candidate: Any, inputs: Any = None, *, atol: float = 1e-5,
                      rtol: float = 1e-4, mode: str = "elemwise", quantile: float = 0.99,
                      tolerances: Mapping[str, Mapping[str, Any]] | None = None,
                      output_map: Mapping[str, str] | None = None,
                      input_map: Mapping[str, str] | None = None, n_random: int = 0,
                      seed: int = 0, top_k: int | None = None,
                      inputs_label: str | None = None, dataset: Any = None,
                      min_top1_agreement: float | None = None, allow_degenerate: bool = False,
                      preprocess: Any = "auto") -> EquivalenceReport:
    """Assert that `candidate` computes the same outputs as `reference` (seed 001, rule 2).

    Args:
        reference: a `FrozenGraph`, or anything `pytest_tfperf.load` accepts.
        candidate: the same, typically the optimized model.
        inputs: an array, list or dict as `FrozenGraph.feed_dict` accepts; None feeds the
            input policy's deterministic arrays (`inputs.sample_inputs`: batch 1, floats in
            [0, 1), valid token ids and vocabulary words read from the graph).
        atol, rtol: tolerances. In "elemwise" mode an element fails only when
            ``|cand - ref| > atol and |cand - ref| > rtol * |ref|``.
        mode: "elemwise"; "max" (max abs error <= atol or max rel error <= rtol); "mean"
            (mean abs error <= atol); "quantile" (the `quantile`-quantile of abs error <= atol).
        quantile: q for mode "quantile" (default 0.99).
        tolerances: per-output overrides, ``{"name" or "name:0": {"atol":.., "rtol":..}}``
            (keys "mode" and "quantile" are accepted too).
        output_map: ``{reference output: candidate output}`` when the candidate renamed
            outputs. Unmapped outputs pair by name, then by position when the counts match.
        input_map: ``{reference input: candidate input}`` when input names differ.
        n_random: extra seeded random input sets within each given input's [min, max] range.
        seed: seed of the random input sets.
        top_k: also check top-k class agreement of classifier-like [batch, classes] outputs
            (top-1 is always checked for them).
        inputs_label: what the report calls the `inputs` set (default "given"), e.g.
            "synthetic image" when the caller made the input up.
        dataset: many inputs (issue 21): a folder of images (decoded, resized and preprocessed
            as the sample image is, `preprocess`), an .npy / .npz (first axis = one input each)
            or an iterable of feeds (a `tf.data.Dataset` too). Each output then reports its
            error distribution (`dataset_max/p99/mean_abs_error`), top-1 agreement over every
            input (`top1_agreement`, `top1_ci` 95% Wilson) and `worst_input`. With a dataset
            and no `inputs`, only the dataset is compared.
        min_top1_agreement: fail when the top-1 agreement of a classifier-like output is below
            this fraction ("top-1 agrees on 30 of 40 inputs").
        allow_degenerate: compare even when a reference output carries no information on the
            inputs (constant across inputs, saturated softmax, all zero / NaN); by default such
            a comparison fails (`failure="degenerate"`): it would pass whatever the candidate.
        preprocess: how dataset images are preprocessed ("auto": the model's range).
    Returns:
        the passing `EquivalenceReport`.
    Raises:
        NotEquivalentError: (an AssertionError) an output differs, or shapes, dtypes or output
            counts differ, or an output proves nothing (degenerate), or top-1 agreement is
            below `min_top1_agreement`; `.report` holds the report.
        InputError / NodeNotFoundError / ConfigError: bad inputs, names or arguments.
    Example:
        >>> report = assert_equivalent(frozen, optimized, sample_image, n_random=3)
    """
    report = compare_models(reference, candidate, inputs, atol=atol, rtol=rtol, mode=mode,
                            quantile=quantile, tolerances=tolerances, output_map=output_map,
                            input_map=input_map, n_random=n_random, seed=seed, top_k=top_k,
                            inputs_label=inputs_label, dataset=dataset,
                            min_top1_agreement=min_top1_agreement,
                            allow_degenerate=allow_degenerate, preprocess=preprocess)
    if not report.passed:
        raise NotEquivalentError(report)
    return report
