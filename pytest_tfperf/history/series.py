"""Per test and statistic: the series of run values and its change points (what `tfperf
history` shows). Pure data; `report/history_text.py` and `report/history_html.py` render it."""
from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any

from pytest_tfperf.history.changepoints import change_points
from pytest_tfperf.history.store import HistoryPoint

# change points are looked for in the latest runs only: PELT's median cost grows ~n^2 (240 runs
# ~4 s per series on a loaded 2-core VM); the points before are still listed and charted
WINDOW = 200


@dataclasses.dataclass(frozen=True)
class Series:
    """One measurement's statistic over the runs: `points` are {"commit", "time", "value",
    "branch", "machine", "run"} dicts (oldest first), `change_points` {"commit" (the first run
    after the step), "commit_before", "index", "before", "after", "change", "ci_low",
    "ci_high", "time"} dicts (ms; change and its CI as fractions, 0.15 = 15% slower)."""

    test: str
    statistic: str
    points: tuple[dict, ...]
    change_points: tuple[dict, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"test": self.test, "statistic": self.statistic, "points": list(self.points),
                "change_points": list(self.change_points)}


def build_series(points: list[HistoryPoint], *, test: str | None = None,
                 statistics: tuple[str, ...] = ("gated",)) -> list[Series]:
    """Group stored points by measurement key (and machine class: timings of two machines are
    two series), filter by a test pattern (`fnmatch`, or a substring), find change points.

    Args:
        points: `store.read_points` output, oldest first.
        test: a pattern for the key (`test_id[::name]`): `*resnet*`, or a substring.
        statistics: which statistics ("gated", "median", "p90"...).
    """
    groups: dict[tuple[str, str | None], list[HistoryPoint]] = {}
    for p in points:
        if test and not (fnmatch.fnmatchcase(p.key, test) or test in p.key):
            continue
        groups.setdefault((p.key, p.machine), []).append(p)
    machines = {}
    for key, machine in groups:
        machines.setdefault(key, set()).add(machine)
    out = []
    for (key, machine), pts in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        label = key if len(machines[key]) == 1 else f"{key} [{machine}]"
        for stat in statistics:
            kept = [p for p in pts if p.values.get(stat) is not None]
            rows = tuple({"commit": p.commit, "time": p.time, "value": p.values[stat],
                          "branch": p.branch, "machine": p.machine, "run": p.run_id} for p in kept)
            cps = []
            skip = max(0, len(rows) - WINDOW)
            for cp in change_points([r["value"] for r in rows[skip:]]):
                cp = dataclasses.replace(cp, index=cp.index + skip)
                cps.append({"commit": rows[cp.index]["commit"],
                            "commit_before": rows[cp.index - 1]["commit"], "index": cp.index,
                            "time": rows[cp.index]["time"], "before": cp.before,
                            "after": cp.after, "change": cp.change, "ci_low": cp.ci_low,
                            "ci_high": cp.ci_high, "runs_before": cp.runs_before,
                            "runs_after": cp.runs_after})
            if rows:
                out.append(Series(label, stat, rows, tuple(cps)))
    return out
