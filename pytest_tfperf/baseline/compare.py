"""Comparisons of a run against a stored one, and the per-test regression gate.

A change is a regression only when BOTH hold: the statistic moved past the threshold
(`median:10%`, `p90:5ms`) AND the raw samples differ significantly (two-sided Mann-Whitney U,
p < `ALPHA`). A change past the threshold that is not significant is reported as "noise".
Nothing here prints: messages are returned, `report/` renders them.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Sequence

from ..errors import ConfigError
from ..records import ALPHA, measurement_label
from ..records import ComparisonRecord as Comparison
from .storage import _keyed, measurement_index

DEFAULT_DISPLAY_EXPR = "median:10%"  # classifies (never fails) when no threshold is given
VERDICTS = ("ok", "improved", "noise", "regressed")
_SEVERITY = {"ok": 0, "noise": 1, "improved": 2, "regressed": 3}
_EXPR_RE = re.compile(r"^\s*(?:(?P<stat>[a-zA-Z][a-zA-Z0-9.]*)\s*:)?\s*(?P<num>[0-9]*\.?[0-9]+)"
                      r"\s*(?P<unit>%|ms)\s*$")


# --------------------------------------------------------------------------- thresholds
@dataclasses.dataclass(frozen=True)
class Threshold:
    """How much a statistic may grow: `percent` (of the baseline) or `ms` (absolute)."""

    statistic: str  # "median", "mean", "min", "max", "p90", ...
    kind: str       # "percent" | "ms"
    value: float

    @property
    def expr(self) -> str:
        return f"{self.statistic}:{self.value:g}{'%' if self.kind == 'percent' else 'ms'}"

    def exceeded(self, base: float, new: float) -> bool:
        """True when `new` is slower than `base` by more than the threshold."""
        if self.kind == "percent":
            return base > 0 and (new / base - 1.0) * 100.0 > self.value
        return new - base > self.value

    def improved(self, base: float, new: float) -> bool:
        """True when `new` is faster than `base` by more than the threshold."""
        if self.kind == "percent":
            return base > 0 and (1.0 - new / base) * 100.0 > self.value
        return base - new > self.value

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "kind": self.kind, "value": self.value,
                "expr": self.expr}


def _normalize_statistic(stat: str, expr: str) -> str:
    stat = stat.lower()
    if stat in ("median", "p50", "mean", "min", "max"):
        return "median" if stat == "p50" else stat
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat)
    if m and 0 < float(m.group(1)) < 100:
        return f"p{float(m.group(1)):g}"
    raise ConfigError(f"regression threshold {expr!r}: unknown statistic {stat!r}; use one of "
                      f"median, mean, min, max or a percentile pNN (p90, p99). Received: {expr!r}")


def parse_fail_expr(expr: str, default_statistic: str = "median") -> Threshold:
    """Parse a `--tfperf-compare-fail` expression.

    Args:
        expr: `STAT:N%` or `STAT:Nms` (e.g. `median:10%`, `p90:5ms`), or just `N%` / `Nms`
            for `default_statistic`.
        default_statistic: the statistic when `expr` names none (a marker's percentile).

    Returns:
        The `Threshold`.

    Raises:
        ConfigError: `expr` is not of that form.
    """
    if isinstance(expr, Threshold):
        return expr
    m = _EXPR_RE.match(str(expr))
    if not m:
        raise ConfigError(
            f"regression threshold {expr!r} is not STAT:N% or STAT:Nms; write e.g. median:10% "
            f"(10% slower than the baseline) or p90:5ms (5 ms slower). Received: {expr!r}")
    stat = _normalize_statistic(m.group("stat") or default_statistic, str(expr))
    return Threshold(stat, "percent" if m.group("unit") == "%" else "ms", float(m.group("num")))


def parse_thresholds(exprs: Iterable[str | Threshold] | str | None,
                     default_statistic: str = "median") -> tuple[Threshold, ...]:
    """Several `parse_fail_expr`s (a single string may hold comma-separated expressions)."""
    if exprs is None:
        return ()
    if isinstance(exprs, (str, Threshold)):
        exprs = [exprs]
    out: list[Threshold] = []
    for item in exprs:
        parts = [item] if isinstance(item, Threshold) else [p for p in str(item).split(",") if p.strip()]
        out.extend(parse_fail_expr(p, default_statistic) for p in parts)
    return tuple(out)


# --------------------------------------------------------------------------- comparisons
def _samples(record: dict) -> list[float]:
    return [float(v) for v in (record.get("stats") or {}).get("samples_ms") or [] if v is not None]


def statistic_value(record: dict, statistic: str) -> float | None:
    """The value (ms) of `statistic` for a measurement record: from its stats, else its samples."""
    import numpy as np

    st = record.get("stats") or {}
    key = {"median": "median_ms", "mean": "mean_ms", "min": "min_ms", "max": "max_ms"}.get(
        statistic, f"{statistic}_ms")
    if st.get(key) is not None:
        return float(st[key])
    samples = _samples(record)
    if not samples:
        return None
    if statistic.startswith("p"):
        return float(np.percentile(samples, float(statistic[1:])))
    return float({"median": np.median, "mean": np.mean, "min": np.min, "max": np.max}[statistic](
        samples))


def compare_measurement(base: dict, new: dict, thresholds: Sequence[Threshold | str] = (),
                        *, enforced: bool | None = None) -> Comparison:
    """Compare one measurement record with its baseline record.

    Args:
        base: the baseline's measurement record (`stats` with `samples_ms`).
        new: this run's measurement record.
        thresholds: `Threshold`s or expressions; empty -> `DEFAULT_DISPLAY_EXPR`, not enforced.
        enforced: override whether a regression fails (default: True iff thresholds given).

    Returns:
        The `Comparison` of the most severe threshold (regressed > improved > noise > ok).
    """
    from ..stats import mann_whitney_u

    parsed = parse_thresholds(thresholds)
    if enforced is None:
        enforced = bool(parsed)
    if not parsed:
        parsed = (parse_fail_expr(DEFAULT_DISPLAY_EXPR),)
    a, b = _samples(base), _samples(new)
    p_value = float(mann_whitney_u(a, b)[1]) if a and b else None
    significant = None if p_value is None else p_value < ALPHA
    best: Comparison | None = None
    for th in parsed:
        bv, nv = statistic_value(base, th.statistic), statistic_value(new, th.statistic)
        note = ""
        if bv is None or nv is None:
            verdict, note = "ok", f"no {th.statistic} in the baseline or this run"
        elif th.exceeded(bv, nv) or th.improved(bv, nv):
            moved = "regressed" if th.exceeded(bv, nv) else "improved"
            verdict = moved if significant is not False else "noise"
            if significant is None:
                verdict, note = moved, "no raw samples: the threshold alone decides"
        else:
            verdict = "ok"
        cmp = Comparison(
            key=measurement_label(new), test_id=str(new.get("test_id") or ""),
            name=new.get("name"), statistic=th.statistic, base_ms=bv, new_ms=nv,
            ratio=(nv / bv) if (bv and nv is not None) else None,
            delta_ms=(nv - bv) if (bv is not None and nv is not None) else None,
            p_value=p_value, base_n=len(a), new_n=len(b), threshold=th.expr, verdict=verdict,
            enforced=enforced, note=note)
        if best is None or _SEVERITY[cmp.verdict] > _SEVERITY[best.verdict]:
            best = cmp
    assert best is not None
    return best


# --------------------------------------------------------------------------- baseline documents
def baseline_warnings(base_doc: dict, environment: dict, machine: dict | None = None) -> list[str]:
    """Why timings may not be comparable: another machine, TensorFlow version or device."""
    src = base_doc.get("_tfperf_source", "the baseline")
    env = (base_doc.get("tfperf") or {}).get("environment") or {}
    warnings = []
    base_tf, new_tf = env.get("tensorflow"), environment.get("tensorflow")
    if base_tf and new_tf and base_tf != new_tf:
        warnings.append(f"{src} was recorded with TensorFlow {base_tf}, this run uses {new_tf}")
    base_dev, new_dev = env.get("device"), environment.get("device")
    if base_dev and new_dev and base_dev != new_dev:
        warnings.append(f"{src} was recorded on device {base_dev}, this run on {new_dev}")
    bm = base_doc.get("machine_info") or {}
    if machine:
        def ident(m):
            return (m.get("node"), (m.get("cpu") or {}).get("brand_raw"), m.get("machine"))
        if bm and ident(bm) != ident(machine):
            warnings.append(f"{src} was recorded on another machine ({_ident_text(bm)}), this run "
                            f"on {_ident_text(machine)}: timings may not be comparable")
    return warnings


def _ident_text(m: dict) -> str:
    cpu = (m.get("cpu") or {}).get("brand_raw")
    return f"node {m.get('node')!r}, cpu {cpu!r}"


def compare_runs(base_doc: dict, new_results, thresholds: Sequence[Threshold | str] = ()
                 ) -> list[Comparison]:
    """Compare every measurement of this run that the baseline also has.

    Args:
        base_doc: a `load_baseline` document.
        new_results: this run's `SessionResults`, or another document (the CLI).
        thresholds: `--tfperf-compare-fail` thresholds (empty: classify only, fail nothing).
            A record's own `regression` (from `latency_budget(..., regression="10%")`)
            replaces them for that measurement.

    Returns:
        One `Comparison` per measurement present in both, keyed by test id + measurement name.
    """
    base = measurement_index(base_doc)
    if isinstance(new_results, dict):
        new = measurement_index(new_results)
    else:
        new = _keyed(new_results.measurements, measurement_label)
    out = []
    for key, rec in new.items():
        if key in base:
            own = _record_thresholds(rec)
            cmp = compare_measurement(base[key], rec, own or thresholds,
                                      enforced=True if own else None)
            out.append(dataclasses.replace(cmp, key=key))
    return out


def _record_thresholds(record: dict) -> tuple[Threshold, ...]:
    expr = record.get("regression")
    if not expr:
        return ()
    q = (record.get("stats") or {}).get("gated_percentile")
    default = "median" if q in (None, 50, 50.0) else f"p{float(q):g}"
    return parse_thresholds(expr, default_statistic=default)


def _display_path(path: str) -> str:
    """`path` relative to the current directory when inside it (messages), else as is."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") or not os.path.isabs(path) else rel


def regression_for(test_id: str, comparisons: Iterable[Comparison | dict],
                   source: str | None = None) -> list[str]:
    """Failure messages for the enforced regressions of `test_id` (empty when it is fine)."""
    source = _display_path(source) if source else source
    out = []
    for c in comparisons:
        if isinstance(c, dict):
            c = Comparison.from_dict(c)
        if c.test_id == test_id and c.failed:
            out.append(f"tfperf regression: {c.key}: {c.message(source)}")
    return out


def check_regressions(baseline_doc: dict | None, test_id: str, measurement_records: list[dict],
                      thresholds: Sequence[Threshold | str] = (),
                      regression: str | None = None) -> list[str]:
    """Per-test gate, called by the plugin at the end of each test's call phase.

    Args:
        baseline_doc: the `load_baseline` document loaded at configure time (None: no gate).
        test_id: the test's node id.
        measurement_records: the measurement records this test made (dicts).
        thresholds: `--tfperf-compare-fail` thresholds.
        regression: the test's `latency_budget(..., regression="10%")`, replacing `thresholds`.

    Returns:
        Failure messages, one per regressed measurement; empty when nothing regressed.
    """
    if not baseline_doc or not measurement_records:
        return []
    records = [dict(r, regression=r.get("regression") or regression)
               for r in (m.to_dict() if hasattr(m, "to_dict") else m for m in measurement_records)
               if isinstance(r, dict) and r.get("test_id") == test_id]
    if not records or not (thresholds or any(r.get("regression") for r in records)):
        return []
    from ..results import SessionResults

    run = SessionResults()
    run.extend("measurement", records)
    # only the enforced ones: records without their own threshold use `thresholds` (enforced)
    comparisons = [c for c in compare_runs(baseline_doc, run, thresholds) if c.enforced]
    return regression_for(test_id, comparisons, baseline_doc.get("_tfperf_source"))


# --------------------------------------------------------------------------- the compare step
def tensorflow_version() -> str | None:
    """TensorFlow's version without importing it (installed distribution metadata)."""
    import sys

    mod = sys.modules.get("tensorflow")
    if mod is not None and getattr(mod, "__version__", None):
        return str(mod.__version__)
    from importlib import metadata

    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def collect_environment(results, rootdir: str | os.PathLike | None) -> None:
    """Fill run-wide facts that are missing (TF version, device, machine id, rootdir)."""
    from .storage import machine_id

    env = results.environment
    env.setdefault("tensorflow", tensorflow_version())
    if not env.get("device"):
        devices = sorted({str(r.get("device")) for r in results.measurements if r.get("device")})
        env["device"] = ", ".join(devices) if devices else None
    env.setdefault("machine_id", machine_id())
    if rootdir is not None:
        env.setdefault("rootdir", os.fspath(rootdir))


def finalize(settings, results, baseline_doc: dict | None = None) -> None:
    """The compare step, once per session: environment, then comparisons with the baseline.

    Args:
        settings: the run's `options.Settings` (`compare`, `compare_fail`, `rootdir`, `storage`).
        results: the merged session results (mutated: environment, "comparison" records).
        baseline_doc: the baseline the plugin loaded at configure time (loaded here if None).

    A baseline that cannot be loaded is recorded as a warning (the per-test gate already
    reported the error at configure time); it never raises here.
    """
    if results.finalized:
        return
    collect_environment(results, settings.rootdir)
    if settings.comparing:
        from ..errors import TfperfError
        from ..integrations.pytest_benchmark import machine_info
        from .storage import load_baseline

        info: dict = {"warnings": []}
        try:
            doc = baseline_doc if baseline_doc is not None else load_baseline(
                settings.compare or None, settings.storage)
            info["path"] = doc.get("_tfperf_source")
            info["warnings"] = baseline_warnings(doc, results.environment, machine_info())
            results.records["comparison"] = list(compare_runs(doc, results, settings.compare_fail))
        except TfperfError as exc:
            info["warnings"].append(str(exc))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # a baseline `_read` let through (a document given in memory, a shape it does not
            # check): the report still comes out, with the reason instead of a traceback
            info["warnings"].append(
                f"baseline {info.get('path') or settings.compare or 'latest'} could not be "
                f"compared ({type(exc).__name__}: {exc}); no comparisons in this report")
            results.records["comparison"] = []
        results.environment["baseline"] = info
    results.finalized = True
