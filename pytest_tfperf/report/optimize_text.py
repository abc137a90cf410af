"""Text rendering of `tfperf optimize`'s timing table."""
from __future__ import annotations

from collections.abc import Sequence


def render_variant_table(rows: Sequence) -> str:
    """Seed 002's table from `optimization.VariantTiming` rows (variant, median, speed-up, ...)."""
    head = f"{'variant':<26}{'median ms':>11}{'speed-up':>10}{'nodes':>8}{'max abs err':>13}"
    lines = [head, "-" * len(head)]
    for r in rows:
        nodes = "-" if r.nodes is None else str(r.nodes)
        err = "-" if r.max_abs_error is None else f"{r.max_abs_error:.2e}"
        lines.append(f"{r.variant:<26}{r.median_ms:>11.3f}{r.speedup:>9.2f}x{nodes:>8}{err:>13}")
    return "\n".join(lines)
