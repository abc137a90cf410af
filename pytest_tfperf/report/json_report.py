"""JSON report: the result file's document as text.

`results.file` builds the document (a superset of pytest-benchmark's JSON file, with every
record under `tfperf`) and is its one reader and writer; this module only renders it.
"""
from __future__ import annotations

import datetime as _dt


def render(results, *, machine: dict | None = None, commit: dict | None = None,
           now: _dt.datetime | None = None) -> str:
    """The JSON document of `results` (`results.file.build_document`) as strict JSON text."""
    from pytest_tfperf.atomic import dumps
    from pytest_tfperf.results.file import build_document

    return dumps(build_document(results, machine=machine, commit=commit, now=now)) + "\n"
