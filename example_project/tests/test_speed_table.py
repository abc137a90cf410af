"""Seed 002's table: Keras predict -> frozen graph -> optimized frozen graph, on one image."""
import pytest


@pytest.mark.tfperf_model(".model_cache/xception_mini.keras")
def test_keras_to_frozen_to_optimized(tfperf, frozen_graph, sample_image):
    optimized = tfperf.load(".model_cache/xception_mini_opt.pb")
    keras_model = frozen_graph.keras_model
    rows = [
        # a plain callable: `model` and `fed` name what its row ran (model and input columns)
        tfperf.measure(lambda: keras_model.predict(sample_image, verbose=0), name="keras predict",
                       batch=1, model=frozen_graph, fed=sample_image),
        tfperf.measure(frozen_graph, sample_image, name="frozen graph"),
        tfperf.measure(optimized, sample_image, name="optimized graph"),
    ]
    assert [r.name for r in rows] == ["keras predict", "frozen graph", "optimized graph"]
