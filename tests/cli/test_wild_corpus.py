"""Corpus of models from the wild (issue 20), each run the way a user would: load, summarize,
`tfperf summarize`, `tfperf bench`, measure, assert_equivalent. A step may refuse a model, but
only with a `TfperfError` that says why: never a bare AttributeError / TypeError / KeyError from
our code. What each model must give is checked too (weights, structure, equivalence).

Models (tests/wild.py, tests/realworld.py): a grouped convolution (Keras 3 runs it as an XLA
function) in memory and saved as `.keras`; the ConvNeXt-style zoo model frozen to a `.pb` and
converted to `.tflite`; a `.tflite` with 3 custom op types; a `.tflite` with a Flex op; an
MTCNN-like subclassed detector never called on data (loaded with `input_shapes`).
"""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import realworld
import wild

import pytest_tfperf
from pytest_tfperf.errors import TfperfError

STEPS = ("load", "summarize", "cli_summarize", "cli_bench", "measure", "equivalence")
RUNNABLE = {"grouped_conv", "grouped_conv_keras_file", "convnext_pb", "convnext_tflite",
            "proposal_net"}
MODELS = ("grouped_conv", "grouped_conv_keras_file", "convnext_pb", "convnext_tflite",
          "custom_ops_tflite", "flex_tflite", "proposal_net")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """name -> (reference as a user passes it, one input batch, the source's facts)."""
    root = tmp_path_factory.mktemp("wild")
    grouped, x = wild.grouped_conv()
    grouped.save(root / "grouped.keras")
    convnext = realworld.get("convnext")
    pb = root / "convnext.pb"
    pb.write_bytes(convnext.model.graph_def.SerializeToString())
    pytest_tfperf.to_tflite(convnext.source, root / "convnext.tflite")
    facts = {"params": grouped.count_params(), "expected": np.asarray(grouped(x))}
    pnet, px = wild.proposal_net()
    pnet_facts = {"params": pnet.count_params(), "expected": np.asarray(pnet(px)[0]),
                  "load": {"input_shapes": [list(px.shape)]}}
    cnx = {"params": convnext.source_params, "expected": convnext.expected[0]}
    return {
        "grouped_conv": (grouped, x, facts),
        "grouped_conv_keras_file": (str(root / "grouped.keras"), x, facts),
        "convnext_pb": (str(pb), convnext.inputs, cnx),
        "convnext_tflite": (str(root / "convnext.tflite"), convnext.inputs, cnx),
        "custom_ops_tflite": (wild.custom_ops_tflite(root / "special.tflite"),
                              np.ones((1, 4), np.float32), {}),
        "flex_tflite": (wild.flex_tflite(root / "det.tflite"), np.eye(2, dtype=np.float32)[None], {}),
        "proposal_net": (pnet, px, pnet_facts),
    }


def _cli(command: str, argv: list[str]) -> int:
    from pytest_tfperf import cli

    module = cli.command_modules()[command]
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers(dest="command"))
    return module.run(parser.parse_args([command, *argv]))


def _step(step: str, ref, x, facts, capsys):
    kwargs = facts.get("load", {})
    if step == "load":
        return pytest_tfperf.load(ref, **kwargs)
    if step == "summarize":
        return pytest_tfperf.summarize(ref, **kwargs)
    if step == "cli_summarize":
        return _cli("summarize", [ref]) if isinstance(ref, str) else None
    if step == "cli_bench":
        return _cli("bench", [ref, "--runs", "3"]) if isinstance(ref, str) else None
    if step == "measure":
        return pytest_tfperf.measure(pytest_tfperf.load(ref, **kwargs), x, warmup=1, min_runs=3,
                                     min_time=0.01, max_time=0.1)
    model = pytest_tfperf.load(ref, **kwargs)
    return pytest_tfperf.assert_equivalent(model, model, x), model.run(x)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("name", MODELS)
def test_every_step_works_or_says_why(corpus, name, step, capsys):
    ref, x, facts = corpus[name]
    try:
        result = _step(step, ref, x, facts, capsys)
    except TfperfError as exc:  # a refusal: allowed for what cannot run here, and it says why
        assert name not in RUNNABLE, f"{name} {step}: {exc}"
        assert len(str(exc)) > 40 and ("custom op" in str(exc) or "Flex" in str(exc))
        return
    if step == "summarize" and facts:
        params = result.params if hasattr(result, "params") else result.weight_params
        if name != "convnext_tflite":  # the converter folds and fuses: its own count
            assert params == facts["params"]
    if step == "summarize" and name in ("custom_ops_tflite", "flex_tflite"):
        assert result.cannot_run and result.op_count >= 2  # the structure, though it cannot run
    if step == "equivalence" and facts:
        np.testing.assert_allclose(result[1][0], facts["expected"], atol=1e-4)
    if step.startswith("cli_") and result is not None:
        assert result == 0 and capsys.readouterr().out


def test_the_frozen_pb_of_a_grouped_conv_model_counts_every_weight(corpus, capsys):
    """The issue's ConvNeXt case: `tfperf summarize` on the frozen .pb alone (no Keras count to
    fall back on) found the grouped kernels as 'other const'."""
    ref, _, facts = corpus["convnext_pb"]
    assert pytest_tfperf.summarize(ref).weight_params == facts["params"]
    _cli("summarize", [ref])
    assert f"Found {facts['params']} (" in capsys.readouterr().out
    assert pytest_tfperf.count_flops(ref).unresolved == {}
