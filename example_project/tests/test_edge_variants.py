"""Seed 002's table, automated and gated: every way to ship the Keras model, timed side by side.

`tfperf.variants` builds the source (Keras `predict` and `model(x)`), the frozen graph, the
optimized graph, the graph with `quantize_weights`, and TFLite fp32 / fp16 / dynamic-range /
int8 (calibrated on variants of the sample photo), times them interleaved, and compares each
with the Keras model over the 39 photos of images/dataset (ini `tfperf_dataset`): errors and
top-1 agreement with its 95% CI, not one photo's word. The table appears in `--tfperf-report` (and the JSON,
Markdown and HTML reports); the test gates on what it measured.
"""
import pytest


@pytest.mark.tfperf_model(".model_cache/xception_mini.keras")
def test_what_we_ship_to_phones(tfperf, frozen_graph):
    table = tfperf.variants(frozen_graph, rounds=3)
    failed = {r.variant: r.error for r in table.rows if not r.ok}
    assert not failed, failed
    fp32, int8 = table.row("tflite fp32"), table.row("tflite int8")
    assert fp32.max_abs_err < 1e-4                 # the converter kept the model
    assert int8.size_bytes < 0.4 * fp32.size_bytes  # what int8 buys in download size...
    assert int8.top1_rows == 39                   # ...judged on every photo of the dataset...
    assert int8.top1_agreement >= 0.95            # ...without changing the answer (39/39 here)
    assert int8.speedup_vs_frozen > 1.5           # and in latency (~3.5x on a 2-core CPU)
