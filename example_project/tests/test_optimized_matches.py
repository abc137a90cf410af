"""Seed 001's rule 2: the same image gives (nearly) the same output after optimization."""
import pytest

FACENET = pytest.mark.tfperf_model(".model_cache/facenet.pb")


@FACENET
@pytest.mark.tfperf_sample_image("../images/astronaut.jpg")
def test_optimized_facenet_matches(tfperf, frozen_graph, sample_image):
    optimized = tfperf.load(".model_cache/facenet_opt.pb")
    assert len(optimized.graph_def.node) < len(frozen_graph.graph_def.node)
    report = tfperf.assert_equivalent(frozen_graph, optimized,
                                      {"input_node:0": sample_image, "training:0": False},
                                      atol=1e-4, n_random=3)
    assert report.passed


def test_optimized_keras_model_matches(tfperf):
    frozen = tfperf.load(".model_cache/xception_mini.pb")
    optimized = tfperf.load(".model_cache/xception_mini_opt.pb")
    tfperf.assert_equivalent(frozen, optimized, atol=1e-4, n_random=2, top_k=3)
