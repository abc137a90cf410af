"""Seed 000's other question: in the cloud, which batch size and thread count serve the most
AlexNet inferences per second, and at what p99 latency? (`tfperf.sweep`, `throughput_budget`)

Each configuration is timed under closed-loop load: `concurrency` TensorFlow sessions with
`intra_threads` threads each send requests of `batch` images back to back. The table, the
Pareto front and "at batch 8 this CPU serves X inferences/s at p99 Y ms" are in
`--tfperf-report` and in the JSON, Markdown and HTML reports.
"""
import pytest

from pytest_tfperf import load


# 8 images per request at >= 5 images/s: seed 000's face recogniser batching 8 camera frames
@pytest.mark.throughput_budget(fps=5, batch=8)
def test_alexnet_batch_and_threads(tfperf, request):
    # `load`, not `tfperf.load` or `frozen_graph`: the ini pins frozen_graph's batch to 1 for
    # FLOP counting (tfperf_input_shape), and this 250 MB copy is freed when the test returns
    alexnet = load(str(request.config.rootpath / ".model_cache" / "alexnet.pb"))
    result = tfperf.sweep(alexnet, batch=[1, 8], intra_threads=[1, 2], concurrency=[1],
                          within_p99_ms=1000)
    one, eight = result.point(1, 1), result.point(8, 1)
    # batching amortises the per-call work: a batch of 8 is not 8x slower per request
    assert eight.p50_ms < 8 * one.p50_ms
    assert result.best() in result.pareto()
