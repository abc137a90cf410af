"""`tfperf sweep MODEL`: the JSON contract (one object per configuration with batch,
intra_threads, concurrency, throughput and the latency figures), the thread axis trusted in a
fresh process, and a fixed batch refused with the fix."""
from __future__ import annotations

import json
import subprocess
import sys


def _tfperf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_tfperf.cli", "sweep", *args],
                          capture_output=True, text=True, timeout=240)


def test_json_holds_one_object_per_configuration(small_pb, hang_guard):
    proc = _tfperf(str(small_pb), "--batch", "1,4", "--threads", "1,2", "--concurrency", "1",
                   "--min-time", "0.1", "--max-time", "0.4", "--within-p99", "1000", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    configs = data["configurations"]
    assert [(c["batch"], c["intra_threads"], c["concurrency"]) for c in configs] == [
        (1, 1, 1), (1, 2, 1), (4, 1, 1), (4, 2, 1)]
    for c in configs:
        assert c["throughput"] > 0 and 0 < c["p50_ms"] <= c["p99_ms"]
        assert c["throughput_ci"][0] <= c["throughput"] <= c["throughput_ci"][1]
    assert data["best_within_p99"]["throughput"] == max(c["throughput"] for c in configs)
    assert data["model"] == "small.pb" and data["cores"] >= 1
    # a fresh process sets TF_OVERRIDE_GLOBAL_THREADPOOL before TensorFlow starts: no warning
    assert not any("TF_OVERRIDE_GLOBAL_THREADPOOL" in n for n in data["notes"])


def test_fixed_batch_is_refused_with_the_fix(small_pb, hang_guard):
    proc = _tfperf(str(small_pb), "--input-shape", "1,32,32,3", "--batch", "1,8", "--threads", "1",
                   "--concurrency", "1")
    assert proc.returncode == 2
    assert "tfperf sweep: error: sweep(batch=...): model small.pb has a fixed batch dimension of 1" \
        in proc.stderr
    assert "batch 8 cannot be fed" in proc.stderr and "batch=[1]" in proc.stderr
