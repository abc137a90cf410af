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

TensorFlow is never imported here: models are run through `FrozenGraph.run`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, InputError, NodeNotFoundError, unknown_name_message

MODES = ("elemwise", "max", "mean", "quantile")
_TOLERANCE_KEYS = ("atol", "rtol", "mode", "quantile")


class NotEquivalentError(AssertionError):
    """Raised by `assert_equivalent` when outputs differ; `.report` is the `EquivalenceReport`."""

    def __init__(self, report: EquivalenceReport):
        super().__init__(report.message())
        self.report = report


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
        return data


# --------------------------------------------------------------------------------------------
# formatting


def _g(x: float) -> str:
    return f"{x:g}"


def _e(x: float) -> str:
    """3 significant digits in e-notation, trailing zeros dropped: 3.98e-03, 4.8e-03, 0."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    mant, exp = f"{x:.2e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}e{exp}"


def _e_up(x: float) -> str:
    """Like `_e` but rounded *up*, so 'would pass with atol>=X' is true for the printed X."""
    if x <= 0 or not math.isfinite(x):
        return _e(x)
    exp = math.floor(math.log10(x))
    scale = 10.0 ** (exp - 2)
    up = math.ceil(round(x / scale, 6)) * scale
    return _e(up)


def _shape(shape: Sequence[int] | None) -> str:
    return "[?]" if shape is None else "[" + ",".join(str(d) for d in shape) + "]"


def _index(index: Sequence[int] | None) -> str:
    return "[" + ", ".join(str(i) for i in (index or ())) + "]"


def _value(x: float | None) -> str:
    return "None" if x is None else f"{x:.5g}"


# --------------------------------------------------------------------------------------------
# one output


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


def _percent(n: int, total: int) -> float:
    return 100.0 * n / total if total else 0.0


def _value_stats(ref: np.ndarray, cand: np.ndarray, atol: float, rtol: float,
                 quantile: float) -> dict:
    """Error statistics of two same-shape numeric arrays (float64 / complex128 arithmetic)."""
    wide = np.complex128 if "c" in (ref.dtype.kind, cand.dtype.kind) else np.float64
    r = ref.astype(wide)
    c = cand.astype(wide)
    r_fin, c_fin = np.isfinite(r), np.isfinite(c)
    both = r_fin & c_fin
    # same non-finite value in both (NaN/NaN or +Inf/+Inf) is equal; anything else is a mismatch
    same_nonfinite = ~r_fin & ~c_fin & ((np.isnan(r) & np.isnan(c)) | (r == c))
    nonfinite_bad = ~both & ~same_nonfinite
    n_nonfinite = int(np.count_nonzero(nonfinite_bad))
    out: dict[str, Any] = {"nonfinite_mismatches": n_nonfinite, "max_abs_error": 0.0,
                           "max_rel_error": 0.0, "mean_abs_error": 0.0, "median_abs_error": 0.0,
                           "quantile_abs_error": 0.0}
    if n_nonfinite:
        first = tuple(int(i) for i in np.argwhere(nonfinite_bad)[0])
        out.update(nonfinite_index=first, nonfinite_reference=_scalar(ref[first]),
                   nonfinite_candidate=_scalar(cand[first]))

    abs_err = np.zeros(r.shape, np.float64)
    abs_err[both] = np.abs(c[both] - r[both])
    ref_mag = np.abs(r)
    rel_err = np.zeros(r.shape, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        nz = both & (abs_err > 0)
        rel_err[nz] = abs_err[nz] / ref_mag[nz]  # inf where the reference is exactly 0
    beyond = both & (abs_err > atol) & (abs_err > rtol * np.where(both, ref_mag, 0.0))
    n_bad = int(np.count_nonzero(beyond)) + n_nonfinite
    finite_abs = abs_err[both]
    out.update(n_mismatched=n_bad, mismatch_percent=_percent(n_bad, ref.size))
    if finite_abs.size:
        worst = np.unravel_index(int(np.argmax(np.where(both, abs_err, -1.0))), r.shape)
        worst = tuple(int(i) for i in worst)
        max_abs = float(finite_abs.max())
        max_rel = float(rel_err[both].max())
        out.update(max_abs_error=max_abs, max_rel_error=max_rel,
                   mean_abs_error=float(finite_abs.mean()),
                   median_abs_error=float(np.median(finite_abs)),
                   quantile_abs_error=float(np.quantile(finite_abs, quantile)),
                   worst_index=worst, worst_reference=_scalar(ref[worst]),
                   worst_candidate=_scalar(cand[worst]), min_atol=max_abs, min_rtol=max_rel,
                   cosine_similarity=_cosine(r[both], c[both]))
    return out


def _scalar(x: Any) -> float:
    x = np.asarray(x)
    return float(np.abs(x)) if x.dtype.kind == "c" else float(x)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 and nb == 0:
        return 1.0
    if na == 0 or nb == 0:
        return 0.0
    return float(np.real(np.vdot(a, b)) / (na * nb))


def _message(o: OutputComparison, label: str, values_ok: bool) -> str:
    head = f"{label} {_shape(o.shape)} {o.dtype}"
    parts: list[str] = []
    if o.dtype != o.candidate_dtype:
        head = f"{label} {_shape(o.shape)}"
        parts.append(f"dtype {o.dtype} vs {o.candidate_dtype}")
    if o.nonfinite_mismatches:
        parts.append(
            f"NaN/Inf in one output only at {o.nonfinite_mismatches}/{o.n_elements} positions "
            f"({_percent(o.nonfinite_mismatches, o.n_elements):.3g}%); "
            f"first at {_index(o.nonfinite_index)}: {_value(o.nonfinite_reference)} vs "
            f"{_value(o.nonfinite_candidate)}")
    tol = f"atol={_g(o.atol)} rtol={_g(o.rtol)}"
    worst = (f"worst at {_index(o.worst_index)}: {_value(o.worst_reference)} vs "
             f"{_value(o.worst_candidate)} (abs {_e(o.max_abs_error)}, rel "
             f"{_e(_rel_at(o))})" if o.worst_index is not None else "")
    numbers = (f"max abs {_e(o.max_abs_error)}, max rel {_e(o.max_rel_error)}, cosine "
               f"{_cos(o.cosine_similarity)}")
    if o.passed and o.mode == "mean":
        parts.append(f"ok: mean abs err {_e(o.mean_abs_error)} <= atol={_g(o.atol)} ({numbers})")
    elif o.passed and o.mode == "quantile":
        parts.append(f"ok: q{_g(o.quantile)} abs err {_e(o.quantile_abs_error)} <= "
                     f"atol={_g(o.atol)} ({numbers})")
    elif o.passed:
        parts.append(f"ok within {tol} ({numbers})")
    elif not values_ok:
        n_beyond = o.n_mismatched - o.nonfinite_mismatches
        if o.mode == "elemwise":
            parts.append(f"{n_beyond}/{o.n_elements} ({_percent(n_beyond, o.n_elements):.3g}%) "
                         f"beyond {tol}")
        elif o.mode == "max":
            parts.append(f"max abs err {_e(o.max_abs_error)} > atol={_g(o.atol)} and max rel "
                         f"err {_e(o.max_rel_error)} > rtol={_g(o.rtol)}")
        elif o.mode == "mean":
            parts.append(f"mean abs err {_e(o.mean_abs_error)} > atol={_g(o.atol)}")
        else:
            parts.append(f"q{_g(o.quantile)} abs err {_e(o.quantile_abs_error)} > "
                         f"atol={_g(o.atol)}")
        if worst:
            parts.append(worst)
        parts.append(_would_pass(o))
    elif worst and o.max_abs_error > 0:  # failed on dtype / NaN only: still show the numbers
        parts.append(f"finite values: max abs {_e(o.max_abs_error)}, max rel "
                     f"{_e(o.max_rel_error)}")
    if o.top1_agreement is not None:
        parts.append(_topk_text(1, o.top1_agreement, o.top1_disagree_rows, o.shape))
    if o.topk_agreement is not None and o.top_k and o.top_k > 1:
        parts.append(_topk_text(o.top_k, o.topk_agreement, o.topk_disagree_rows, o.shape))
    if o.input_set and o.input_set not in ("given", "synthetic") and not o.passed:
        parts.append(f"worst on input set {o.input_set}")
    return f"{head}: " + "; ".join(parts)


def _rel_at(o: OutputComparison) -> float:
    ref = abs(o.worst_reference or 0.0)
    return o.max_abs_error / ref if ref else (math.inf if o.max_abs_error else 0.0)


def _cos(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.6f}"


def _would_pass(o: OutputComparison) -> str:
    if o.mode == "mean":
        return f"would pass with atol>={_e_up(o.mean_abs_error)}"
    if o.mode == "quantile":
        return f"would pass with atol>={_e_up(o.quantile_abs_error)}"
    text = f"would pass with atol>={_e_up(o.min_atol)}"
    if math.isfinite(o.min_rtol):
        return text + f" or rtol>={_e_up(o.min_rtol)}"
    return text + " (no rtol alone: the reference is 0 where they differ)"


def _topk_text(k: int, agreement: float, rows: tuple[int, ...], shape) -> str:
    if not rows:
        return f"top-{k} agrees"
    n_rows = shape[0]
    shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
    which = "row" if len(rows) == 1 else "rows"
    return f"top-{k} differs in {len(rows)}/{n_rows} rows ({which} {shown})"


# --------------------------------------------------------------------------------------------
# models, inputs and pairing


def _as_model(ref: Any):
    """A FrozenGraph (anything with inputs/outputs/run) or `model.load(ref)`."""
    if all(hasattr(ref, a) for a in ("inputs", "outputs", "run")):
        return ref
    from .model import load

    return load(ref)


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


def synthetic_input(shape: Sequence[int | None] | None, dtype: str = "float32", *,
                    rng: np.random.Generator | None = None, low: float | None = None,
                    high: float | None = None, name: str = "input") -> np.ndarray:
    """A deterministic (or `rng`-drawn) array for one input spec; unknown dims become 1.

    Floats are uniform in [low, high) (default [0, 1)); integers are uniform in [low, high]
    (default [0, 9]); bools are fair coin flips.

    Args:
        shape: the spec's shape (None entries = unknown dims); None (unknown rank) is an error.
        dtype: numpy dtype name; unknown names (e.g. bfloat16) fall back to float32.
        rng: random generator; None gives the same array every call.
        low, high: value range.
        name: the input's name, for the error message.
    Returns:
        a numpy array.
    """
    if shape is None:
        raise InputError(f"input {name!r} has unknown rank, so no synthetic input can be made; "
                         "pass inputs=... (an array per input) to assert_equivalent.")
    dims = tuple(1 if d is None or d < 0 else int(d) for d in shape)
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        np_dtype = np.dtype("float32")
    rng = rng if rng is not None else np.random.default_rng(20231)
    if np_dtype.kind == "b":
        return rng.random(dims) < 0.5
    if np_dtype.kind in "iu":
        lo = 0 if low is None else math.floor(low)
        hi = 9 if high is None else math.ceil(high)
        info = np.iinfo(np_dtype)
        lo, hi = max(lo, info.min), min(max(hi, lo), info.max)
        return rng.integers(lo, hi, size=dims, endpoint=True).astype(np_dtype)
    if np_dtype.kind in "fc":
        lo = 0.0 if low is None else float(low)
        hi = 1.0 if high is None else float(high)
        return (lo + (hi - lo) * rng.random(dims)).astype(np_dtype)
    raise InputError(f"input {name!r} has dtype {dtype}; no synthetic value can be made for it. "
                     "Pass inputs=... to assert_equivalent.")


def make_input_sets(model: Any, inputs: Any = None, *, n_random: int = 0,
                    seed: int = 0) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The input sets an equivalence check runs: the given (or synthetic) one, then `n_random`.

    Random sets keep each given input's shape and draw values within its [min, max] range
    (floats [0, 1) when no input was given); `seed` makes them reproducible. Optional feeds
    (PlaceholderWithDefault flags) given by the caller are kept as they are in every set.

    Args:
        model: the reference `FrozenGraph` (its `inputs` specs and `feed_dict`).
        inputs: None, an array, a list in input order, or a dict name -> array.
        n_random: how many random input sets to add.
        seed: seed of the random sets.
    Returns:
        [(label, {tensor name: array})]; labels "given" / "synthetic", then "random[i]".
    """
    if not isinstance(n_random, int) or isinstance(n_random, bool) or n_random < 0:
        raise ConfigError(f"n_random must be an int >= 0. Received: n_random={n_random!r}")
    specs = list(model.inputs)
    if inputs is None:
        base = {s.name: synthetic_input(s.shape, s.dtype, name=s.name) for s in specs}
        label = "synthetic"
    else:
        base = {k: np.asarray(v) for k, v in model.feed_dict(inputs).items()}
        label = "given"
    sets = [(label, base)]
    required = {s.name for s in specs}
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        feed = {}
        for key, value in base.items():
            if _resolve(key, list(required)) is None or value.size == 0:
                feed[key] = value  # an optional flag (e.g. training=False): keep it
                continue
            low = high = None
            if label == "given" and value.dtype.kind in "biuf":
                finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
                if finite.size:
                    low, high = float(finite.min()), float(finite.max())
                    if low == high and value.dtype.kind == "f":
                        high = low + 1.0  # a constant input has no range: widen by one
            feed[key] = synthetic_input(value.shape, str(value.dtype), rng=rng, low=low,
                                        high=high, name=key)
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


def compare_models(reference: Any, candidate: Any, inputs: Any = None, *, atol: float = 1e-5,
                   rtol: float = 1e-4, mode: str = "elemwise", quantile: float = 0.99,
                   tolerances: Mapping[str, Mapping[str, Any]] | None = None,
                   output_map: Mapping[str, str] | None = None,
                   input_map: Mapping[str, str] | None = None, n_random: int = 0, seed: int = 0,
                   top_k: int | None = None) -> EquivalenceReport:
    """Run both models on the same input sets and compare every output; never raises on mismatch.

    Same arguments as `assert_equivalent`. Returns the `EquivalenceReport`.
    """
    _check_tolerances(atol, rtol, mode, quantile, "assert_equivalent")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"top_k must be an int >= 1 or None. Received: top_k={top_k!r}")
    ref = _as_model(reference)
    cand = _as_model(candidate)
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
    sets = make_input_sets(ref, inputs, n_random=n_random, seed=seed)
    worst: dict[str, OutputComparison] = {}
    for index, (label, feed) in enumerate(sets):
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
            if r not in worst or _badness(comp) > _badness(worst[r]):
                worst[r] = comp

    outputs = [worst[r] for r, _ in pairs]
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
        n_inputs=len(sets), outputs=tuple(outputs), passed=all(o.passed for o in outputs),
        quantile=float(quantile), top_k=top_k, seed=seed, input_sets=tuple(s[0] for s in sets),
        pairing=pairing, notes=tuple(notes))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _badness(o: OutputComparison) -> tuple:
    """Order for 'worst input set': failing first, then NaN/Inf, mismatches, the mode's error."""
    stat = {"mean": o.mean_abs_error, "quantile": o.quantile_abs_error}.get(o.mode, o.max_abs_error)
    return (not o.passed, o.nonfinite_mismatches, o.n_mismatched, stat, o.max_abs_error)


def assert_equivalent(reference: Any, candidate: Any, inputs: Any = None, *, atol: float = 1e-5,
                      rtol: float = 1e-4, mode: str = "elemwise", quantile: float = 0.99,
                      tolerances: Mapping[str, Mapping[str, Any]] | None = None,
                      output_map: Mapping[str, str] | None = None,
                      input_map: Mapping[str, str] | None = None, n_random: int = 0,
                      seed: int = 0, top_k: int | None = None) -> EquivalenceReport:
    """Assert that `candidate` computes the same outputs as `reference` (seed 001, rule 2).

    Args:
        reference: a `FrozenGraph`, or anything `pytest_tfperf.load` accepts.
        candidate: the same, typically the optimized model.
        inputs: an array, list or dict as `FrozenGraph.feed_dict` accepts; None makes a
            deterministic synthetic input per input spec (unknown dims = 1, floats in [0, 1)).
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
    Returns:
        the passing `EquivalenceReport`.
    Raises:
        NotEquivalentError: (an AssertionError) an output differs, or shapes, dtypes or output
            counts differ; `.report` holds the report.
        InputError / NodeNotFoundError / ConfigError: bad inputs, names or arguments.
    Example:
        >>> report = assert_equivalent(frozen, optimized, sample_image, n_random=3)
    """
    report = compare_models(reference, candidate, inputs, atol=atol, rtol=rtol, mode=mode,
                            quantile=quantile, tolerances=tolerances, output_map=output_map,
                            input_map=input_map, n_random=n_random, seed=seed, top_k=top_k)
    if not report.passed:
        raise NotEquivalentError(report)
    return report
