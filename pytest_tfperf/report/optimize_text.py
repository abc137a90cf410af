"""Text rendering of `tfperf optimize`'s timing table."""
from __future__ import annotations

from collections.abc import Sequence

from pytest_tfperf.report.tables import WIDTH, fit_table
from pytest_tfperf.report.variants_text import speedup_text
from pytest_tfperf.wording import format_ms


def render_variant_table(rows: Sequence, *, sample: str | None = None, rounds: int | None = None,
                         width: int = WIDTH) -> str:
    """Seed 002's table from `optimization.VariantTiming` rows (`tables.fit_table` in `width`
    columns), then what the figures mean.

    The speed-up column is against the reference row (`tfperf optimize`: the frozen original);
    when a row is the source (Keras predict), a second column gives the speed-up over it, and
    the closing lines say what the transforms bought and, apart, what freezing alone bought.
    """
    ref = next((r for r in rows if getattr(r, "reference", False)), rows[0] if rows else None)
    source = next((r for r in rows if getattr(r, "source", False)), None)
    ref_name = ref.variant if ref is not None else "first row"
    src_name = _short(source.variant) if source is not None else ""
    headers = ["variant", "median ms", f"vs {ref_name.split()[0]}"]
    if source is not None:
        headers.append(f"vs {src_name.split()[0]}")
    headers += ["nodes", "max abs err"]
    cells = []
    for r in rows:
        row = [r.variant, format_ms(r.median_ms), speedup_text(r.speedup)]
        if source is not None:
            row.append(speedup_text(r.speedup_vs_source))
        row += [r.nodes, None if r.max_abs_error is None else f"{r.max_abs_error:.2e}"]
        cells.append(row)
    lines = fit_table(headers, cells, width=width, id_col=None)
    if sample:  # what every row ran on, shape included (issue 11 item 7)
        lines.append(f"(timed on the {sample}; max abs err: vs the {ref_name}'s outputs on it)")
    if rounds is not None:
        lines.append(f"(median of the per-round medians, {rounds} interleaved rounds)")
    for r in rows:
        if r is not ref and r is not source:
            lines.append(f"speed-up of the {r.variant} over the {ref_name}: {speedup_text(r.speedup)} "
                         f"({format_ms(ref.median_ms)} -> {format_ms(r.median_ms)} ms)")
    if source is not None and ref is not None and ref.speedup_vs_source is not None:
        lines.append(f"speed-up of the {ref_name} over {src_name}: {speedup_text(ref.speedup_vs_source)} "
                     "(freezing alone)")
    return "\n".join(lines)


def _short(variant: str) -> str:
    """'keras predict (batch 1)' -> 'keras predict'."""
    return variant.split(" (", 1)[0]
