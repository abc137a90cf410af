"""Seed 001's rule 1 and seed 003's summarize_graph: the graph is whole and inference-only."""
import pytest

from pytest_tfperf import load, summarize, validate


def test_frozen_alexnet_is_valid(frozen_graph):
    validate(frozen_graph.graph_def, ["input_node:0"], ["logits_layer/BiasAdd:0"])


@pytest.mark.tfperf_model(".model_cache/facenet_opt.pb")
def test_optimized_graph_is_still_connected(frozen_graph):
    validate(frozen_graph.graph_def, [s.name for s in frozen_graph.inputs],
             [s.name for s in frozen_graph.outputs])
    summary = summarize(frozen_graph)
    assert summary.leftovers == [] or all(op != "FusedBatchNormV3" for op, _ in summary.op_histogram)


def test_checkpoint_and_frozen_graph_agree_on_parameters(frozen_graph, request):
    # `load`, not `tfperf.load`: the session cache would keep this second 250 MB AlexNet (and
    # its graph) alive until the run ends; this one is freed when the test returns.
    prefix = request.config.rootpath / ".model_cache" / "alexnet.ckpt"
    checkpoint = load(str(prefix), outputs=["logits_layer/BiasAdd"])
    assert summarize(frozen_graph).weight_params == checkpoint.trainable_params == 62_378_344
