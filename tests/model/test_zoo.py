"""The real-world zoo (issue 11): models users have, built locally (tests/realworld.py), each checked
against its source framework: weights == the source's own count, frozen outputs == the source's
outputs, matmul/conv FLOPs == a hand formula, `optimize` keeps the outputs, `measure` runs and a
latency budget judges it. Budgets at their exact values: test_zoo_budgets.py.

Checks that need other work in flight are strict xfails, so they must be un-marked when it lands:
string inputs / lookup tables (helper h11inputs) and FLOPs counted per loop iteration (h11flow).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import realworld
from realworld import KEYS

# optimize_with_report on ResNet50 (94 MB frozen graph) takes 12-17 s here: 5 transforms, each
# re-imported and checked in a new session. MobileNetV2/V3 and EfficientNet cover the same
# transforms; TFPERF_SLOW=1 runs it too.
SLOW = pytest.mark.skipif(not os.environ.get("TFPERF_SLOW"),
                          reason="ResNet50 optimize: 12-17 s; set TFPERF_SLOW=1")


def params(keys=KEYS, *, marks=None, exclude=()):
    """`keys` as parameters (ids = keys), without `exclude`, with per-key `marks`."""
    return [pytest.param(key, marks=list((marks or {}).get(key, ())), id=key)
            for key in keys if key not in exclude]


@pytest.fixture(scope="session")
def zoo():
    """`zoo(key)` -> realworld.ZooModel, built once per process."""
    return realworld.get


# --- weights: one rule, the source's own count ----------------------------------------------

@pytest.mark.parametrize("key", params())
def test_weights_are_the_source_count(zoo, key):
    from pytest_tfperf import summarize

    entry = zoo(key)
    s = summarize(entry.model)
    assert s.source_params == entry.source_params  # count_params() / the module's variables
    assert (s.params, s.params_from) == (entry.source_params, "source")  # what budgets use
    assert s.trainable_params == entry.source_trainable
    # the weight rule on the frozen graph alone: every source parameter the graph holds, and
    # exactly what it does not hold is missing (a Normalization `count`, an unread signature
    # variable)
    assert s.weight_params == entry.source_params - entry.graph_missing
    assert {name for name, _ in s.unread_variables} == set(entry.unread)


def test_embedding_tables_are_weights(zoo):
    """Issue 11 item 1: the Transformer's token and position tables (read by Gather) count."""
    from pytest_tfperf import summarize
    from pytest_tfperf.analysis.summary import const_element_count, weight_const_nodes

    entry = zoo("transformer")
    graph_def = entry.model.graph_def
    weights = weight_const_nodes(graph_def)
    sizes = sorted(const_element_count(n) for n in graph_def.node if n.name in weights)
    assert realworld.VOCAB * realworld.WIDTH in sizes and realworld.TOKENS * realworld.WIDTH in sizes
    assert summarize(entry.model).weight_params == entry.source.count_params() == 41_188


def test_a_training_checkpoint_counts_model_variables_only(zoo):
    """Adam's slots, its power accumulators and global_step are in the checkpoint, not the model."""
    from pytest_tfperf import summarize

    s = summarize(zoo("checkpoint").model)
    assert (s.trainable_params, s.non_trainable_params) == (11_690, 48)  # BN moving mean/variance
    assert s.weight_params == 11_738


def test_both_counts_are_shown_when_they_differ(zoo):
    """Issue 11 item 2: EfficientNetB0's frozen graph holds one weight fewer than count_params()."""
    from pytest_tfperf import summarize
    from pytest_tfperf.report.summary_text import render_summary

    entry = zoo("efficientnet_b0")
    text = render_summary(summarize(entry.model).to_dict())
    assert ("Parameters: 4,062,381 as the source counts them (what param_budget checks); the "
            "frozen graph holds 4,062,380 weights; source variables inference does not read") in text
    assert f"{entry.unread[2]} (1)" in text  # normalization/count, by its layer's name
    same = render_summary(summarize(zoo("mobilenet_v2").model).to_dict())
    assert "Parameters:" not in same  # nothing to explain


# --- outputs, FLOPs, optimize, measure ----------------------------------------------------------

@pytest.mark.parametrize("key", params())
def test_frozen_outputs_equal_the_source(zoo, key):
    entry = zoo(key)
    outputs = entry.model.run(entry.inputs)
    assert len(outputs) == len(entry.expected)
    for got, want in zip(outputs, entry.expected):
        assert got.shape == want.shape
        # fp32 sums in another order (the graph's kernels vs Keras' eager ones): on the zoo's
        # informative outputs (realworld._informative) MobileNetV3 moves by up to 7e-4 relative
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("key", params(exclude=("dynamic",)))
def test_matmul_conv_flops_equal_the_hand_formula(zoo, key):
    """2 x MACs of every Conv2D/DepthwiseConv2D/Dense/attention, from the source's layer configs
    (realworld.keras_matmul_conv_flops); the loop's MatMul counts once per iteration."""
    from pytest_tfperf import count_flops

    entry = zoo(key)
    report = count_flops(entry.model)
    assert not report.unresolved
    assert report.matmul_conv_flops == entry.matmul_conv_flops


def test_whole_flops_of_small_models(zoo):
    """Every FLOP by hand, for two small models (one per output element of element-wise ops)."""
    from pytest_tfperf import count_flops

    # two_inputs: conv 3x3x3->8 valid on 32x32 (30x30 out), bias, relu, global mean, dense 9->3
    conv, out = 2 * 30 * 30 * 8 * 27, 30 * 30 * 8
    assert count_flops(zoo("two_inputs").model).total == conv + out + out + out + 2 * 9 * 3 + 3
    # checkpoint: per block conv + bias + batch norm + relu + 2x2 max pool; dense 1024 -> 10 + bias
    block1 = 2 * 32 * 32 * 8 * 27 + 3 * 32 * 32 * 8 + 16 * 16 * 8 * 4
    block2 = 2 * 16 * 16 * 16 * 72 + 3 * 16 * 16 * 16 + 8 * 8 * 16 * 4
    assert count_flops(zoo("checkpoint").model).total == block1 + block2 + 2 * 1024 * 10 + 10


def test_dynamic_spatial_dims_are_never_counted_silently(zoo):
    """Dynamic H/W: no FLOP count without a size; an error, or a count that notes the guessed
    shape (the input policy's choice). Pinned, the count is the hand formula at 32x32."""
    from pytest_tfperf import InputError, count_flops

    try:
        report = count_flops(zoo("dynamic").model)
    except InputError as exc:
        assert "image:0" in str(exc) and "input_shapes" in str(exc)
    else:
        assert any("image:0" in note for note in getattr(report, "input_notes", ())), report
    assert count_flops(zoo("dynamic_pinned").model).input_shapes == {"image:0": [1, 32, 32, 3]}


@pytest.mark.parametrize("key", params(marks={"resnet50": [SLOW]}))
def test_optimize_keeps_the_outputs(zoo, key):
    from pytest_tfperf import assert_equivalent, optimize_with_report

    entry = zoo(key)
    optimized, report = optimize_with_report(entry.model)
    assert len(optimized.graph_def.node) <= len(entry.model.graph_def.node)
    # folded batch norms round differently: the frozen graph's own fp32 tolerance (see above)
    assert_equivalent(entry.model, optimized, entry.inputs, atol=1e-5, rtol=1e-3)
    for got, want in zip(optimized.run(entry.inputs), entry.expected):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)  # still the source's outputs


@pytest.mark.parametrize("key", params())
def test_measure_runs_and_latency_budgets_judge_it(zoo, key):
    from pytest_tfperf import measure
    from pytest_tfperf.plugin.budgets import check_latency
    from pytest_tfperf.plugin.markers import LatencyBudget

    entry = zoo(key)
    stats = measure(entry.model, entry.inputs, warmup=1, min_time=0.01, max_time=0.15, min_runs=3)
    assert stats.n >= 2 and stats.median_ms > 0 and stats.batch == 1  # max_time may cut ResNet50
    assert check_latency(LatencyBudget(ms=60_000), stats, model=key).passed
    tiny = check_latency(LatencyBudget(ms=1e-6), stats, model=key)
    assert not tiny.passed and "exceeds 0.000001 ms" in tiny.message
