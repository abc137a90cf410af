"""Text rendering of `tfperf compare`'s result."""
from __future__ import annotations

from collections.abc import Sequence

from pytest_tfperf.report.terminal import comparison_summary, render_comparisons
from pytest_tfperf.results.records import ComparisonRecord


def render_compare_text(baseline: str, candidate: str, comparisons: Sequence[ComparisonRecord],
                        missing: Sequence[str], warnings: Sequence[str] = ()) -> str:
    """The file names, warnings, the comparison table, the unmatched measurements and the
    summary line ('12 compared: 0 regressed, 1 improved, 2 noise')."""
    lines = [f"baseline:  {baseline}", f"candidate: {candidate}"]
    lines += [f"WARNING: {w}" for w in warnings]
    lines += list(render_comparisons(list(comparisons)))
    if missing:
        lines.append(f"not in both files ({len(missing)}): " + ", ".join(missing[:10])
                     + (" ..." if len(missing) > 10 else ""))
    lines += comparison_summary(list(comparisons))
    return "\n".join(lines)
