"""Rendering of a variant table (`VariantTable.to_dict()`): the CLI's text, and the recorder's
tables (`VariantsRecord`) in the terminal, Markdown and HTML reports (one small function each).

Reads the records only; computes nothing but formatting.
"""
from __future__ import annotations

from typing import Any, Mapping

_COLUMNS = ("variant", "median ms", "vs source", "vs frozen", "size", "max abs err", "top-1",
            "runtime")


def _ms(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def _x(v) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _size(n) -> str:
    if n is None:
        return "-"
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def _err(v) -> str:
    return "-" if v is None else ("0" if v == 0 else f"{v:.3g}")


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _data(table: Any) -> Mapping[str, Any]:
    return table.to_dict() if hasattr(table, "to_dict") else table


def variant_cells(table: Any) -> list[list[str]]:
    """One row of formatted cells per variant, in `_COLUMNS` order ("failed" for a variant
    that could not be built or run)."""
    cells = []
    for r in _data(table).get("variants") or []:
        if r.get("error"):
            cells.append([r["variant"], "failed", "-", "-", _size(r.get("size_bytes")), "-", "-",
                          r.get("runtime") or "-"])
            continue
        cells.append([r["variant"], _ms(r.get("median_ms")), _x(r.get("speedup_vs_source")),
                      _x(r.get("speedup_vs_frozen")), _size(r.get("size_bytes")),
                      _err(r.get("max_abs_err")), _pct(r.get("top1_agreement")),
                      r.get("runtime") or "-"])
    return cells


def _headline(data: Mapping[str, Any]) -> str:
    return (f"variants of {data.get('name')} on {data.get('inputs')} "
            f"({data.get('rounds')} interleaved rounds; errors and speed-up vs "
            f"{data.get('source')})")


def _footer(data: Mapping[str, Any], layers: int) -> list[str]:
    """The worst int8 layers, the fastest variant, failed variants and notes, as text lines."""
    rows = data.get("variants") or []
    lines = []
    for r in rows:
        worst = (r.get("worst_layers") or [])[:layers]
        if worst:
            lines.append(f"{r['variant']}: layers with the largest quantization error "
                         "(RMSE in quantization steps, QuantizationDebugger):")
            for w in worst:
                lines.append(f"  {w['op']:<16} rmse/scale {w['rmse_over_scale']:.3f}  max abs "
                             f"{w['max_abs_error']:.3g}  {w['tensor'][:90]}")
    if data.get("fastest"):
        best = next((r for r in rows if r["variant"] == data["fastest"]), None)
        lines.append(f"fastest: {data['fastest']}"
                     + (f" ({_ms(best.get('median_ms'))} ms)" if best else ""))
    failed = [r for r in rows if r.get("error")]
    if failed:
        lines.append("failed variants:")
        lines += [f"  {r['variant']}: {r['error']}" for r in failed]
    lines += [f"note: {note}" for note in data.get("notes") or []]
    return lines


def render_variants(table: Any, *, layers: int = 5) -> str:
    """The table as aligned text: one line per variant, then the int8 layers with the largest
    quantization error, the fastest variant, and failed variants with their errors.

    Args:
        table: a `VariantTable` or its `to_dict()`.
        layers: how many worst int8 layers to show.
    """
    data = _data(table)
    cells = [list(_COLUMNS)] + variant_cells(data)
    widths = [max(len(c[i]) for c in cells) for i in range(len(_COLUMNS))]
    lines = [_headline(data)]
    for c in cells:
        parts = [c[0].ljust(widths[0])] + [c[i].rjust(widths[i]) for i in range(1, 7)] + [c[7]]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines + _footer(data, layers))


# -- the recorder's tables (`VariantsRecord`s) in each report format -----------------------------
def terminal_variants(records) -> list[str]:
    """`--tfperf-report`'s "tfperf variants" section: each table under its test id."""
    lines: list[str] = []
    for rec in records:
        lines.append(str(rec.get("test_id") or "-"))
        lines += ["  " + line for line in render_variants(rec.get("table") or {}).splitlines()]
    return lines


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_variants(records) -> list[str]:
    """The Markdown report's "Variants" section body (a table per recorded table)."""
    out: list[str] = []
    for rec in records:
        data = rec.get("table") or {}
        out += [f"`{_md(rec.get('test_id') or '-')}`: {_md(_headline(data))}", "",
                "| " + " | ".join(_COLUMNS) + " |",
                "| --- | " + " | ".join("---:" for _ in _COLUMNS[1:7]) + " | --- |"]
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in variant_cells(data)]
        out.append("")
        footer = _footer(data, layers=5)
        if footer:
            out += ["```", *footer, "```", ""]
    return out


_NUM = ' class="num"'


def html_variants(records) -> str:
    """The HTML report's "Variants" section body (a table per recorded table)."""
    from html import escape

    parts = []
    for rec in records:
        data = rec.get("table") or {}
        head = "".join(f"<th>{escape(c)}</th>" for c in _COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td{_NUM if 0 < i < 7 else ''}>{escape(c)}</td>"
                             for i, c in enumerate(row)) + "</tr>"
            for row in variant_cells(data))
        footer = _footer(data, layers=5)
        parts.append(f"<p><code>{escape(str(rec.get('test_id') or '-'))}</code>: "
                     f"{escape(_headline(data))}</p>"
                     f'<table class="variants"><tr>{head}</tr>{body}</table>'
                     + (f"<pre>{escape(chr(10).join(footer))}</pre>" if footer else ""))
    return "\n".join(parts)


__all__ = ["html_variants", "markdown_variants", "render_variants", "terminal_variants",
           "variant_cells"]
