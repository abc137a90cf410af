"""Terminal renderer: tables that fit pytest's terminal width without cutting what identifies a row.

Each `render_*` returns lines (no trailing newlines); `sections()` picks the sections the
options ask for. Tables are laid out by `tables.fit_table` (one line per row when they fit, else
what the rows share said once, else two lines per row; cells are never cut).
"""
from __future__ import annotations

import textwrap

from pytest_tfperf.inputs.described import range_legend
from pytest_tfperf.report import (
    expected_and_rerun,
    MISSING,
    ROUGH_LEGEND,
    clock_notes,
    display_path,
    fmt_change_ci,
    fmt_pct,
    fmt_value,
    guessed_legend,
    is_rough,
    model_labels,
    percentile_cell,
    verdict_text,
    weights_notes,
)
from pytest_tfperf.report.profile_text import render_profile
from pytest_tfperf.report.rows import latency_rows, model_rows
from pytest_tfperf.report.tables import WIDTH, fit_table, wrap_id
from pytest_tfperf.report.variants_text import terminal_variants
from pytest_tfperf.results.records import ComparisonRecord
from pytest_tfperf.wording import format_ms

def _gated_percentiles(records) -> list[float]:
    """Percentiles budgets gated on besides the median and p90 (a column each: the value judged)."""
    out: list[float] = []
    for rec in records:
        for v in rec.verdicts:
            stat = str(v.get("statistic") or "")
            if v.get("marker") == "latency_budget" and stat[1:].replace(".", "", 1).isdigit():
                q = float(stat[1:])
                if q not in (50.0, 90.0) and q not in out:
                    out.append(q)
    return sorted(out)


def _gated_cell(rec, q: float) -> str:
    for v in rec.verdicts:
        if v.get("marker") == "latency_budget" and v.get("statistic") == f"p{q:g}":
            return percentile_cell(rec.stats, q, v.get("value"))
    return percentile_cell(rec.stats, q) if q in (95.0, 99.0) else MISSING


def render_measurements(results, width: int = WIDTH) -> list[str]:
    """One row per measurement: test, model, input | median, p90 (and any gated percentile),
    FPS, n, budget, headroom, verdict; notes under the table explain the marks it uses."""
    records = list(results.measurements)
    gated = _gated_percentiles(records)
    rows = [[r.label, r.model, r.input_marked, r.median, r.p90,
             *[_gated_cell(r.record, q) for q in gated],
             r.fps, r.n, r.budget, r.headroom, verdict_text(r.passed)] for r in latency_rows(results)]
    headers = ["test", "model", "input", "median ms", "p90 ms", *[f"p{q:g} ms" for q in gated],
               "FPS", "n", "budget", "headroom", "verdict"]
    lines = fit_table(headers, rows, keys=3, width=width)
    if any(is_rough(c) for r in rows for c in r):
        for part in ROUGH_LEGEND.splitlines():
            lines += textwrap.wrap(part, width, subsequent_indent="  ")
    note = guessed_legend(rec.inputs for rec in records)
    if note:
        lines += textwrap.wrap(note, width, subsequent_indent="  ")
    for note in filter(None, [range_legend(rec.inputs for rec in records)]):
        lines += textwrap.wrap(note, width, subsequent_indent="  ")
    for part in clock_notes(records):
        lines += textwrap.wrap(part, width, subsequent_indent="  ")
    return lines


def render_models(results, width: int = WIDTH) -> list[str]:
    """One row per model: weights, FLOPs, serialized size, nodes, budget verdict."""
    rows = [[r.name, r.weights, r.flops, r.size, r.nodes, verdict_text(r.passed)]
            for r in model_rows(results)]
    notes = [line for note in weights_notes(results, model_labels(results))
             for line in textwrap.wrap(note, width, subsequent_indent="  ")]
    return fit_table(["model", "weights", "FLOPs", "size", "nodes", "budgets"], rows, width=width,
                     id_col=0, id_note="model paths below start with") + notes


def render_equivalence(results, width: int = WIDTH) -> list[str]:
    """One row per compared output: reference -> candidate, errors, top-1 agreement."""
    rows = []
    for rec in results.equivalences:
        rep = rec.report or {}
        pair = f"{rec.reference or rep.get('reference') or MISSING} -> " \
               f"{rec.candidate or rep.get('candidate') or MISSING}"
        outputs = rep.get("outputs") or [{}]
        for out in outputs:
            rows.append([pair, str(out.get("name") or MISSING), fmt_value(out.get("max_abs_error")),
                         fmt_value(out.get("max_rel_error")), fmt_value(out.get("top1_agreement")),
                         verdict_text(out.get("passed", rep.get("passed")))])
    return fit_table(["reference -> candidate", "output", "max abs", "max rel", "top-1", "result"],
                     rows, keys=2, width=width, id_col=None)


def shown_verdict(c: ComparisonRecord) -> str:
    """A comparison's verdict as its row says it: "slower" for a regression past the display
    threshold only (no --tfperf-compare-fail given)."""
    verdict = str(c.verdict or MISSING)
    return "slower" if verdict == "regressed" and not c.enforced else verdict


def render_comparisons(comparisons: list[ComparisonRecord], width: int = WIDTH) -> list[str]:
    """One row per compared measurement: statistic, baseline, now, change, p-value, verdict."""
    rows = []
    for c in comparisons:
        verdict = shown_verdict(c)
        rows.append([c.key or c.test_id or MISSING, str(c.statistic or MISSING),
                     format_ms(c.base_ms), format_ms(c.new_ms), fmt_pct(c.change_pct),
                     fmt_change_ci(c), verdict.upper() if c.failed else verdict])
    return fit_table(["test", "stat", "base ms", "new ms", "change", "95% CI", "verdict"], rows,
                     width=width)


def comparison_summary(comparisons: list[ComparisonRecord]) -> list[str]:
    """The lines under the comparison table: how verdicts are reached, then the tally
    ('12 compared: 0 regressed, 1 improved, 2 noise, 9 ok').

    A regression past the display threshold only (no --tfperf-compare-fail) counts as "slower",
    as its row says; "noise": past the threshold, but the change's CI reaches under half of
    it.
    """
    counts: dict[str, int] = {}
    for c in comparisons:
        verdict = shown_verdict(c)
        counts[verdict] = counts.get(verdict, 0) + 1
    shown = ["regressed", "slower", "improved", "noise", "ok"]
    parts = [f"{counts.get(v, 0)} {v}" for v in ("regressed",)]
    parts += [f"{counts[v]} slower" for v in ("slower",) if counts.get(v)]
    parts += [f"{counts.get(v, 0)} {v}" for v in ("improved", "noise")]
    parts += [f"{counts[v]} {v}" for v in ["ok", *sorted(set(counts) - set(shown))] if counts.get(v)]
    lines = []
    floors = sorted({c.run_noise for c in comparisons
                     if c.run_noise is not None and not c.history_runs})
    if any(c.history_runs for c in comparisons):  # --tfperf-compare history
        lines += ["regressed/improved: the change is past the threshold and its whole 95% CI "
                  "(from the past runs' spread) past half of it;",
                  "noise: past it, but that CI reaches under half of it"]
    if floors:
        floor = "/".join(f"{f * 100:g}%" for f in floors)
        lines += ["regressed/improved: the change is past the threshold and its whole 95% CI "
                  "past half of it;",
                  f"noise: past it, but the CI (block spread + {floor} between-run floor) reaches "
                  "under half of it"]
    return lines + [f"{len(comparisons)} compared: " + ", ".join(parts)]


def render_failures(results, width: int = WIDTH) -> list[str]:
    """'test_id: message' per failed budget (the only section printed without --tfperf-report)."""
    lines = []
    for rec in results.failures:
        head = f"{rec.test_id or MISSING}"
        marker = rec.marker
        lines += wrap_id(head, width)  # whole: the id is what a person searches for and reruns
        message = str(rec.message or MISSING)
        if marker and not message.startswith(str(marker)):
            message = f"{marker}: {message}"
        for part in message.splitlines() or [MISSING]:
            lines.extend(textwrap.wrap(part, width, initial_indent="    ",
                                       subsequent_indent="      ", break_on_hyphens=False))
    return lines


def render_profiles(results) -> list[str]:
    """The per-node-type tables of every profile (rendered by `profile_text`)."""
    lines: list[str] = []
    for rec in results.profiles:
        lines.append(f"{rec.test_id or MISSING} - {rec.model or MISSING}")
        if rec.profile:
            try:
                text = render_profile(rec.profile)
            except (KeyError, TypeError, ValueError) as exc:  # an older/partial profile dict
                text = f"    (profile table unavailable: {type(exc).__name__} {exc})"
            lines.extend(text.splitlines() if isinstance(text, str) else list(text))
        else:
            lines.append("    (profile table unavailable)")
        lines.append("")
    return lines


def render_environment(results) -> list[str]:
    env = results.environment
    parts = [f"tensorflow {env.get('tensorflow') or MISSING}", f"device {env.get('device') or MISSING}",
             f"machine {env.get('machine_id') or MISSING}"]
    lines = ["; ".join(parts)]
    base = env.get("baseline") or {}
    if base:
        lines.append(f"compared with {display_path(base.get('path'), env.get('rootdir'))}")
        lines.extend(f"WARNING: {w}" for w in base.get("warnings") or [])
    return lines


def render_written(results, cwd: str | None = None) -> list[str]:
    """'tfperf: wrote JSON report out/run.json': one line per file this run wrote, its path
    relative to `cwd` (where the user typed it) when inside it. Printed with or without
    --tfperf-report: a person should not have to search for a report they asked for."""
    env = results.environment
    files = env.get("written_files")
    if files is None:  # results from before the kinds were recorded
        files = [{"kind": "baseline", "path": env["saved_baseline"]}] if env.get("saved_baseline") else []
        files += [{"kind": "report", "path": p} for p in env.get("written") or []]
    return [f"tfperf: wrote {f.get('kind') or 'file'} {display_path(f.get('path'), cwd)}"
            for f in files if isinstance(f, dict)]


def sections(results, *, report: bool, profile: bool = False, compare: bool = False,
             width: int = WIDTH) -> list[tuple[str, list[str]]]:
    """(title, lines) of each section to print; only budget failures without `report`."""
    out: list[tuple[str, list[str]]] = []
    if report:
        out.append(("tfperf", render_environment(results)))
        if results.measurements:
            out.append(("tfperf latency", render_measurements(results, width)))
        if results.models:
            out.append(("tfperf models", render_models(results, width)))
        if results.equivalences:
            out.append(("tfperf equivalence", render_equivalence(results, width)))
        if results.variants:
            out.append(("tfperf variants", terminal_variants(results.variants, width)))
        if results.sweeps:
            from pytest_tfperf.report.sweep_text import terminal_sweeps

            out.append(("tfperf sweeps", terminal_sweeps(results.sweeps, width)))
    if profile and results.profiles:
        out.append(("tfperf profiles", render_profiles(results)))
    if (report or compare) and (results.comparisons or results.environment.get("baseline")):
        lines = render_comparisons(results.comparisons, width)
        lines += comparison_summary(results.comparisons)
        if not report:
            lines = render_environment(results)[1:] + lines
        out.append(("tfperf comparison", lines))
    if results.failures:
        out.append(("tfperf budget failures", render_failures(results, width)))
    for title, records in expected_and_rerun(results):  # issue 21: apart, never red
        out.append((f"tfperf {title[0].lower()}{title[1:]}",
                    [line for r in records for line in textwrap.wrap(
                        f"{r.test_id}: {r.message}", width, subsequent_indent="  ")]))
    return out
