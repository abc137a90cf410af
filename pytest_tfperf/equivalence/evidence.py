"""Evidence over many inputs, and comparisons that prove nothing refused (issue 21).

`OutputEvidence` gathers one reference output (and its candidate) over every input set of a
check: the error distribution (max, p99, mean of the element-wise absolute error), the top-1
agreement of classifier-like outputs over every row of every input with its 95% Wilson interval,
the worst input, and what the reference output says about the inputs:

- all zero, or NaN everywhere: the output carries nothing;
- the same on every input (within 1e-6 of its magnitude): no input changes it, so any candidate
  that is constant too "matches";
- a softmax (rows of non-negative values summing to 1) whose max is above `SATURATED` on every
  input, or a sigmoid whose every value is within 1 - `SATURATED` of 0 or 1: saturated, the
  typical sign of inputs outside the range the model was built for (pixels 0..255 into a model
  that expects [0, 1)).

Pure NumPy.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_tfperf.equivalence.messages import _g, evidence_text, refused_message

SATURATED = 0.999
CONSTANT_RTOL = 1e-6
_SAMPLE_PER_INPUT = 20_000  # abs errors kept per input for the p99 (evenly spaced beyond that)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n ((0, 1) when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


class OutputEvidence:
    """Running evidence on one output pair over the input sets of a check."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inputs = 0            # input sets seen
        self.rows = 0              # classifier rows compared (top-1)
        self.agree = 0
        self.disagree_inputs: list[str] = []
        self.errors: list[np.ndarray] = []
        self.max_error = 0.0
        self.worst_input: str | None = None
        self.first: np.ndarray | None = None
        self.deviation = 0.0       # largest |ref - first ref| over inputs
        self.magnitude = 0.0
        self.seen_inputs = 0       # reference outputs seen (compared sets + information probes)
        self.all_zero = True
        self.all_nan = True
        self.probability = True    # every reference row looks like a softmax / sigmoid output
        self.saturated = True
        self.low_max = 1.0         # the smallest softmax row max seen
        self.classifier = False

    # -- feeding --------------------------------------------------------------------------
    def see_reference(self, ref: Any) -> None:
        """What the reference output says about the inputs (compared sets and probes)."""
        r = np.asarray(ref)
        if r.dtype.kind not in "fc" or r.size == 0:
            self.all_zero = self.all_nan = self.saturated = False
            return
        r = r.astype(np.float64)
        self.seen_inputs += 1
        finite = np.isfinite(r)
        self.all_nan &= not finite.any()
        self.all_zero &= bool(np.all(r[finite] == 0))
        if self.first is None:
            self.first = r.copy()
        elif self.first.shape == r.shape:
            diff = np.abs(r - self.first)
            diff = diff[np.isfinite(diff)]
            self.deviation = max(self.deviation, float(diff.max()) if diff.size else 0.0)
        else:
            self.deviation = math.inf
        if finite.any():
            self.magnitude = max(self.magnitude, float(np.max(np.abs(r[finite]))))
        self._saturation(r)

    def _saturation(self, r: np.ndarray) -> None:
        if not self.probability:
            return
        if r.ndim < 1 or not np.all(np.isfinite(r)) or r.min() < 0 or r.max() > 1:
            self.probability = self.saturated = False
            return
        if r.shape[-1] >= 2 and np.allclose(r.sum(axis=-1), 1.0, atol=1e-3):
            row_max = r.max(axis=-1)
            self.low_max = min(self.low_max, float(row_max.min()))
            self.saturated &= bool(np.all(row_max > SATURATED))
        elif r.shape[-1] == 1:  # sigmoid
            edge = np.minimum(r, 1 - r)
            self.low_max = min(self.low_max, float(1 - edge.max()))
            self.saturated &= bool(np.all(edge < 1 - SATURATED))
        else:
            self.probability = self.saturated = False

    def add(self, label: str, ref: Any, cand: Any) -> None:
        """One compared input set: its reference and candidate arrays of this output."""
        self.inputs += 1
        r, c = np.asarray(ref), np.asarray(cand)
        if r.shape != c.shape or r.dtype.kind not in "biufc" or c.dtype.kind not in "biufc":
            return
        r64, c64 = r.astype(np.float64), c.astype(np.float64)
        both = np.isfinite(r64) & np.isfinite(c64)
        err = np.abs(c64[both] - r64[both]).reshape(-1)
        if err.size:
            step = max(1, err.size // _SAMPLE_PER_INPUT)
            self.errors.append(err[::step] if step > 1 else err)
            top = float(err.max())
            if self.worst_input is None or top > self.max_error:
                self.max_error, self.worst_input = top, label
        if r.ndim == 2 and r.shape[1] >= 2 and r.shape[0] and r.dtype.kind == "f":
            self.classifier = True
            a = np.argmax(np.nan_to_num(r64, nan=-np.inf), axis=1)
            b = np.argmax(np.nan_to_num(c64, nan=-np.inf), axis=1)
            same = int(np.count_nonzero(a == b))
            self.rows += int(a.size)
            self.agree += same
            if same < a.size:
                self.disagree_inputs.append(label)

    # -- verdicts -------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why the reference output carries no information on these inputs, or None."""
        if not self.seen_inputs:
            return None
        if self.all_nan:
            return "NaN on every input"
        if self.all_zero:
            return "all zero on every input"
        if self.probability and self.saturated:
            kind = "softmax max" if self.first is not None and self.first.shape[-1] >= 2 else \
                "sigmoid"
            return (f"saturated: {kind} > {SATURATED} on every input ({self.seen_inputs} seen, "
                    f"lowest {self.low_max:.6g})")
        if self.seen_inputs >= 2 and self.deviation <= CONSTANT_RTOL * max(self.magnitude, 1e-30):
            return (f"the same on all {self.seen_inputs} inputs (largest change "
                    f"{self.deviation:.3g} for values up to {self.magnitude:.3g})")
        return None

    def summary(self) -> dict:
        """Fields for `OutputComparison` (dataset_* statistics, top-1 over every row)."""
        out: dict[str, Any] = {"dataset_inputs": self.inputs, "worst_input": self.worst_input}
        if self.errors:
            errs = np.concatenate(self.errors)
            out.update(dataset_max_abs_error=self.max_error,
                       dataset_p99_abs_error=float(np.quantile(errs, 0.99)),
                       dataset_mean_abs_error=float(errs.mean()))
        if self.classifier and self.rows:
            out.update(top1_agreement=self.agree / self.rows, top1_agree_count=self.agree,
                       top1_rows=self.rows, top1_ci=wilson(self.agree, self.rows),
                       top1_disagree_inputs=tuple(self.disagree_inputs[:20]))
        return out


class _Range:
    """Min and max of the numeric values fed, over every input set."""

    def __init__(self) -> None:
        self.low, self.high = math.inf, -math.inf

    def add(self, feed: Mapping[str, Any]) -> None:
        for value in feed.values():
            a = np.asarray(value)
            if a.dtype.kind in "iuf" and a.size:
                a = a[np.isfinite(a)] if a.dtype.kind == "f" else a
                if a.size:
                    self.low, self.high = min(self.low, float(a.min())), max(self.high, float(a.max()))

    def text(self) -> str:
        return "" if self.low > self.high else f"[{_g(self.low)}, {_g(self.high)}]"


def _judged(comp: Any, evidence: OutputEvidence, allow_degenerate: bool,
            min_top1: float | None, fed: str) -> Any:
    """The worst input set's comparison with the evidence over every set, refused when the
    reference output carries no information, failed when top-1 agreement is below `min_top1`."""
    comp = dataclasses.replace(comp, **evidence.summary())
    problem = None if allow_degenerate else evidence.problem()
    if problem is not None and comp.passed:  # a pass that would prove nothing: refused
        return dataclasses.replace(comp, passed=False, failure="degenerate", information=problem,
                                   message=refused_message(comp, problem, fed))
    if problem is not None:  # a real difference stands; the note says the inputs were poor too
        comp = dataclasses.replace(comp, information=problem, message=(
            f"{comp.message}; note: the reference output is {problem} on these inputs"))
    extra = evidence_text(comp)
    message = comp.message + (f"; {extra}" if extra else "")
    if min_top1 is not None and comp.top1_agreement is not None and comp.top1_agreement < min_top1:
        return dataclasses.replace(comp, passed=False, failure=comp.failure or "agreement",
                                   message=f"{message}; below min_top1_agreement={_g(min_top1)}")
    return dataclasses.replace(comp, message=message)


__all__ = ["CONSTANT_RTOL", "SATURATED", "OutputEvidence", "wilson"]
