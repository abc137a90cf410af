"""Comparisons of a run against a stored one, and the per-test regression gate.

The noise that decides whether a change is real lives between runs (a process, a session, a
neighbour's burst shifts every call of a run together), so per-call samples are not the
replicates: each measurement's *blocks* are (`blocks.py`). For a statistic (the test's gated
one by default: the p90 for a p90 budget) the change new/base gets a 95% CI from the spread of
per-block values on both sides plus a between-run floor (`run_noise`, `--tfperf-compare-noise`;
default `blocks.run_floor`: 2% per run on the CPU clock of one thread, 4% elsewhere):

- regressed: the change is past the threshold (default `DEFAULT_DISPLAY_EXPR`, 10% on the
  gated statistic: classifies, fails nothing unless asked for with `--tfperf-compare-fail` or
  `latency_budget(..., regression=...)`) and its whole CI past half of it (bench/RESULTS.md:
  the CI past all of it missed most real 1.15x; one only excluding no change, asv's rule,
  flagged unchanged 9 ms graphs beside neighbours);
- improved: likewise the other way;
- noise: past the threshold, its CI reaching under half of it ("inconclusive: +X% +-Y%");
- ok: the change is within the threshold.
Inside pytest an enforced regression must persist when the measurement is re-timed in fresh
sessions (`plugin/gate.py`), as the latency gate's failure confirmation does. A baseline without
blocks (an older file, pytest-benchmark's) gets blocks cut from its stored samples, in order.
Nothing here prints: messages are returned, `report/` renders them.
"""
from __future__ import annotations

import dataclasses
import os
import statistics
from collections.abc import Iterable, Sequence

from pytest_tfperf.results.file import ResultFile, measurement_index
from pytest_tfperf.results.records import (
    ComparisonRecord,
    MeasurementRecord,
    measurement_label,
    record_from_dict,
)
from pytest_tfperf.results.session import SessionResults
from pytest_tfperf.baseline.thresholds import Threshold, parse_fail_expr, parse_thresholds

DEFAULT_DISPLAY_EXPR = "10%"  # on the gated statistic; classifies (never fails) when none is given
VERDICTS = ("ok", "improved", "noise", "regressed")
_SEVERITY = {"ok": 0, "noise": 1, "improved": 2, "regressed": 3}


# --------------------------------------------------------------------------- comparisons
def _samples(record: MeasurementRecord) -> list[float]:
    return [float(v) for v in (record.stats or {}).get("samples_ms") or [] if v is not None]


def gated_statistic(record: MeasurementRecord) -> str:
    """"median" or "pNN": the statistic a measurement's budget gates on."""
    q = (record.stats or {}).get("gated_percentile")
    return "median" if q in (None, 50, 50.0) else f"p{float(q):g}"


def statistic_value(record: MeasurementRecord, statistic: str) -> float | None:
    """The value (ms) of `statistic` for a measurement record: from its stats, else its samples."""
    import numpy as np

    if statistic == "gated":
        statistic = gated_statistic(record)
    st = record.stats or {}
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


def record_blocks(record: MeasurementRecord) -> tuple[list[dict], bool]:
    """`(blocks, derived)`: a record's stored blocks, else blocks cut from its samples in call
    order (`derived` True: an older file or pytest-benchmark's), else none."""
    from pytest_tfperf.timing.blocks import block_count, blocks_from_samples, split_sizes

    st = record.stats or {}
    stored = [b for b in st.get("blocks") or [] if isinstance(b, dict)]
    if stored:
        return stored, False
    samples = _samples(record)
    if not samples:
        return [], False
    q = st.get("gated_percentile") or 50
    sizes = split_sizes(len(samples), block_count(len(samples)))
    return list(blocks_from_samples(samples, sizes, float(q))), True


def _single_side_sd(record: MeasurementRecord, statistic: str) -> float | None:
    """SD of log(statistic) from its per-call order-statistic CI, for a side with one block."""
    import math

    from pytest_tfperf.timing.stats import percentile_ci

    samples = [v for v in _samples(record) if v > 0]
    if len(samples) < 2:
        return None
    q = 50.0 if statistic in ("median", "mean") else float(statistic[1:]) \
        if statistic.startswith("p") else None
    if q is None:
        return None
    lo, hi, coverage = percentile_ci(samples, q)
    if lo <= 0:
        return None
    return math.log(hi / lo) / (2 * 1.96) if coverage >= 0.95 else math.log(hi / lo) / 2


def compare_measurement(base: MeasurementRecord, new: MeasurementRecord,
                        thresholds: Sequence[Threshold | str] = (), *, enforced: bool | None = None,
                        run_noise: float | None = None,
                        references: tuple[MeasurementRecord, MeasurementRecord] | None = None
                        ) -> ComparisonRecord:
    """Compare one measurement record with its baseline record (see the module docstring).

    Args:
        base: the baseline's measurement record (`stats` with `blocks` or `samples_ms`).
        new: this run's measurement record.
        thresholds: `Threshold`s or expressions; empty -> `DEFAULT_DISPLAY_EXPR`, not enforced.
        enforced: override whether a regression fails (default: True iff thresholds given).
        run_noise: the between-run floor per run (default `blocks.run_floor`).
        references: `(base_reference, new_reference)` reference-workload records
            (`reference.py`) to compare ratios model / reference (`--tfperf-normalize`; `()`
            when the runs have none); when both measurements probed the reference right
            before and after their timing (`stats.contention["reference_cpu_ms"]`), those
            probes are used instead.

    Returns:
        The `ComparisonRecord` of the most severe threshold (regressed > improved > noise > ok),
        judged on the clock this run judged on (`on_judged_clock`) and never on the
        neighbours (`_contention_verdict`).
    """
    from pytest_tfperf.timing.blocks import run_floor

    parsed = parse_thresholds(thresholds)
    if enforced is None:
        enforced = bool(parsed)
    if not parsed:
        parsed = (parse_fail_expr(DEFAULT_DISPLAY_EXPR),)
    noise = run_floor(base.stats, new.stats) if run_noise is None else float(run_noise)
    base, new, clock, notes = on_judged_clock(base, new)
    best: ComparisonRecord | None = None
    for th in parsed:
        if th.statistic == "gated":
            th = dataclasses.replace(th, statistic=gated_statistic(new))
        cmp = _compare_one(base, new, th, enforced, noise, references)
        if best is None or _SEVERITY[cmp.verdict] > _SEVERITY[best.verdict]:
            best = cmp
    assert best is not None
    return _contention_verdict(best, base, new, clock, notes)


def on_judged_clock(base: MeasurementRecord, new: MeasurementRecord
                    ) -> tuple[MeasurementRecord, MeasurementRecord, str, list[str]]:
    """`(base, new, clock, notes)`: both records with their stats on the clock that judges the
    comparison: CPU when this run judges on CPU and both runs kept CPU times of the model's
    threads, else wall (`notes` say why when this run asked for CPU)."""
    from pytest_tfperf.timing.stats import LatencyStats

    b_st, n_st = base.stats or {}, new.stats or {}
    if n_st.get("clock") != "cpu" or not n_st.get("cpu_samples_ms"):
        return base, new, "wall", []
    if not b_st.get("cpu_samples_ms"):
        return base, new, "wall", ["the baseline kept no CPU times (an older tfperf, "
                                   "pytest-benchmark): compared on wall clock"]
    out = []
    for record, st in ((base, b_st), (new, n_st)):
        try:
            view = LatencyStats.from_dict({**st, "clock": "cpu"}).judged()
        except (TypeError, ValueError):
            return base, new, "wall", ["CPU times unreadable: compared on wall clock"]
        out.append(dataclasses.replace(record, stats={**view.to_dict(), "wall_stats": {
            k: st.get(k) for k in ("median_ms", "p90_ms", "gated_ms")}}))
    return out[0], out[1], "cpu", []


def _probes(record: MeasurementRecord) -> list[float]:
    """The reference workload's medians probed right before and after a measurement
    (`reference.probe`), on the clock its stats are on; [] when it was not probed."""
    st = record.stats or {}
    key = "reference_cpu_ms" if st.get("samples_clock") == "cpu" else "reference_wall_ms"
    values = (st.get("contention") or {}).get(key) or []
    return [float(v) for v in values if isinstance(v, (int, float)) and v > 0]


def _contention_verdict(cmp: ComparisonRecord, base: MeasurementRecord, new: MeasurementRecord,
                        clock: str, notes: list[str]) -> ComparisonRecord:
    """Never a verdict from the neighbours: on wall clock a change seen while either run was
    busy is no verdict ("noise", with the reason); on CPU the note says when a run was busy.
    The comparison records the clock it judged on."""
    from pytest_tfperf.timing.clocks import busy_text, contention_text, is_busy

    b_busy, n_busy = (is_busy((r.stats or {}).get("contention")) for r in (base, new))
    if b_busy or n_busy:
        which = "both runs" if b_busy and n_busy else "this run" if n_busy else "the baseline"
        text = busy_text(((new if n_busy else base).stats or {}).get("contention"), clock)
        if b_busy != n_busy:  # the runs met different contention: say how different
            ratios = [contention_text((r.stats or {}).get("contention")) for r in (base, new)]
            notes = [*notes, f"contention differed: the baseline {ratios[0]}, this run {ratios[1]}"]
        notes = [*notes, f"{which}: {text}" if text else f"{which}: machine busy"]
        if clock == "wall" and cmp.verdict in ("regressed", "improved"):
            notes.append(f"no verdict: on wall clock the {cmp.change_pct:+.1f}% may be the "
                         f"neighbours' (a CPU clock judges TF sessions and LiteRT with one thread)")
            cmp = dataclasses.replace(cmp, verdict="noise")
    note = "; ".join(n for n in (cmp.note, *notes) if n)
    return dataclasses.replace(cmp, note=note, clock=clock)


MIN_CI_SAMPLES = 10  # a blockless row (pytest-benchmark's) needs this many samples for a change CI

def _compare_one(base: MeasurementRecord, new: MeasurementRecord, th: Threshold, enforced: bool,
                 noise: float, references: tuple[MeasurementRecord, MeasurementRecord] | None
                 ) -> ComparisonRecord:
    from pytest_tfperf.timing.blocks import block_values, estimate_change

    stat = th.statistic
    bv, nv = statistic_value(base, stat), statistic_value(new, stat)
    common = dict(key=measurement_label(new), test_id=str(new.test_id or ""),
                  name=new.name, statistic=stat, base_ms=bv, new_ms=nv,
                  base_n=len(_samples(base)), new_n=len(_samples(new)), threshold=th.expr,
                  enforced=enforced)
    if bv is None or nv is None or bv <= 0 or nv <= 0:
        return ComparisonRecord(**common, verdict="ok",
                          note=f"no {stat} in the baseline or this run: not compared")
    (b_blocks, b_derived), (n_blocks, _) = record_blocks(base), record_blocks(new)
    few = min(common["base_n"], common["new_n"])  # benchmark.pedantic(rounds=3): no CI from that
    if "pytest-benchmark" in (base.target_kind, new.target_kind) and few < MIN_CI_SAMPLES:
        return ComparisonRecord(**common, ratio=nv / bv, delta_ms=nv - bv, verdict="noise" if (
            th.exceeded(bv, nv) or th.improved(bv, nv)) else "ok", note=f"blockless rows with "
            f"{few} samples: too few for a change CI; compared by value, never a regression")
    b_values, n_values = block_values(b_blocks, stat), block_values(n_blocks, stat)
    notes = ["baseline without blocks: blocks cut from its stored samples"] if b_derived else []
    extra, scale, normalized = (), 1.0, False
    probes = _probes(base), _probes(new)
    if references is not None and all(probes):  # the reference of the same moments (issue 19)
        scale, normalized = statistics.median(probes[0]) / statistics.median(probes[1]), True
        extra = probes
    elif references:
        ref_base, ref_new = (statistic_value(r, "median") for r in references)
        if ref_base and ref_new:
            scale, normalized = ref_base / ref_new, True
            extra = tuple(block_values(record_blocks(r)[0], "median") for r in references)
    change = estimate_change(
        bv, nv * scale, b_values, n_values, run_noise=noise, extra_blocks=extra,
        base_sd=_single_side_sd(base, stat) if len(b_values) < 2 else None,
        new_sd=_single_side_sd(new, stat) if len(n_values) < 2 else None)
    verdict = verdict_of(th, bv, change)
    return ComparisonRecord(
        **common, ratio=change.ratio, delta_ms=nv * scale - bv, p_value=change.p_value,
        verdict=verdict, note="; ".join(notes), ci_low=change.low, ci_high=change.high,
        run_noise=noise, base_blocks=len(b_values), new_blocks=len(n_values),
        normalized=normalized, retimed=bool(new.retimed))


def verdict_of(th: Threshold, base_ms: float, change) -> str:
    """"regressed" / "improved" / "noise" / "ok" for a `blocks.ChangeEstimate` of new/base
    against one threshold (the rules in the module docstring): past the threshold by the
    estimate, and past half of it by the whole CI."""
    new_ms, half = base_ms * change.ratio, dataclasses.replace(th, value=th.value / 2.0)
    if th.exceeded(base_ms, new_ms):
        return "regressed" if half.exceeded(base_ms, base_ms * change.low) else "noise"
    if th.improved(base_ms, new_ms):
        return "improved" if half.improved(base_ms, base_ms * change.high) else "noise"
    return "ok"


def most_severe(comparisons: Iterable[ComparisonRecord]) -> ComparisonRecord:
    """The comparison with the most severe verdict (regressed > improved > noise > ok)."""
    return max(comparisons, key=lambda c: _SEVERITY[c.verdict])


# --------------------------------------------------------------------------- baseline documents
def baseline_warnings(base: ResultFile, environment: dict, machine: dict | None = None) -> list[str]:
    """Why timings may not be comparable: another machine, TensorFlow version or device."""
    src = base.path
    env = base.environment
    warnings = []
    base_tf, new_tf = env.get("tensorflow"), environment.get("tensorflow")
    if base_tf and new_tf and base_tf != new_tf:
        warnings.append(f"{src} was recorded with TensorFlow {base_tf}, this run uses {new_tf}")
    base_dev, new_dev = env.get("device"), environment.get("device")
    if base_dev and new_dev and base_dev != new_dev:
        warnings.append(f"{src} was recorded on device {base_dev}, this run on {new_dev}")
    bm = base.machine_info
    if machine:
        def ident(m):
            return (m.get("node"), (m.get("cpu") or {}).get("brand_raw"), m.get("machine"))
        if bm and ident(bm) != ident(machine):
            warnings.append(f"{src} was recorded on another machine ({_ident_text(bm)}), this run "
                            f"on {_ident_text(machine)}: timings may not be comparable")
    return warnings


def compare_options(settings) -> dict:
    """`compare_runs` keyword arguments from the run's settings (noise floor, normalisation)."""
    noise = getattr(settings, "compare_noise", None)
    return {"run_noise": None if noise is None else noise / 100.0,
            "normalize": bool(getattr(settings, "normalize", False))}


def comparison_warnings(base: ResultFile, results: SessionResults | ResultFile,
                        settings=None) -> list[str]:
    """Why a comparison sees less than it should: a baseline without blocks, a missing
    reference workload under `--tfperf-normalize`."""
    src = base.path
    out = []
    # pytest-benchmark's rows never have blocks (issue 21): re-saving would not change that
    if any(not (r.stats or {}).get("blocks") and r.target_kind != "pytest-benchmark"
           for r in base.results.measurements):
        out.append(f"{src} has measurements without timing blocks (saved by an older tfperf or "
                   f"by pytest-benchmark): their blocks are cut from the stored samples, which "
                   f"see less of the run-to-run noise; save a new baseline to replace it")
    if settings is not None and getattr(settings, "normalize", False):
        for what, run in (("the baseline", base), ("this run", results)):
            if reference_of(run) is None:
                out.append(f"--tfperf-normalize: {what} has no reference workload timing; "
                           f"compared without normalisation")
    return out


def _ident_text(m: dict) -> str:
    cpu = (m.get("cpu") or {}).get("brand_raw")
    return f"node {m.get('node')!r}, cpu {cpu!r}"


def compare_runs(base: ResultFile, new_results: SessionResults | ResultFile,
                 thresholds: Sequence[Threshold | str] = (), *,
                 run_noise: float | None = None, normalize: bool = False) -> list[ComparisonRecord]:
    """Compare every measurement of this run that the baseline also has.

    Args:
        base: the baseline (`load_baseline`).
        new_results: this run's `SessionResults`, or another run's file (the CLI).
        thresholds: `--tfperf-compare-fail` thresholds (empty: classify only, fail nothing).
            A record's own `regression` (from `latency_budget(..., regression="10%")`)
            replaces them for that measurement.
        run_noise: the between-run floor per run (default `blocks.run_floor`).
        normalize: compare ratios model / reference workload when both runs timed one
            (`--tfperf-normalize`; a run without one is compared as is).

    Returns:
        One `ComparisonRecord` per measurement present in both, keyed by test id + measurement name.
    """
    before, new = measurement_index(base), measurement_index(new_results)
    references = None
    if normalize:
        pair = (reference_of(base), reference_of(new_results))
        references = pair if all(pair) else ()  # per-measurement probes may still exist
    out = []
    for key, rec in new.items():
        if key in before:
            own = _record_thresholds(rec)
            cmp = compare_measurement(before[key], rec, own or thresholds,
                                      enforced=True if own else None, run_noise=run_noise,
                                      references=references)
            out.append(dataclasses.replace(cmp, key=key))
    return out


def reference_of(run: SessionResults | ResultFile) -> MeasurementRecord | None:
    """The reference-workload timing (`timing/reference.py`) of a run, as a measurement record."""
    ref = run.environment.get("reference")
    if not isinstance(ref, dict) or not isinstance(ref.get("stats"), dict):
        return None
    return MeasurementRecord.from_dict(ref)


def _record_thresholds(record: MeasurementRecord) -> tuple[Threshold, ...]:
    expr = record.regression
    if not expr:
        return ()
    return parse_thresholds(expr, default_statistic=gated_statistic(record))


def _display_path(path: str) -> str:
    """`path` relative to the current directory when inside it (messages), else as is."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") or not os.path.isabs(path) else rel


def regression_for(test_id: str, comparisons: Iterable[ComparisonRecord],
                   source: str | None = None) -> list[str]:
    """Failure messages for the enforced regressions of `test_id` (empty when it is fine)."""
    source = _display_path(source) if source else source
    out = []
    for c in comparisons:
        if c.test_id == test_id and c.failed:
            out.append(f"tfperf regression: {c.key}: {c.message(source)}")
    return out


def check_regressions(baseline: ResultFile | None, test_id: str,
                      measurement_records: list[MeasurementRecord],
                      thresholds: Sequence[Threshold | str] = (),
                      regression: str | None = None, **compare_kwargs) -> list[str]:
    """Per-test gate, called by the plugin at the end of each test's call phase.

    Args:
        baseline: the `load_baseline` file loaded at configure time (None: no gate).
        test_id: the test's node id.
        measurement_records: the measurement records this test made.
        thresholds: `--tfperf-compare-fail` thresholds.
        regression: the test's `latency_budget(..., regression="10%")`, replacing `thresholds`.
        compare_kwargs: `run_noise`, `normalize` for `compare_runs`.

    Returns:
        Failure messages, one per regressed measurement; empty when nothing regressed.
    """
    if baseline is None or not measurement_records:
        return []
    records = [dataclasses.replace(r, regression=r.regression or regression)
               for r in (record_from_dict("measurement", m) for m in measurement_records)
               if r.test_id == test_id]
    if not records or not (thresholds or any(r.regression for r in records)):
        return []
    run = SessionResults()
    run.extend("measurement", records)
    # only the enforced ones: records without their own threshold use `thresholds` (enforced)
    comparisons = [c for c in compare_runs(baseline, run, thresholds, **compare_kwargs)
                   if c.enforced]
    return regression_for(test_id, comparisons, baseline.path)


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
    from pytest_tfperf.baseline.storage import machine_id

    env = results.environment
    env.setdefault("tensorflow", tensorflow_version())
    if not env.get("device"):
        devices = sorted({str(r.device) for r in results.measurements if r.device})
        env["device"] = ", ".join(devices) if devices else None
    env.setdefault("machine_id", machine_id())
    if rootdir is not None:
        env.setdefault("rootdir", os.fspath(rootdir))


def finalize(settings, results, baseline_doc: ResultFile | None = None) -> None:
    """The compare step, once per session: environment, then comparisons with the baseline.

    Args:
        settings: the run's `options.Settings` (`compare`, `compare_fail`, `rootdir`, `storage`).
        results: the merged session results (mutated: environment, "comparison" records).
        baseline_doc: the baseline file the plugin loaded at configure time (loaded here if None).

    A baseline that cannot be loaded is recorded as a warning (the per-test gate already
    reported the error at configure time); it never raises here.
    """
    if results.finalized:
        return
    collect_environment(results, settings.rootdir)
    if settings.comparing:
        from pytest_tfperf.errors import TfperfError
        from pytest_tfperf.results.pytest_benchmark import machine_info
        from pytest_tfperf.baseline.storage import load_baseline

        info: dict = {"warnings": []}
        try:
            doc = baseline_doc if baseline_doc is not None else load_baseline(
                settings.compare or None, settings.storage)
            info["path"] = doc.path
            info["warnings"] = baseline_warnings(doc, results.environment, machine_info())
            results.records["comparison"] = list(compare_runs(
                doc, results, settings.compare_fail, **compare_options(settings)))
            info["warnings"] += comparison_warnings(doc, results, settings)
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
