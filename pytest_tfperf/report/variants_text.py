"""Plain-text rendering of a variant table (`VariantTable.to_dict()`): CLI and terminal report.

Reads the record only; computes nothing but formatting.
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


def render_variants(table: Any, *, layers: int = 5) -> str:
    """The table as aligned text: one line per variant, then the int8 layers with the largest
    quantization error, the fastest variant, and failed variants with their errors.

    Args:
        table: a `VariantTable` or its `to_dict()`.
        layers: how many worst int8 layers to show.
    """
    data: Mapping[str, Any] = table.to_dict() if hasattr(table, "to_dict") else table
    rows = data.get("variants") or []
    lines = [f"variants of {data.get('name')} on {data.get('inputs')} "
             f"({data.get('rounds')} interleaved rounds; errors and speed-up vs "
             f"{data.get('source')})"]
    cells = [list(_COLUMNS)]
    for r in rows:
        if r.get("error"):
            cells.append([r["variant"], "failed", "-", "-", _size(r.get("size_bytes")), "-", "-",
                          r.get("runtime") or "-"])
            continue
        cells.append([r["variant"], _ms(r.get("median_ms")), _x(r.get("speedup_vs_source")),
                      _x(r.get("speedup_vs_frozen")), _size(r.get("size_bytes")),
                      _err(r.get("max_abs_err")), _pct(r.get("top1_agreement")),
                      r.get("runtime") or "-"])
    widths = [max(len(c[i]) for c in cells) for i in range(len(_COLUMNS))]
    for c in cells:
        parts = [c[0].ljust(widths[0])] + [c[i].rjust(widths[i]) for i in range(1, 7)] + [c[7]]
        lines.append("  ".join(parts).rstrip())
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
    for note in data.get("notes") or []:
        lines.append(f"note: {note}")
    return "\n".join(lines)


__all__ = ["render_variants"]
