"""Message text of equivalence results: number formatting and the one-line-per-output text.

Functions take a `compare.OutputComparison` (typed `Any`: compare imports this module)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


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


def _percent(n: int, total: int) -> float:
    return 100.0 * n / total if total else 0.0



def _message(o: Any, label: str, values_ok: bool) -> str:
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


def _rel_at(o: Any) -> float:
    ref = abs(o.worst_reference or 0.0)
    return o.max_abs_error / ref if ref else (math.inf if o.max_abs_error else 0.0)


def _cos(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.6f}"


def _would_pass(o: Any) -> str:
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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")



# --------------------------------------------------------------------------------------------
# evidence over many inputs (issue 21)


def top1_text(o: Any) -> str:
    """'top-1 agrees on 30 of 40 inputs (75%, 95% CI 60-86%)' ("rows" for batched inputs)."""
    if o.top1_agree_count is None or not o.top1_rows:
        return ""
    unit = "inputs" if o.top1_rows == o.dataset_inputs else "rows"
    low, high = o.top1_ci or (0.0, 1.0)
    return (f"top-1 agrees on {o.top1_agree_count} of {o.top1_rows} {unit} "
            f"({100 * o.top1_agreement:.4g}%, 95% CI {100 * low:.3g}-{100 * high:.3g}%)")


def evidence_text(o: Any) -> str:
    """Over several input sets: the error distribution, top-1 agreement and the worst input."""
    if o.dataset_inputs < 2:
        return ""
    parts = []
    if o.dataset_max_abs_error is not None:
        parts.append(f"over {o.dataset_inputs} inputs abs err max {_e(o.dataset_max_abs_error)} "
                     f"p99 {_e(o.dataset_p99_abs_error)} mean {_e(o.dataset_mean_abs_error)}")
    top1 = top1_text(o)
    if top1:
        parts.append(top1)
    if o.worst_input:
        parts.append(f"worst input {o.worst_input}")
    return "; ".join(parts)


def refused_message(o: Any, problem: str, fed: str) -> str:
    """Why a comparison was refused: the output, what it saw, the likely cause and the fix."""
    values = f" (values fed {fed})" if fed else ""
    return (f"output {o.name}: comparison refused, it would prove nothing: the reference output is "
            f"{problem}, so it carries no information on the inputs used{values}. Likely cause: "
            "inputs outside the range the model expects (e.g. pixels 0..255 for a model that "
            "takes [0, 1]). Feed inputs in its range (tfperf_preprocess = auto / unit / tf, a "
            "dataset of real images) or pass allow_degenerate=True to compare anyway")
