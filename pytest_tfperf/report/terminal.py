"""Terminal renderer: tables that fit pytest's terminal width without cutting what identifies a row.

Each `render_*` returns lines (no trailing newlines); `sections()` picks the sections the
options ask for. A table is laid out one line per row when it fits `width`; if not, the part
of the test ids every row shares is said once above the table; if it still does not fit, each
row takes two lines: what identifies it (test, model, input; wrapped, never cut) and, indented
below, its numbers. Cells are never cut: at 160 columns a row reads in full.
"""
from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

from pytest_tfperf.inputs.described import range_legend
from pytest_tfperf.report import (
    GUESSED_MARK,
    MISSING,
    ROUGH_LEGEND,
    all_passed,
    budget_text,
    display_labels,
    display_path,
    expected_and_rerun,
    fmt_bytes,
    fmt_change_ci,
    fmt_count,
    fmt_ms,
    fmt_num,
    fmt_pct,
    fmt_value,
    get,
    guessed_legend,
    headroom_cell,
    inputs_text,
    is_rough,
    main_verdict,
    model_key,
    model_label,
    model_labels,
    model_verdicts,
    model_weights,
    percentile_cell,
    unique_models,
    verdict_text,
    weights_notes,
)

WIDTH = 100  # the width when the caller has no terminal to ask (pytest passes its own)
GAP = "  "
INDENT = "    "
NBSP = "\u00a0"  # holds a cell's words together while a row's identity is wrapped


def common_prefix(labels: Sequence[str]) -> str:
    """The start every label shares, up to its last '::' or '/' ('' for fewer than two labels).

    Each label keeps a non-empty rest: `tests/a.py::test_x` and `tests/a.py::test_y` share
    `tests/a.py::`.
    """
    labels = [str(x) for x in labels]
    if len(labels) < 2:
        return ""
    shared = labels[0]
    for label in labels[1:]:
        while not label.startswith(shared):
            shared = shared[:-1]
    cut = max(shared.rfind("::") + 2 if "::" in shared else 0, shared.rfind("/") + 1)
    shared = shared[:cut]
    return shared if all(len(x) > len(shared) for x in labels) else ""


def wrap_id(text: str, width: int, indent: str = INDENT) -> list[str]:
    """`text` in lines of at most `width` columns, broken after spaces, '::' or '/' (a test id
    splits between its file and its name), never losing a character; continuation lines
    start with `indent`. A piece longer than a whole line is split inside, as a last resort."""
    pieces = [p for p in re.split(r"(?<=::)|(?<=/)|(?<= )", text) if p]
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if current.strip() and len(current) + len(piece.rstrip()) > width:
            lines.append(current.rstrip())
            current = indent
        while len(current) + len(piece.rstrip()) > width:  # longer than a fresh line: split inside
            cut = max(width - len(current), 1)
            lines.append(current + piece[:cut])
            current, piece = indent, piece[cut:]
        current += piece
    if current.strip():
        lines.append(current.rstrip())
    return lines or [text]


def _cell(value: Any) -> str:
    return MISSING if value is None else str(value)


def _widths(headers: Sequence[str], rows: list[list[str]], cols: Sequence[int]) -> list[int]:
    return [max([len(headers[c])] + [len(r[c]) for r in rows]) for c in cols]


def _line(cells: Sequence[str], widths: Sequence[int], left: Sequence[bool], gap: str = GAP) -> str:
    return gap.join(c.ljust(w) if lft else c.rjust(w) for c, w, lft in zip(cells, widths, left)).rstrip()


def _one_line_table(headers, rows, keys: int, width: int) -> list[str] | None:
    """One line per row, or None when the widest row is wider than `width`."""
    cols = range(len(headers))
    widths = _widths(headers, rows, cols)
    if sum(widths) + len(GAP) * (len(widths) - 1) > width:
        return None
    left = [c < keys for c in cols]
    lines = [_line(headers, widths, left), GAP.join("-" * w for w in widths)]
    return lines + [_line(r, widths, left) for r in rows]


def _two_line_table(headers, rows, keys: int, width: int) -> list[str]:
    """Each row as its identifying cells (aligned if they fit, else wrapped at spaces, never
    cut) and, indented below, its value cells."""
    key_cols, value_cols = list(range(keys)), list(range(keys, len(headers)))
    kw, vw = _widths(headers, rows, key_cols), _widths(headers, rows, value_cols)
    aligned = sum(kw) + len(GAP) * (len(kw) - 1) <= width

    def key_lines(cells):
        if aligned:
            return [_line(cells, kw, [True] * len(kw))]
        # a cell breaks only at '::' or '/' (a test id), never at its own spaces ('... float32')
        cells = [c.replace(" ", NBSP) for c in cells if c and c != MISSING]
        return [x.replace(NBSP, " ") for x in wrap_id(GAP.join(cells) or MISSING, width)]

    # the numbers line: two spaces between columns, one where two do not fit
    gap = GAP if len(INDENT) + sum(vw) + len(GAP) * (len(vw) - 1) <= width else " "

    def values(cells):
        return INDENT + _line(cells, vw, [False] * len(vw), gap)

    head = key_lines([headers[c] for c in key_cols]) + [values([headers[c] for c in value_cols])]
    rule = "-" * min(width, max(len(x) for x in head))
    lines = head + [rule]
    for r in rows:
        lines += key_lines([r[c] for c in key_cols]) + [values([r[c] for c in value_cols])]
    return lines


def fit_table(headers: Sequence[str], rows: list[Sequence[Any]], *, keys: int = 1,
              width: int = WIDTH, id_col: int | None = 0,
              id_note: str = "test ids below start with") -> list[str]:
    """Lay out `rows` in `width` columns without cutting any cell.

    Args:
        headers: column titles; the first `keys` columns identify a row (left-aligned), the
            others are values (right-aligned).
        rows: the cells (None shows as "-").
        keys: how many leading columns identify a row.
        width: the terminal width (pytest's).
        id_col: the column of test ids whose shared start may be said once above the table
            (None: no such column).
        id_note: the words before that shared start.

    Returns:
        The lines: one per row when they fit; else with what every row shares said once above
        the table (`id_note tests/test_x.py::`, `every row: model alexnet.pb`) and one line per
        row if that fits; else two lines per row (`_two_line_table`).
    """
    headers = [str(h) for h in headers]
    rows = [[_cell(c) for c in r] for r in rows]
    lines = _one_line_table(headers, rows, keys, width)
    if lines is not None:
        return lines
    pre: list[str] = []
    prefix = common_prefix([r[id_col] for r in rows]) if id_col is not None else ""
    if prefix:
        pre.append(f"{id_note} {prefix}")
        rows = [[c[len(prefix):] if i == id_col else c for i, c in enumerate(r)] for r in rows]
    same = [c for c in range(keys) if c != id_col and len(rows) > 1
            and len({r[c] for r in rows}) == 1 and rows[0][c] != MISSING]
    if same:  # a model or input every row shares is said once
        pre.append("every row: " + ", ".join(f"{headers[c]} {rows[0][c]}" for c in same))
        headers = [h for i, h in enumerate(headers) if i not in same]
        rows = [[x for i, x in enumerate(r) if i not in same] for r in rows]
        keys -= len(same)
    lines = _one_line_table(headers, rows, keys, width) if pre else None
    pre = [x for line in pre for x in wrap_id(line, width)]
    return pre + (lines if lines is not None else _two_line_table(headers, rows, keys, width))


def _gated_percentiles(records) -> list[float]:
    """Percentiles budgets gated on besides the median and p90 (a column each: the value judged)."""
    out: list[float] = []
    for rec in records:
        for v in rec.get("verdicts") or []:
            stat = str(get(v, "statistic") or "")
            if get(v, "marker") == "latency_budget" and stat[1:].replace(".", "", 1).isdigit():
                q = float(stat[1:])
                if q not in (50.0, 90.0) and q not in out:
                    out.append(q)
    return sorted(out)


def _gated_cell(rec, q: float) -> str:
    for v in rec.get("verdicts") or []:
        if get(v, "marker") == "latency_budget" and get(v, "statistic") == f"p{q:g}":
            return percentile_cell(rec.get("stats") or {}, q, get(v, "value"))
    return percentile_cell(rec.get("stats") or {}, q) if q in (95.0, 99.0) else MISSING


def render_measurements(results, width: int = WIDTH) -> list[str]:
    """One row per measurement: test, model, input | median, p90 (and any gated percentile),
    FPS, n, budget, headroom, verdict; notes under the table explain the marks it uses."""
    records = list(results.measurements)
    labels = model_labels(results)
    gated = _gated_percentiles(records)
    rows = []
    for rec, label in zip(records, display_labels(records)):
        st = rec.get("stats") or {}
        v = main_verdict(rec.get("verdicts") or [])
        rows.append([label, model_label(rec, labels), inputs_text(rec.get("inputs"), mark=GUESSED_MARK),
                     percentile_cell(st, 50), percentile_cell(st, 90),
                     *[_gated_cell(rec, q) for q in gated],
                     fmt_num(st.get("fps"), 1), fmt_value(st.get("n")), budget_text(v), headroom_cell(v),
                     verdict_text(all_passed(rec.get("verdicts") or []))])
    headers = ["test", "model", "input", "median ms", "p90 ms", *[f"p{q:g} ms" for q in gated],
               "FPS", "n", "budget", "headroom", "verdict"]
    lines = fit_table(headers, rows, keys=3, width=width)
    if any(is_rough(c) for r in rows for c in r):
        for part in ROUGH_LEGEND.splitlines():
            lines += textwrap.wrap(part, width, subsequent_indent="  ")
    note = guessed_legend(rec.get("inputs") for rec in records)
    if note:
        lines += textwrap.wrap(note, width, subsequent_indent="  ")
    for note in filter(None, [range_legend(rec.get("inputs") for rec in records)]):
        lines += textwrap.wrap(note, width, subsequent_indent="  ")
    return lines


def render_models(results, width: int = WIDTH) -> list[str]:
    """One row per model: weights, FLOPs, serialized size, nodes, budget verdict."""
    rows = []
    labels = model_labels(results)
    for rec in unique_models(results):
        s = rec.get("summary") or {}
        name, key = model_label(rec, labels), model_key(rec)
        rows.append([name, fmt_count(model_weights(s)), fmt_count(rec.get("flops")),
                     fmt_bytes(s.get("serialized_bytes", rec.get("size_bytes"))), fmt_value(s.get("node_count")),
                     verdict_text(all_passed(model_verdicts(results, key)))])
    notes = [line for note in weights_notes(results, labels)
             for line in textwrap.wrap(note, width, subsequent_indent="  ")]
    return fit_table(["model", "weights", "FLOPs", "size", "nodes", "budgets"], rows, width=width,
                     id_col=0, id_note="model paths below start with") + notes


def render_equivalence(results, width: int = WIDTH) -> list[str]:
    """One row per compared output: reference -> candidate, errors, top-1 agreement."""
    rows = []
    for rec in results.equivalences:
        rep = rec.get("report") or {}
        pair = f"{rec.get('reference') or rep.get('reference') or MISSING} -> " \
               f"{rec.get('candidate') or rep.get('candidate') or MISSING}"
        outputs = rep.get("outputs") or [{}]
        for out in outputs:
            rows.append([pair, str(out.get("name") or MISSING), fmt_value(out.get("max_abs_error")),
                         fmt_value(out.get("max_rel_error")), fmt_value(out.get("top1_agreement")),
                         verdict_text(out.get("passed", rep.get("passed")))])
    return fit_table(["reference -> candidate", "output", "max abs", "max rel", "top-1", "result"],
                     rows, keys=2, width=width, id_col=None)


def render_comparisons(comparisons: list[dict], width: int = WIDTH) -> list[str]:
    """One row per compared measurement: statistic, baseline, now, change, p-value, verdict."""
    rows = []
    for c in comparisons:
        verdict = str(c.get("verdict") or MISSING)
        if verdict == "regressed" and not c.get("enforced", True):
            verdict = "slower"  # past the display threshold but no --tfperf-compare-fail given
        rows.append([c.get("key") or c.get("test_id") or MISSING, str(c.get("statistic") or MISSING),
                     fmt_ms(c.get("base_ms")), fmt_ms(c.get("new_ms")), fmt_pct(c.get("change_pct")),
                     fmt_change_ci(c), verdict.upper() if c.get("failed") else verdict])
    return fit_table(["test", "stat", "base ms", "new ms", "change", "95% CI", "verdict"], rows,
                     width=width)


def comparison_summary(comparisons: list) -> list[str]:
    """The lines under the comparison table: how verdicts are reached, then the tally
    ('12 compared: 0 regressed, 1 improved, 2 noise, 9 ok').

    A regression past the display threshold only (no --tfperf-compare-fail) counts as "slower",
    as its row says; "noise": past the threshold, but the change's CI reaches back over it.
    """
    counts: dict[str, int] = {}
    for c in comparisons:
        verdict = str(c.get("verdict") or MISSING)
        if verdict == "regressed" and not c.get("enforced", True):
            verdict = "slower"
        counts[verdict] = counts.get(verdict, 0) + 1
    shown = ["regressed", "slower", "improved", "noise", "ok"]
    parts = [f"{counts.get(v, 0)} {v}" for v in ("regressed",)]
    parts += [f"{counts[v]} slower" for v in ("slower",) if counts.get(v)]
    parts += [f"{counts.get(v, 0)} {v}" for v in ("improved", "noise")]
    parts += [f"{counts[v]} {v}" for v in ["ok", *sorted(set(counts) - set(shown))] if counts.get(v)]
    lines = []
    floors = sorted({c.get("run_noise") for c in comparisons if c.get("run_noise") is not None})
    if floors:
        floor = "/".join(f"{f * 100:g}%" for f in floors)
        lines += ["regressed/improved: the change's 95% CI lies past the threshold;",
                  f"noise: past it, but the CI (block spread + {floor} between-run floor) reaches "
                  "back over it"]
    return lines + [f"{len(comparisons)} compared: " + ", ".join(parts)]


def render_failures(results, width: int = WIDTH) -> list[str]:
    """'test_id: message' per failed budget (the only section printed without --tfperf-report)."""
    lines = []
    for rec in results.failures:
        head = f"{rec.get('test_id') or MISSING}"
        marker = rec.get("marker")
        lines += wrap_id(head, width)  # whole: the id is what a person searches for and reruns
        message = str(rec.get("message") or MISSING)
        if marker and not message.startswith(str(marker)):
            message = f"{marker}: {message}"
        for part in message.splitlines() or [MISSING]:
            lines.extend(textwrap.wrap(part, width, initial_indent="    ",
                                       subsequent_indent="      ", break_on_hyphens=False))
    return lines


def render_profiles(results) -> list[str]:
    """The per-node-type tables of every profile (rendered by `profile_text`)."""
    try:
        from pytest_tfperf.report.profile_text import render_profile
    except ImportError:  # written by another module; without it show the headline only
        render_profile = None
    lines: list[str] = []
    for rec in results.profiles:
        lines.append(f"{rec.get('test_id') or MISSING} - {rec.get('model') or MISSING}")
        if render_profile is not None and rec.get("profile"):
            try:
                text = render_profile(rec["profile"])
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
    return [f"tfperf: wrote {get(f, 'kind') or 'file'} {display_path(get(f, 'path'), cwd)}"
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
            from pytest_tfperf.report.variants_text import terminal_variants

            out.append(("tfperf variants", terminal_variants(results.variants, width)))
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
