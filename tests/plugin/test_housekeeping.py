"""Memory (issue 14 item 11): large models leave the cache after their last test, FLOPs are
counted on a weight-free copy, sessions over large graphs keep no placed copy of the whole graph."""
from __future__ import annotations

import dataclasses

import numpy as np

from pytest_tfperf.plugin import housekeeping
from pytest_tfperf.plugin.housekeeping import DropPlan


@dataclasses.dataclass
class _Item:
    nodeid: str
    key: object


@dataclasses.dataclass
class _Model:
    size_bytes: int


def test_drop_plan_keeps_a_large_model_until_its_last_test():
    items = [_Item("t::a", "big"), _Item("t::b", None), _Item("t::c", "big"), _Item("t::d", "small")]
    plan = DropPlan.for_items(items, lambda item: item.key)
    big = 2 * housekeeping.DROP_LIMIT_BYTES
    models = {"big": (None, _Model(big)), "small": (None, _Model(1000)), "loaded": (None, _Model(big))}
    # after a: "big" is named again by c; "loaded" (tfperf.load in a, named by no test) goes
    assert plan.droppable("t::a", models) == ["loaded"]
    assert plan.droppable("t::b", models) == ["loaded"]
    assert sorted(plan.droppable("t::c", models)) == ["big", "loaded"]  # c was its last test
    assert "small" not in plan.droppable("t::d", models)  # small models stay cached
    assert plan.droppable("inner/test_x.py::test_y", models) == []  # not an item of this run


def test_drop_plan_survives_a_marker_it_cannot_resolve():
    def key_of(item):
        if item.nodeid == "t::bad":
            raise ValueError("bad marker")  # the test reports it when it runs
        return item.key

    plan = DropPlan.for_items([_Item("t::bad", None), _Item("t::ok", "m")], key_of)
    assert plan.last_use == {"m": 1} and plan.index == {"t::bad": 0, "t::ok": 1}


def test_collect_if_grown():
    now = housekeeping.rss_bytes()
    assert now is None or now > 0
    assert housekeeping.collect_if_grown(None, force=True)
    if now is not None:
        assert not housekeeping.collect_if_grown(now)  # not grown by 256 MB since
        assert housekeeping.collect_if_grown(now - 2 * housekeeping.GROWTH_BYTES)


def test_plugin_drops_large_models_after_their_last_test(pytester, monkeypatch, small_pb):
    # every model counts as large here, so a 50 kB graph shows what AlexNet-224 does
    monkeypatch.setattr(housekeeping, "DROP_LIMIT_BYTES", 0)
    pytester.makeconftest("seen = {}\n")
    pytester.makepyfile(test_models=f"""
        import pytest
        import conftest

        MODEL = pytest.mark.tfperf_model({str(small_pb)!r}, outputs=["logits_layer/BiasAdd"])

        @MODEL
        def test_a(frozen_graph, sample_image):
            frozen_graph.run(sample_image)
            conftest.seen["a"] = frozen_graph

        @MODEL
        def test_b(frozen_graph):
            assert frozen_graph is conftest.seen["a"]  # a later test names it: kept
            assert frozen_graph._session is not None

        def test_c(tfperf):
            # no later test names the model: it left the cache and its session was closed
            assert conftest.seen["a"]._session is None
            again = tfperf.load({str(small_pb)!r}, outputs=["logits_layer/BiasAdd"])
            assert again is not conftest.seen["a"]
    """)
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly").assert_outcomes(passed=3)


def test_flops_of_the_weight_free_copy_equal_the_full_graph(small_frozen):
    from pytest_tfperf.analysis.flops import count as flops

    shapes = {s.name: [1, 32, 32, 3] for s in small_frozen.inputs}
    full = flops._pin_graph_def(small_frozen.graph_def, shapes)
    light = flops._shape_only_copy(small_frozen.graph_def, shapes, min_elements=64)
    replaced = {n.name for n in light.node if n.op == "Placeholder"} - {"input_node"}
    assert replaced and all(small_frozen.graph_def.node[i].op == "Const" for i, n in
                            enumerate(small_frozen.graph_def.node) if n.name in replaced)
    assert light.ByteSize() < full.ByteSize() / 5
    a = flops._static_shapes(flops._import(full, "full"))
    b = flops._static_shapes(flops._import(light, "light"))
    assert a == b  # every tensor shape the counter reads is the same


def test_sessions_over_large_graphs_place_only_the_pruned_graph(small_graph, monkeypatch, image32):
    from pytest_tfperf import load
    from pytest_tfperf.model import frozen

    small = load(small_graph, outputs=["logits_layer/BiasAdd"])
    config = small.session_config()
    assert not config.graph_options.place_pruned_graph  # small graphs: TensorFlow's defaults
    assert not config.graph_options.rewrite_options.disable_meta_optimizer
    expected = small.run(image32)
    monkeypatch.setattr(frozen, "GRAPPLER_LIMIT_BYTES", 0)  # now every graph is "large"
    large = small.with_graph_def(small.graph_def)
    config = large.session_config()
    assert config.graph_options.place_pruned_graph
    assert config.graph_options.rewrite_options.disable_meta_optimizer
    got = large.run(image32)  # feeds, fetches and the `training` default work as before
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-5)
    small.close()
    large.close()


def test_large_models_get_specs_from_a_weight_free_copy_and_import_on_first_run(small_graph, monkeypatch,
                                                                                image32):
    from pytest_tfperf import load
    from pytest_tfperf.model import freeze

    eager = load(small_graph, outputs=["logits_layer/BiasAdd"])
    assert eager._graph is not None  # small models: imported at load, as before
    monkeypatch.setattr(freeze, "GRAPPLER_LIMIT_BYTES", 0)  # now every graph is "large"
    lazy = load(small_graph, outputs=["logits_layer/BiasAdd"])
    assert lazy._graph is None  # nothing imported yet: summaries and FLOPs never need it
    assert (lazy.inputs, lazy.outputs, lazy.defaults) == (eager.inputs, eager.outputs, eager.defaults)
    assert [s.name for s in lazy.defaults] == ["training:0"]  # the flag stays an optional input
    np.testing.assert_array_equal(lazy.run(image32)[0], eager.run(image32)[0])
    assert lazy._graph is not None
    eager.close()
    lazy.close()
