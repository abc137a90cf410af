"""Text rendering of `tfperf optimize`'s timing table."""
from __future__ import annotations

from collections.abc import Sequence


def render_variant_table(rows: Sequence, *, sample: str | None = None, rounds: int | None = None) -> str:
    """Seed 002's table from `optimization.VariantTiming` rows, then what the figures mean.

    The speed-up column is against the reference row (`tfperf optimize`: the frozen original);
    when a row is the source (Keras predict), a second column gives the speed-up over it, and
    the closing lines say what the transforms bought and, apart, what freezing alone bought.
    """
    ref = next((r for r in rows if getattr(r, "reference", False)), rows[0] if rows else None)
    source = next((r for r in rows if getattr(r, "source", False)), None)
    ref_name = ref.variant if ref is not None else "first row"
    src_name = _short(source.variant) if source is not None else ""
    width = max([26] + [len(r.variant) + 2 for r in rows])
    columns = [("variant", width), ("median ms", 11), (f"vs {ref_name.split()[0]}", 11)]
    if source is not None:
        columns.append((f"vs {src_name.split()[0]}", 10))
    columns += [("nodes", 8), ("max abs err", 13)]
    head = "".join(f"{name:<{w}}" if i == 0 else f"{name:>{w}}" for i, (name, w) in enumerate(columns))
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = [r.variant, f"{r.median_ms:.3f}", _x(r.speedup)]
        if source is not None:
            cells.append("-" if r.speedup_vs_source is None else _x(r.speedup_vs_source))
        cells += ["-" if r.nodes is None else str(r.nodes),
                  "-" if r.max_abs_error is None else f"{r.max_abs_error:.2e}"]
        lines.append("".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                             for i, (c, (_, w)) in enumerate(zip(cells, columns))))
    if sample:  # what every row ran on, shape included (issue 11 item 7)
        lines.append(f"(timed on the {sample}; max abs err: vs the {ref_name}'s outputs on it)")
    if rounds is not None:
        lines.append(f"(median of the per-round medians, {rounds} interleaved rounds)")
    for r in rows:
        if r is not ref and r is not source:
            lines.append(f"speed-up of the {r.variant} over the {ref_name}: {_x(r.speedup)} "
                         f"({ref.median_ms:.3f} -> {r.median_ms:.3f} ms)")
    if source is not None and ref is not None and ref.speedup_vs_source is not None:
        lines.append(f"speed-up of the {ref_name} over {src_name}: {_x(ref.speedup_vs_source)} "
                     "(freezing alone)")
    return "\n".join(lines)


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _short(variant: str) -> str:
    """'keras predict (batch 1)' -> 'keras predict'."""
    return variant.split(" (", 1)[0]
