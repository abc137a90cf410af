"""Seed 000/001's hand-written code, with the plugin's fixtures doing the set-up."""
import numpy as np


def test_frozen_graph_is_seed_000_alexnet(frozen_graph):
    assert [s.name for s in frozen_graph.inputs] == ["input_node:0"]
    assert [s.name for s in frozen_graph.outputs] == ["logits_layer/BiasAdd:0"]


def test_sample_image_is_the_preprocessed_photo(sample_image):
    # astronaut.jpg resized to the model input, (x - 127.5) * 0.0078125 as in seed 001
    assert sample_image.shape == (1, 224, 224, 3) and sample_image.dtype == np.float32
    assert -1.0 <= sample_image.min() < -0.5 and 0.5 < sample_image.max() <= 1.0


def test_tf_session_runs_the_seed_code(tf_session, sample_image):
    logits = tf_session.run("logits_layer/BiasAdd:0", {"input_node:0": sample_image})
    assert logits.shape == (1, 1000) and np.isfinite(logits).all()
