"""The one error hierarchy of pytest-tfperf.

Every message names the thing (file, node, marker), the value it saw, and what to do.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class TfperfError(Exception):
    """Root of every error pytest-tfperf raises on purpose."""


class ModelLoadError(TfperfError):
    """A model reference could not be read or frozen (missing, corrupt, wrong kind)."""


class GraphValidationError(TfperfError):
    """A GraphDef breaks a validity rule (duplicate names, dangling inputs, unreachable outputs)."""


class NodeNotFoundError(GraphValidationError, KeyError):
    """A node or tensor name that the graph does not have."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InputError(TfperfError):
    """Inputs fed to a model do not fit its input specs (count, shape, dtype)."""


class ImageError(TfperfError):
    """A sample image is missing, not an image, or cannot be fitted to the model."""


class ConfigError(TfperfError):
    """A bad ini value or command-line option."""


class MarkerUsageError(TfperfError):
    """A marker used with bad arguments; names the test, the marker and the argument."""


class OptimizeError(TfperfError):
    """A graph transform failed or could not be proven output-equivalent."""


class BaselineError(TfperfError):
    """A stored baseline is missing, corrupt or not a tfperf file."""


class HistoryError(TfperfError):
    """A run history store is missing, corrupt or written by a newer pytest-tfperf."""


class BudgetExceeded(AssertionError):
    """A budget marker's limit was exceeded (a test failure, not a usage error)."""


def close_matches(name: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """The names in ``candidates`` closest to ``name`` (best first), for 'did you mean' hints."""
    candidates = list(candidates)
    found = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not found:
        # a suffix/prefix typo in a long scoped name: compare the last path component too
        tail = name.rsplit("/", 1)[-1]
        by_tail = {c.rsplit("/", 1)[-1]: c for c in candidates}
        found = [by_tail[t] for t in difflib.get_close_matches(tail, list(by_tail), n=n, cutoff=0.6)]
    return found


def unknown_name_message(what: str, name: str, candidates: Iterable[str], where: str, *,
                         preferred: Iterable[str] = (), preferred_label: str | None = None,
                         limit: int = 10) -> str:
    """'<what> 'x' not found in <where>. Did you mean: a, b? Available: ...' (bounded).

    `preferred`: the names a person means (a model's real outputs, Keras layer names), matched
    and listed before the rest under `preferred_label` (default "The model's <what>s"); at most
    `limit` names are listed.
    """
    candidates = sorted(set(candidates))
    preferred = list(dict.fromkeys(preferred))
    matches = close_matches(name, preferred) if preferred else []
    matches = matches or close_matches(name, candidates)
    msg = f"{what} {name!r} not found in {where}."
    if matches:
        msg += " Did you mean: " + ", ".join(repr(m) for m in matches) + "?"
    if preferred:
        shown = preferred[:limit]
        more = f" (+{len(preferred) - len(shown)} more)" if len(preferred) > len(shown) else ""
        label = preferred_label or f"The model's {what}s"
        msg += f" {label}: " + ", ".join(shown) + more
        rest = len(set(candidates) - set(preferred))
        if rest:
            msg += f"; any of its {rest} other node names also works"
        return msg
    shown = candidates[:limit]
    more = f" (+{len(candidates) - len(shown)} more)" if len(candidates) > len(shown) else ""
    msg += " Available: " + ", ".join(shown) + more
    return msg


class NotEquivalentError(AssertionError):
    """Raised by `assert_equivalent` when outputs differ; `.report` is the `EquivalenceReport`.

    An `AssertionError` (not a `TfperfError`), so pytest shows it as a plain test failure."""

    def __init__(self, report):
        super().__init__(report.message())
        self.report = report


class NotFasterError(AssertionError):
    """Raised by `assert_faster` when the candidate is not shown faster by the required margin;
    `.result` is the `abtest.SpeedComparison` (both medians, the speed-up and its CI).

    An `AssertionError` (not a `TfperfError`), so pytest shows it as a plain test failure."""

    def __init__(self, result):
        super().__init__(result.message())
        self.result = result
