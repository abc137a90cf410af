"""Graph optimization: `optimize(model)` and the transforms it chains, each proven equivalent.

`pipeline.py` (optimize, optimize_with_report, the transform-spec parser, write_graph_def),
`transforms.py` (strip / remove training nodes / fold constants), `batchnorm.py` (fold batch
norms, merge biases), `interleaved.py` (side-by-side timing of variants). Named `optimization`,
not `optimize`, so that `pytest_tfperf.optimize` stays the function.
"""
from __future__ import annotations

from pytest_tfperf.optimization.batchnorm import fold_batch_norms, merge_biases, per_channel
from pytest_tfperf.optimization.interleaved import VariantTiming, measure_interleaved, time_variants
from pytest_tfperf.optimization.pipeline import (
    DEFAULT,
    DEFAULT_TRANSFORMS,
    OptimizeReport,
    TransformStep,
    check_writable,
    op_histogram,
    optimize,
    optimize_with_report,
    parse_transforms,
    sample_feed,
    transform_names,
    write_graph_def,
)
from pytest_tfperf.optimization.transforms import (
    TF_TRANSFORMS,
    closure_of,
    const_value,
    drop_dead_consts,
    fold_constants,
    make_const,
    remove_training_nodes,
    set_const_value,
    strip_unused_nodes,
    tf_transform_graph,
)

__all__ = [
    "DEFAULT", "DEFAULT_TRANSFORMS", "OptimizeReport", "TF_TRANSFORMS", "TransformStep",
    "VariantTiming", "check_writable", "closure_of", "const_value", "drop_dead_consts", "fold_batch_norms",
    "fold_constants", "make_const", "measure_interleaved", "merge_biases", "op_histogram",
    "optimize", "optimize_with_report", "parse_transforms", "per_channel", "remove_training_nodes",
    "sample_feed", "set_const_value", "strip_unused_nodes", "tf_transform_graph", "time_variants",
    "transform_names", "write_graph_def",
]
