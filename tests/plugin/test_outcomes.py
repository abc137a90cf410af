"""Issue 21: reports say what pytest says. An xfailed budget is an expected failure, not a red
banner; with pytest-rerunfailures the final attempt is the test's result and earlier attempts
are kept apart, named as such, never compared (JSON benchmarks, junit, the compare step)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

TESTS = """
    import os
    import time
    import pytest

    def _sleep(ms):
        return lambda: time.sleep(ms / 1000.0)

    @pytest.mark.latency_budget(ms=200)
    def test_ok(tfperf):
        tfperf.measure(_sleep(1), name="ok", min_runs=5, max_time=0.2, warmup=1)

    @pytest.mark.xfail(reason="the deliberate over-budget example")
    @pytest.mark.latency_budget(ms=1)
    def test_expected_slow(tfperf):
        tfperf.measure(_sleep(5), name="slow", min_runs=5, max_time=0.2, warmup=1)

    @pytest.mark.latency_budget(ms=20)
    def test_flaky(tfperf):
        first = not os.path.exists("attempted")
        open("attempted", "w").close()
        tfperf.measure(_sleep(40 if first else 1), name="flaky", min_runs=5, max_time=0.3,
                       warmup=1)
"""


def test_xfail_and_rerun_reported_as_pytest_says(pytester):
    pytester.makepyfile(test_outcomes=TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "rerunfailures", "--reruns", "1", "--tfperf-report",
        "--tfperf-json=r.json", "--tfperf-markdown=r.md", "--tfperf-html=r.html",
        "--junitxml=j.xml", "--tfperf-save=base1")
    result.assert_outcomes(passed=2, xfailed=1)
    assert result.parseoutcomes().get("rerun") == 1
    html = (pytester.path / "r.html").read_text()
    assert 'class="summary ok"' in html and "FAIL:" not in html, html[:2000]
    assert "1 expected budget failure (xfail)" in html
    assert "earlier attempts of rerun tests, not compared" in html
    md = (pytester.path / "r.md").read_text()
    assert "### Budget failures\n" not in md
    assert "### Expected budget failures (xfail)" in md and "test_expected_slow" in md
    assert "earlier attempts (rerun" in md and "test_flaky" in md
    out = result.stdout.str()
    assert "- tfperf budget failures -" not in out and "tfperf expected budget failures" in out

    doc = json.loads((pytester.path / "r.json").read_text())
    names = [b["fullname"] for b in doc["benchmarks"]]
    assert names.count("test_outcomes.py::test_flaky::flaky") == 1, names  # the final attempt only
    flaky = [m for m in doc["tfperf"]["measurements"] if m["test_id"].endswith("test_flaky")]
    assert [m["outcome"] for m in flaky] == ["rerun", "passed"]
    assert all(v["passed"] is False for v in flaky[0]["verdicts"])
    slow = next(m for m in doc["tfperf"]["measurements"] if m["test_id"].endswith("slow"))
    assert slow["outcome"] == "xfailed"
    failures = doc["tfperf"]["failures"]
    assert sorted(f["outcome"] for f in failures) == ["rerun", "xfailed"]

    # junit: the flaky case carries the final attempt's verdict only
    tree = ET.parse(pytester.path / "j.xml")
    cases = [c for c in tree.iter("testcase") if c.get("name") == "test_flaky"]
    props = [[(p.get("name"), p.get("value")) for p in c.iter("property")
              if p.get("name", "").endswith(".verdict")] for c in cases]
    assert props[-1] == [("tfperf[flaky].verdict", "ok")], props  # the final attempt
    assert all(name.startswith("rerun_attempt.") for c in props[:-1] for name, _ in c), props

    # the baseline holds both attempts, named; comparing picks the final one, never the rerun
    compared = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "rerunfailures", "--reruns", "1", "--tfperf-compare=base1",
        "--tfperf-json=c.json", "-k", "flaky")
    comparisons = json.loads((pytester.path / "c.json").read_text())["tfperf"]["comparisons"]
    flaky_cmp = [c for c in comparisons if "flaky" in str(c.get("name") or c.get("test_id"))]
    assert len(flaky_cmp) == 1, comparisons
    assert compared.ret == 0, compared.stdout.str()[-3000:]


def test_every_row_names_its_model_and_input(pytester):
    """A plain callable's row says "callable <name>", or the model and arrays it was told."""
    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    fg = load(zoo.small_convnet_graph(), outputs=["logits_layer/BiasAdd"])
    (pytester.path / "m.pb").write_bytes(fg.graph_def.SerializeToString())
    pytester.makeini("[pytest]\ntfperf_model = m.pb\n")
    pytester.makepyfile(test_rows="""
        import time

        def test_rows(tfperf, frozen_graph, sample_image):
            tfperf.measure(lambda: time.sleep(0.001), name="plain", min_runs=5, min_time=0.02, max_time=0.1)
            tfperf.measure(lambda: frozen_graph.run(sample_image), name="wrapped",
                           model=frozen_graph, fed=sample_image, min_runs=5, min_time=0.02, max_time=0.1)
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--tfperf-report",
                                           "--tfperf-json=r.json")
    result.assert_outcomes(passed=1)
    assert "every row: model\n" not in result.stdout.str()
    rows = {m["name"]: m for m in json.loads((pytester.path / "r.json").read_text())["tfperf"]["measurements"]}
    assert rows["plain"]["model"] == "callable test_rows.<locals>.<lambda>"
    assert rows["wrapped"]["model"] == "m.pb" and rows["wrapped"]["model_id"]
    (fed,) = rows["wrapped"]["inputs"]
    assert fed["shape"] == [1, 32, 32, 3] and fed["source"] == "sample image"
    assert fed["range"].startswith("pixels/255 [0,1]")
