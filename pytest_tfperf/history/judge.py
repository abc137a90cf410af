"""Judge a run against the recent past (`--tfperf-compare history`), and append it to the store.

For each measurement of this run, the last `DEFAULT_LAST` runs of the same measurement on the
same machine class and branch (`history:BRANCH` names another branch, e.g. a pull request
against `main`) are the reference: their geometric mean is the base level, and their spread
(SD of log values, N - 1 degrees of freedom) is the between-run noise, measured rather than
assumed (no 4% floor). The new run is one more draw from that spread, so the CI of new/base is
the Student t prediction interval: var(log ratio) = s^2 / N + s^2 (`blocks.estimate_change`
with the history's values as one side and s as the other side's SD). The verdicts and their
wording are the baseline comparison's (`baseline.compare.verdict_of`): regressed / improved /
noise / ok, against `--tfperf-compare-fail` or the record's own `regression=` threshold (else
the 10% display threshold, classifying only).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Iterable

from pytest_tfperf.baseline.compare import (
    DEFAULT_DISPLAY_EXPR, gated_statistic, most_severe, statistic_value, verdict_of)
from pytest_tfperf.baseline.thresholds import Threshold, parse_fail_expr, parse_thresholds
from pytest_tfperf.errors import ConfigError
from pytest_tfperf.results.records import ComparisonRecord, MeasurementRecord, measurement_label
from pytest_tfperf.history.store import judged_clock, on_its_clock

DEFAULT_LAST = 20   # past runs a judgement uses (the most recent ones)
MIN_RUNS = 3        # fewer past runs than this cannot give a spread: not judged
PREFIX = "history"  # --tfperf-compare history[:BRANCH]


def history_branch(compare: str | None) -> tuple[bool, str | None]:
    """(`--tfperf-compare` means the history, the branch it names or None for this run's)."""
    text = str(compare or "")
    if text == PREFIX or text.startswith(PREFIX + ":"):
        return True, text[len(PREFIX) + 1:] or None
    return False, None


def judge_record(record: MeasurementRecord, history_of, thresholds: Iterable[Threshold | str] = (),
                 *, enforced: bool | None = None) -> ComparisonRecord:
    """One measurement record against its past runs.

    Args:
        record: this run's measurement record.
        history_of: `statistic -> the past runs' values` (ms, oldest first).
        thresholds: thresholds or expressions; empty -> `DEFAULT_DISPLAY_EXPR`, not enforced.
        enforced: override whether a regression fails (default: True iff thresholds given).

    Returns:
        The most severe `ComparisonRecord` over the thresholds.
    """
    from pytest_tfperf.timing.blocks import estimate_change

    parsed = parse_thresholds(tuple(thresholds))
    enforced = bool(parsed) if enforced is None else enforced
    parsed = parsed or (parse_fail_expr(DEFAULT_DISPLAY_EXPR),)
    out = []
    view, clock = on_its_clock(record), judged_clock(record)  # history_of gives that clock's
    for th in parsed:
        stat = gated_statistic(record) if th.statistic == "gated" else th.statistic
        th = dataclasses.replace(th, statistic=stat)
        past = [v for v in history_of(stat) if v and v > 0]
        new = statistic_value(view, stat)
        common = dict(key=measurement_label(record), test_id=str(record.test_id or ""),
                      name=record.name, statistic=stat, new_ms=new, base_n=len(past),
                      new_n=len((record.stats or {}).get("samples_ms") or ()),
                      threshold=th.expr, enforced=enforced, clock=clock)
        if new is None or new <= 0 or len(past) < MIN_RUNS:
            out.append(ComparisonRecord(**common, verdict="ok", note=(
                f"{len(past)} past run(s) with a {stat} in the history (at least {MIN_RUNS} "
                f"needed): not compared")))
            continue
        logs = [math.log(v) for v in past]
        mean = sum(logs) / len(logs)
        spread = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
        base = math.exp(mean)
        change = estimate_change(base, new, past, (), run_noise=0.0, new_sd=spread,
                                 fallback_df=len(past) - 1)
        out.append(ComparisonRecord(
            **common, base_ms=base, ratio=change.ratio, delta_ms=new - base,
            p_value=change.p_value, verdict=verdict_of(th, base, change),
            note=f"base: geometric mean of the last {len(past)} runs", ci_low=change.low,
            ci_high=change.high, run_noise=spread, base_blocks=len(past), new_blocks=0,
            retimed=bool(record.retimed), history_runs=len(past)))
    return most_severe(out)


def compare_with_history(store, records: Iterable, thresholds: Iterable[Threshold | str] = (),
                         *, machine: str | None, branch: str | None,
                         last: int = DEFAULT_LAST) -> list[ComparisonRecord]:
    """Every measurement of this run against the last `last` runs of it in `store`.

    Args:
        store: the history file.
        records: this run's measurement records (typed, or their dicts).
        thresholds: `--tfperf-compare-fail` thresholds (a record's own `regression` wins).
        machine, branch: the machine class and branch the past runs must share with this run.
        last: how many of the most recent past runs to use.
    """
    from pytest_tfperf.history.store import measurement_keys, read_points

    records = [r if isinstance(r, MeasurementRecord) else MeasurementRecord.from_dict(r)
               for r in records]
    out = []
    for rec, key in zip(records, measurement_keys(records)):
        points = read_points(store, key=key, machine=machine, branch=branch) \
            if os.path.exists(store) else []  # the first run of a new store: nothing to judge

        clock = judged_clock(rec)

        def history_of(stat: str, points=points, clock=clock) -> list[float]:
            # past runs on this run's clock only: a CPU-judged run is never compared with wall
            # values, and a wall-judged one reads a CPU-judged run's wall statistics
            vals = []
            for p in points:
                past = p.measurement()
                if judged_clock(past) == clock:
                    vals.append(p.values.get(stat) if stat in p.values else
                                statistic_value(on_its_clock(past), stat))
                elif clock == "wall":
                    vals.append(statistic_value(past, stat))
            return [v for v in vals if v is not None][-last:]

        own = parse_thresholds(rec.regression, default_statistic=gated_statistic(rec)) \
            if rec.regression else ()
        cmp = judge_record(rec, history_of, own or tuple(thresholds),
                           enforced=True if own else None)
        out.append(dataclasses.replace(cmp, key=key))
    return out


def check_history_compare(settings) -> bool:
    """Configure time: whether `--tfperf-compare` means the history; checks that a store is
    given for it and that an existing store is readable (`HistoryError` naming the file for a
    corrupt or newer one, before the suite runs rather than after).

    Raises:
        ConfigError: `--tfperf-compare history` without `--tfperf-history PATH`.
        HistoryError: the store exists but is corrupt, foreign or newer.
    """
    from pytest_tfperf.history.store import schema_version

    is_history = history_branch(settings.compare)[0]
    if is_history and not settings.history:
        raise ConfigError(f"--tfperf-compare {settings.compare} judges this run against the run "
                          f"history, which needs --tfperf-history PATH (or ini tfperf_history). "
                          f"Received: --tfperf-compare {settings.compare} without it")
    if settings.history and os.path.exists(settings.history):
        schema_version(settings.history)
    return is_history


def _short(commit: str | None) -> str:
    """A git sha's first 8 characters; anything else ('unversioned') as is."""
    text = str(commit or "-")
    return text[:8] if len(text) == 40 else text


@functools.lru_cache(maxsize=1)
def _this_run() -> tuple[str | None, str | None]:
    """(machine class, git branch) of this process: read once (machine_info takes a while)."""
    from pytest_tfperf.history.runs import run_info

    run = run_info()
    return run.machine, run.branch


def history_regressions(session, item) -> list[str]:
    """The per-test gate under `--tfperf-compare history`: failure messages for the test's
    measurements whose enforced threshold (`--tfperf-compare-fail`, or the record's own
    `regression=`) regressed against the history; [] when not judging against the history.

    Not re-timed in fresh sessions as a baseline regression is: the history's own run-to-run
    spread is already in the CI (a fresh run is one more draw from it).
    """
    from pytest_tfperf.baseline.compare import regression_for

    settings = session.settings
    is_history, branch = history_branch(settings.compare)
    if not is_history or not settings.history:
        return []
    records = [r for r in session.results.measurements if r.test_id == item.nodeid]
    if not records or not (session.thresholds or any(r.regression for r in records)):
        return []
    machine, own_branch = _this_run()
    comparisons = compare_with_history(settings.history, records, session.thresholds,
                                       machine=machine, branch=branch or own_branch)
    return regression_for(item.nodeid, [c for c in comparisons if c.enforced], settings.history)


def session_end(settings, results) -> list[str]:
    """At the controller's session end, before the reports: judge against the history when
    `--tfperf-compare history[:BRANCH]` (the compare step's comparisons and its `baseline`
    environment entry), then append this run when `--tfperf-history PATH`.

    Returns:
        Error lines (a store that cannot be read or written); the run is never lost silently.
    """
    from pytest_tfperf.baseline.compare import collect_environment
    from pytest_tfperf.errors import TfperfError
    from pytest_tfperf.history.runs import run_info
    from pytest_tfperf.history.store import append_run

    is_history, branch = history_branch(settings.compare)
    if not settings.history or "history" in results.environment:
        return []  # no store, or this run was already appended
    errors: list[str] = []
    run = run_info(results.environment)
    if is_history and not results.finalized:
        collect_environment(results, settings.rootdir)
        want = branch or run.branch
        info = {"path": f"{settings.history} (last {DEFAULT_LAST} runs, machine {run.machine}, "
                        f"branch {want})", "warnings": []}
        try:
            results.records["comparison"] = compare_with_history(
                settings.history, results.measurements, settings.compare_fail,
                machine=run.machine, branch=want)
        except TfperfError as exc:
            info["warnings"].append(str(exc))
            results.records["comparison"] = []
        unjudged = sum(not c.history_runs for c in results.records["comparison"])
        if unjudged:
            info["warnings"].append(
                f"{unjudged} measurement(s) have fewer than {MIN_RUNS} past runs in "
                f"{settings.history} on this machine class and branch: not judged (shown as ok)")
        results.environment["baseline"] = info
        results.finalized = True
    if results.measurements:
        try:
            run_id = append_run(settings.history, results.measurements, run)
            results.environment["history"] = {"path": str(settings.history), "run_id": run_id,
                                              "commit": run.commit, "branch": run.branch,
                                              "machine": run.machine, "label": (
                f"run {run_id} (commit {_short(run.commit)}, branch {run.branch})")}
        except TfperfError as exc:
            errors.append(f"--tfperf-history {settings.history}: not appended ({exc})")
    return errors
