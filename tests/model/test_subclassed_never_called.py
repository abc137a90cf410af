"""A subclassed Keras model that was built and given weights but never called on data (the mtcnn
wheel's P-Net, R-Net and O-Net): it loads with `input_shapes`, any-size dims kept, and every
weight counts (a PReLU's alpha reaches its Mul through a Neg)."""
from __future__ import annotations

import numpy as np
import pytest
import wild

import pytest_tfperf
from pytest_tfperf.errors import ModelLoadError


@pytest.fixture(scope="module")
def pnet():
    return wild.proposal_net()


def test_without_input_shapes_the_error_names_the_way_out(pnet):
    model, _ = pnet
    assert not getattr(model, "inputs", None)  # what makes it hard: Keras knows no input
    with pytest.raises(ModelLoadError) as info:
        pytest_tfperf.load(model)
    assert "'proposal_net' has no defined inputs" in str(info.value) and "input_shapes=" in str(info.value)


def test_loads_with_input_shapes_and_matches_the_source(pnet):
    model, x = pnet
    fg = pytest_tfperf.load(model, input_shapes=[[None, None, None, 3]])
    assert [(s.name, s.shape) for s in fg.inputs] == [("input:0", (None, None, None, 3))]
    for got, want in zip(fg.run(x), model(x)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=0, atol=1e-5)
    pinned = pytest_tfperf.load(model, input_shapes={"image": [1, 24, 32, 3]})
    assert [(s.name, s.shape) for s in pinned.inputs] == [("image:0", (1, 24, 32, 3))]


def test_every_weight_counts_prelu_alphas_included(pnet):
    model, _ = pnet
    s = pytest_tfperf.summarize(model, input_shapes=[[1, 24, 32, 3]])
    assert s.weight_params == model.count_params() == s.params
    assert sum(int(np.prod(w.shape)) for w in model.weights if "alpha" in w.path) == 10 + 16


def test_flops_of_the_pinned_model_match_the_hand_formula(pnet):
    model, _ = pnet
    report = pytest_tfperf.count_flops(pytest_tfperf.load(model, input_shapes=[[1, 24, 32, 3]]))
    h1, w1 = 22, 30                     # conv1 3x3 valid on 24x32
    h3, w3 = 9, 13                      # 2x2 max pool (same) -> 11x15, conv2 3x3 valid
    convs = 2 * (h1 * w1 * 10 * 27 + h3 * w3 * 16 * 90 + h3 * w3 * (4 + 2) * 16)
    assert report.unresolved == {} and report.matmul_conv_flops == convs
