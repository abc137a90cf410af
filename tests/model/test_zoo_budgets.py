"""Every budget on every real-world zoo model (tests/realworld.py) passes at its exact value and
fails just below it, with the absolute excess in the message; a budget on a number the plugin
cannot establish is an error, never a pass. `checks.static_verdict` is what the markers run;
`test_budget_markers_on_zoo_models` goes through the real marker path in pytester runs.
"""
from __future__ import annotations

import re
import textwrap

import pytest
import realworld
from realworld import KEYS

from pytest_tfperf.plugin.markers import FlopsBudget, MemoryBudget, ParamBudget, SizeBudget

BUDGETS = {"param_budget": ParamBudget, "flops_budget": FlopsBudget, "size_budget": SizeBudget,
           "memory_budget": MemoryBudget}


def verdict(name: str, limit, entry, **kwargs):
    from pytest_tfperf.plugin.gate import static_verdict

    inputs = entry.inputs if name == "memory_budget" else None
    return static_verdict(name, BUDGETS[name](limit, **kwargs), entry.model, inputs=inputs)


def _cases():
    out = []
    for key in KEYS:
        for name in BUDGETS:
            if key == "dynamic" and name == "flops_budget":
                continue  # an error, not a number: test_budgets_on_dynamic_shapes_are_errors_not_passes
            out.append(pytest.param(key, name, id=f"{key}-{name}"))
    return out


@pytest.mark.parametrize("key, name", _cases())
def test_exact_value_passes_and_one_less_fails(key, name):
    entry = realworld.get(key)
    if name == "param_budget":
        exact, below = entry.source_params, entry.source_params - 1  # count_params(), not ours
    elif name == "flops_budget":
        exact = int(verdict(name, 10**15, entry).value)
        # the rest is element-wise ops; the loop's count is short until h11flow lands (then drop
        # the exception: test_flops_budget_below_the_loop_formula_fails xfails until then)
        assert exact >= entry.matmul_conv_flops or key == "loop"
        below = exact - 1
    elif name == "size_budget":
        size = len(entry.model.graph_def.SerializeToString())  # the bytes a .pb would hold
        exact, below = size / 1e6, (size - 1) / 1e6
    else:
        peak = round(verdict(name, 1e6, entry).value * 1e6)  # re-measured by each verdict
        assert peak > 0
        exact, below = peak / 1e6, (peak - 1) / 1e6
    ok = verdict(name, exact, entry)
    assert ok.passed, ok.message
    assert ok.headroom_pct == 0.0
    over = verdict(name, below, entry)
    assert not over.passed
    # the absolute excess, whatever the wording of the day: "by 1 (", "by 1 byte (" / "by 0.000001 MB ("
    excess = r"by (1 byte|0\.000001 MB) \(" if name in ("size_budget", "memory_budget") else r"by 1 \("
    assert re.search(excess, over.message) and "by 0.0%" not in over.message, over.message


@pytest.mark.parametrize("key", KEYS)
def test_trainable_budget_is_the_source_trainable_count(key):
    entry = realworld.get(key)
    assert verdict("param_budget", entry.source_trainable, entry, kind="trainable").passed
    assert not verdict("param_budget", entry.source_trainable - 1, entry, kind="trainable").passed


def test_weights_budget_says_where_the_count_comes_from():
    """EfficientNetB0: the budget checks count_params() (4,062,381), and says the graph holds 1 fewer."""
    entry = realworld.get("efficientnet_b0")
    over = verdict("param_budget", 4_062_380, entry)
    assert not over.passed
    assert over.message.startswith("param_budget: 4,062,381 weights exceed 4,062,380 by 1 (")
    assert ("(the source's own count; the frozen graph holds 4,062,380 (variables inference does "
            f"not read: {entry.unread[0]},") in over.message  # normalization/mean


def test_flops_budget_below_the_loop_formula_fails():
    """The loop's MatMul runs 5 times: a budget below the hand formula must fail, not pass."""
    entry = realworld.get("loop")
    assert not verdict("flops_budget", entry.matmul_conv_flops - 1, entry).passed


def test_budgets_on_dynamic_shapes_are_errors_not_passes():
    """Dynamic H/W: FLOPs and peak memory depend on a size nobody gave. tfperf can count them
    only at a size it guesses (224), so a budget on them is an error naming the guess and the
    fix, never a pass; pinned, the same model passes at its exact value."""
    from pytest_tfperf import MarkerUsageError
    from pytest_tfperf.plugin.gate import static_verdict

    model = realworld.get("dynamic").model
    for name in ("flops_budget", "memory_budget"):  # no inputs given: tfperf must pick a size
        with pytest.raises(MarkerUsageError, match=r"had to guess them to get its .*dynamic H/W: "
                           r"pinned to 224.*input_shapes=") as err:
            static_verdict(name, BUDGETS[name](10**15), model)
        assert name in str(err.value)


@pytest.mark.parametrize("key", ["transformer"])  # ResNet50: 3 agreeing runs in the exact test
def test_peak_memory_is_the_same_on_every_run(key):
    """Parallel branches (attention's value projection vs its scores; ResNet's shortcuts) used to
    run in a different order from run to run, and the peak moved with them (transformer: 22,016 /
    24,064 / 25,472 bytes under load): a memory_budget at the measured value failed at random."""
    from pytest_tfperf.analysis.profiling import peak_memory_bytes

    entry = realworld.get(key)
    peaks = {peak_memory_bytes(entry.model, entry.inputs) for _ in range(4)}
    assert len(peaks) == 1, peaks


FAST = ["--tfperf-min-time=0.02", "--tfperf-max-time=0.3", "--tfperf-warmup=1", "-p", "no:randomly",
        "-p", "no:xdist"]


def test_budget_markers_on_zoo_models(pytester):
    """The real marker path (pytester, in process: the zoo's models are reused) on a few models."""
    from pytest_tfperf import count_flops

    efficientnet, transformer = realworld.get("efficientnet_b0"), realworld.get("transformer")
    checkpoint = realworld.get("checkpoint")
    flops = count_flops(transformer.model).total
    size = checkpoint.model.graph_def.ByteSize()
    pytester.makepyfile(test_user=textwrap.dedent(f"""
        import pytest, realworld

        def use(tfperf, key):
            entry = realworld.get(key)
            tfperf.measure(entry.model, entry.inputs)

        @pytest.mark.param_budget(max={efficientnet.source_params})
        def test_params_exact(tfperf):
            use(tfperf, "efficientnet_b0")

        @pytest.mark.param_budget(max={efficientnet.source_params - 1})
        def test_params_below(tfperf):
            use(tfperf, "efficientnet_b0")

        @pytest.mark.flops_budget(max={flops})
        def test_flops_exact(tfperf):
            use(tfperf, "transformer")

        @pytest.mark.flops_budget(max={flops - 1})
        def test_flops_below(tfperf):
            use(tfperf, "transformer")

        @pytest.mark.size_budget(mb={size / 1e6!r})
        @pytest.mark.latency_budget(ms=60000)
        def test_size_exact_and_generous_latency(tfperf):
            use(tfperf, "checkpoint")

        @pytest.mark.size_budget(mb={(size - 1) / 1e6!r})
        def test_size_below(tfperf):
            use(tfperf, "checkpoint")

        @pytest.mark.latency_budget(ms=0.000001)
        def test_tiny_latency(tfperf):
            use(tfperf, "two_inputs")

        @pytest.mark.flops_budget(max=10**15)
        def test_flops_on_a_guessed_size(tfperf):
            tfperf.measure(realworld.get("dynamic").model)  # dynamic H/W: tfperf picks the size

        @pytest.mark.memory_budget(mb=10**6)
        def test_memory_on_a_guessed_size(tfperf):
            tfperf.measure(realworld.get("dynamic").model)
    """))
    result = pytester.runpytest(*FAST)
    result.assert_outcomes(passed=3, failed=4, errors=2)  # a budget on a guessed size: an error
    out = result.stdout.str()
    guessed = set(re.findall(r"MarkerUsageError: test_user\.py::(\w+): .* had to guess them", out))
    assert guessed == {"test_flops_on_a_guessed_size", "test_memory_on_a_guessed_size"}
    assert "INTERNALERROR" not in out
    assert "param_budget: 4,062,381 weights exceed 4,062,380 by 1 (" in out
    assert "(the source's own count; the frozen graph holds 4,062,380" in out
    assert f"flops_budget: {flops:,} FLOPs exceed {flops - 1:,} by 1 (" in out
    assert re.search(r"size_budget: .* by (1 byte|0\.000001 MB) \(", out)
    assert "latency_budget: p50" in out and "exceeds 0.000001 ms" in out
    assert "by 0.0%" not in out
