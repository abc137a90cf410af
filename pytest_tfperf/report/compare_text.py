"""Text rendering of `tfperf compare`'s result."""
from __future__ import annotations

from collections.abc import Sequence

from .terminal import render_comparisons


def render_compare_text(baseline: str, candidate: str, comparisons: Sequence[dict],
                        missing: Sequence[str], regressed: int, alpha: float) -> str:
    """The file names, the comparison table, the unmatched measurements and the tally."""
    lines = [f"baseline:  {baseline}", f"candidate: {candidate}"]
    lines += list(render_comparisons(list(comparisons)))
    if missing:
        lines.append(f"not in both files ({len(missing)}): " + ", ".join(missing[:10])
                     + (" ..." if len(missing) > 10 else ""))
    lines.append(f"{len(comparisons)} compared, {regressed} regressed "
                 f"(regression = past the threshold and Mann-Whitney p < {alpha:g})")
    return "\n".join(lines)
