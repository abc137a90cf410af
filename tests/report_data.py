"""Shared builders for the report/baseline tests (no tests here).

Renderers only read records, so these build `SessionResults` by hand from records shaped like
the real ones: `LatencyStats` and `BudgetVerdict` are the real classes, fed synthetic samples.
"""
from __future__ import annotations

import numpy as np

from pytest_tfperf.plugin.budgets import check_latency
from pytest_tfperf.plugin.markers import LatencyBudget
from pytest_tfperf.results.session import SessionResults
from pytest_tfperf.timing.stats import LatencyStats

LONG_ID = ("tests/test_models_with_a_rather_long_module_name.py::"
           "test_alexnet_is_realtime_enough_for_face_recognition[batch1-float32]")


def samples(median: float, n: int = 60, spread: float = 0.05, seed: int = 0) -> list[float]:
    """Latency-like samples (ms): lognormal around `median`."""
    rng = np.random.default_rng(seed)
    return list(median * np.exp(rng.normal(0.0, spread, n)))


def measurement(test_id: str, median: float, *, name: str = "measure[0]", model: str = "alexnet.pb",
                budget: LatencyBudget | None = None, seed: int = 0, n: int = 60,
                spread: float = 0.05) -> dict:
    stats = LatencyStats.from_samples(samples(median, n, spread, seed), warmup_n=5, name=name,
                                      model=model, gated_percentile=budget.percentile if budget else 50,
                                      batch=(budget.batch or 1) if budget else 1)
    verdicts = [check_latency(budget, stats, model=model).to_dict()] if budget else []
    return {"test_id": test_id, "name": name, "model": model, "stats": stats.to_dict(),
            "verdicts": verdicts, "device": "CPU", "target_kind": "pb"}


def make_results() -> SessionResults:
    """Two measurements (one over budget), two models, one equivalence report, one failure."""
    r = SessionResults()
    r.environment.update(tensorflow="2.21.0", device="CPU", machine_id="Linux-CPython-3.11-64bit")
    ok = measurement(LONG_ID, 80.0, budget=LatencyBudget(ms=100))
    slow = measurement("tests/test_vgg.py::test_vgg16", 250.0, model="vgg16.pb",
                       budget=LatencyBudget(fps=10), seed=1)
    r.add("measurement", ok)
    r.add("measurement", slow)
    r.add("model", {"test_id": LONG_ID, "model": "alexnet.pb", "flops": 1_430_000_000,
                    "summary": {"name": "alexnet.pb", "weight_params": 62_378_344, "node_count": 57,
                                "serialized_bytes": 249_600_000, "op_histogram": {"Conv2D": 5}},
                    "verdicts": [{"marker": "param_budget", "statistic": "weights",
                                  "value": 62378344, "limit": 70e6, "unit": "params",
                                  "passed": True, "headroom_pct": 10.9, "message": "ok",
                                  "model": "alexnet.pb"}]})
    r.add("model", {"test_id": "tests/test_vgg.py::test_vgg16", "model": "vgg16.pb",
                    "flops": 15_500_000_000, "summary": {"weight_params": 138_357_544},
                    "verdicts": []})
    r.add("equivalence", {"test_id": "tests/test_opt.py::test_equiv", "reference": "alexnet.pb",
                          "candidate": "alexnet_opt.pb",
                          "report": {"passed": True, "mode": "allclose", "atol": 1e-4, "rtol": 1e-3,
                                     "outputs": [{"name": "logits_layer/BiasAdd:0", "shape": [1, 1000],
                                                  "dtype": "float32", "max_abs_error": 2.1e-6,
                                                  "max_rel_error": 3.4e-5, "passed": True,
                                                  "top1_agreement": 1.0}]}})
    r.add("failure", {"test_id": "tests/test_vgg.py::test_vgg16", "marker": "latency_budget",
                      "message": slow["verdicts"][0]["message"]})
    return r
