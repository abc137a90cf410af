"""Models are keyed by identity, never by file name: two `model.pb` in different folders and two
signatures of one SavedModel are four rows in every report (terminal, JSON, Markdown, HTML)."""
from __future__ import annotations

import json
import re


def _build(folder):
    import tensorflow as tf

    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    fg = load(zoo.small_convnet_graph(), outputs=["logits_layer/BiasAdd"])
    for sub in ("a", "b"):
        (folder / sub).mkdir()
        (folder / sub / "model.pb").write_bytes(fg.graph_def.SerializeToString())

    class TwoSignatures(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def plus(self, x):
            return {"y": x + 1.0}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def double(self, x):
            return {"y": x * 2.0}

    module = TwoSignatures()
    tf.saved_model.save(module, str(folder / "sm"),
                        signatures={"serving_default": module.plus, "double": module.double})


def test_same_file_names_and_two_signatures_are_separate_rows(pytester):
    _build(pytester.path)
    pytester.makepyfile(test_rows="""
        import numpy as np

        def test_four_models(tfperf):
            for ref, kw in (("a/model.pb", {}), ("b/model.pb", {}),
                            ("sm", {"signature": "serving_default"}), ("sm", {"signature": "double"})):
                m = tfperf.load(ref, **kw)
                x = np.ones([1] + [d or 1 for d in m.inputs[0].shape[1:]], np.float32)
                tfperf.measure(m, x, min_time=0.01, max_time=0.05)
    """)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--tfperf-report", "--tfperf-json=r.json",
        "--tfperf-markdown=r.md", "--tfperf-html=r.html")
    result.assert_outcomes(passed=1)
    doc = json.loads((pytester.path / "r.json").read_text())["tfperf"]
    model_ids = [m["model_id"] for m in doc["models"]]
    assert len(model_ids) == 4 and len(set(model_ids)) == 4, model_ids
    measured = {m["model_id"] for m in doc["measurements"]}
    assert measured == set(model_ids)
    assert any("#double" in i for i in model_ids) and any("#serving_default" in i for i in model_ids)

    def model_rows(text: str) -> set[str]:
        return {line for line in text.splitlines()
                if re.search(r"(a/model\.pb|b/model\.pb|sm#double|sm#serving_default)", line)}

    terminal = result.stdout.str()
    models_section = terminal.split("tfperf models", 1)[1]
    for label in ("a/model.pb", "b/model.pb", "#double", "#serving_default"):
        assert label in models_section, label
    markdown = (pytester.path / "r.md").read_text()
    assert len(model_rows(markdown.split("### Models", 1)[1])) >= 4
    html = (pytester.path / "r.html").read_text()
    models_table = html.split('<table class="models">', 1)[1].split("</table>", 1)[0]
    assert models_table.count("<tr>") - 1 == 4  # header row + four models


def test_optimized_copy_keeps_its_own_rows(pytester):
    """Issue 21: after `optimize(frozen_graph)` the original's rows keep the original's name
    (they read "(optimized)" when both shared one identity)."""
    from pytest_tfperf import load
    from pytest_tfperf.model import zoo

    fg = load(zoo.small_convnet_graph(), outputs=["logits_layer/BiasAdd"])
    (pytester.path / "m.pb").write_bytes(fg.graph_def.SerializeToString())
    pytester.makeini("[pytest]\ntfperf_model = m.pb\n")
    pytester.makepyfile(test_opt="""
        import pytest_tfperf

        def test_original(tfperf, frozen_graph, sample_image):
            tfperf.measure(frozen_graph, sample_image, min_time=0.01, max_time=0.05)

        def test_optimized(tfperf, frozen_graph, sample_image):
            opt = pytest_tfperf.optimize(frozen_graph)
            tfperf.measure(opt, sample_image, min_time=0.01, max_time=0.05)
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--tfperf-json=r.json",
                                           "--tfperf-markdown=r.md")
    result.assert_outcomes(passed=2)
    doc = json.loads((pytester.path / "r.json").read_text())["tfperf"]
    by_test = {m["test_id"].rsplit("::", 1)[-1]: m for m in doc["measurements"]}
    ids = {t: m["model_id"] for t, m in by_test.items()}
    assert ids["test_original"] != ids["test_optimized"], ids
    assert "#optimized-" in ids["test_optimized"]
    names = {m["model_id"]: m.get("model") for m in doc["models"]}
    assert "(optimized)" not in str(names[ids["test_original"]]), names
    assert "(optimized)" in str(names[ids["test_optimized"]]), names
    md = (pytester.path / "r.md").read_text()
    row = next(line for line in md.splitlines() if "test_original" in line)
    assert "(optimized)" not in row, row
