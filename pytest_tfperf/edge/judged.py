"""The variant table's errors, judged as the equivalence check judges them (issue 21).

`judge(fg, source, rows, feed, dataset)` runs the source and every row that can run a feed on
the inputs to judge (the timed feed, or every input of `dataset`: a folder of images, an .npy /
.npz, any iterable of feeds), and returns per row the max / p99 / mean absolute error, the top-1
agreement over every input with its 95% Wilson interval and the worst input. When the source's
outputs carry no information on those inputs (all zero, NaN, the same on every input, a
saturated softmax) the comparison is refused: the errors are None and `refused` says why, so a
table never shows "max error 0" for a comparison that proves nothing.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pytest_tfperf.equivalence.dataset import dataset_feeds
from pytest_tfperf.equivalence.evidence import OutputEvidence
from pytest_tfperf.equivalence.pairing import make_input_sets


def judge(fg: Any, source: Callable[[dict], list], rows: dict[str, Callable[[dict], list] | None],
          feed: dict, dataset: Any = None, preprocess: Any = "auto"
          ) -> tuple[dict[str, dict], str | None, int]:
    """({row: fields for `VariantRow`}, why the comparison is refused or None, inputs judged)."""
    feeds = list(dataset_feeds(fg, dataset, preprocess=preprocess)) if dataset is not None \
        else [("sample", dict(feed))]
    info: list[OutputEvidence] = []
    evidence: dict[str, list[OutputEvidence]] = {name: [] for name in rows}
    for label, x in feeds:
        ref = [np.asarray(o) for o in source(x)]
        while len(info) < len(ref):
            info.append(OutputEvidence(f"output {len(info)}"))
        for i, r in enumerate(ref):
            info[i].see_reference(r)
        for name, run in rows.items():
            if run is None or evidence[name] is None:
                continue
            try:
                got = [np.asarray(o) for o in run(x)]
            except Exception:  # noqa: BLE001 - the row's timing already says whether it runs
                evidence[name] = None
                continue
            while len(evidence[name]) < len(ref):
                evidence[name].append(OutputEvidence(f"output {len(evidence[name])}"))
            for i, (r, g) in enumerate(zip(ref, got)):
                evidence[name][i].add(label, r, g)
    if len(feeds) == 1:  # one input cannot show a constant output: probe a second one
        probe = make_input_sets(fg, feeds[0][1], n_random=1, seed=7919)[-1][1]
        for i, r in enumerate(source(probe)):
            if i < len(info):
                info[i].see_reference(r)
    refused = next((f"output {i}: {p}" for i, e in enumerate(info) if (p := e.problem())), None)
    out: dict[str, dict] = {}
    for name, evs in evidence.items():
        if not evs:
            continue
        summaries = [e.summary() for e in evs]
        errs = [s for s in summaries if "dataset_max_abs_error" in s]
        top = next((s for s in summaries if "top1_agreement" in s), {})
        worst = max(errs, key=lambda s: s["dataset_max_abs_error"]) if errs else {}
        out[name] = {
            "max_abs_err": None if refused or not errs else worst["dataset_max_abs_error"],
            "p99_abs_err": None if refused or not errs else worst["dataset_p99_abs_error"],
            "mean_abs_err": None if refused or not errs else worst["dataset_mean_abs_error"],
            "worst_input": worst.get("worst_input") if errs else None,
            "top1_agreement": None if refused else top.get("top1_agreement"),
            "top1_agree_count": None if refused else top.get("top1_agree_count"),
            "top1_rows": None if refused else top.get("top1_rows"),
            "top1_ci": None if refused else top.get("top1_ci"),
        }
    return out, refused, len(feeds)


__all__ = ["judge"]
