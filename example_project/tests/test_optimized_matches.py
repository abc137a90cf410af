"""Seed 001's rule 2: the same image gives (nearly) the same output after optimization;
seed 002's claim: the optimized graph is faster."""
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


@FACENET
@pytest.mark.tfperf_sample_image("../images/astronaut.jpg")
def test_optimized_facenet_is_faster(tfperf, frozen_graph, sample_image):
    """Seed 002's claim "the optimized graph is faster", as a test: both graphs timed side by
    side in this process (interleaved block pairs on fresh sessions), passing only when the
    99% CI of the speed-up lies above 1.10x. Folding FusedBatchNorm into the convolutions makes
    this TF1 graph ~1.4x faster; the Keras pair (xception_mini) gains only ~1.08x, because
    grappler already folds Keras' decomposed batch norm at run time, so it is not asserted."""
    optimized = tfperf.load(".model_cache/facenet_opt.pb")
    result = tfperf.assert_faster(optimized, frozen_graph,
                                  {"input_node:0": sample_image, "training:0": False}, by="10%")
    assert result.speedup_low > 1.10
