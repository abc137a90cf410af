"""Seed 003's benchmark_model, inside pytest: per-node-type table, timings, FLOPs."""
import pytest


@pytest.mark.tfperf_model(".model_cache/xception_mini.pb", input_shapes=[[1, 128, 128, 3]])
def test_where_the_time_goes(tfperf, frozen_graph, sample_image):
    profile = tfperf.profile(frozen_graph, sample_image, runs=20)
    op_types = [row.node_type for row in profile.node_types]
    assert "Conv2D" in op_types or "_FusedConv2D" in op_types
