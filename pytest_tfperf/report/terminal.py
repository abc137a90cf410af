"""Terminal renderer: fixed-width tables that fit `WIDTH` (100) columns.

Each `render_*` returns lines (no trailing newlines); `sections()` picks the sections the
options ask for. Long test ids are cut from the left with "…" (the end names the test).
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from . import (
    MISSING,
    all_passed,
    budget_text,
    display_labels,
    display_path,
    fmt_bytes,
    fmt_count,
    fmt_ms,
    fmt_num,
    fmt_pct,
    fmt_value,
    get,
    main_verdict,
    model_key,
    model_label,
    model_labels,
    model_verdicts,
    truncate_left,
    truncate_right,
    unique_models,
    verdict_text,
)

WIDTH = 100


def _table(headers: Sequence[str], rows: list[Sequence[Any]], widths: Sequence[int],
           flex: int = 0, left: Sequence[int] = (0,), width: int = WIDTH,
           cut_left: Sequence[int] = (0,)) -> list[str]:
    """Lay out `rows`; column `flex` takes the width the others leave (at least 8)."""
    widths = list(widths)
    widths[flex] = max(8, width - (sum(widths) - widths[flex]) - (len(widths) - 1))
    lines = []
    for i, row in enumerate([list(headers)] + [list(r) for r in rows]):
        cells = []
        for col, (cell, w) in enumerate(zip(row, widths)):
            text = str(cell) if cell is not None else MISSING
            if i and col in cut_left:
                text = truncate_left(text, w)
            else:
                text = truncate_right(text, w)
            cells.append(text.ljust(w) if col in left else text.rjust(w))
        lines.append(" ".join(cells).rstrip())
        if i == 0:
            lines.append(" ".join("-" * w for w in widths))
    return lines


def render_measurements(results, width: int = WIDTH) -> list[str]:
    """One row per measurement: test, model, median, p90, FPS, budget, headroom, verdict."""
    rows = []
    labels = model_labels(results)
    for rec, label in zip(results.measurements, display_labels(results.measurements)):
        st = rec.get("stats") or {}
        v = main_verdict(rec.get("verdicts") or [])
        rows.append([label, _fit(model_label(rec, labels), str(rec.get("model") or MISSING), 12),
                     fmt_ms(st.get("median_ms")), fmt_ms(st.get("p90_ms")),
                     fmt_num(st.get("fps"), 1), budget_text(v),
                     fmt_pct(get(v, "headroom_pct")), verdict_text(all_passed(rec.get("verdicts") or []))])
    return _table(["test", "model", "median ms", "p90 ms", "FPS", "budget", "headroom", "verdict"],
                  rows, [0, 12, 9, 8, 7, 11, 8, 7], left=(0, 1), width=width)


def render_models(results, width: int = WIDTH) -> list[str]:
    """One row per model: weights, FLOPs, serialized size, nodes, budget verdict."""
    rows = []
    labels = model_labels(results)
    for rec in unique_models(results):
        s = rec.get("summary") or {}
        name, key = model_label(rec, labels), model_key(rec)
        rows.append([name, fmt_count(s.get("weight_params")), fmt_count(rec.get("flops")),
                     fmt_bytes(s.get("serialized_bytes", rec.get("size_bytes"))), fmt_value(s.get("node_count")),
                     verdict_text(all_passed(model_verdicts(results, key)))])
    return _table(["model", "weights", "FLOPs", "size", "nodes", "budgets"], rows,
                  [0, 10, 10, 11, 7, 7], left=(0,), cut_left=(), width=width)


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
    return _table(["reference -> candidate", "output", "max abs", "max rel", "top-1", "result"],
                  rows, [0, 22, 10, 10, 7, 6], left=(0, 1), cut_left=(0,), width=width)


def render_comparisons(comparisons: list[dict], width: int = WIDTH) -> list[str]:
    """One row per compared measurement: statistic, baseline, now, change, p-value, verdict."""
    rows = []
    for c in comparisons:
        verdict = str(c.get("verdict") or MISSING)
        if verdict == "regressed" and not c.get("enforced", True):
            verdict = "slower"  # past the display threshold but no --tfperf-compare-fail given
        p = c.get("p_value")
        rows.append([c.get("key") or c.get("test_id") or MISSING, str(c.get("statistic") or MISSING),
                     fmt_ms(c.get("base_ms")), fmt_ms(c.get("new_ms")), fmt_pct(c.get("change_pct")),
                     MISSING if p is None else f"{p:.2g}", verdict.upper() if c.get("failed") else verdict])
    return _table(["test", "stat", "base ms", "new ms", "change", "p", "verdict"], rows,
                  [0, 7, 9, 9, 8, 8, 9], left=(0, 1), width=width)


def comparison_summary(comparisons: list) -> list[str]:
    """'12 compared: 0 regressed, 1 improved, 2 noise' and how the verdicts were reached."""
    verdicts = [str(c.get("verdict")) for c in comparisons]
    lines = [f"{len(verdicts)} compared: {verdicts.count('regressed')} regressed, "
             f"{verdicts.count('improved')} improved, {verdicts.count('noise')} noise"]
    floors = sorted({c.get("run_noise") for c in comparisons if c.get("run_noise") is not None})
    if floors:
        lines.append("regressed/improved: the 95% CI of the change lies past the threshold; noise: "
                     "past it, inside the CI (block spread + a "
                     f"{'/'.join(f'{f * 100:g}%' for f in floors)} between-run floor)")
    return lines


def render_failures(results, width: int = WIDTH) -> list[str]:
    """'test_id: message' per failed budget (the only section printed without --tfperf-report)."""
    lines = []
    for rec in results.failures:
        head = f"{rec.get('test_id') or MISSING}"
        marker = rec.get("marker")
        lines.append(truncate_left(head, width))
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
        from .profile_text import render_profile
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
    if env.get("saved_baseline"):
        lines.append(f"saved this run as {display_path(env['saved_baseline'], env.get('rootdir'))}")
    for path in env.get("written") or []:
        lines.append(f"wrote {display_path(path, env.get('rootdir'))}")
    return lines


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
    return out


def _fit(label: str, name: str, width: int) -> str:
    """A model label in `width` columns: a plain name cut at the right, a path (two models share
    the name) at the left, so `…a/model.pb` and `…b/model.pb` stay apart."""
    return truncate_right(label, width) if label == name else truncate_left(label, width)
