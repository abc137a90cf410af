"""Element-wise error statistics of two same-shape numeric arrays (pure NumPy; `compare_arrays`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from pytest_tfperf.equivalence.messages import _percent


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
