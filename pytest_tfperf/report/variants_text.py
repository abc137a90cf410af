"""Rendering of a variant table (`VariantTable.to_dict()`): the CLI's text, and the recorder's
tables (`VariantsRecord`) in the terminal, Markdown and HTML reports (one small function each).

Reads the records only; computes nothing but formatting.
"""
from __future__ import annotations

import textwrap
from typing import Any, Mapping

from pytest_tfperf.inputs.described import inputs_text
from pytest_tfperf.report.tables import (
    WIDTH,
    escape,
    fit_table,
    html_table,
    markdown_cell,
    markdown_table,
    wrap_id,
)
from pytest_tfperf.wording import MISSING, format_bytes, format_ms, plural

_COLUMNS = ("variant", "median ms", "vs source", "vs frozen", "size", "max abs err", "top-1",
            "runtime")
# the terminal's order: what identifies a row (variant, runtime) first, then the numbers
_TERMINAL_ORDER = (0, 7, 1, 2, 3, 4, 5, 6)


def speedup_text(v) -> str:
    """A speed-up factor: '1.52x' ('-' when unknown)."""
    return MISSING if v is None else f"{v:.2f}x"


def _err(v) -> str:
    return MISSING if v is None else ("0" if v == 0 else f"{v:.3g}")


def _pct(v) -> str:
    return MISSING if v is None else f"{100 * v:.0f}%"


def _data(table: Any) -> Mapping[str, Any]:
    return table.to_dict() if hasattr(table, "to_dict") else table


def variant_cells(table: Any) -> list[list[str]]:
    """One row of formatted cells per variant, in `_COLUMNS` order ("failed" for a variant
    that could not be built or run)."""
    cells = []
    for r in _data(table).get("variants") or []:
        if r.get("error"):
            cells.append([r["variant"], "failed", "-", "-", format_bytes(r.get("size_bytes")), "-", "-",
                          r.get("runtime") or "-"])
            continue
        cells.append([r["variant"], format_ms(r.get("median_ms")), speedup_text(r.get("speedup_vs_source")),
                      speedup_text(r.get("speedup_vs_frozen")), format_bytes(r.get("size_bytes")),
                      _err(r.get("max_abs_err")), _pct(r.get("top1_agreement")),
                      r.get("runtime") or "-"])
    return cells


def input_words(data: Mapping[str, Any]) -> str:
    """What the rows ran on: 'sample image astronaut.jpg, [1,224,224,3] float32' (the label,
    then the shape timed; tables from before the shapes were recorded give the label only)."""
    label = str(data.get("inputs") or "-")
    timed = data.get("timed_inputs")
    return f"{label}, {inputs_text(timed, with_source=True, sep=', ')}" if timed else label


def _headline(data: Mapping[str, Any]) -> str:
    rounds = data.get("rounds")
    rounds_text = plural(rounds, "interleaved round") if isinstance(rounds, int) else f"{rounds} interleaved rounds"
    return (f"variants of {data.get('name')} on {input_words(data)} "
            f"({rounds_text}; errors and speed-up vs {data.get('source')})")


def _wrapped(text: str, width: int, indent: str = "") -> list[str]:
    """`text` in lines of `width` columns, broken at spaces (long words split, never cut)."""
    return textwrap.wrap(text, max(width, 20), initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False) or [indent.rstrip()]


def _worst_layer_lines(row: Mapping[str, Any], layers: int, width: int) -> list[str]:
    worst = (row.get("worst_layers") or [])[:layers]
    if not worst:
        return []
    lines = _wrapped(f"{row['variant']}: layers with the largest quantization error (RMSE in "
                     "quantization steps, QuantizationDebugger):", width)
    cells = [[w["op"], w["tensor"], f"{w['rmse_over_scale']:.3f}", f"{w['max_abs_error']:.3g}"]
             for w in worst]
    table = fit_table(["op", "tensor", "rmse/scale", "max abs"], cells, keys=2, width=width - 2,
                      id_col=None)
    return lines + ["  " + line for line in table]


def _footer(data: Mapping[str, Any], layers: int, width: int | None = None) -> list[str]:
    """The worst int8 layers, the fastest variant, failed variants and notes, as text lines
    (`width`: wrapped to it, nothing cut; None: one line each, for Markdown and HTML)."""
    rows = data.get("variants") or []
    wide = 1 << 16  # no wrapping
    fit = width or wide
    lines = []
    for r in rows:
        lines += _worst_layer_lines(r, layers, fit)
    if data.get("fastest"):
        best = next((r for r in rows if r["variant"] == data["fastest"]), None)
        lines.append(f"fastest: {data['fastest']}"
                     + (f" ({format_ms(best.get('median_ms'))} ms)" if best else ""))
    failed = [r for r in rows if r.get("error")]
    if failed:
        lines.append("failed variants:")
        for r in failed:
            lines += _wrapped(f"{r['variant']}: {r['error']}", fit, "  ")
    for note in data.get("notes") or []:
        lines += _wrapped(f"note: {note}", fit)
    for text in _judged_lines(data):
        lines += _wrapped(text, fit)
    return lines


def _judged_lines(data: Mapping[str, Any]) -> list[str]:
    """Issue 21: what errors and top-1 were judged on, when more than the timed feed."""
    if not data.get("dataset"):
        return []
    out = [f"errors and top-1 over {data.get('judged_inputs')} inputs of {data['dataset']}:"]
    for r in data.get("variants") or []:
        if r.get("top1_rows") and r.get("top1_ci") and r.get("top1_agreement") is not None:
            low, high = r["top1_ci"]
            out.append(f"  {r['variant']}: top-1 agrees on {r.get('top1_agree_count')} of "
                       f"{r['top1_rows']} (95% CI {100 * low:.3g}-{100 * high:.3g}%); abs err p99 "
                       f"{_err(r.get('p99_abs_err'))}, worst input {r.get('worst_input') or '-'}")
    return out


def render_variants(table: Any, *, layers: int = 5, width: int = WIDTH) -> str:
    """The table as text that fits `width` columns: the headline (model, the input shape timed),
    one row per variant (`terminal.fit_table`: one line each when they fit, else the variant
    and runtime over its numbers), then the int8 layers with the largest quantization error,
    the fastest variant, and failed variants with their errors. Nothing is cut; long names wrap.

    Args:
        table: a `VariantTable` or its `to_dict()`.
        layers: how many worst int8 layers to show.
        width: the terminal's width (the CLI's, or pytest's).
    """
    data = _data(table)
    headers = [_COLUMNS[i] for i in _TERMINAL_ORDER]
    rows = [[c[i] for i in _TERMINAL_ORDER] for c in variant_cells(data)]
    lines = _wrapped(_headline(data), width)
    lines += fit_table(headers, rows, keys=2, width=width, id_col=None)
    return "\n".join(lines + _footer(data, layers, width))


# -- the recorder's tables (`VariantsRecord`s) in each report format -----------------------------
def terminal_variants(records, width: int = WIDTH) -> list[str]:
    """`--tfperf-report`'s "tfperf variants" section: each table under its test id, in `width`."""
    lines: list[str] = []
    for rec in records:
        lines += wrap_id(str(rec.test_id or MISSING), width)
        text = render_variants(rec.table or {}, width=width - 2)
        lines += ["  " + line if line else line for line in text.splitlines()]
    return lines


def markdown_variants(records) -> list[str]:
    """The Markdown report's "Variants" section body (a table per recorded table)."""
    out: list[str] = []
    for rec in records:
        data = rec.table or {}
        out += [f"`{markdown_cell(rec.test_id or MISSING)}`: {markdown_cell(_headline(data))}", ""]
        out += markdown_table(_COLUMNS, variant_cells(data), right=range(1, 7))
        footer = _footer(data, layers=5)
        if footer:
            out += ["```", *footer, "```", ""]
    return out


def html_variants(records) -> str:
    """The HTML report's "Variants" section body (a table per recorded table)."""
    parts = []
    for rec in records:
        data = rec.table or {}
        footer = _footer(data, layers=5)
        parts.append(f"<p><code>{escape(rec.test_id or MISSING)}</code>: "
                     f"{escape(_headline(data))}</p>"
                     + html_table(_COLUMNS, variant_cells(data), num=range(1, 7), cls="variants")
                     + (f"<pre>{escape(chr(10).join(footer))}</pre>" if footer else ""))
    return "\n".join(parts)


__all__ = ["html_variants", "input_words", "markdown_variants", "render_variants", "speedup_text",
           "terminal_variants", "variant_cells"]
