"""Output equivalence: run two models on the same inputs and compare every output.

`compare_arrays` (one output, pure numpy), `compare_models` (an `EquivalenceReport`) and
`assert_equivalent` (raises `NotEquivalentError`) accept any `Model`. Import from here, not
from the submodules: `compare` (checks and records), `pairing` (inputs, input/output pairing,
tolerances), `messages` (message text).
"""
from __future__ import annotations

from pytest_tfperf.errors import NotEquivalentError
from pytest_tfperf.equivalence.compare import (MODES, EquivalenceReport, OutputComparison, assert_equivalent, compare_arrays,
                      compare_models)
from pytest_tfperf.equivalence.pairing import make_input_sets

__all__ = ["MODES", "EquivalenceReport", "NotEquivalentError", "OutputComparison",
           "assert_equivalent", "compare_arrays", "compare_models", "make_input_sets"]
